import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../shared/crypto.js';
import { makeDeviceToken } from '../../shared/device-token.js';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import { startTestController, type TestController } from '../support/controller.js';

let t: TestController;
let admin: ApiClient;

before(async () => {
  t = await startTestController();
  admin = t.admin;
  await admin.post('/api/v1/zones', { id: 'X9', parentId: 'T01', level: 'commune', code: '99999', name: 'Xã Chín' });
  await admin.post('/api/v1/zones', { id: 'X9-C1', parentId: 'X9', level: 'cluster', code: 'C1', name: 'Cụm 1' });
});
after(() => t.close());

test('devices imported with their public keys authenticate at once, with no token or pairing; the batch is audited once', async () => {
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const res = await admin.post('/api/v1/devices/import', { devices: keys.map((k, i) => ({ id: `fab-${i}`, zoneId: 'X9-C1', name: `Loa ${i}`, publicKey: k.publicKey })) });
  assert.deepEqual(res, { imported: 3 });
  const token = makeDeviceToken(keys[1]!.privateKeyPem, 'fab-1', Date.now());
  const ok = await fetch(new URL('/api/v1/devices/fab-1/manifest', t.controller.httpUrl), { headers: { authorization: `Bearer ${token}` } });
  assert.ok(ok.status === 200 || ok.status === 404, `manifest → ${ok.status}`);
  await ok.arrayBuffer();
  const audit = await admin.get<{ entries: { action: string; details: { count?: number } }[] }>('/api/v1/audit?limit=50');
  assert.equal(audit.entries.filter((e) => e.action === 'device.import')[0]?.details.count, 3);
});

test('a batch with one bad row imports nothing: a taken id, a bound key, or a key used twice', async () => {
  const k = generateKeyPair();
  const cases = [
    [{ id: 'fab-0', zoneId: 'X9-C1', name: 'x', publicKey: generateKeyPair().publicKey }],
    [{ id: 'fab-new-1', zoneId: 'X9-C1', name: 'x', publicKey: generateKeyPair().publicKey }, { id: 'fab-new-2', zoneId: 'X9-C1', name: 'x', publicKey: k.publicKey }, { id: 'fab-new-3', zoneId: 'X9-C1', name: 'x', publicKey: k.publicKey }],
  ];
  for (const devices of cases) {
    const r = await fetch(new URL('/api/v1/devices/import', t.controller.httpUrl), { method: 'POST', headers: { authorization: `Bearer ${admin.token!}`, 'content-type': 'application/json' }, body: JSON.stringify({ devices }) });
    assert.equal(r.status, 409, await r.text());
  }
  const list = await admin.get<{ devices: { id: string }[] }>('/api/v1/devices?zoneId=X9');
  assert.deepEqual(list.devices.map((d) => d.id).sort(), ['fab-0', 'fab-1', 'fab-2']);
});
