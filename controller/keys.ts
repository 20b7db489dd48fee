import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize, publicKeyFromPrivatePem } from '../shared/crypto.js';
import { LoaError } from '../shared/errors.js';
import type { RootMetadata } from '../shared/schemas/root.js';
import { ROOT_MAX_BYTES, signedRootChecker, verifyRootChain } from '../shared/trust.js';
import { parseJsonText } from '../shared/validate.js';

export interface ControllerKeys {
  /** The signed root envelope handed to devices at enrollment (the newest version). */
  root: unknown;
  rootMeta: RootMetadata;
  /** Every signed root version known, oldest first (served at GET /api/v1/trust/root/:version). */
  chain: unknown[];
  scheduleKeyPem: string;
  scheduleKeyId: string;
  /** emergency.key, when the keys folder holds one (issue 6); without it emergency orders cannot be signed. */
  emergencyKeyPem: string | null;
  emergencyKeyId: string | null;
}

export interface RootChain {
  /** The signed envelopes as read, oldest first. */
  chain: unknown[];
  roots: RootMetadata[];
  /** Versions found in root.json but not in roots/ (a keys folder made before roots/ existed). */
  missingInRootsDir: number[];
}

const ROOT_FILE = /^([1-9][0-9]{0,9})\.root\.json$/;

function readRootFile(path: string): unknown {
  let text: Buffer;
  try {
    if (statSync(path).size > ROOT_MAX_BYTES) throw new LoaError('LOA_ERR_ROOT_INVALID', `${path} is larger than ${ROOT_MAX_BYTES} bytes`);
    text = readFileSync(path);
  } catch (e) {
    if (e instanceof LoaError) throw e;
    throw new LoaError('LOA_ERR_KEYS_DIR', `${path} cannot be read`, { cause: e });
  }
  return parseJsonText(text, ROOT_MAX_BYTES, path, 'LOA_ERR_ROOT_INVALID');
}

/**
 * The chain of root versions of a keys folder: `roots/<version>.root.json` (every version, kept by `loa keys`)
 * plus `root.json` (the newest), or `root.json` alone in an older folder. Each file is schema-checked, a
 * version's two copies must be identical, and the chain must verify (verifyRootChain).
 */
export function loadRootChain(dir: string, now: number): RootChain {
  const byVersion = new Map<number, unknown>();
  const rootsDir = join(dir, 'roots');
  const inRootsDir = new Set<number>();
  if (existsSync(rootsDir)) {
    for (const name of readdirSync(rootsDir)) {
      const m = ROOT_FILE.exec(name);
      if (!m) continue;
      const raw = readRootFile(join(rootsDir, name));
      const v = signedRootChecker.parse(raw, `roots/${name}`).signed.version;
      if (v !== Number(m[1])) throw new LoaError('LOA_ERR_TRUST_CHAIN', `roots/${name} holds root metadata version ${v}`);
      byVersion.set(v, raw);
      inRootsDir.add(v);
    }
  }
  const rootPath = join(dir, 'root.json');
  if (existsSync(rootPath)) {
    const raw = readRootFile(rootPath);
    const v = signedRootChecker.parse(raw, 'root.json').signed.version;
    const known = byVersion.get(v);
    if (known !== undefined && canonicalize(known) !== canonicalize(raw)) {
      throw new LoaError('LOA_ERR_TRUST_CHAIN', `root.json and roots/${v}.root.json are both version ${v} but differ`);
    }
    const newest = Math.max(0, ...byVersion.keys());
    if (v < newest) throw new LoaError('LOA_ERR_TRUST_CHAIN', `root.json is version ${v} but roots/ holds version ${newest}: root.json must be the newest`);
    byVersion.set(v, raw);
  }
  if (byVersion.size === 0) {
    throw new LoaError('LOA_ERR_KEYS_MISSING', `${dir} holds no root.json: run \`loa keys init --out ${dir}\` (then move the root-*.key files offline)`);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b);
  const chain = versions.map((v) => byVersion.get(v));
  return { chain, roots: verifyRootChain(chain, now), missingInRootsDir: versions.filter((v) => !inRootsDir.has(v)) };
}

