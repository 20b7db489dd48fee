import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, publicKeyFromPrivatePem } from '../shared/crypto.js';
import { makeDeviceToken } from '../shared/device-token.js';
import { LoaError } from '../shared/errors.js';
import { Id } from '../shared/schemas/common.js';
import { checker } from '../shared/validate.js';

const idChecker = checker(Id, 'LOA_ERR_CONFIG_INVALID');

export interface DeviceIdentity {
  deviceId: string;
  publicKey: string;
  keyid: string;
}

const keyPathOf = (dataDir: string): string => join(dataDir, 'device.key');

/**
 * Makes the device's Ed25519 key pair if it has none yet (the private key, mode 0600, never leaves the device)
 * and returns the public half. Enrollment calls this before the device id is known.
 */
export function ensureKey(dataDir: string): { publicKey: string; keyid: string } {
  mkdirSync(dataDir, { recursive: true });
  const keyPath = keyPathOf(dataDir);
  if (!existsSync(keyPath)) {
    writeFileSync(keyPath, generateKeyPair().privateKeyPem, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(keyPath, 0o600);
  return publicKeyFromPrivatePem(readFileSync(keyPath, 'utf8'));
}

/** Writes `device.json`: the id this device is enrolled under, bound to its existing key. */
export function writeIdentity(dataDir: string, deviceId: string): DeviceIdentity {
  idChecker.parse(deviceId, 'device id');
  const keyPath = keyPathOf(dataDir);
  if (!existsSync(keyPath)) throw new LoaError('LOA_ERR_KEY_FILE', `${keyPath} is missing: the device key must exist before its id is written`);
  const id: DeviceIdentity = { deviceId, ...publicKeyFromPrivatePem(readFileSync(keyPath, 'utf8')) };
  const p = join(dataDir, 'device.json');
  writeFileSync(`${p}.tmp`, JSON.stringify(id, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
  return id;
}

/**
 * The device's identity (DESIGN §2): an Ed25519 key pair made on the device and the device id it is
 * enrolled under (provisioning without a controller: `loa agent init`).
 */
export function initIdentity(dataDir: string, deviceId: string): DeviceIdentity {
  idChecker.parse(deviceId, 'device id');
  ensureKey(dataDir);
  return writeIdentity(dataDir, deviceId);
}

/** The id the device is enrolled under, or null before enrollment. */
export function readIdentity(dataDir: string): DeviceIdentity | null {
  return existsSync(join(dataDir, 'device.json')) ? loadIdentity(dataDir) : null;
}

export function loadIdentity(dataDir: string): DeviceIdentity {
  const p = join(dataDir, 'device.json');
  if (!existsSync(p)) throw new LoaError('LOA_ERR_DEVICE_ID_MISSING', `${p} is missing: run \`loa agent enroll\` or \`loa agent init --data-dir ${dataDir} --device-id ID --root root.json\` first`);
  const raw = JSON.parse(readFileSync(p, 'utf8')) as Partial<DeviceIdentity>;
  if (typeof raw.deviceId !== 'string' || typeof raw.publicKey !== 'string') throw new LoaError('LOA_ERR_CONFIG_INVALID', `${p} is not a device identity file`);
  return { deviceId: idChecker.parse(raw.deviceId, 'device id'), publicKey: raw.publicKey, keyid: raw.keyid ?? '' };
}

/**
 * A source of fresh device tokens (MQTT password, HTTP bearer). The key is read once and kept in this
 * closure only; neither the key nor a token is ever logged.
 */
export function deviceTokenSource(dataDir: string, deviceId: string, now: () => number, ttlS = 900): () => string {
  const keyPath = keyPathOf(dataDir);
  let pem: string;
  try {
    pem = readFileSync(keyPath, 'utf8');
  } catch (e) {
    throw new LoaError('LOA_ERR_KEY_FILE', `the device key ${keyPath} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return () => makeDeviceToken(pem, deviceId, now(), ttlS);
}
