/**
 * Adding the release role (issue 11) to a root made before agent releases existed: `loa keys rotate-online
 * --role release` makes release.key and root v+1 listing it, signed by the root threshold, which devices
 * accept as a chained update of the root they trust; `loa release sign --root` then takes the new key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { signEnvelope } from '../../shared/crypto.js';
import type { RootMetadata, SignedRoot } from '../../shared/schemas/root.js';
import { verifyInitialRoot, verifyRootUpdate } from '../../shared/trust.js';
import { readKeyFile } from '../../scripts/lib/keyfile.js';
import { LOA } from '../support/loa-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'loa-keys-release-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function loa(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, LOA_LOG_LEVEL: 'silent' };
  delete env.LOA_KEY_PASSPHRASE;
  return spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env });
}

test('rotate-online --role release adds the release role to an older root, as root v2 chained from v1', async () => {
  const keys = join(dir, 'keys');
  assert.equal(loa(['keys', 'init', '--out', keys, '--count', '3', '--threshold', '2']).status, 0);
  // make it a root from before issue 11: v1 without the release role, and no release.key
  const v1 = (JSON.parse(readFileSync(join(keys, 'root.json'), 'utf8')) as SignedRoot).signed;
  const oldRelease = v1.roles.release!.keyids[0]!;
  const old: RootMetadata = { ...v1, roles: { root: v1.roles.root, schedule: v1.roles.schedule, emergency: v1.roles.emergency }, keys: { ...v1.keys } };
  delete old.keys[oldRelease];
  const rootPems = await Promise.all([1, 2].map(async (i) => (await readKeyFile(join(keys, `root-${i}.key`))).pem));
  const env1 = JSON.stringify(signEnvelope(old, rootPems), null, 2) + '\n';
  writeFileSync(join(keys, 'root.json'), env1);
  writeFileSync(join(keys, 'roots', '1.root.json'), env1);
  unlinkSync(join(keys, 'release.key'));
  const trusted = verifyInitialRoot(JSON.parse(env1), Date.now());
  assert.equal(trusted.roles.release, undefined);

  const r = loa(['keys', 'rotate-online', '--keys', keys, '--role', 'release']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(keys, 'release.key')));
  const key = await readKeyFile(join(keys, 'release.key'));
  const v2 = verifyRootUpdate(trusted, JSON.parse(readFileSync(join(keys, 'root.json'), 'utf8')), Date.now());
  assert.equal(v2.version, 2);
  assert.deepEqual(v2.roles.release, { keyids: [key.keyid], threshold: 1 });
  assert.deepEqual(v2.roles.schedule, old.roles.schedule, 'the other roles are unchanged');
  assert.ok(existsSync(join(keys, 'roots', '2.root.json')));

  // the new key signs releases under root v2; the schedule key still does not
  const art = join(dir, 'not-an-artifact.tar.gz');
  writeFileSync(art, 'x');
  const sched = loa(['release', 'sign', '--key', join(keys, 'schedule.key'), '--root', join(keys, 'root.json'), art]);
  assert.match(sched.stderr, /loa: LOA_ERR_KEY_ROLE:/);
  const rel = loa(['release', 'sign', '--key', join(keys, 'release.key'), '--root', join(keys, 'root.json'), art]);
  assert.match(rel.stderr, /loa: LOA_ERR_RELEASE_INVALID:/, 'the key passes the role check; only the artifact is refused');
});

test('rotate-online refuses a role it does not know, with LOA_ERR_SCHEMA', () => {
  const r = loa(['keys', 'rotate-online', '--keys', join(dir, 'keys'), '--role', 'root']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /loa: LOA_ERR_SCHEMA: --role must be schedule, emergency or release/);
});
