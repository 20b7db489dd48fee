import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPair } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';

/** A simulated device's identity. The private key stays in this process, its workers and the state file. */
export interface SimIdentity {
  id: string;
  privateKeyPem: string;
  /** Raw Ed25519 public key, base64 (what /api/v1/devices/import binds). */
  publicKey: string;
  /** Registered with the controller already. */
  imported: boolean;
}

/** `loa sim --state FILE`: the fleet's keys, so that a second run reuses the devices the first one registered. */
export interface SimState {
  version: 1;
  controller: string;
  zoneId: string;
  prefix: string;
  devices: SimIdentity[];
}

const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/;

/** Device ids are `<prefix>-<zone>-<00001>`: two simulators on other zones or prefixes never collide. */
export function simDeviceId(prefix: string, zoneId: string, i: number): string {
  return `${prefix}-${zoneId}-${String(i + 1).padStart(5, '0')}`;
}

export function checkPrefix(prefix: string): string {
  if (!ID_PART.test(prefix)) throw new LoaError('LOA_ERR_SIM_INPUT', `--prefix must be 1–41 letters, digits, . _ or -, starting with a letter or digit (got "${prefix}")`);
  return prefix;
}

/**
 * The identities of devices 1…n: those of `state` (when it is for the same controller, zone and prefix), then
 * new key pairs. `progress(done)` is called every 1,000 keys.
 */
export function identitiesFor(n: number, o: { prefix: string; zoneId: string; controller: string; state?: SimState | null; progress?: (done: number) => void }): SimIdentity[] {
  const s = o.state;
  if (s && (s.prefix !== o.prefix || s.zoneId !== o.zoneId || s.controller !== o.controller)) {
    throw new LoaError('LOA_ERR_SIM_INPUT', `the state file is for prefix "${s.prefix}", zone ${s.zoneId} on ${s.controller}; use another --state file for prefix "${o.prefix}", zone ${o.zoneId} on ${o.controller}`);
  }
  const out = (s?.devices ?? []).slice(0, n);
  for (let i = out.length; i < n; i++) {
    const k = generateKeyPair();
    out.push({ id: simDeviceId(o.prefix, o.zoneId, i), privateKeyPem: k.privateKeyPem, publicKey: k.publicKey, imported: false });
    if ((i + 1) % 1000 === 0) o.progress?.(i + 1);
  }
  return out;
}

export function loadState(file: string): SimState | null {
  if (!existsSync(file)) return null;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new LoaError('LOA_ERR_SIM_INPUT', `the state file ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const s = v as Partial<SimState> | null;
  if (!s || s.version !== 1 || typeof s.controller !== 'string' || typeof s.zoneId !== 'string' || typeof s.prefix !== 'string' || !Array.isArray(s.devices)
    || !s.devices.every((d) => typeof d?.id === 'string' && typeof d.privateKeyPem === 'string' && typeof d.publicKey === 'string' && typeof d.imported === 'boolean')) {
    throw new LoaError('LOA_ERR_SIM_INPUT', `the state file ${file} is not a loa sim state file (version 1)`);
  }
  return s as SimState;
}

/** Writes the state atomically, readable by its owner only (it holds private keys). */
export function saveState(file: string, state: SimState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
