import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSim, type SimSession } from '../../agent/sim/run.js';
import { hashPassword } from '../../controller/auth/password.js';
import type { Bus } from '../../controller/broker/bus.js';
import type { Controller } from '../../controller/controller.js';
import type { EmergencyProgress } from '../../controller/data/emergency.js';
import { generateKeyPair, signEnvelope } from '../../shared/crypto.js';
import type { EmergencyOrder } from '../../shared/schemas/emergency.js';
import { topics } from '../../shared/topics.js';
import { startTestController, type TestController } from '../support/controller.js';
import { eventually } from '../support/wait.js';

const DEVICES = 20;
const LOA = join(process.cwd(), 'bin', 'loa.js');
const TECH = { username: 'kythuat', password: 'technician-password-1' };

/** The controller's own bus (private: only the emergency routes publish on it in production). */
const busOf = (c: Controller): Bus => c.messageBus;

interface Sent { order: { id: string; seq: number }; published: number }

describe('loa sim: simulated receivers against a real controller and its embedded broker', () => {
  let t: TestController;
  let sim: SimSession;
  let mediaId = '';
  const lines: string[] = [];
  let first: Sent;

  const acksOf = (orderId: string, state: string): { device_id: string; code: string | null }[] =>
    t.controller.data.db.prepare<[string, string], { device_id: string; code: string | null }>('SELECT device_id, code FROM emergency_acks WHERE order_id = ? AND state = ? ORDER BY device_id').all(orderId, state);
  const send = (title: string): Promise<Sent> => t.admin.post<Sent>('/api/v1/emergency', { title, zones: ['X1-C1'], content: { kind: 'media', mediaId }, repeat: 2, ttlMinutes: 10, confirm: 'Thôn Đông' });
  const publishToAll = async (body: string | Buffer): Promise<void> => {
    for (const id of sim.deviceIds) await busOf(t.controller).publish(topics.down(id, 'emergency'), body, { qos: 1 });
  };

  before(async () => {
    t = await startTestController();
    const d = t.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã An Phú' }, now);
    d.zones.create({ id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Thôn Đông' }, now);
    d.zones.create({ id: 'Y1', parentId: 'T01', level: 'commune', code: 'Y1', name: 'Xã Bình Minh' }, now);
    d.zones.create({ id: 'Y1-C1', parentId: 'Y1', level: 'cluster', code: 'C1', name: 'Thôn Bắc' }, now);
    d.users.create({ id: 'u-tech', username: TECH.username, displayName: 'Kỹ thuật', passwordHash: await hashPassword(TECH.password) }, now);
    d.users.setRoles('u-tech', [{ role: 'technician', zoneId: 'X1' }]);
    // A pre-rendered file (the simulator never downloads audio): 1.5 s, played twice → 3 s unless --play-ms.
    mediaId = d.media.create({ id: 'med-sim', sha256: 'a'.repeat(64), size: 1000, durationMs: 1500, mime: 'audio/ogg', title: 'Còi', originalName: null, sourceSha256: null, loudnessLufs: -16, zoneId: 'X1', createdBy: 'test' }, now).id;
  });
  after(async () => {
    await sim?.stop();
    await t?.close();
  });

  it('registers 20 devices through the import API as a technician and connects every one with its own token, across 2 worker processes', async () => {
    sim = await startSim({
      controller: t.controller.httpUrl, mqtt: t.controller.mqttUrl, devices: DEVICES, zone: 'X1-C1', workers: 2, prefix: 'simt', playMs: 400,
      username: TECH.username, password: TECH.password, importBatch: 8, progressMs: 50, workerOutput: 'ignore',
    }, { line: (s) => lines.push(s) });
    await Promise.race([sim.connected, new Promise((_, reject) => setTimeout(() => reject(new Error('not connected within 20 s')), 20_000).unref())]);
    assert.equal(sim.fleet.workerCount, 2);
    assert.equal(new Set(sim.fleet.pids).size, 2, 'two processes');
    assert.deepEqual(sim.zones, ['T01', 'X1', 'X1-C1'], 'the zone chain the devices check orders against');
    assert.equal(sim.deviceIds[0], 'simt-X1-C1-00001');
    const registered = t.controller.data.devices.list({ limit: 100 }).filter((x) => x.zoneId === 'X1-C1');
    assert.equal(registered.length, DEVICES, 'registered in three import batches (8 + 8 + 4)');
    assert.ok(registered.every((x) => x.keyid), 'each with its own key bound');
    await eventually(() => t.controller.data.devices.list({ limit: 100, online: true }).length === DEVICES, 5000, 'the controller sees 20 devices online (retained status)');
    assert.ok(lines.includes('registered 20/20 devices in X1-C1'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('connected 20/20 · 2/2 worker(s)')), lines.join('\n'));
    assert.ok(lines.some((l) => /^all 20 devices connected in [\d.]+ s/.test(l)));
    assert.ok(!lines.join('\n').includes(TECH.password), 'the password is never printed');
  });

  it('answers an order sent through the emergency API with received, started and finished acks from every device, recorded by the controller', async () => {
    first = await send('Cảnh báo lũ');
    assert.equal(first.published, DEVICES);
    await eventually(async () => {
      const p = (await t.admin.get<{ progress: EmergencyProgress }>(`/api/v1/emergency/${first.order.id}`)).progress;
      return p.finished === DEVICES;
    }, 10_000, 'every device finished (play time 400 ms)');
    for (const state of ['received', 'started', 'finished']) {
      assert.equal(acksOf(first.order.id, state).length, DEVICES, `${state} acks of every device are in the controller`);
    }
    // The workers report to the fleet every 250 ms: the controller may have the acks first.
    await eventually(() => sim.fleet.order(first.order.id)?.devices.finished.size === DEVICES, 5000, 'the fleet has every finished ack');
    const o = sim.fleet.order(first.order.id)!;
    assert.deepEqual([o.devices.received.size, o.devices.started.size, o.devices.finished.size, o.devices.rejected.size], [DEVICES, DEVICES, DEVICES, 0]);
    // Events carry the idempotency key deviceId:seq, with seq growing per device.
    const ev = t.controller.data.db.prepare<[string], { seq: number; data: string }>("SELECT seq, data FROM device_events WHERE device_id = ? AND type = 'emergency.ack' ORDER BY seq").all(sim.deviceIds[0]!);
    assert.deepEqual(ev.map((e) => (JSON.parse(e.data) as { state: string }).state), ['received', 'started', 'finished']);
    assert.ok(ev[0]!.seq < ev[1]!.seq && ev[1]!.seq < ev[2]!.seq);
    await eventually(() => lines.includes(`order ${first.order.id}: received 20 · started 20 · finished 20`), 2000, `the live summary line; got:\n${lines.join('\n')}`);
  });

  it('rejects a forged order (signed by a key the root does not list) with LOA_ERR_EMERGENCY_SIGNATURE, and the controller records the rejections', async () => {
    const now = Date.now();
    const forged: EmergencyOrder = {
      _type: 'emergency', schemaVersion: 1, orderId: first.order.id, action: 'start', seq: first.order.seq + 1000, nonce: randomBytes(16).toString('base64url'),
      issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), target: { zones: ['X1-C1'], devices: [] }, title: 'Giả mạo', repeat: 1, outputs: [],
      content: { kind: 'media', sha256: 'b'.repeat(64), size: 10, durationMs: 1000 },
    };
    await publishToAll(JSON.stringify(signEnvelope(forged, [generateKeyPair().privateKeyPem])));
    await eventually(() => acksOf(first.order.id, 'rejected').length === DEVICES, 10_000, '20 rejected acks at the controller');
    assert.ok(acksOf(first.order.id, 'rejected').every((a) => a.code === 'LOA_ERR_EMERGENCY_SIGNATURE'));
    await eventually(() => sim.fleet.order(first.order.id)?.devices.rejected.size === DEVICES, 5000, 'the fleet has every rejection');
    assert.deepEqual(sim.fleet.order(first.order.id)!.codes, { LOA_ERR_EMERGENCY_SIGNATURE: DEVICES });
  });

  it('rejects a replay of an order it already took (the same signed bytes) with LOA_ERR_EMERGENCY_REPLAY', async () => {
    const second = await send('Nhắc lại');
    await eventually(() => acksOf(second.order.id, 'started').length === DEVICES, 10_000, 'the second order started everywhere');
    const bytes = t.controller.data.emergency.signedBodies(second.order.id).start!;
    await publishToAll(bytes);
    await eventually(() => acksOf(second.order.id, 'rejected').length === DEVICES, 10_000, '20 replay rejections at the controller');
    assert.ok(acksOf(second.order.id, 'rejected').every((a) => a.code === 'LOA_ERR_EMERGENCY_REPLAY'));
    await eventually(() => sim.fleet.order(second.order.id)?.devices.rejected.size === DEVICES, 5000, 'the fleet has every rejection');
    assert.equal(sim.fleet.order(second.order.id)!.devices.started.size, DEVICES, 'the replay started nothing twice');
  });

  it('checks the target against its zone chain: an order signed with the real emergency key for another cluster is refused with LOA_ERR_EMERGENCY_SCOPE', async () => {
    const pem = readFileSync(join(t.dir, 'keys', 'emergency.key'), 'utf8');
    const now = Date.now();
    const order: EmergencyOrder = {
      _type: 'emergency', schemaVersion: 1, orderId: 'emg-elsewhere', action: 'start', seq: first.order.seq + 2000, nonce: randomBytes(16).toString('base64url'),
      issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), target: { zones: ['Y1-C1'], devices: [] }, title: 'Nơi khác', repeat: 1, outputs: [],
      content: { kind: 'media', sha256: 'b'.repeat(64), size: 10, durationMs: 1000 },
    };
    await publishToAll(JSON.stringify(signEnvelope(order, [pem])));
    await eventually(() => sim.fleet.order('emg-elsewhere')?.devices.rejected.size === DEVICES, 10_000, '20 scope rejections at the simulator');
    assert.deepEqual(sim.fleet.order('emg-elsewhere')!.codes, { LOA_ERR_EMERGENCY_SCOPE: DEVICES });
    assert.equal(sim.fleet.order('emg-elsewhere')!.devices.received.size, 0);
  });

  it('runs as `loa sim`: ready line, live progress, and on Ctrl-C (SIGINT to the whole process group) a clean stop with a summary; the password never shows', async () => {
    const child = spawn(process.execPath, [LOA, 'sim', '--controller', t.controller.httpUrl, '--mqtt', t.controller.mqttUrl, '--devices', '4', '--zone', 'X1-C1',
      '--username', TECH.username, '--workers', '2', '--prefix', 'simcli'], { env: { ...process.env, LOA_SIM_PASSWORD: TECH.password }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await eventually(() => err.includes('all 4 devices connected'), 20_000, `loa sim connected; stderr so far:\n${err}`);
    const ready = JSON.parse(out.split('\n')[0]!) as { ready: boolean; devices: number; workers: number };
    assert.deepEqual([ready.ready, ready.devices, ready.workers], [true, 4, 2]);
    process.kill(-child.pid!, 'SIGINT'); // what a terminal does on Ctrl-C: parent and workers get it
    assert.equal(await exited, 0, err);
    const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { stopped: boolean; connectedAtStop: number; workers: number };
    assert.deepEqual([summary.stopped, summary.connectedAtStop, summary.workers], [true, 4, 2]);
    assert.match(err, /stopping: disconnecting 4 device\(s\)\nstopped: 2 worker\(s\) ended/);
    assert.ok(!(out + err).includes(TECH.password));
    await eventually(() => t.controller.data.devices.list({ limit: 100, online: true }).filter((x) => x.id.startsWith('simcli-')).length === 0, 5000, 'the CLI\'s devices offline');
  });

  it('stops cleanly: every device goes offline at the controller and both worker processes exit', async () => {
    const pids = sim.fleet.pids;
    const summary = await sim.stop();
    assert.equal(summary.connectedAtStop, DEVICES);
    assert.equal(summary.workers, 2);
    assert.equal(summary.orders.find((o) => o.orderId === first.order.id)?.finished, DEVICES);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} has exited`);
    assert.equal(sim.fleet.totals().workersAlive, 0);
    await eventually(() => t.controller.data.devices.list({ limit: 100, online: true }).length === 0, 5000, 'every device offline (retained offline status)');
    assert.ok(lines.at(-1)?.startsWith('stopped: 2 worker(s) ended'));
  });
});
