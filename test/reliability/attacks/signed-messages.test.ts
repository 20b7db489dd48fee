import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { verifyDeviceCommand } from '../../../agent/commands/verify.js';
import { verifyEmergencyOrder } from '../../../agent/emergency/verify.js';
import { verifyManifest } from '../../../agent/manifest/verify.js';
import { signEnvelope, type KeyPair } from '../../../shared/crypto.js';
import type { DeviceCommand } from '../../../shared/schemas/command.js';
import type { EmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../../shared/schemas/root.js';
import { verifyRootUpdate } from '../../../shared/trust.js';
import { baseManifest, makeTrust, signManifest } from '../../support/trust.js';
import { AttackLog, codeOf } from '../support/attack-log.js';

/**
 * Attacks on what a device obeys (DESIGN §2), through the agent's own verifiers: tampered, replayed, rolled-back,
 * cross-device, expired, revoked-key, wrong-role and revoked-device manifests, emergency orders and device
 * commands, oversized ones, and a root rollback. The real `loa agent run` process meets the same attacks through
 * the broker in device-process.test.ts.
 */
const REPRODUCE = 'npm test -- test/reliability/attacks/signed-messages';
const NOW = Date.parse('2026-12-01T00:00:00Z');
const ME = 'dev-001';
const ZONES = ['T01', 'X01', 'X01-C1'];
const iso = (ms: number): string => new Date(ms).toISOString();
const nonce = (): string => randomBytes(16).toString('base64url');

const trust = makeTrust();
const revokedKey = { ...trust.root, revokedKeys: [trust.schedule.keyid, trust.emergency.keyid] } satisfies RootMetadata;
const revokedDevice = { ...trust.root, revokedDevices: [ME] } satisfies RootMetadata;

function order(over: Partial<EmergencyOrder> = {}): EmergencyOrder {
  return {
    _type: 'emergency', schemaVersion: 1, orderId: 'em-1', action: 'start', seq: 10, nonce: nonce(),
    issuedAt: iso(NOW - 60_000), expiresAt: iso(NOW + 30 * 60_000), target: { zones: ['X01-C1'], devices: [] },
    title: 'Cảnh báo lũ', content: { kind: 'tts', text: 'Lũ đang lên', sha256: 'a'.repeat(64), size: 1000, durationMs: 3000 },
    repeat: 1, outputs: [], ...over,
  };
}
function command(over: Partial<DeviceCommand> = {}): DeviceCommand {
  return {
    _type: 'command', schemaVersion: 1, commandId: 'cmd-1', deviceId: ME, seq: 10, nonce: nonce(),
    issuedAt: iso(NOW - 10_000), expiresAt: iso(NOW + 4 * 60_000), type: 'volume', params: { volume: 40 }, ...over,
  } as DeviceCommand;
}
const sign = <T>(v: T, k: KeyPair): unknown => signEnvelope(v, [k.privateKeyPem]);
/** Edits the signed body after signing (what a man in the middle or a compromised store would do). */
function tamper<T extends { signed: object }>(env: unknown, edit: Partial<T['signed']>): unknown {
  const e = env as T;
  return { ...e, signed: { ...e.signed, ...edit } };
}

test('tampered, replayed, rolled-back, cross-device, expired and revoked manifests are refused by the agent verifier with their codes', async () => {
  const log = new AttackLog({ family: 'signed manifests', reproduce: REPRODUCE });
  const ctx = (root: RootMetadata = trust.root): Parameters<typeof verifyManifest>[1] => ({ root, deviceId: ME, currentVersion: 5, now: NOW });
  const m = (over: Partial<Manifest>): unknown => signManifest(baseManifest({ deviceId: ME, version: 6, ...over }), [trust.schedule]);
  const target = 'agent/manifest/verify.ts verifyManifest';
  await log.attack('M0', 'control: a genuine manifest v6 is accepted', target, 'ACCEPTED', () => codeOf(() => verifyManifest(m({}), ctx())));
  await log.attack('M1', 'tampered: version raised after signing', target, 'LOA_ERR_MANIFEST_SIGNATURE', () => codeOf(() => verifyManifest(tamper(m({}), { version: 7 }), ctx())));
  await log.attack('M2', 'tampered: another device id written into a signed manifest', target, 'LOA_ERR_MANIFEST_SIGNATURE', () => codeOf(() => verifyManifest(tamper(signManifest(baseManifest({ deviceId: 'dev-002', version: 6 }), [trust.schedule]), { deviceId: ME }), ctx())));
  await log.attack('M3', 'replayed: the manifest in force (v5) sent again', target, 'LOA_ERR_MANIFEST_ROLLBACK', () => codeOf(() => verifyManifest(m({ version: 5 }), ctx())));
  await log.attack('M4', 'rolled back: a genuine older manifest (v3)', target, 'LOA_ERR_MANIFEST_ROLLBACK', () => codeOf(() => verifyManifest(m({ version: 3 }), ctx())));
  await log.attack('M5', 'cross-device: a genuine manifest for dev-002', target, 'LOA_ERR_MANIFEST_WRONG_DEVICE', () => codeOf(() => verifyManifest(m({ deviceId: 'dev-002' }), ctx())));
  await log.attack('M6', 'expired: a genuine manifest past its expiresAt', target, 'LOA_ERR_MANIFEST_EXPIRED', () => codeOf(() => verifyManifest(m({ issuedAt: iso(NOW - 9e9), expiresAt: iso(NOW - 1000) }), ctx())));
  await log.attack('M7', 'signed by a revoked schedule key', target, 'LOA_ERR_MANIFEST_REVOKED_KEY', () => codeOf(() => verifyManifest(m({}), ctx(revokedKey))));
  await log.attack('M8', 'signed by the emergency key (wrong role)', target, 'LOA_ERR_MANIFEST_UNKNOWN_KEY', () => codeOf(() => verifyManifest(signManifest(baseManifest({ deviceId: ME, version: 6 }), [trust.emergency]), ctx())));
  await log.attack('M9', 'a revoked device is sent a genuine manifest', target, 'LOA_ERR_MANIFEST_WRONG_DEVICE', () => codeOf(() => verifyManifest(m({}), ctx(revokedDevice))));
  await log.attack('M10', 'signature list stripped', target, 'LOA_ERR_MANIFEST_INVALID', () => codeOf(() => verifyManifest({ ...(m({}) as object), signatures: [] }, ctx())));
  await log.attack('M11', 'a genuine signature copied onto another manifest body', target, 'LOA_ERR_MANIFEST_SIGNATURE', () => codeOf(() => {
    const good = m({}) as { signatures: unknown };
    return verifyManifest({ signed: baseManifest({ deviceId: ME, version: 99 }), signatures: good.signatures }, ctx());
  }));
  await log.attack('M12', 'a manifest past MANIFEST_MAX_BYTES (4 MiB + 1)', target, 'LOA_ERR_MANIFEST_TOO_LARGE', () => codeOf(() => verifyManifest(`{"signed":"${'x'.repeat(4 * 1024 * 1024)}"}`, ctx())));
  const rollback = { ...trust.root, version: 3 };
  const newer = { ...trust.root, version: 4 };
  await log.attack('R1', 'rolled-back root metadata (v3 offered to a device trusting v4)', 'shared/trust.ts verifyRootUpdate', 'LOA_ERR_ROOT_ROLLBACK', () => codeOf(() => verifyRootUpdate(newer, signEnvelope(rollback, [trust.rootKeys[0]!.privateKeyPem, trust.rootKeys[1]!.privateKeyPem]), NOW)));
  log.finish();
});

test('tampered, replayed, rolled-back, cross-zone, expired and revoked emergency orders are refused by the agent verifier with their codes', async () => {
  const log = new AttackLog({ family: 'signed emergency orders', reproduce: REPRODUCE });
  const seenNonces = new Set<string>();
  let lastSeq = 10;
  const first = sign(order(), trust.emergency) as { signed: EmergencyOrder };
  const ctx = (root: RootMetadata = trust.root): Parameters<typeof verifyEmergencyOrder>[1] => ({
    root, deviceId: ME, zones: ZONES, now: NOW, seen: (n, s) => seenNonces.has(n) || s <= lastSeq,
  });
  const target = 'agent/emergency/verify.ts verifyEmergencyOrder';
  lastSeq = 9;
  await log.attack('E0', 'control: a genuine order is accepted (then remembered)', target, 'ACCEPTED', () => codeOf(() => verifyEmergencyOrder(first, ctx())));
  seenNonces.add(first.signed.nonce);
  lastSeq = 10;
  const fresh = (over: Partial<EmergencyOrder> = {}, k = trust.emergency): unknown => sign(order({ seq: 11, ...over }), k);
  await log.attack('E1', 'tampered: the target widened to the province after signing', target, 'LOA_ERR_EMERGENCY_SIGNATURE', () => codeOf(() => verifyEmergencyOrder(tamper(fresh(), { target: { zones: ['T01'], devices: [] } }), ctx())));
  await log.attack('E2', 'replayed: the accepted order sent again, byte for byte', target, 'LOA_ERR_EMERGENCY_REPLAY', () => codeOf(() => verifyEmergencyOrder(JSON.stringify(first), ctx())));
  await log.attack('E3', 'rolled back: a genuine order with an older seq and a new nonce', target, 'LOA_ERR_EMERGENCY_REPLAY', () => codeOf(() => verifyEmergencyOrder(fresh({ seq: 7 }), ctx())));
  await log.attack('E4', 'cross-zone: a genuine order for another commune', target, 'LOA_ERR_EMERGENCY_SCOPE', () => codeOf(() => verifyEmergencyOrder(fresh({ target: { zones: ['X02'], devices: ['dev-002'] } }), ctx())));
  await log.attack('E5', 'expired: a genuine order past its expiresAt', target, 'LOA_ERR_EMERGENCY_EXPIRED', () => codeOf(() => verifyEmergencyOrder(fresh({ issuedAt: iso(NOW - 3_600_000), expiresAt: iso(NOW - 1000) }), ctx())));
  await log.attack('E6', 'too long-lived: 48 h between issuedAt and expiresAt', target, 'LOA_ERR_EMERGENCY_EXPIRED', () => codeOf(() => verifyEmergencyOrder(fresh({ issuedAt: iso(NOW - 1000), expiresAt: iso(NOW + 48 * 3_600_000) }), ctx())));
  await log.attack('E7', 'signed by a revoked emergency key', target, 'LOA_ERR_EMERGENCY_SIGNATURE', () => codeOf(() => verifyEmergencyOrder(fresh(), ctx(revokedKey))));
  await log.attack('E8', 'signed by the schedule key (wrong role)', target, 'LOA_ERR_EMERGENCY_SIGNATURE', () => codeOf(() => verifyEmergencyOrder(fresh({}, trust.schedule), ctx())));
  await log.attack('E9', 'a revoked device is sent a genuine order', target, 'LOA_ERR_EMERGENCY_SCOPE', () => codeOf(() => verifyEmergencyOrder(fresh(), ctx(revokedDevice))));
  await log.attack('E10', 'an order past EMERGENCY_MAX_BYTES (64 KiB + 1)', target, 'LOA_ERR_INPUT_TOO_LARGE', () => codeOf(() => verifyEmergencyOrder(`"${'x'.repeat(64 * 1024)}"`, ctx())));
  log.finish();
});

test('tampered, replayed, rolled-back, cross-device, expired and revoked device commands are refused by the agent verifier with their codes', async () => {
  const log = new AttackLog({ family: 'signed device commands', reproduce: REPRODUCE });
  const seenNonces = new Set<string>();
  let lastSeq = 9;
  const first = sign(command(), trust.schedule) as { signed: DeviceCommand };
  const ctx = (root: RootMetadata = trust.root): Parameters<typeof verifyDeviceCommand>[1] => ({ root, deviceId: ME, now: NOW, seen: (n, s) => seenNonces.has(n) || s <= lastSeq });
  const target = 'agent/commands/verify.ts verifyDeviceCommand';
  await log.attack('C0', 'control: a genuine command is accepted (then remembered)', target, 'ACCEPTED', () => codeOf(() => verifyDeviceCommand(first, ctx())));
  seenNonces.add(first.signed.nonce);
  lastSeq = 10;
  const fresh = (over: Partial<DeviceCommand> = {}, k = trust.schedule): unknown => sign(command({ seq: 11, ...over }), k);
  await log.attack('C1', 'tampered: volume 40 raised to 100 after signing', target, 'LOA_ERR_COMMAND_SIGNATURE', () => codeOf(() => verifyDeviceCommand(tamper(fresh(), { params: { volume: 100 } }), ctx())));
  await log.attack('C2', 'replayed: the accepted command sent again', target, 'LOA_ERR_COMMAND_REPLAY', () => codeOf(() => verifyDeviceCommand(JSON.stringify(first), ctx())));
  await log.attack('C3', 'rolled back: a genuine command with an older seq and a new nonce', target, 'LOA_ERR_COMMAND_REPLAY', () => codeOf(() => verifyDeviceCommand(fresh({ seq: 3 }), ctx())));
  await log.attack('C4', 'cross-device: a genuine reboot for dev-002', target, 'LOA_ERR_COMMAND_WRONG_DEVICE', () => codeOf(() => verifyDeviceCommand(fresh({ deviceId: 'dev-002', type: 'reboot', params: {} }), ctx())));
  await log.attack('C5', 'expired: a genuine command past its expiresAt', target, 'LOA_ERR_COMMAND_EXPIRED', () => codeOf(() => verifyDeviceCommand(fresh({ issuedAt: iso(NOW - 600_000), expiresAt: iso(NOW - 1000) }), ctx())));
  await log.attack('C6', 'signed by a revoked schedule key', target, 'LOA_ERR_COMMAND_SIGNATURE', () => codeOf(() => verifyDeviceCommand(fresh(), ctx(revokedKey))));
  await log.attack('C7', 'signed by the emergency key (wrong role)', target, 'LOA_ERR_COMMAND_SIGNATURE', () => codeOf(() => verifyDeviceCommand(fresh({}, trust.emergency), ctx())));
  await log.attack('C8', 'a revoked device is sent a genuine command', target, 'LOA_ERR_COMMAND_WRONG_DEVICE', () => codeOf(() => verifyDeviceCommand(fresh(), ctx(revokedDevice))));
  await log.attack('C9', 'a command past COMMAND_MAX_BYTES (8 KiB + 1)', target, 'LOA_ERR_INPUT_TOO_LARGE', () => codeOf(() => verifyDeviceCommand(`"${'x'.repeat(8 * 1024)}"`, ctx())));
  log.finish();
});