function readPrivateKey(path: string, what: string): { pem: string; keyid: string } {
  try {
    const pem = readFileSync(path, 'utf8');
    return { pem, keyid: publicKeyFromPrivatePem(pem).keyid };
  } catch (e) {
    throw new LoaError('LOA_ERR_KEY_FILE', `${path} cannot be read as an Ed25519 private key (it must be unencrypted: the controller signs ${what} unattended)`, { cause: e });
  }
}

/**
 * Loads the controller's online keys: the root chain (made offline by `loa keys`), schedule.key and, when
 * present, emergency.key. The root keys themselves stay offline. Refuses a schedule or emergency key the
 * newest root does not list for its role (or lists as revoked), so a misconfiguration shows at start (or
 * reload), not as devices rejecting manifests or emergency orders. `checkEmergency: false` leaves the
 * emergency key's check to the caller (emergencyKeyProblem), for a reload that checks the chain first.
 */
export function loadControllerKeys(dir: string, now: number, o: { checkEmergency?: boolean } = {}): ControllerKeys {
  const keyPath = join(dir, 'schedule.key');
  if (!existsSync(join(dir, 'root.json')) || !existsSync(keyPath)) {
    throw new LoaError('LOA_ERR_KEYS_MISSING', `${dir} must hold root.json and schedule.key: run \`loa keys init --out ${dir}\` (then move the root-*.key files offline)`);
  }
  const { chain, roots } = loadRootChain(dir, now);
  const meta = roots[roots.length - 1]!;
  const schedule = readPrivateKey(keyPath, 'manifests');
  if (!meta.roles.schedule.keyids.includes(schedule.keyid) || meta.revokedKeys.includes(schedule.keyid)) {
    throw new LoaError('LOA_ERR_KEYS_MISSING', `schedule.key (${schedule.keyid.slice(0, 12)}…) is not a schedule key of root.json v${meta.version}`);
  }
  const emergencyPath = join(dir, 'emergency.key');
  const emergency = existsSync(emergencyPath) ? readPrivateKey(emergencyPath, 'emergency orders') : null;
  const keys: ControllerKeys = {
    root: chain[chain.length - 1], rootMeta: meta, chain, scheduleKeyPem: schedule.pem, scheduleKeyId: schedule.keyid,
    emergencyKeyPem: emergency?.pem ?? null, emergencyKeyId: emergency?.keyid ?? null,
  };
  const problem = o.checkEmergency === false ? null : emergencyKeyProblem(keys);
  if (problem) throw problem;
  return keys;
}

/** Why the keys' emergency.key cannot sign orders devices accept (not a key of the emergency role, or revoked); null when fine or absent. */
export function emergencyKeyProblem(k: ControllerKeys): LoaError | null {
  const id = k.emergencyKeyId;
  if (id === null) return null;
  const role = k.rootMeta.roles.emergency;
  if (role.keyids.includes(id) && !k.rootMeta.revokedKeys.includes(id)) return null;
  return new LoaError('LOA_ERR_KEYS_MISSING', `emergency.key (${id.slice(0, 12)}…) is not an emergency key of root.json v${k.rootMeta.version}${k.rootMeta.revokedKeys.includes(id) ? ' (it is revoked)' : ''}: copy the emergency.key of the same key ceremony (or rotation, \`loa keys rotate-online --role emergency\`) as root.json, or remove the file to run without emergency orders`);
}

/** What POST /api/v1/trust/reload (and SIGHUP) did. */
export interface TrustReloadResult {
  /** False when the keys folder held nothing new. */
  reloaded: boolean;
  previousVersion: number;
  version: number;
  scheduleKeyId: string;
  scheduleKeyChanged: boolean;
  /** Devices whose manifests are re-signed (and notified). */
  devices: number;
}
