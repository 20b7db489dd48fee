import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../controller/auth/password.js';
import { generateKeyPair, signEnvelope } from '../../shared/crypto.js';
import type { SignedRoot } from '../../shared/schemas/root.js';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { startTestController, type TestController } from '../support/controller.js';
import { eventually } from '../support/wait.js';
import { outcome } from '../support/outcome.js';

const LOA = join(process.cwd(), 'bin', 'loa.js');
const PASSWORD = 'trust-password-1';

function loa(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
  assert.equal(r.status, 0, `loa ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const signerOf = (body: string): string => (JSON.parse(body) as { signatures: { keyid: string }[] }).signatures[0]!.keyid;


describe('trust distribution and reload (controller)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-trust-'));
  const keys = join(dir, 'keys');
  let t: TestController;
  const as = new Map<string, ApiClient>();

  before(async () => {
    loa(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2']);
    t = await startTestController({ keysDir: keys });
    const d = t.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    d.zones.create({ id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm Một' }, now);
    d.devices.create({ id: 'dev-t1', zoneId: 'X1-C1', name: 'Loa', kind: 'speaker' }, now);
    const hash = await hashPassword(PASSWORD);
    for (const [name, role, zone] of [['op', 'operator', 'T01'], ['tech', 'technician', 'T01'], ['x1admin', 'admin', 'X1']] as const) {
      d.users.create({ id: `u-${name}`, username: name, displayName: name, passwordHash: hash }, now);
      d.users.setRoles(`u-${name}`, [{ role, zoneId: zone, canApprove: false }]);
      const c = t.client();
      await c.login(name, PASSWORD);
      as.set(name, c);
    }
    t.controller.manifestCompiler.markDirty(['dev-t1']);
    await t.controller.manifestCompiler.flush();
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the chain publicly: the newest root, each version, 404 past the end', async () => {
    const anon = t.client();
    const v1 = readJson<SignedRoot>(join(keys, 'root.json'));
    assert.deepEqual(await anon.get('/api/v1/trust/root'), v1);
    assert.deepEqual(await anon.get('/api/v1/trust/root/1'), v1);
    assert.deepEqual(await outcome(anon.get('/api/v1/trust/root/2')), { status: 404, code: 'LOA_ERR_NOT_FOUND' });
    assert.deepEqual(await outcome(anon.get('/api/v1/trust/root/0')), { status: 400, code: 'LOA_ERR_SCHEMA' });
    assert.deepEqual(await outcome(anon.get('/api/v1/trust/root/abc')), { status: 400, code: 'LOA_ERR_SCHEMA' });
  });

  it('lets only an admin of every top-level zone reload', async () => {
    assert.deepEqual(await outcome(t.client().post('/api/v1/trust/reload')), { status: 401, code: 'LOA_ERR_UNAUTHENTICATED' });
    for (const who of ['op', 'tech', 'x1admin']) {
      assert.deepEqual(await outcome(as.get(who)!.post('/api/v1/trust/reload')), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, who);
    }
    const r = await t.admin.post('/api/v1/trust/reload');
    assert.deepEqual(r, { reloaded: false, previousVersion: 1, version: 1, scheduleKeyId: signerOf(t.controller.data.manifests.get('dev-t1')!.body), scheduleKeyChanged: false, devices: 0 }, 'nothing new: nothing changes');
  });

  it('refuses a new root signed by too few old root keys, and keeps serving and signing with the one in force', async () => {
    const v1 = readJson<SignedRoot>(join(keys, 'root.json'));
    const saved = { root: readFileSync(join(keys, 'root.json')), schedule: readFileSync(join(keys, 'schedule.key')) };
    const manifest = t.controller.data.manifests.get('dev-t1')!;
    // Someone copies in a v2 with a new schedule key that only one root key holder signed.
    const kp = generateKeyPair();
    const next = structuredClone(v1.signed);
    next.version = 2;
    next.keys[kp.keyid] = { keytype: 'ed25519', public: kp.publicKey };
    next.roles.schedule.keyids = [kp.keyid];
    const one = signEnvelope(next, [readFileSync(join(keys, 'root-1.key'), 'utf8')]);
    writeFileSync(join(keys, 'root.json'), JSON.stringify(one));
    writeFileSync(join(keys, 'roots', '2.root.json'), JSON.stringify(one));
    writeFileSync(join(keys, 'schedule.key'), kp.privateKeyPem);
    try {
      const r = await outcome(t.admin.post('/api/v1/trust/reload'));
      assert.deepEqual(r, { status: 422, code: 'LOA_ERR_ROOT_THRESHOLD' });
      assert.equal((await t.client().get<SignedRoot>('/api/v1/trust/root')).signed.version, 1);
      assert.deepEqual(await outcome(t.client().get('/api/v1/trust/root/2')), { status: 404, code: 'LOA_ERR_NOT_FOUND' });
      t.controller.manifestCompiler.markDirty(['dev-t1'], true);
      await t.controller.manifestCompiler.flush();
      const m = t.controller.data.manifests.get('dev-t1')!;
      assert.ok(m.version > manifest.version);
      assert.equal(signerOf(m.body), signerOf(manifest.body), 'still signed by the schedule key in force');
      const audit = await t.admin.get<{ entries: { action: string; actor: string; details: { code?: string } }[] }>('/api/v1/audit?limit=5');
      const failed = audit.entries.find((e) => e.action === 'trust.reload_failed');
      assert.equal(failed?.details.code, 'LOA_ERR_ROOT_THRESHOLD');
      const me = await t.admin.get<{ user: { id: string } }>('/api/v1/auth/me');
      assert.equal(failed?.actor, me.user.id, 'the actor is recorded');
    } finally {
      writeFileSync(join(keys, 'root.json'), saved.root);
      writeFileSync(join(keys, 'schedule.key'), saved.schedule);
      rmSync(join(keys, 'roots', '2.root.json'));
    }
  });

  it('after `loa keys rotate-online --revoke-old`, a reload serves root v2 and re-signs every manifest with the new key', async () => {
    const before = t.controller.data.manifests.get('dev-t1')!;
    const rot = loa(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--revoke-old']);
    const newKey = (rot.newKeys as { keyid: string }[])[0]!.keyid;
    assert.notEqual(newKey, signerOf(before.body));
    const r = await t.admin.post('/api/v1/trust/reload');
    assert.deepEqual(r, { reloaded: true, previousVersion: 1, version: 2, scheduleKeyId: newKey, scheduleKeyChanged: true, devices: 1 });
    const v2 = readJson<SignedRoot>(join(keys, 'root.json'));
    assert.deepEqual(await t.client().get('/api/v1/trust/root'), v2);
    assert.deepEqual(await t.client().get('/api/v1/trust/root/2'), v2);
    assert.deepEqual(await t.client().get('/api/v1/trust/root/1'), readJson(join(keys, 'roots', '1.root.json')), 'older versions stay served');
    await eventually(() => signerOf(t.controller.data.manifests.get('dev-t1')!.body) === newKey, 5000, 'the manifest re-signed with the new key');
    assert.ok(t.controller.data.manifests.get('dev-t1')!.version > before.version, 'with a new version, so devices fetch it');
    const audit = await t.admin.get<{ entries: { action: string; details: { version?: number } }[] }>('/api/v1/audit?limit=5');
    assert.equal(audit.entries.find((e) => e.action === 'trust.reload')?.details.version, 2);
    // Reloading again changes nothing.
    assert.equal((await t.admin.post<{ reloaded: boolean }>('/api/v1/trust/reload')).reloaded, false);
  });

  it('refuses a keys folder whose roots/ misses a version (devices could not walk it) and one from another ceremony', async () => {
    const other = join(dir, 'other');
    loa(['keys', 'init', '--out', other, '--count', '1', '--threshold', '1']);
    const saved = { root: readFileSync(join(keys, 'root.json')), schedule: readFileSync(join(keys, 'schedule.key')), r1: readFileSync(join(keys, 'roots', '1.root.json')), r2: readFileSync(join(keys, 'roots', '2.root.json')) };
    try {
      // Another ceremony's v1 and keys copied over ours.
      for (const [from, to] of [['root.json', 'root.json'], ['schedule.key', 'schedule.key'], ['root.json', 'roots/1.root.json']] as const) writeFileSync(join(keys, to), readFileSync(join(other, from)));
      rmSync(join(keys, 'roots', '2.root.json'));
      assert.deepEqual(await outcome(t.admin.post('/api/v1/trust/reload')), { status: 409, code: 'LOA_ERR_ROOT_ROLLBACK' });
      assert.equal((await t.client().get<SignedRoot>('/api/v1/trust/root')).signed.version, 2);
    } finally {
      writeFileSync(join(keys, 'root.json'), saved.root);
      writeFileSync(join(keys, 'schedule.key'), saved.schedule);
      writeFileSync(join(keys, 'roots', '1.root.json'), saved.r1);
      writeFileSync(join(keys, 'roots', '2.root.json'), saved.r2);
    }
    // roots/ without v2 (in force): a v3 could not be reached by devices walking v+1.
    loa(['keys', 'rotate-online', '--keys', keys, '--role', 'emergency']);
    const r2 = readFileSync(join(keys, 'roots', '2.root.json'));
    rmSync(join(keys, 'roots', '2.root.json'));
    try {
      assert.deepEqual(await outcome(t.admin.post('/api/v1/trust/reload')), { status: 422, code: 'LOA_ERR_TRUST_CHAIN' });
    } finally {
      writeFileSync(join(keys, 'roots', '2.root.json'), r2);
    }
    assert.equal((await t.admin.post<{ version: number }>('/api/v1/trust/reload')).version, 3);
  });
});
