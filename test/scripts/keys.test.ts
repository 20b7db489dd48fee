import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManifestManager } from '../../agent/manifest/manager.js';
import { MediaStore } from '../../agent/media/store.js';
import { openDb } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { installRootChain } from '../../agent/sync/trust-fetch.js';
import { openBundle } from '../../agent/bundle.js';
import { signEnvelope } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { RootMetadata, SignedRoot } from '../../shared/schemas/root.js';
import { verifyInitialRoot, verifyRootChain, verifyRootUpdate } from '../../shared/trust.js';
import { readKeyFile } from '../../scripts/lib/keyfile.js';
import { baseManifest } from '../support/trust.js';

const LOA = join(process.cwd(), 'bin', 'loa.js');
const PASS = 'correct horse battery staple';

interface Run { status: number | null; stdout: string; stderr: string; json: Record<string, unknown> }
function loa(args: string[], env: Record<string, string | undefined> = {}): Run {
  const e: NodeJS.ProcessEnv = { ...process.env, LOA_LOG_LEVEL: 'silent', LOA_KEY_PASSPHRASE: undefined, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    // not JSON (an error)
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}
function ok(args: string[], env: Record<string, string | undefined> = {}): Run {
  const r = loa(args, env);
  assert.equal(r.status, 0, `loa ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}
/** Fails with `code` (exit 1, the code on stderr). */
function fails(args: string[], code: string, env: Record<string, string | undefined> = {}): Run {
  const r = loa(args, env);
  assert.equal(r.status, 1, `loa ${args.join(' ')} should fail with ${code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`loa: ${code}:`), r.stderr);
  return r;
}

/** Every file under `dir` (hidden ones too: temp files would show) with its mode and content hash. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out[`${rel}${name}/`] = (st.mode & 0o777).toString(8);
        walk(p, `${rel}${name}/`);
      } else {
        out[`${rel}${name}`] = `${(st.mode & 0o777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
      }
    }
  };
  walk(dir, '');
  return out;
}
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const NOW = (): number => Date.now();

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'loa-keys-'));
}

test('every `loa keys` command says it is offline in its --help', () => {
  assert.match(ok(['keys', '--help']).stdout, /Never contacts a controller/);
  for (const sub of ['init', 'rotate-online', 'rotate-root', 'draft', 'sign', 'finalize', 'export-trust', 'verify']) {
    assert.match(ok(['keys', sub, '--help']).stdout, /Offline: this command never contacts a controller/, sub);
  }
});

test('init --encrypt: encrypted PKCS#8 root keys (0600) in a 0700 folder, roots/1.root.json, no secret in the output, and it never overwrites', async () => {
  const dir = tmp();
  try {
    const pf = join(dir, 'pass.txt');
    writeFileSync(pf, `${PASS}\n`);
    const keys = join(dir, 'keys');
    const r = ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2', '--encrypt', '--passphrase-file', pf]);
    assert.equal(r.json.encrypted, true);
    assert.ok(!r.stdout.includes(PASS) && !r.stderr.includes(PASS), 'the passphrase is never printed');
    assert.ok(!r.stdout.includes('PRIVATE KEY') && !r.stderr.includes('PRIVATE KEY'), 'no key material is printed');
    assert.equal(statSync(keys).mode & 0o777, 0o700);
    assert.equal(statSync(join(keys, 'roots')).mode & 0o777, 0o700);
    for (const f of ['root-1.key', 'root-2.key', 'root-3.key', 'schedule.key', 'emergency.key']) assert.equal(statSync(join(keys, f)).mode & 0o777, 0o600, f);
    for (const i of [1, 2, 3]) assert.match(readFileSync(join(keys, `root-${i}.key`), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    // Online keys stay plain: the controller signs unattended.
    assert.match(readFileSync(join(keys, 'schedule.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(readFileSync(join(keys, 'roots', '1.root.json'), 'utf8'), readFileSync(join(keys, 'root.json'), 'utf8'));
    const root = verifyInitialRoot(readJson(join(keys, 'root.json')), NOW());
    const k1 = await readKeyFile(join(keys, 'root-1.key'), { get: () => Promise.resolve(PASS), getNew: () => Promise.resolve(PASS) });
    assert.ok(root.roles.root.keyids.includes(k1.keyid), 'the encrypted key decrypts to a root key');
    assert.equal(ok(['keys', 'show', join(keys, 'root-1.key'), '--passphrase-file', pf]).json.keyid, k1.keyid);

    const before = snapshot(keys);
    fails(['keys', 'init', '--out', keys, '--count', '1', '--threshold', '1'], 'LOA_ERR_KEY_EXISTS');
    assert.deepEqual(snapshot(keys), before, 'nothing was overwritten');
    fails(['keys', 'init', '--out', join(dir, 'other'), '--count', '2', '--threshold', '3'], 'LOA_ERR_SCHEMA');
    fails(['keys', 'init', '--out', join(dir, 'short'), '--encrypt'], 'LOA_ERR_KEY_PASSPHRASE', { LOA_KEY_PASSPHRASE: 'short' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wrong or missing passphrase, a damaged key file and a key of the wrong role each fail with their own code, and nothing is written', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2', '--encrypt'], { LOA_KEY_PASSPHRASE: PASS });
    const before = snapshot(keys);
    const rotate = ['keys', 'rotate-online', '--keys', keys, '--role', 'schedule'];

    const wrong = fails(rotate, 'LOA_ERR_KEY_PASSPHRASE', { LOA_KEY_PASSPHRASE: 'not the passphrase at all' });
    assert.match(wrong.stderr, /wrong passphrase for .*root-1\.key/);
    assert.ok(!wrong.stderr.includes('not the passphrase at all'), 'the passphrase tried is not echoed');
    assert.match(wrong.stderr, /Mật khẩu/, 'the Vietnamese message is shown too');
    // Not on a terminal and no passphrase given: a clear message, not a hang.
    assert.match(fails(rotate, 'LOA_ERR_KEY_PASSPHRASE').stderr, /--passphrase-file FILE or set LOA_KEY_PASSPHRASE/);
    fails([...rotate, '--passphrase-file', join(dir, 'missing.txt')], 'LOA_ERR_KEY_PASSPHRASE');
    assert.deepEqual(snapshot(keys), before);

    // A damaged key (bytes changed in the middle; truncated; not a key at all), on a copy of the holder's stick.
    const stick = join(dir, 'stick');
    mkdirSync(stick);
    const good = readFileSync(join(keys, 'root-2.key'), 'utf8');
    const lines = good.split('\n');
    lines[2] = lines[2]!.slice(0, 10) + '!!!!' + lines[2]!.slice(14);
    writeFileSync(join(stick, 'flipped.key'), lines.join('\n'));
    writeFileSync(join(stick, 'truncated.key'), good.slice(0, 120));
    writeFileSync(join(stick, 'photo.key'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]));
    for (const f of ['flipped.key', 'truncated.key', 'photo.key']) {
      const r = fails([...rotate, '--root-key', join(stick, f), '--root-key', join(keys, 'root-1.key')], 'LOA_ERR_KEY_FILE', { LOA_KEY_PASSPHRASE: PASS });
      assert.match(r.stderr, new RegExp(f.replace('.', '\\.')));
    }
    fails([...rotate, '--root-key', join(stick, 'absent.key')], 'LOA_ERR_KEY_FILE', { LOA_KEY_PASSPHRASE: PASS });

    // The schedule key is not a root key.
    const role = fails([...rotate, '--root-key', join(keys, 'schedule.key'), '--root-key', join(keys, 'root-1.key')], 'LOA_ERR_KEY_ROLE', { LOA_KEY_PASSPHRASE: PASS });
    assert.match(role.stderr, /is a schedule key .* not a root key/);
    assert.deepEqual(snapshot(keys), before, 'the keys folder is exactly as before: nothing half-written, no temp files');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotate-online --revoke-old: root v2 lists the new key, revokes the old one, chains from v1, and every version is kept', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2']);
    const v1 = readJson<SignedRoot>(join(keys, 'root.json'));
    const oldSchedule = v1.signed.roles.schedule.keyids[0]!;
    const r = ok(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--revoke-old']);
    assert.match(r.stderr, /root key root-1\.key .* loaded/);
    assert.equal(r.json.version, 2);
    const v2env = readJson<SignedRoot>(join(keys, 'root.json'));
    assert.deepEqual(readJson(join(keys, 'roots', '2.root.json')), v2env);
    assert.deepEqual(readJson(join(keys, 'roots', '1.root.json')), v1);
    const v2 = verifyRootUpdate(v1.signed, v2env, NOW());
    const newSchedule = (r.json.newKeys as { keyid: string }[])[0]!.keyid;
    assert.deepEqual(v2.roles.schedule.keyids, [newSchedule]);
    assert.deepEqual(v2.revokedKeys, [oldSchedule]);
    assert.ok(!v2.keys[oldSchedule], 'the old key left the key table');
    assert.deepEqual(v2.roles.root, v1.signed.roles.root, 'the root keys did not change');
    assert.deepEqual(v2.roles.emergency, v1.signed.roles.emergency);
    assert.equal(statSync(join(keys, 'schedule.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(keys, 'retired', 'v1-schedule.key')).mode & 0o777, 0o600, 'the replaced key is kept aside, still 0600');

    // Without --revoke-old the emergency key is only dropped from its role.
    ok(['keys', 'rotate-online', '--keys', keys, '--role', 'emergency']);
    const v3 = readJson<SignedRoot>(join(keys, 'root.json')).signed;
    assert.equal(v3.version, 3);
    assert.deepEqual(v3.revokedKeys, [oldSchedule]);
    assert.notDeepEqual(v3.roles.emergency.keyids, v2.roles.emergency.keyids);

    const verify = ok(['keys', 'verify', '--keys', keys]);
    assert.equal(verify.json.ok, true);
    assert.equal(verify.json.latest, 3);
    assert.deepEqual((verify.json.versions as { version: number }[]).map((v) => v.version), [1, 2, 3]);
    assert.match(verify.stderr, /v2: root 2-of-3, .* 1 revoked, expires /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotate-root: the new root is signed by the old and the new thresholds, and the old root keys can no longer sign', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2', '--encrypt'], { LOA_KEY_PASSPHRASE: PASS });
    const v1 = readJson<SignedRoot>(join(keys, 'root.json'));
    const newOut = join(dir, 'new-root-keys');
    const r = ok(['keys', 'rotate-root', '--keys', keys, '--count', '5', '--threshold', '3', '--new-out', newOut, '--encrypt'], { LOA_KEY_PASSPHRASE: PASS });
    const v2env = readJson<SignedRoot>(join(keys, 'root.json'));
    const v2 = verifyRootUpdate(v1.signed, v2env, NOW());
    assert.equal(v2.roles.root.threshold, 3);
    assert.equal(v2.roles.root.keyids.length, 5);
    assert.ok(v2.roles.root.keyids.every((id) => !v1.signed.roles.root.keyids.includes(id)));
    const sigIds = v2env.signatures.map((s) => s.keyid);
    assert.equal(sigIds.filter((id) => v1.signed.roles.root.keyids.includes(id)).length, 2, 'the old threshold signed');
    assert.equal(sigIds.filter((id) => v2.roles.root.keyids.includes(id)).length, 3, 'the new threshold signed');
    assert.deepEqual(v2.roles.schedule, v1.signed.roles.schedule, 'the online keys did not change');
    assert.equal((r.json.newKeys as unknown[]).length, 5);
    assert.equal(statSync(newOut).mode & 0o777, 0o700);
    for (let i = 1; i <= 5; i++) assert.match(readFileSync(join(newOut, `root-${i}.key`), 'utf8'), /ENCRYPTED PRIVATE KEY/);
    assert.deepEqual(readdirSync(keys).filter((f) => f.startsWith('root-')), [], 'the old root keys left the keys folder');
    assert.deepEqual(readdirSync(join(keys, 'retired')).sort(), ['v1-root-1.key', 'v1-root-2.key', 'v1-root-3.key']);

    // The old root keys are no root keys of v2: a next rotation refuses them by role.
    const role = fails(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--root-key', join(keys, 'retired', 'v1-root-1.key')], 'LOA_ERR_KEY_ROLE', { LOA_KEY_PASSPHRASE: PASS });
    assert.match(role.stderr, /not listed in root metadata v2, not a root key/);
    // The new ones rotate on.
    ok(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--root-key', join(newOut, 'root-4.key'), '--root-key', join(newOut, 'root-2.key'), '--root-key', join(newOut, 'root-5.key')], { LOA_KEY_PASSPHRASE: PASS });
    assert.deepEqual(verifyRootChain(readdirSync(join(keys, 'roots')).sort().map((f) => readJson(join(keys, 'roots', f))), NOW()).map((x) => x.version), [1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('too few root keys: the rotation is refused with LOA_ERR_ROOT_THRESHOLD and writes nothing; holders then sign a draft one by one', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2']);
    // The holders took their keys offline, each on a stick.
    const sticks = [1, 2, 3].map((i) => join(dir, `usb${i}`));
    sticks.forEach((s, i) => { mkdirSync(s); cpSync(join(keys, `root-${i + 1}.key`), join(s, `root-${i + 1}.key`)); rmSync(join(keys, `root-${i + 1}.key`)); });
    const before = snapshot(keys);
    const one = fails(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--root-key', join(sticks[0]!, 'root-1.key')], 'LOA_ERR_ROOT_THRESHOLD');
    assert.match(one.stderr, /only 1 of the 2 root keys needed .* Nothing was written/);
    assert.deepEqual(snapshot(keys), before);
    fails(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule'], 'LOA_ERR_ROOT_THRESHOLD');
    assert.deepEqual(snapshot(keys), before);

    // draft → sign (holder 3) → finalize refuses: one of two signatures.
    const d = ok(['keys', 'draft', '--keys', keys, '--rotate', 'online', '--role', 'schedule', '--revoke-old']);
    const draft = String(d.json.draft);
    assert.equal(d.json.ready, false);
    assert.equal(statSync(join(keys, 'pending')).mode & 0o777, 0o700);
    assert.equal(statSync(join(keys, 'pending', 'schedule.key')).mode & 0o777, 0o600);
    const s1 = ok(['keys', 'sign', '--key', join(sticks[2]!, 'root-3.key'), draft]);
    assert.deepEqual(s1.json.old, { valid: 1, threshold: 2 });
    // Signing twice with the same key does not count twice.
    assert.deepEqual(ok(['keys', 'sign', '--key', join(sticks[2]!, 'root-3.key'), draft]).json.old, { valid: 1, threshold: 2 });
    fails(['keys', 'sign', '--key', join(keys, 'emergency.key'), draft], 'LOA_ERR_KEY_ROLE');
    const pendingBefore = snapshot(keys);
    const thr = fails(['keys', 'finalize', '--keys', keys, draft], 'LOA_ERR_ROOT_THRESHOLD');
    assert.match(thr.stderr, /1 valid root signature\(s\), 2 required/);
    assert.deepEqual(snapshot(keys), pendingBefore, 'a refused finalize writes nothing');
    // Another draft cannot start meanwhile, nor a one-shot rotation.
    fails(['keys', 'draft', '--keys', keys, '--rotate', 'online', '--role', 'emergency'], 'LOA_ERR_KEY_EXISTS');

    // A holder who changed the draft's content (not just signed it): refused at finalize.
    const tampered = join(dir, 'tampered.json');
    const t = readJson<{ signed: RootMetadata }>(draft);
    t.signed.revokedDevices = ['dev-x'];
    writeFileSync(tampered, JSON.stringify(t));
    fails(['keys', 'finalize', '--keys', keys, tampered], 'LOA_ERR_ROOT_DRAFT');
    writeFileSync(tampered, '{"_type":"root-draft"');
    fails(['keys', 'finalize', '--keys', keys, tampered], 'LOA_ERR_ROOT_DRAFT');

    const s2 = ok(['keys', 'sign', '--key', join(sticks[0]!, 'root-1.key'), draft]);
    assert.equal(s2.json.ready, true);
    const f = ok(['keys', 'finalize', '--keys', keys, draft]);
    assert.equal(f.json.version, 2);
    const v1 = readJson<SignedRoot>(join(keys, 'roots', '1.root.json'));
    const v2 = verifyRootUpdate(v1.signed, readJson(join(keys, 'root.json')), NOW());
    assert.deepEqual(v2.revokedKeys, v1.signed.roles.schedule.keyids);
    assert.ok(!readdirSync(keys).includes('pending'), 'the pending rotation is cleared');
    assert.equal(readJson<SignedRoot>(join(keys, 'root.json')).signatures.length, 2, 'only the signatures needed are kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failure in the middle of finalizing is undone: the keys folder is exactly as before', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '1', '--threshold', '1']);
    // The replaced key cannot be moved aside: something already sits where it would go. By then roots/2.root.json
    // was written, so the rollback must remove it.
    mkdirSync(join(keys, 'retired'), { mode: 0o700 });
    writeFileSync(join(keys, 'retired', 'v1-schedule.key'), 'in the way', { mode: 0o600 });
    const before = snapshot(keys);
    fails(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule'], 'LOA_ERR_KEY_EXISTS');
    assert.deepEqual(snapshot(keys), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a keys folder made before roots/ existed is migrated on its first rotation', () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '1', '--threshold', '1']);
    rmSync(join(keys, 'roots'), { recursive: true });
    assert.equal(ok(['keys', 'export-trust', '--keys', keys, '--out', join(dir, 't.json')]).json.latest, 1, 'read-only commands work on it as it is');
    assert.ok(!readdirSync(keys).includes('roots'));
    const r = ok(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule']);
    assert.match(r.stderr, /kept root v1 as roots\/1\.root\.json/);
    assert.deepEqual(readdirSync(join(keys, 'roots')).sort(), ['1.root.json', '2.root.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the exported trust bundle lets a device at v1 (and a fresh one) reach the newest root, also as root.json of an offline bundle', async () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    ok(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2']);
    const v1 = readJson<SignedRoot>(join(keys, 'root.json'));
    ok(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--revoke-old']);
    ok(['keys', 'rotate-root', '--keys', keys, '--count', '2', '--threshold', '2']);
    ok(['keys', 'rotate-online', '--keys', keys, '--role', 'schedule', '--revoke-old']);
    const trustFile = join(dir, 'trust.json');
    const ex = ok(['keys', 'export-trust', '--keys', keys, '--out', trustFile]);
    assert.deepEqual(ex.json.versions, [1, 2, 3, 4]);
    const chain = readJson<unknown[]>(trustFile);
    assert.ok(Array.isArray(chain));

    const log = createLogger('test', { level: 'silent' });
    const device = (name: string): { manager: ManifestManager; close: () => void } => {
      const dataDir = join(dir, name);
      mkdirSync(dataDir);
      const db = openDb({ path: join(dataDir, 'agent.db') });
      const media = new MediaStore({ dataDir, db, log, now: Date.now });
      media.init();
      return { manager: new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => 'dev-001' }), media, log, deviceId: 'dev-001', now: Date.now }), close: () => db.close() };
    };

    // A device at v1: v2 alone chains (same root keys), but v4 directly does not (root keys rotated at v3).
    const a = device('a');
    a.manager.installRoot(v1);
    assert.throws(() => a.manager.installRoot(readJson(join(keys, 'root.json'))), { code: 'LOA_ERR_ROOT_THRESHOLD' });
    assert.deepEqual(installRootChain(a.manager, chain), { installed: [2, 3, 4], version: 4 });
    assert.deepEqual(installRootChain(a.manager, chain), { installed: [], version: 4 }, 'walking again is a no-op');
    a.close();

    const fresh = device('fresh');
    assert.equal(installRootChain(fresh.manager, chain).version, 4);
    fresh.close();

    // A device at v1 gets a USB bundle: root.json is the trust bundle, the manifest is signed by the newest key.
    const b = device('b');
    b.manager.installRoot(v1);
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'media'), { recursive: true });
    cpSync(trustFile, join(bundle, 'root.json'));
    const schedulePem = readFileSync(join(keys, 'schedule.key'), 'utf8');
    const m = baseManifest({ deviceId: 'dev-001', version: 7, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope(m, [schedulePem])));
    const env = await b.manager.installBundle(openBundle(bundle));
    assert.equal(env.signed.version, 7);
    assert.equal(b.manager.root()?.version, 4);
    // The same manifest signed by the v1 schedule key (revoked at v2) is refused.
    const old = readFileSync(join(keys, 'retired', 'v1-schedule.key'), 'utf8');
    writeFileSync(join(bundle, 'manifest.json'), JSON.stringify(signEnvelope({ ...m, version: 8 }, [old])));
    await assert.rejects(b.manager.installBundle(openBundle(bundle)), { code: 'LOA_ERR_MANIFEST_REVOKED_KEY' });
    b.close();

    // A trust bundle from another ceremony is refused for what it is.
    const other = join(dir, 'other');
    ok(['keys', 'init', '--out', other, '--count', '1', '--threshold', '1']);
    const c = device('c');
    c.manager.installRoot(v1);
    assert.throws(() => installRootChain(c.manager, [readJson(join(other, 'root.json'))]), { code: 'LOA_ERR_TRUST_CHAIN' });
    c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on a terminal the passphrase is asked twice without echo (pseudo-terminal via script(1))', { skip: spawnSync('sh', ['-c', 'command -v script']).status !== 0 && 'script(1) is not installed' }, async () => {
  const dir = tmp();
  try {
    const keys = join(dir, 'keys');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(LOA)} keys init --out ${JSON.stringify(keys)} --count 1 --threshold 1 --encrypt`;
    const env: NodeJS.ProcessEnv = { ...process.env, LOA_LOG_LEVEL: 'silent' };
    delete env.LOA_KEY_PASSPHRASE;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const answered = new Set<string>();
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      for (const prompt of ['New passphrase for the root keys', 'Repeat the passphrase']) {
        if (out.includes(prompt) && !answered.has(prompt)) {
          answered.add(prompt);
          child.stdin.write(`${PASS}\r`);
        }
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.destroy();
    assert.equal(code, 0, out);
    assert.equal(answered.size, 2, out);
    assert.ok(!out.includes(PASS), `the passphrase was echoed: ${out}`);
    assert.match(readFileSync(join(keys, 'root-1.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
    assert.equal(ok(['keys', 'show', join(keys, 'root-1.key')], { LOA_KEY_PASSPHRASE: PASS }).json.encrypted, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
