import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addSignature, canonicalize, generateKeyPair, signEnvelope, verifyBytes } from '../../shared/crypto.js';
import { ERRORS, isLoaError } from '../../shared/errors.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { verifyInitialRoot, verifyRootUpdate } from '../../shared/trust.js';
import { verifyManifest } from '../../agent/manifest/verify.js';
import { makeTrust } from '../support/trust.js';

const NOW = Date.parse('2026-11-23T00:00:00Z');
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isLoaError(e), String(e));
    return e.code;
  }
  return 'none';
};

test('canonical JSON follows RFC 8785: sorted keys, no whitespace, ES number form', () => {
  assert.equal(canonicalize({ b: 1, a: [true, null, 'x'], c: { z: 1e21, y: 0.1 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":0.1,"z":1e+21}}');
  assert.equal(canonicalize({ b: 2, a: 1 }), canonicalize({ a: 1, b: 2 }));
});

test('an Ed25519 signature verifies only for the same bytes and key', () => {
  const k = generateKeyPair();
  const env = signEnvelope({ hello: 'xã' }, [k.privateKeyPem]);
  const bytes = Buffer.from(canonicalize(env.signed));
  assert.ok(verifyBytes(k.publicKey, bytes, env.signatures[0]!.sig));
  assert.ok(!verifyBytes(k.publicKey, Buffer.from(canonicalize({ hello: 'xa' })), env.signatures[0]!.sig));
  assert.ok(!verifyBytes(generateKeyPair().publicKey, bytes, env.signatures[0]!.sig));
  assert.ok(!verifyBytes(k.publicKey, bytes, 'not-base64'));
});

test('a first root must carry its own root threshold of signatures', () => {
  const t = makeTrust();
  assert.equal(verifyInitialRoot(t.signedRoot, NOW).version, 1);
  const one = signEnvelope(t.root, [t.rootKeys[0]!.privateKeyPem]);
  assert.equal(codeOf(() => verifyInitialRoot(one, NOW)), 'LOA_ERR_ROOT_THRESHOLD');
  assert.equal(codeOf(() => verifyInitialRoot(signEnvelope({ ...t.root, expires: '2020-01-01T00:00:00Z' }, t.rootKeys.map((k) => k.privateKeyPem)), NOW)), 'LOA_ERR_ROOT_EXPIRED');
});

test('an online-key rotation is accepted only when signed by the old and the new root thresholds', () => {
  const t = makeTrust();
  const newSchedule = generateKeyPair();
  const newRoot = [generateKeyPair(), generateKeyPair()];
  const next: RootMetadata = {
    ...t.root, version: 2,
    keys: { ...t.root.keys, [newSchedule.keyid]: { keytype: 'ed25519', public: newSchedule.publicKey }, ...Object.fromEntries(newRoot.map((k) => [k.keyid, { keytype: 'ed25519' as const, public: k.publicKey }])) },
    roles: { ...t.root.roles, root: { keyids: newRoot.map((k) => k.keyid), threshold: 2 }, schedule: { keyids: [newSchedule.keyid], threshold: 1 } },
    revokedKeys: [t.schedule.keyid],
  };
  const oldOnly = signEnvelope(next, [t.rootKeys[0]!.privateKeyPem, t.rootKeys[1]!.privateKeyPem]);
  assert.equal(codeOf(() => verifyRootUpdate(t.root, oldOnly, NOW)), 'LOA_ERR_ROOT_THRESHOLD');
  const newOnly = signEnvelope(next, newRoot.map((k) => k.privateKeyPem));
  assert.equal(codeOf(() => verifyRootUpdate(t.root, newOnly, NOW)), 'LOA_ERR_ROOT_THRESHOLD');
  const both = addSignature(addSignature(oldOnly, newRoot[0]!.privateKeyPem), newRoot[1]!.privateKeyPem);
  const accepted = verifyRootUpdate(t.root, both, NOW);
  assert.deepEqual(accepted.roles.schedule.keyids, [newSchedule.keyid]);
  assert.equal(codeOf(() => verifyRootUpdate(accepted, both, NOW)), 'LOA_ERR_ROOT_ROLLBACK');
});

test('error codes are unique and every code has English and Vietnamese messages', () => {
  for (const [code, m] of Object.entries(ERRORS)) {
    assert.match(code, /^LOA_ERR_[A-Z0-9_]+$/);
    assert.ok(m.en.length > 5 && m.vi.length > 5, code);
  }
});

test('the manifest parser turns 10,000 random inputs into coded errors and never crashes', () => {
  const t = makeTrust();
  const ctx = { root: t.root, deviceId: 'dev-001', currentVersion: 0, now: NOW };
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.json(), fc.record({ signed: fc.anything(), signatures: fc.array(fc.record({ keyid: fc.stringMatching(/^[0-9a-f]{64}$/), sig: fc.base64String() })) })), (input) => {
      const raw = typeof input === 'string' ? Buffer.from(input) : input;
      try {
        verifyManifest(raw, ctx);
        return false;
      } catch (e) {
        return isLoaError(e);
      }
    }),
    { numRuns: 10_000 },
  );
});
