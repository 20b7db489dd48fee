import { generateKeyPair, signEnvelope, type KeyPair } from '../../shared/crypto.js';
import type { Manifest, SignedManifest } from '../../shared/schemas/manifest.js';
import type { RootMetadata, SignedRoot } from '../../shared/schemas/root.js';

export interface TestTrust {
  rootKeys: KeyPair[];
  schedule: KeyPair;
  schedule2: KeyPair;
  emergency: KeyPair;
  release: KeyPair;
  root: RootMetadata;
  signedRoot: SignedRoot;
}

/** A 2-of-3 root with schedule, emergency and release keys, as `loa keys init` makes. */
export function makeTrust(opts: { version?: number; expires?: string; revokedKeys?: string[]; revokedDevices?: string[]; scheduleThreshold?: number } = {}): TestTrust {
  const rootKeys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const schedule = generateKeyPair();
  const schedule2 = generateKeyPair();
  const emergency = generateKeyPair();
  const release = generateKeyPair();
  const keys: RootMetadata['keys'] = {};
  for (const k of [...rootKeys, schedule, schedule2, emergency, release]) keys[k.keyid] = { keytype: 'ed25519', public: k.publicKey };
  const root: RootMetadata = {
    _type: 'root', version: opts.version ?? 1, expires: opts.expires ?? '2036-01-01T00:00:00Z', keys,
    roles: {
      root: { keyids: rootKeys.map((k) => k.keyid), threshold: 2 },
      schedule: { keyids: [schedule.keyid, schedule2.keyid], threshold: opts.scheduleThreshold ?? 1 },
      emergency: { keyids: [emergency.keyid], threshold: 1 },
      release: { keyids: [release.keyid], threshold: 1 },
    },
    revokedKeys: opts.revokedKeys ?? [], revokedDevices: opts.revokedDevices ?? [],
  };
  const signedRoot = signEnvelope(root, [rootKeys[0]!.privateKeyPem, rootKeys[1]!.privateKeyPem]) as SignedRoot;
  return { rootKeys, schedule, schedule2, emergency, release, root, signedRoot };
}

export function baseManifest(over: Partial<Manifest> = {}): Manifest {
  return {
    _type: 'manifest', schemaVersion: 1, deviceId: 'dev-001', version: 1,
    issuedAt: '2026-11-01T00:00:00Z', expiresAt: '2027-11-01T00:00:00Z', timezone: 'Asia/Ho_Chi_Minh',
    media: [], programs: [], schedule: [], ...over,
  };
}

export function signManifest(m: Manifest, keys: KeyPair[]): SignedManifest {
  return signEnvelope(m, keys.map((k) => k.privateKeyPem));
}
