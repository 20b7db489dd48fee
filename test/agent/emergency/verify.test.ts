import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signEnvelope, type KeyPair } from '../../../shared/crypto.js';
import { verifyEmergencyOrder, type EmergencyVerifyContext } from '../../../agent/emergency/verify.js';
import { isLoaError, type ErrorCode } from '../../../shared/errors.js';
import type { EmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { RootMetadata } from '../../../shared/schemas/root.js';
import { makeTrust } from '../../support/trust.js';

const NOW = Date.parse('2026-11-23T06:00:00Z');
const CHAIN = ['T46', 'H474', 'X19753', 'X19753-C01'];
const trust = makeTrust();

function order(over: Partial<EmergencyOrder> = {}): EmergencyOrder {
  return {
    _type: 'emergency', schemaVersion: 1, orderId: 'em-1', action: 'start', seq: 7, nonce: randomBytes(16).toString('base64url'),
    issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 3_600_000).toISOString(),
    target: { zones: ['X19753'], devices: [] }, title: 'Bão số 9',
    content: { kind: 'tts', text: 'Bão số chín đổ bộ', sha256: 'a'.repeat(64), size: 1000, durationMs: 5000 },
    repeat: 2, outputs: [], ...over,
  };
}

function ctx(over: Partial<EmergencyVerifyContext> = {}): EmergencyVerifyContext {
  return { root: trust.root, deviceId: 'dev-1', zones: CHAIN, now: NOW, seen: () => false, ...over };
}

const sign = (o: EmergencyOrder, keys: KeyPair[] = [trust.emergency]): unknown => signEnvelope(o, keys.map((k) => k.privateKeyPem));

function rejects(input: unknown, code: ErrorCode, c: EmergencyVerifyContext = ctx()): void {
  assert.throws(() => verifyEmergencyOrder(input, c), (e: unknown) => isLoaError(e) && e.code === code, code);
}

test('a signed order for one of the device zones is accepted, as an object or as JSON text', () => {
  const env = sign(order());
  assert.equal(verifyEmergencyOrder(env, ctx()).signed.orderId, 'em-1');
  assert.equal(verifyEmergencyOrder(JSON.stringify(env), ctx()).signed.seq, 7);
  // Addressed by device id instead of zone.
  assert.ok(verifyEmergencyOrder(sign(order({ target: { zones: [], devices: ['dev-1'] } })), ctx()));
});

test('signature: the schedule key, an unknown key, a revoked key and a tampered body are all refused', () => {
  rejects(sign(order(), [trust.schedule]), 'LOA_ERR_EMERGENCY_SIGNATURE');
  rejects(sign(order(), [makeTrust().emergency]), 'LOA_ERR_EMERGENCY_SIGNATURE');
  const revoked: RootMetadata = { ...trust.root, revokedKeys: [trust.emergency.keyid] };
  rejects(sign(order()), 'LOA_ERR_EMERGENCY_SIGNATURE', ctx({ root: revoked }));
  const env = sign(order()) as { signed: EmergencyOrder };
  env.signed.target.zones = ['T46'];
  rejects(env, 'LOA_ERR_EMERGENCY_SIGNATURE');
});

test('lifetime: expired, issued in the future, and longer than 24 h are refused', () => {
  rejects(sign(order({ expiresAt: new Date(NOW - 1).toISOString() })), 'LOA_ERR_EMERGENCY_EXPIRED');
  rejects(sign(order({ issuedAt: new Date(NOW + 10 * 60_000).toISOString(), expiresAt: new Date(NOW + 3_600_000).toISOString() })), 'LOA_ERR_EMERGENCY_EXPIRED');
  rejects(sign(order({ issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 25 * 3_600_000).toISOString() })), 'LOA_ERR_EMERGENCY_EXPIRED');
});

test('scope: another zone, another device, and a zone-scoped key outside the device chain are refused', () => {
  rejects(sign(order({ target: { zones: ['H475'], devices: [] } })), 'LOA_ERR_EMERGENCY_SCOPE');
  rejects(sign(order({ target: { zones: [], devices: ['dev-2'] } })), 'LOA_ERR_EMERGENCY_SCOPE');
  const districtKey: RootMetadata = { ...trust.root, roles: { ...trust.root.roles, emergency: { ...trust.root.roles.emergency, zones: ['H475'] } } };
  // Even addressed to this device's zone, a key scoped to another district is not obeyed.
  rejects(sign(order()), 'LOA_ERR_EMERGENCY_SCOPE', ctx({ root: districtKey }));
  const ownDistrict: RootMetadata = { ...trust.root, roles: { ...trust.root.roles, emergency: { ...trust.root.roles.emergency, zones: ['H474'] } } };
  assert.ok(verifyEmergencyOrder(sign(order()), ctx({ root: ownDistrict })));
  rejects(sign(order()), 'LOA_ERR_EMERGENCY_SCOPE', ctx({ root: { ...trust.root, revokedDevices: ['dev-1'] } }));
});

test('replay: a nonce or seq seen before is refused', () => {
  const o = order();
  rejects(sign(o), 'LOA_ERR_EMERGENCY_REPLAY', ctx({ seen: (n) => n === o.nonce }));
  rejects(sign(order()), 'LOA_ERR_EMERGENCY_REPLAY', ctx({ seen: (_n, s) => s === 7 }));
});

test('malformed: a start without content, bad JSON, unknown fields and oversize input are coded errors', () => {
  const { content: _c, ...noContent } = order();
  rejects(sign(noContent), 'LOA_ERR_EMERGENCY_INVALID');
  rejects('{"signed":', 'LOA_ERR_JSON_PARSE');
  rejects(sign({ ...order(), extra: 1 } as EmergencyOrder), 'LOA_ERR_EMERGENCY_INVALID');
  rejects('x'.repeat(70 * 1024), 'LOA_ERR_INPUT_TOO_LARGE');
  // A cancel needs no content.
  const { content: _c2, ...cancel } = order({ action: 'cancel' });
  assert.ok(verifyEmergencyOrder(sign(cancel), ctx()));
});
