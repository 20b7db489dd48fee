import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { signEnvelope } from '../../shared/crypto.js';
import { isLoaError } from '../../shared/errors.js';
import { checkArtifact, compareVersions, verifyRelease } from '../../shared/release.js';
import type { Release } from '../../shared/schemas/release.js';
import { failpoint, setFailpoints } from '../../shared/failpoints.js';
import { makeTrust } from '../support/trust.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isLoaError(e), String(e));
    return e.code;
  }
  return 'none';
};

const release = (over: Partial<Release> = {}): Release => ({
  _type: 'release', name: 'loaphuong-agent', version: '1.2.0', platform: 'linux', arch: 'x64',
  sha256: 'a'.repeat(64), size: 1000, node: '>=20.9', createdAt: '2026-11-23T00:00:00Z', ...over,
});

test('release metadata verifies only when signed by the release role of the root', () => {
  const t = makeTrust();
  const good = signEnvelope(release(), [t.release.privateKeyPem]);
  assert.equal(verifyRelease(good, t.root).signed.version, '1.2.0');
  assert.equal(verifyRelease(JSON.stringify(good), t.root).signed.version, '1.2.0');
  assert.equal(codeOf(() => verifyRelease(signEnvelope(release(), [t.schedule.privateKeyPem]), t.root)), 'LOA_ERR_RELEASE_UNKNOWN_KEY');
  const tampered = { ...good, signed: { ...good.signed, version: '9.9.9' } };
  assert.equal(codeOf(() => verifyRelease(tampered, t.root)), 'LOA_ERR_RELEASE_SIGNATURE');
  assert.equal(codeOf(() => verifyRelease({ ...good, signed: { ...good.signed, extra: 1 } }, t.root)), 'LOA_ERR_RELEASE_INVALID');
  const revoked = makeTrust();
  revoked.root.revokedKeys.push(revoked.release.keyid);
  assert.equal(codeOf(() => verifyRelease(signEnvelope(release(), [revoked.release.privateKeyPem]), revoked.root)), 'LOA_ERR_RELEASE_UNKNOWN_KEY');
  const noRole = makeTrust();
  delete noRole.root.roles.release;
  assert.equal(codeOf(() => verifyRelease(signEnvelope(release(), [noRole.release.privateKeyPem]), noRole.root)), 'LOA_ERR_RELEASE_UNKNOWN_KEY');
});

test('an artifact must have the size and SHA-256 its metadata signs', () => {
  const meta = release();
  checkArtifact(meta, { sha256: meta.sha256, size: meta.size });
  assert.equal(codeOf(() => checkArtifact(meta, { sha256: 'b'.repeat(64), size: meta.size })), 'LOA_ERR_RELEASE_HASH');
  assert.equal(codeOf(() => checkArtifact(meta, { sha256: meta.sha256, size: 999 })), 'LOA_ERR_RELEASE_HASH');
});

test('versions order by semantic-version precedence, pre-releases below their release', () => {
  const sorted = ['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < sorted.length; j++) assert.equal(compareVersions(sorted[i]!, sorted[j]!), Math.sign(i - j), `${sorted[i]} vs ${sorted[j]}`);
  }
  const v = fc.tuple(fc.nat(50), fc.nat(50), fc.nat(50)).map(([a, b, c]) => `${a}.${b}.${c}`);
  fc.assert(fc.property(v, v, (a, b) => compareVersions(a, b) === -compareVersions(b, a)), { numRuns: 2000 });
});

test('a failpoint acts only when configured, and only on the chosen hit', () => {
  setFailpoints('');
  failpoint('x.y');
  setFailpoints('x.y=throw@2');
  failpoint('x.y');
  assert.equal(codeOf(() => failpoint('x.y')), 'LOA_ERR_INTERNAL');
  failpoint('x.y');
  assert.equal(codeOf(() => setFailpoints('x.y=explode')), 'LOA_ERR_CONFIG_INVALID');
  setFailpoints(undefined);
});
