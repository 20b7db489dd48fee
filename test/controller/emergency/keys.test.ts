import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyEmergencyOrder } from '../../../agent/emergency/verify.js';
import { loadControllerKeys } from '../../../controller/keys.js';
import { initKeys } from '../../../scripts/cli/keys.js';
import { ApiError } from '../../../scripts/lib/api-client.js';
import { publicKeyFromPrivatePem } from '../../../shared/crypto.js';
import { isLoaError } from '../../../shared/errors.js';
import type { SignedEmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { SignedRoot } from '../../../shared/schemas/root.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { outcome } from './rig.js';

const LOA = join(process.cwd(), 'bin', 'loa.js');

describe('the emergency key: optional, checked against the root, picked up by a trust reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-emk-'));
  const keys = join(dir, 'keys');
  const away = join(dir, 'emergency.key.away');
  let t: TestController;
  let mediaId = '';

  before(async () => {
    initKeys(keys, 1, 1, 1);
    renameSync(join(keys, 'emergency.key'), away);
    t = await startTestController({ keysDir: keys });
    const d = t.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    d.zones.create({ id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm Một' }, now);
    d.devices.create({ id: 'dev-k1', zoneId: 'X1-C1', name: 'Loa', kind: 'speaker' }, now);
    mediaId = d.media.create({ id: 'med-k1', sha256: 'c'.repeat(64), size: 10, durationMs: 1000, mime: 'audio/ogg', title: 'T', originalName: null, sourceSha256: null, loudnessLufs: null, zoneId: 'X1', createdBy: 'x' }, now).id;
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (): Promise<{ order: { id: string; seq: number } }> => t.admin.post('/api/v1/emergency', { title: 'Thử khóa', zones: ['X1-C1'], content: { kind: 'media', mediaId }, confirm: 'Cụm Một' });
  const signedBy = (orderId: string): SignedEmergencyOrder => JSON.parse(t.controller.data.emergency.signedBodies(orderId).start!) as SignedEmergencyOrder;

  it('answers 503 LOA_ERR_EMERGENCY_KEY_MISSING, saying how to get the key, without emergency.key; reading still works', async () => {
    for (const call of [() => t.admin.post('/api/v1/emergency/preview', { zones: ['X1'] }), send]) {
      try {
        await call();
        assert.fail('refused');
      } catch (e) {
        assert.ok(e instanceof ApiError);
        assert.deepEqual([e.status, e.code], [503, 'LOA_ERR_EMERGENCY_KEY_MISSING']);
        assert.match(e.message, /emergency\.key/);
        assert.match(e.message, /trust\/reload/);
      }
    }
    assert.deepEqual((await t.admin.get<{ orders: unknown[] }>('/api/v1/emergency')).orders, []);
  });

  it('takes emergency.key into use on a trust reload once it is copied in', async () => {
    copyFileSync(away, join(keys, 'emergency.key'));
    const r = await t.admin.post<{ reloaded: boolean; version: number; devices: number }>('/api/v1/trust/reload');
    assert.deepEqual([r.reloaded, r.version, r.devices], [true, 1, 0], 'no manifest is re-signed for it');
    const sent = await send();
    assert.equal(signedBy(sent.order.id).signatures[0]!.keyid, publicKeyFromPrivatePem(readFileSync(away, 'utf8')).keyid);
    const audit = await t.admin.get<{ entries: { action: string; details: { emergencyKeyChanged?: boolean } }[] }>('/api/v1/audit?targetId=root');
    assert.equal(audit.entries[0]?.action, 'trust.reload');
    assert.equal(audit.entries[0]?.details.emergencyKeyChanged, true);
  });

  it('refuses a key that is not the root\'s emergency key: at start (LOA_ERR_KEYS_MISSING), and on reload, which keeps the key in force', async () => {
    const other = join(dir, 'other');
    initKeys(other, 1, 1, 1);
    for (const folder of [other, keys]) assert.ok(loadControllerKeys(folder, Date.now()).emergencyKeyId, `${folder} loads with its emergency key`);
    const mixed = join(dir, 'mixed');
    initKeys(mixed, 1, 1, 1);
    copyFileSync(join(other, 'emergency.key'), join(mixed, 'emergency.key'));
    assert.throws(() => loadControllerKeys(mixed, Date.now()), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_KEYS_MISSING' && /emergency\.key .* is not an emergency key of root\.json v1/.test(e.message));
    await assert.rejects(startTestController({ keysDir: mixed }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_KEYS_MISSING');

    const good = readFileSync(join(keys, 'emergency.key'));
    copyFileSync(join(other, 'emergency.key'), join(keys, 'emergency.key'));
    try {
      assert.deepEqual(await outcome(t.admin.post('/api/v1/trust/reload')), { status: 503, code: 'LOA_ERR_KEYS_MISSING' });
    } finally {
      copyFileSync(away, join(keys, 'emergency.key'));
    }
    assert.ok(good.equals(readFileSync(join(keys, 'emergency.key'))));
    const sent = await send();
    assert.equal(signedBy(sent.order.id).signatures[0]!.keyid, publicKeyFromPrivatePem(good.toString('utf8')).keyid, 'the key in force still signs');
  });

  it('signs with the rotated key after `loa keys rotate-online --role emergency` and a reload; devices on the new root accept it', async () => {
    const r = spawnSync(process.execPath, [LOA, 'keys', 'rotate-online', '--keys', keys, '--role', 'emergency', '--revoke-old'], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
    assert.equal(r.status, 0, r.stderr);
    const reload = await t.admin.post<{ reloaded: boolean; version: number }>('/api/v1/trust/reload');
    assert.deepEqual([reload.reloaded, reload.version], [true, 2]);
    const sent = await send();
    const env = signedBy(sent.order.id);
    const newKey = publicKeyFromPrivatePem(readFileSync(join(keys, 'emergency.key'), 'utf8')).keyid;
    assert.equal(env.signatures[0]!.keyid, newKey);
    const root = (await t.client().get<SignedRoot>('/api/v1/trust/root')).signed;
    assert.equal(root.version, 2);
    const ok = verifyEmergencyOrder(JSON.stringify(env), { root, deviceId: 'dev-k1', zones: ['T01', 'X1', 'X1-C1'], now: Date.now(), seen: () => false });
    assert.equal(ok.signed.orderId, sent.order.id);
  });
});
