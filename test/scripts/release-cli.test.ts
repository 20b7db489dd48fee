/**
 * `loa release sign|verify` as real CLI processes (issue 11): keys from the real `loa keys init`, a small but
 * well-formed artifact (a gzip tar holding loaphuong-agent-<v>/release.json: what sign and verify read), and
 * every refusal is an exit 1 with its stable code on stderr. `loa release build` itself runs in the self-update
 * tests (test/support/update-releases.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { c as createTar } from 'tar';
import { LOA } from '../support/loa-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'loa-release-cli-'));
const keys = join(dir, 'keys');
const artifact = join(dir, `loaphuong-agent-2.0.0-linux-${process.arch}.tar.gz`);
after(() => rmSync(dir, { recursive: true, force: true }));

function loa(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, LOA_LOG_LEVEL: 'silent' };
  delete env.LOA_KEY_PASSPHRASE;
  return spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env });
}
function ok(args: string[]): Record<string, unknown> {
  const r = loa(args);
  assert.equal(r.status, 0, `loa ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}
function fails(args: string[], code: string): string {
  const r = loa(args);
  assert.equal(r.status, 1, `loa ${args.join(' ')} should fail with ${code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`loa: ${code}:`), r.stderr);
  return r.stderr;
}

before(async () => {
  ok(['keys', 'init', '--out', keys, '--count', '1', '--threshold', '1']);
  const top = join(dir, 'stage', 'loaphuong-agent-2.0.0');
  mkdirSync(join(top, 'bin'), { recursive: true });
  writeFileSync(join(top, 'release.json'), JSON.stringify({ format: 1, name: 'loaphuong-agent', version: '2.0.0', platform: 'linux', arch: process.arch, node: '>=20.9', builtAt: new Date().toISOString() }));
  writeFileSync(join(top, 'bin', 'loa.js'), `${'// padding so that a flipped byte lands in a file body\n'.repeat(200)}`);
  await createTar({ gzip: true, file: artifact, cwd: join(dir, 'stage'), portable: true }, ['loaphuong-agent-2.0.0']);
});

test('an artifact signed with the release key verifies against root.json, with its version, arch, sha256 and size', () => {
  const s = ok(['release', 'sign', '--key', join(keys, 'release.key'), '--root', join(keys, 'root.json'), artifact]);
  assert.equal(s.version, '2.0.0');
  assert.equal(s.release, `${artifact}.release.json`);
  const v = ok(['release', 'verify', '--root', join(keys, 'root.json'), artifact]);
  assert.deepEqual([v.ok, v.version, v.arch, v.sha256, v.size], [true, '2.0.0', process.arch, s.sha256, s.size]);
});

test('signing with a key that is not a release key of the root is refused with LOA_ERR_KEY_ROLE, and writes nothing', () => {
  const other = join(dir, 'other.tar.gz');
  writeFileSync(other, readFileSync(artifact));
  assert.match(fails(['release', 'sign', '--key', join(keys, 'schedule.key'), '--root', join(keys, 'root.json'), other], 'LOA_ERR_KEY_ROLE'), /a schedule key/);
  assert.throws(() => readFileSync(`${other}.release.json`), /ENOENT/);
});

test('metadata signed by a key the root does not list as a release key fails verify with LOA_ERR_RELEASE_UNKNOWN_KEY', () => {
  const other = join(dir, 'wrongkey.tar.gz');
  writeFileSync(other, readFileSync(artifact));
  ok(['release', 'sign', '--key', join(keys, 'emergency.key'), other]); // no --root: the signer cannot tell
  fails(['release', 'verify', '--root', join(keys, 'root.json'), other], 'LOA_ERR_RELEASE_UNKNOWN_KEY');
});

test('a tampered artifact (one byte changed) fails verify with LOA_ERR_RELEASE_HASH; changed metadata with LOA_ERR_RELEASE_SIGNATURE', () => {
  const tampered = join(dir, 'tampered.tar.gz');
  const meta = `${tampered}.release.json`;
  ok(['release', 'sign', '--key', join(keys, 'release.key'), artifact]);
  const bytes = readFileSync(artifact);
  const mid = bytes.length >> 1;
  bytes[mid] = bytes[mid]! ^ 0xff;
  writeFileSync(tampered, bytes);
  writeFileSync(meta, readFileSync(`${artifact}.release.json`));
  fails(['release', 'verify', '--root', join(keys, 'root.json'), tampered], 'LOA_ERR_RELEASE_HASH');
  const env = JSON.parse(readFileSync(meta, 'utf8')) as { signed: { version: string } };
  env.signed.version = '2.0.1';
  writeFileSync(meta, JSON.stringify(env));
  fails(['release', 'verify', '--root', join(keys, 'root.json'), '--release', meta, artifact], 'LOA_ERR_RELEASE_SIGNATURE');
});

test('a file that is not a release artifact is refused with LOA_ERR_RELEASE_INVALID', () => {
  const junk = join(dir, 'junk.tar.gz');
  writeFileSync(junk, 'not a tar');
  fails(['release', 'sign', '--key', join(keys, 'release.key'), junk], 'LOA_ERR_RELEASE_INVALID');
});

test('--help of release build, sign, verify and install explains each one, and exits 0', () => {
  for (const [sub, words] of [['build', /--version <semver>[\s\S]*--out <dir>/], ['sign', /--key <file>[\s\S]*release\.key/], ['verify', /--root <file>[\s\S]*LOA_ERR_RELEASE_HASH/], ['install', /--install-root <dir>[\s\S]*loa-launch/]] as const) {
    const r = loa(['release', sub, '--help']);
    assert.equal(r.status, 0, `${sub} --help: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: loa release /m);
    assert.match(r.stdout, words, sub);
  }
});
