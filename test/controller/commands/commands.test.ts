import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { verifyDeviceCommand } from '../../../agent/commands/verify.js';
import type { Role } from '../../../controller/data/users.js';
import type { ApiClient } from '../../../scripts/lib/api-client.js';
import type { CommandAck } from '../../../shared/schemas/command.js';
import type { DeviceEvent } from '../../../shared/schemas/events.js';
import type { SignedRoot } from '../../../shared/schemas/root.js';
import { topics } from '../../../shared/topics.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { outcome } from '../../support/outcome.js';
import { pairNewDevice } from '../../support/pairing.js';
import { seedTree } from '../../support/seed.js';
import { eventually } from '../../support/wait.js';

const PASSWORD = 'commands-password-1';
const ZONES = [
  { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã An Phú' },
  { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Thôn Đông' },
  { id: 'X2', parentId: 'T01', level: 'commune', code: 'X2', name: 'Xã Bình Minh' },
  { id: 'X2-C1', parentId: 'X2', level: 'cluster', code: 'C1', name: 'Thôn Bắc' },
] as const;
const USERS: [string, Role, string][] = [['tech1', 'technician', 'X1'], ['tech2', 'technician', 'X2'], ['viewer1', 'viewer', 'X1'], ['op1', 'operator', 'X1']];

interface Cmd { id: string; deviceId: string; type: string; params: Record<string, unknown>; state: string; createdBy: string; createdAt: string; updatedAt: string; result?: Record<string, unknown>; error?: { code: string; message: string } }

describe('device commands API (contract B)', () => {
  let t: TestController;
  let as: Record<string, ApiClient>;
  let deviceId: string;
  let client: MqttClient;
  const inbox: Buffer[] = [];
  let eventSeq = 0;

  before(async () => {
    t = await startTestController();
    as = await seedTree(t, ZONES, USERS, PASSWORD);
    const paired = await pairNewDevice(t, t.admin, 'X1-C1', 'Loa chợ');
    deviceId = paired.deviceId;
    client = await paired.device.connect(deviceId) as MqttClient;
    client.on('message', (topic, payload) => {
      if (topic === topics.down(deviceId, 'cmd')) inbox.push(payload);
    });
    await client.subscribeAsync(topics.deviceFilter(deviceId), { qos: 1 });
  });
  after(async () => {
    await client.endAsync(true);
    await t.close();
  });

  const ack = async (a: Omit<CommandAck, 'at'>): Promise<void> => {
    const seq = ++eventSeq;
    const e: DeviceEvent = { deviceId, seq, key: `${deviceId}:${seq}`, type: 'command.ack', at: Date.now(), data: { at: new Date().toISOString(), ...a } };
    await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify([e]), { qos: 1 });
  };
  const get = async (id: string): Promise<Cmd> => (await as.tech1!.get<{ command: Cmd }>(`/api/v1/devices/${deviceId}/commands/${id}`)).command;

  it('lets a technician of the zone send a test tone (202), signed by the schedule key for this device only, published on its cmd topic', async () => {
    const r = await as.tech1!.request<{ command: Cmd }>('POST', `/api/v1/devices/${deviceId}/commands`, { type: 'test_tone', durationS: 3 });
    assert.equal(r.command.state, 'sent');
    assert.deepEqual(r.command.params, { durationS: 3 });
    assert.equal(r.command.createdBy, 'u-tech1');
    await eventually(() => inbox.length === 1, 5000, 'the command reaches the device');
    const root = (await t.client().get<SignedRoot>('/api/v1/trust/root')).signed;
    const env = verifyDeviceCommand(inbox[0]!, { root, deviceId, now: Date.now(), seen: () => false });
    assert.equal(env.signed.commandId, r.command.id);
    assert.equal(env.signed.type, 'test_tone');
    assert.deepEqual(env.signed.params, { durationS: 3 });
    assert.ok(root.roles.schedule.keyids.includes(env.signatures[0]!.keyid), 'signed by the schedule key');
    const life = Date.parse(env.signed.expiresAt) - Date.parse(env.signed.issuedAt);
    assert.equal(life, 5 * 60_000);
    assert.throws(() => verifyDeviceCommand(inbox[0]!, { root, deviceId: 'another-device', now: Date.now(), seen: () => false }), /another|not another|for device/);
  });

  it('refuses a second command of the same type while one runs (409 LOA_ERR_COMMAND_BUSY, audited), but not another type', async () => {
    assert.deepEqual(await outcome(as.tech1!.post(`/api/v1/devices/${deviceId}/commands`, { type: 'test_tone' })), { status: 409, code: 'LOA_ERR_COMMAND_BUSY' });
    const v = await as.tech1!.post<{ command: Cmd }>(`/api/v1/devices/${deviceId}/commands`, { type: 'volume', volume: 30 });
    assert.equal(v.command.state, 'sent');
    const audit = (await t.admin.get<{ entries: { action: string; details: Record<string, unknown> }[] }>(`/api/v1/audit?targetId=${deviceId}`)).entries;
    assert.ok(audit.some((e) => e.action === 'command.send_refused' && e.details.code === 'LOA_ERR_COMMAND_BUSY'));
    assert.ok(audit.some((e) => e.action === 'command.send' && e.details.type === 'volume'));
  });

  it('moves a command to received and done from the device\'s command.ack events, with its result, and frees its type', async () => {
    const list = (await as.viewer1!.get<{ commands: Cmd[] }>(`/api/v1/devices/${deviceId}/commands`)).commands;
    assert.deepEqual(list.map((c) => c.type), ['volume', 'test_tone'], 'newest first');
    const tone = list[1]!;
    await ack({ commandId: tone.id, seq: 1, state: 'received' });
    await eventually(async () => (await get(tone.id)).state === 'received', 5000, 'received');
    await ack({ commandId: tone.id, seq: 1, state: 'done', result: { hz: 1000, durationMs: 3000 } });
    await eventually(async () => (await get(tone.id)).state === 'done', 5000, 'done');
    assert.deepEqual((await get(tone.id)).result, { hz: 1000, durationMs: 3000 });
    // A late "received" does not undo the final state.
    await ack({ commandId: tone.id, seq: 1, state: 'received' });
    const again = await as.tech1!.post<{ command: Cmd }>(`/api/v1/devices/${deviceId}/commands`, { type: 'test_tone' });
    assert.equal(again.command.state, 'sent');
    assert.equal((await get(tone.id)).state, 'done');
  });

  it('records a refusal by the device as failed with the device\'s code', async () => {
    const rc = await as.tech1!.post<{ command: Cmd }>(`/api/v1/devices/${deviceId}/commands`, { type: 'relay_check' });
    await ack({ commandId: rc.command.id, seq: 1, state: 'rejected', code: 'LOA_ERR_COMMAND_EXPIRED', reason: 'expired' });
    await eventually(async () => (await get(rc.command.id)).state === 'failed', 5000, 'failed');
    assert.deepEqual((await get(rc.command.id)).error, { code: 'LOA_ERR_COMMAND_EXPIRED', message: 'expired' });
  });

  it('refuses a viewer (403), a technician of another commune (403), and reading across communes (403)', async () => {
    assert.equal((await outcome(as.viewer1!.post(`/api/v1/devices/${deviceId}/commands`, { type: 'reboot' }))).status, 403);
    assert.equal((await outcome(as.op1!.post(`/api/v1/devices/${deviceId}/commands`, { type: 'reboot' }))).status, 403);
    assert.equal((await outcome(as.tech2!.post(`/api/v1/devices/${deviceId}/commands`, { type: 'reboot' }))).status, 403);
    assert.equal((await outcome(as.tech2!.get(`/api/v1/devices/${deviceId}/commands`))).status, 403);
    const audit = (await t.admin.get<{ entries: { action: string }[] }>(`/api/v1/audit?targetId=${deviceId}`)).entries;
    assert.ok(!audit.some((e) => e.action === 'command.send' && JSON.stringify(e).includes('reboot')), 'nothing was sent');
  });

  it('checks the body: volume beyond 100 or a tone beyond 30 s is 400, an unknown type is 400, and a device that is not enrolled takes no command (409)', async () => {
    for (const body of [{ type: 'volume', volume: 101 }, { type: 'test_tone', durationS: 31 }, { type: 'shutdown' }, { type: 'volume' }, { type: 'reboot', extra: 1 }]) {
      assert.equal((await outcome(as.tech1!.post(`/api/v1/devices/${deviceId}/commands`, body))).status, 400, JSON.stringify(body));
    }
    await t.admin.post('/api/v1/devices', { id: 'loa-no-key', zoneId: 'X1-C1', name: 'Chưa đăng ký' });
    assert.deepEqual(await outcome(as.tech1!.post('/api/v1/devices/loa-no-key/commands', { type: 'reboot' })), { status: 409, code: 'LOA_ERR_COMMAND_DEVICE' });
    assert.deepEqual(await outcome(as.tech1!.get(`/api/v1/devices/${deviceId}/commands/cmd-nope`)), { status: 404, code: 'LOA_ERR_NOT_FOUND' });
  });
});
