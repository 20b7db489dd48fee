import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { topics } from '../../shared/topics.js';
import { startTestController, type TestController } from '../support/controller.js';
import { TestDevice, pairNewDevice } from '../support/pairing.js';
import { eventually } from '../support/wait.js';
import { outcome } from '../support/outcome.js';


const closed = (c: MqttClient): Promise<void> => new Promise((resolve) => {
  if (c.disconnected) resolve();
  else c.once('close', () => resolve());
});

describe('device lifecycle: revoke, replace, decommission', () => {
  let t: TestController;
  const actions = async (deviceId: string): Promise<string[]> =>
    (await t.admin.get<{ entries: { action: string }[] }>(`/api/v1/audit?limit=1000&targetId=${deviceId}`)).entries.map((e) => e.action).reverse();
  const manifestReady = (d: TestDevice, id: string): Promise<void> => eventually(async () => (await d.manifest(id)).status === 200, 5000, `the manifest of ${id}`);

  before(async () => {
    t = await startTestController();
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
    await t.admin.post('/api/v1/zones', { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm thôn Đông' });
  });
  after(async () => t.close());

  it('refuses a revoked device within 1 s: its MQTT session is dropped, a fresh token is refused by the broker, and HTTP answers 401', async () => {
    const { device, deviceId } = await pairNewDevice(t, t.admin, 'X1-C1');
    await manifestReady(device, deviceId);
    const c = await device.connect(deviceId);
    assert.equal(typeof c, 'object', `connected before revocation (got ${typeof c === 'object' ? 'a client' : c})`);
    const client = c as MqttClient;
    await client.subscribeAsync(topics.down(deviceId, 'notify'), { qos: 1 });
    const gone = closed(client);

    const t0 = performance.now();
    await t.admin.post(`/api/v1/devices/${deviceId}/revoke`);
    await gone;
    assert.equal(await device.connect(deviceId), 5, 'a fresh token is refused: CONNACK 5');
    const m = await device.manifest(deviceId);
    assert.deepEqual([m.status, m.body.error?.code], [401, 'LOA_ERR_DEVICE_REVOKED']);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `refused everywhere ${Math.round(ms)} ms after the revocation (limit 1000 ms)`);

    const d = await t.admin.get<{ device: { state: string } }>(`/api/v1/devices/${deviceId}`);
    assert.equal(d.device.state, 'revoked');
    assert.deepEqual(await actions(deviceId), ['device.pair', 'device.revoke']);
  });

  it('replacement hardware keeps the device id, zone and history; the old key is refused from then on', async () => {
    const { device: oldHw, deviceId, pairingId: oldPairing } = await pairNewDevice(t, t.admin, 'X1-C1', 'Loa chợ');
    await manifestReady(oldHw, deviceId);
    const before = await t.admin.get<{ device: { createdAt: number; name: string }; manifest: { version: number } }>(`/api/v1/devices/${deviceId}`);
    const c = await oldHw.connect(deviceId);
    assert.equal(typeof c, 'object');
    const gone = closed(c as MqttClient);

    const newHw = TestDevice.of(t);
    const { code, pairingId } = await newHw.pairingCode();
    const r = await t.admin.post<{ device: { id: string; zoneId: string; name: string; keyid: string; createdAt: number; state: string }; replaced: boolean }>('/api/v1/pairing/claim', { code, replaceDeviceId: deviceId });
    assert.deepEqual([r.device.id, r.device.zoneId, r.device.name, r.device.createdAt, r.device.keyid, r.device.state, r.replaced], [deviceId, 'X1-C1', 'Loa chợ', before.device.createdAt, newHw.key.keyid, 'active', true]);
    await gone;

    // The new hardware: enrollment answer, manifest (same device, versions only grow), broker.
    assert.equal((await newHw.status(pairingId)).body.enrollment?.deviceId, deviceId);
    await manifestReady(newHw, deviceId);
    const after = await t.admin.get<{ manifest: { version: number } }>(`/api/v1/devices/${deviceId}`);
    assert.ok(after.manifest.version >= before.manifest.version);
    const n = await newHw.connect(deviceId);
    assert.equal(typeof n, 'object');
    await (n as MqttClient).endAsync(true);

    // The old key: refused by HTTP and the broker, its old pairing answers nothing, and it cannot pair again.
    assert.equal((await oldHw.manifest(deviceId)).status, 401);
    assert.equal(await oldHw.connect(deviceId), 5);
    const st = await oldHw.status(oldPairing);
    assert.deepEqual([st.status, st.body.error?.code], [401, 'LOA_ERR_DEVICE_REVOKED']);
    const again = await oldHw.requestPairing();
    assert.deepEqual([again.status, again.body.error?.code], [403, 'LOA_ERR_PAIRING_KEY_REVOKED']);
    assert.deepEqual(await actions(deviceId), ['device.pair', 'device.replace']);
  });

  it('re-pairs a revoked device with a new key (replaceDeviceId), never with the revoked one', async () => {
    const { device, deviceId } = await pairNewDevice(t, t.admin, 'X1-C1');
    await t.admin.post(`/api/v1/devices/${deviceId}/revoke`);
    const same = await device.requestPairing();
    assert.deepEqual([same.status, same.body.error?.code], [403, 'LOA_ERR_PAIRING_KEY_REVOKED'], 'the revoked key cannot ask for a code');
    // Nor through the old path: an enrollment token with the revoked key.
    const { token } = await t.admin.post<{ token: string }>(`/api/v1/devices/${deviceId}/enrollment-token`);
    const enroll = await fetch(`${t.controller.httpUrl}/api/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, publicKey: device.key.publicKey }) });
    assert.deepEqual([enroll.status, ((await enroll.json()) as { error: { code: string } }).error.code], [403, 'LOA_ERR_PAIRING_KEY_REVOKED']);

    const fresh = TestDevice.of(t);
    const { code } = await fresh.pairingCode();
    const r = await t.admin.post<{ device: { id: string; state: string } }>('/api/v1/pairing/claim', { code, replaceDeviceId: deviceId });
    assert.deepEqual([r.device.id, r.device.state], [deviceId, 'active']);
    await manifestReady(fresh, deviceId);
    assert.equal((await device.manifest(deviceId)).status, 401);
    assert.deepEqual(await actions(deviceId), ['device.pair', 'device.revoke', 'device.enrollment_token', 'device.replace']);
  });

  it('decommissions a device: key refused, no more manifests, state decommissioned, history kept', async () => {
    const { device, deviceId } = await pairNewDevice(t, t.admin, 'X1-C1', 'Loa cũ');
    await manifestReady(device, deviceId);
    const c = await device.connect(deviceId);
    const gone = closed(c as MqttClient);
    const version = t.controller.data.manifests.get(deviceId)!.version;

    const r = await t.admin.post<{ device: { id: string; state: string; decommissionedAt: number | null; name: string } }>(`/api/v1/devices/${deviceId}/decommission`);
    assert.deepEqual([r.device.state, r.device.name, typeof r.device.decommissionedAt], ['decommissioned', 'Loa cũ', 'number']);
    await gone;
    assert.equal((await device.manifest(deviceId)).status, 401);
    assert.equal(await device.connect(deviceId), 5);

    // The compiler skips it, even when forced; its record, manifest row and audit trail stay.
    await t.controller.manifestCompiler.compile([deviceId], new Set([deviceId]));
    assert.equal(t.controller.data.manifests.get(deviceId)!.version, version);
    const listed = await t.admin.get<{ devices: { id: string; state: string }[] }>(`/api/v1/devices?zoneId=X1-C1&q=${deviceId}`);
    assert.deepEqual(listed.devices.map((d) => [d.id, d.state]), [[deviceId, 'decommissioned']]);

    // It cannot come back: not decommissioned twice, not replaced, not enrolled, not revived by its key.
    assert.deepEqual(await outcome(t.admin.post(`/api/v1/devices/${deviceId}/decommission`)), { status: 409, code: 'LOA_ERR_DEVICE_DECOMMISSIONED' });
    const fresh = TestDevice.of(t);
    const { code } = await fresh.pairingCode();
    assert.deepEqual(await outcome(t.admin.post('/api/v1/pairing/claim', { code, replaceDeviceId: deviceId })), { status: 409, code: 'LOA_ERR_DEVICE_DECOMMISSIONED' });
    const again = await device.requestPairing();
    assert.equal(again.body.error?.code, 'LOA_ERR_PAIRING_KEY_REVOKED');
    // The code that a refused replacement used is still good for a new device.
    const r2 = await t.admin.post<{ device: { id: string } }>('/api/v1/pairing/claim', { code, zoneId: 'X1-C1' });
    assert.notEqual(r2.device.id, deviceId);
    assert.deepEqual(await actions(deviceId), ['device.pair', 'device.decommission']);
  });
});
