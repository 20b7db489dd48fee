import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { verifyManifest } from '../../agent/manifest/verify.js';
import { hashPassword } from '../../controller/auth/password.js';
import { generateKeyPair } from '../../shared/crypto.js';
import { PAIRING_ALPHABET } from '../../shared/pairing.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { startTestController, type TestController } from '../support/controller.js';
import { OffsetClock, TestDevice, wrongCode } from '../support/pairing.js';
import { eventually } from '../support/wait.js';
import { outcome } from '../support/outcome.js';

const CODE = new RegExp(`^[${PAIRING_ALPHABET}]{4}-[${PAIRING_ALPHABET}]{4}$`);
const PASSWORD = 'pairing-password-1';


describe('on-site pairing', () => {
  const clock = new OffsetClock();
  let t: TestController;
  let tech: ApiClient;
  let tech2: ApiClient;
  let root: { signed: RootMetadata };

  const user = async (name: string, role: 'technician' | 'viewer', zoneId: string): Promise<ApiClient> => {
    t.controller.data.users.create({ id: `u-${name}`, username: name, displayName: name, passwordHash: await hashPassword(PASSWORD) }, Date.now());
    t.controller.data.users.setRoles(`u-${name}`, [{ role, zoneId }]);
    const c = t.client();
    await c.login(name, PASSWORD);
    return c;
  };
  const audit = async (): Promise<{ action: string; actor: string; targetId: string | null; details: Record<string, unknown> }[]> =>
    (await t.admin.get<{ entries: { action: string; actor: string; targetId: string | null; details: Record<string, unknown> }[] }>('/api/v1/audit?limit=1000')).entries;

  before(async () => {
    t = await startTestController({}, { clock });
    root = JSON.parse(readFileSync(join(t.dir, 'keys', 'root.json'), 'utf8')) as { signed: RootMetadata };
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
    await t.admin.post('/api/v1/zones', { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm thôn Đông' });
    await t.admin.post('/api/v1/zones', { id: 'X2', parentId: 'T01', level: 'commune', code: 'X2', name: 'Xã Hai' });
    await t.admin.post('/api/v1/zones', { id: 'X2-C1', parentId: 'X2', level: 'cluster', code: 'C1', name: 'Cụm thôn Tây' });
    // An approved schedule for the cluster, so that a device paired into it has something to play.
    const d = t.controller.data;
    const now = Date.now();
    const tomorrow = new Date(now + 86_400_000 + 7 * 3_600_000).toISOString().slice(0, 10);
    d.media.create({ id: 'med-1', sha256: 'a'.repeat(64), size: 10, durationMs: 1000, mime: 'audio/ogg', title: 'Thông báo', originalName: null, sourceSha256: null, loudnessLufs: null, zoneId: 'X1', createdBy: 'x' }, now);
    d.programs.create({ id: 'prg-1', zoneId: 'X1', title: 'Thông báo', items: [{ kind: 'media', mediaId: 'med-1' }], createdBy: 'x' }, now);
    d.programs.setStatus('prg-1', 'approved', 'x', now);
    d.schedules.create({
      id: 'sch-1', zoneId: 'X1', programId: 'prg-1', title: 'Sáng', dtstart: `${tomorrow}T06:00:00`, rrule: 'FREQ=DAILY;COUNT=30', validFrom: null, validUntil: null,
      priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 0, nightConfirmed: false, createdBy: 'x', targets: { zones: ['X1-C1'], devices: [] },
    }, now);
    d.schedules.setStatus('sch-1', 'approved', 'x', now);
    tech = await user('kythuat1', 'technician', 'X1');
    tech2 = await user('kythuat2', 'technician', 'X1');
  });
  after(async () => t.close());

  it('pairs a device with its code: the device polls paired, gets what enrollment returns, then its first signed manifest and the broker', async () => {
    const device = TestDevice.of(t);
    const req = await device.requestPairing();
    assert.equal(req.status, 201);
    const { pairingId, code, expiresAt, pollAfterMs } = req.body;
    assert.match(code, CODE);
    assert.ok(Math.abs(Date.parse(expiresAt) - (Date.now() + 15 * 60_000)) < 10_000, 'valid 15 minutes');
    assert.ok(pollAfterMs > 0);
    assert.deepEqual((await device.status(pairingId)).body.state, 'pending');

    // The technician sees the pending request (hardware, key id), never the code.
    const list = await tech.get<{ pending: Record<string, unknown>[] }>('/api/v1/pairing?zoneId=X1-C1');
    const mine = list.pending.find((p) => p.pairingId === pairingId)!;
    assert.equal((mine.hardware as { mac: string }).mac, 'dc:a6:32:01:02:03');
    assert.equal(mine.code, undefined);
    assert.ok(!JSON.stringify(list).includes(code.replace('-', '').slice(3)), 'no part of the secret');

    // Typed in lower case with a space instead of the dash: still the code.
    const claimed = await tech.post<{ device: { id: string; zoneId: string; name: string; state: string; publicKey?: string }; pairingId: string; replaced: boolean }>(
      '/api/v1/pairing/claim', { code: code.toLowerCase().replace('-', ' '), zoneId: 'X1-C1', name: 'Loa thôn Đông' });
    assert.deepEqual([claimed.device.zoneId, claimed.device.name, claimed.device.state, claimed.pairingId, claimed.replaced, claimed.device.publicKey], ['X1-C1', 'Loa thôn Đông', 'active', pairingId, false, undefined]);
    const deviceId = claimed.device.id;

    const st = await device.status(pairingId);
    assert.equal(st.status, 200);
    assert.equal(st.body.state, 'paired');
    const e = st.body.enrollment!;
    assert.deepEqual([e.deviceId, e.zoneId, e.controllerUrl, e.mqttUrl], [deviceId, 'X1-C1', t.controller.httpUrl, t.controller.mqttUrl]);
    assert.deepEqual(e.root.signed, root.signed, 'the same root that enrollment hands out');

    // The manifest is compiled for it and verifies against the root, for this device.
    let body: unknown = null;
    await eventually(async () => {
      const m = await device.manifest(deviceId);
      body = m.body;
      return m.status === 200;
    }, 5000, 'the first manifest');
    const env = verifyManifest(body, { root: root.signed, deviceId, currentVersion: 0, now: Date.now() });
    assert.equal(env.signed.deviceId, deviceId);
    assert.deepEqual(env.signed.schedule.map((e) => e.id), ['sch-1'], 'the cluster\'s schedule');
    assert.deepEqual(env.signed.media.map((m) => m.sha256), ['a'.repeat(64)]);

    const c = await device.connect(deviceId);
    assert.equal(typeof c, 'object', `the broker accepts the paired key (got ${typeof c === 'object' ? 'a client' : c})`);
    await (c as MqttClient).endAsync(true);

    const entries = await audit();
    assert.ok(entries.some((a) => a.action === 'pairing.request' && a.targetId === pairingId));
    assert.ok(entries.some((a) => a.action === 'device.pair' && a.targetId === deviceId && a.actor === 'u-kythuat1'));
    assert.ok(!JSON.stringify(entries).includes(code.replace('-', '').slice(3)), 'the audit log never holds the code');
  });

  it('serves the page the QR code opens, in Vietnamese, which claims with the session', async () => {
    const res = await fetch(`${t.controller.httpUrl}/pair?code=AC7K-9MPX`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(html, /<html lang="vi">/);
    assert.match(html, /Nhập mã trên thiết bị/);
    assert.match(html, /\/api\/v1\/pairing\/claim/);
    assert.ok(!html.includes('AC7K-9MPX'), 'the code from the URL is never written into the HTML');
  });

  it('refuses a second claim with the same code', async () => {
    const device = TestDevice.of(t);
    const { code } = await device.pairingCode();
    await tech.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' });
    assert.deepEqual(await outcome(tech.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' })), { status: 409, code: 'LOA_ERR_PAIRING_USED' });
    assert.deepEqual(await outcome(t.admin.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' })), { status: 409, code: 'LOA_ERR_PAIRING_USED' });
    const failed = (await audit()).filter((a) => a.action === 'pairing.claim_failed' && a.details.reason === 'used');
    assert.equal(failed.length, 2);
  });

  it('refuses an expired code, and the device sees expired', async () => {
    const device = TestDevice.of(t);
    const { code, pairingId } = await device.pairingCode();
    clock.offsetMs = 15 * 60_000 + 1000;
    try {
      assert.deepEqual(await outcome(tech.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' })), { status: 410, code: 'LOA_ERR_PAIRING_EXPIRED' });
      assert.equal((await device.status(pairingId, { now: clock.now() })).body.state, 'expired');
      const list = await tech.get<{ pending: { pairingId: string }[] }>('/api/v1/pairing?zoneId=X1');
      assert.ok(!list.pending.some((p) => p.pairingId === pairingId), 'no longer listed');
    } finally {
      clock.offsetMs = 0;
    }
    assert.deepEqual(await outcome(tech.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' })), { status: 410, code: 'LOA_ERR_PAIRING_EXPIRED' }, 'and stays expired');
  });

  it('locks a request after 20 wrong codes, from any user: the right code then fails too, and the device must ask again', async () => {
    const device = TestDevice.of(t);
    const other = TestDevice.of(t);
    const { code, pairingId } = await device.pairingCode();
    const bystander = await other.pairingCode();
    for (let n = 0; n < 20; n++) {
      const who = n % 2 === 0 ? tech : tech2;
      // The answer is the same as for a code that locates nothing: no oracle for the locator.
      assert.deepEqual(await outcome(who.post('/api/v1/pairing/claim', { code: wrongCode(code, n), zoneId: 'X1-C1' })), { status: 422, code: 'LOA_ERR_PAIRING_CODE' }, `wrong code ${n + 1}`);
    }
    assert.deepEqual(await outcome(t.admin.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' })), { status: 423, code: 'LOA_ERR_PAIRING_LOCKED' });
    assert.equal((await device.status(pairingId)).body.state, 'locked');
    const fails = (await audit()).filter((a) => a.action === 'pairing.claim_failed' && a.targetId === pairingId);
    assert.equal(fails.length, 21);
    assert.deepEqual(fails.map((f) => f.details.failedAttempts).filter((x) => x !== undefined).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 20 }, (_, i) => i + 1));

    // Another device's request is untouched; this device asks again and that code works.
    assert.equal((await other.status(bystander.pairingId)).body.state, 'pending');
    const again = await device.pairingCode();
    assert.notEqual(again.pairingId, pairingId);
    const r = await t.admin.post<{ device: { id: string } }>('/api/v1/pairing/claim', { code: again.code, zoneId: 'X1-C1' });
    assert.equal((await device.status(again.pairingId)).body.enrollment?.deviceId, r.device.id);
  });

  it('limits code entries per user (429), audits them, and leaves other users alone', async () => {
    const burst = await user('kythuat3', 'technician', 'X1');
    const results: number[] = [];
    for (let n = 0; n < 21; n++) results.push((await outcome(burst.post('/api/v1/pairing/claim', { code: 'AAAA-AAAA', zoneId: 'X1-C1' }))).status);
    assert.deepEqual(results, [...Array<number>(20).fill(422), 429]);
    assert.equal((await outcome(tech2.post('/api/v1/pairing/claim', { code: 'AAAA-AAAA', zoneId: 'X1-C1' }))).status, 422);
    assert.ok((await audit()).some((a) => a.action === 'pairing.claim_failed' && a.actor === 'u-kythuat3' && a.details.reason === 'rate_limited'));
  });

  it('checks authorization before the code: a technician of another commune gets 403 and the code does not count', async () => {
    const outsider = await user('kythuat-x2', 'technician', 'X2');
    const viewer = await user('xem1', 'viewer', 'X1');
    const device = TestDevice.of(t);
    const { code, pairingId } = await device.pairingCode();
    assert.equal((await outcome(outsider.post('/api/v1/pairing/claim', { code: wrongCode(code, 0), zoneId: 'X1-C1' }))).status, 403);
    assert.equal((await outcome(viewer.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' }))).status, 403);
    assert.equal((await outcome(viewer.get('/api/v1/pairing?zoneId=X1'))).status, 403);
    assert.equal(t.controller.data.pairing.get(pairingId)!.failedAttempts, 0);
    assert.equal((await outcome(tech.post('/api/v1/pairing/claim', { code, zoneId: 'T01' }))).status, 403, 'only in its own subtree');
    assert.deepEqual(await outcome(t.admin.post('/api/v1/pairing/claim', { code, zoneId: 'T01' })), { status: 422, code: 'LOA_ERR_ZONE_HIERARCHY' }, 'a device goes to a cluster or commune');
    assert.ok((await audit()).some((a) => a.action === 'pairing.claim_failed' && a.actor === 'u-kythuat-x2' && a.details.reason === 'forbidden'), 'refusals are audited too');
    await outsider.post('/api/v1/pairing/claim', { code, zoneId: 'X2-C1' });
  });

  it('refuses a pairing request without a fresh proof by the key it names', async () => {
    const device = TestDevice.of(t);
    const checks: [string, Promise<{ status: number; body: { error?: { code: string; details?: Record<string, unknown> } } }>, number, string][] = [
      ['signed by another key', device.requestPairing({ signWith: generateKeyPair() }), 401, 'LOA_ERR_CRYPTO'],
      ['a body changed after signing', device.requestPairing({ tamper: (b) => { (b.hardware as Record<string, unknown>).model = 'Khác'; } }), 401, 'LOA_ERR_CRYPTO'],
      ['a garbage signature', device.requestPairing({ tamper: (b) => { (b.proof as Record<string, unknown>).sig = `${'A'.repeat(86)}==`; } }), 401, 'LOA_ERR_CRYPTO'],
      ['a proof 6 minutes old', device.requestPairing({ at: Date.now() - 6 * 60_000 }), 400, 'LOA_ERR_PAIRING_CLOCK'],
      ['a proof 6 minutes ahead', device.requestPairing({ at: Date.now() + 6 * 60_000 }), 400, 'LOA_ERR_PAIRING_CLOCK'],
      ['no proof', device.requestPairing({ tamper: (b) => { delete b.proof; } }), 400, 'LOA_ERR_SCHEMA'],
      ['markup in the hardware summary', device.requestPairing({ hardware: { model: '<script>' } }), 400, 'LOA_ERR_SCHEMA'],
      ['an unknown field', device.requestPairing({ tamper: (b) => { b.deviceId = 'x'; } }), 400, 'LOA_ERR_SCHEMA'],
    ];
    for (const [what, p, status, code] of checks) {
      const r = await p;
      assert.deepEqual([r.status, r.body.error?.code], [status, code], what);
    }
    const skew = await device.requestPairing({ at: Date.now() - 6 * 60_000 });
    assert.ok(Math.abs(Number(skew.body.error?.details?.serverTime) - Date.now()) < 5000, 'the controller says its time, so the device can correct');
    assert.ok((await audit()).some((a) => a.action === 'pairing.request_refused' && a.details.reason === 'proof'));
  });

  it('gives an unpaired device nothing: its key is refused by the API and the broker, and its status needs its own signature', async () => {
    const device = TestDevice.of(t);
    const { pairingId } = await device.pairingCode();
    for (const id of [pairingId, 'dev-unknown']) {
      assert.equal((await device.manifest(id)).status, 401, `manifest as ${id}`);
      assert.equal(await device.connect(id), 5, `MQTT as ${id}: CONNACK 5, not authorized`);
    }
    assert.equal((await device.status(pairingId, { key: generateKeyPair() })).status, 401, 'status signed by another key');
    assert.equal((await device.status(pairingId, { sub: 'pair-other' })).status, 401, 'a token for another request');
    const bare = await fetch(`${t.controller.httpUrl}/api/v1/pairing/${pairingId}`);
    assert.equal(bare.status, 401);
    await bare.arrayBuffer();
    assert.equal((await device.status('pair-000000000000')).status, 404);
  });

  it('keeps one live code per key, and refuses a key that is already bound', async () => {
    const device = TestDevice.of(t);
    const first = await device.pairingCode();
    const second = await device.pairingCode();
    assert.equal((await device.status(first.pairingId)).body.state, 'expired', 'a new request replaces the pending one');
    assert.deepEqual(await outcome(tech.post('/api/v1/pairing/claim', { code: first.code, zoneId: 'X1-C1' })), { status: 410, code: 'LOA_ERR_PAIRING_EXPIRED' });
    await tech.post('/api/v1/pairing/claim', { code: second.code, zoneId: 'X1-C1' });
    const again = await device.requestPairing();
    assert.deepEqual([again.status, again.body.error?.code], [409, 'LOA_ERR_PAIRING_KEY_IN_USE']);
  });
});
