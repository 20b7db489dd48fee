import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, publicKeyFromPrivatePem } from '../shared/crypto.js';
import { LoaError } from '../shared/errors.js';
import { Id } from '../shared/schemas/common.js';
import { checker } from '../shared/validate.js';

const idChecker = checker(Id, 'LOA_ERR_CONFIG_INVALID');

export interface DeviceIdentity {
  deviceId: string;
  publicKey: string;
  keyid: string;
}

/**
 * The device's identity (DESIGN §2): an Ed25519 key pair made on the device (the private key, mode 0600,
 * never leaves it) and the device id it is enrolled under.
 */
export function initIdentity(dataDir: string, deviceId: string): DeviceIdentity {
  idChecker.parse(deviceId, 'device id');
  mkdirSync(dataDir, { recursive: true });
  const keyPath = join(dataDir, 'device.key');
  if (!existsSync(keyPath)) {
    writeFileSync(keyPath, generateKeyPair().privateKeyPem, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(keyPath, 0o600);
  const pub = publicKeyFromPrivatePem(readFileSync(keyPath, 'utf8'));
  const id: DeviceIdentity = { deviceId, ...pub };
  writeFileSync(join(dataDir, 'device.json'), JSON.stringify(id, null, 2) + '\n');
  return id;
}

export function loadIdentity(dataDir: string): DeviceIdentity {
  const p = join(dataDir, 'device.json');
  if (!existsSync(p)) throw new LoaError('LOA_ERR_DEVICE_ID_MISSING', `${p} is missing: run \`loa agent init --data-dir ${dataDir} --device-id ID --root root.json\` first`);
  const raw = JSON.parse(readFileSync(p, 'utf8')) as Partial<DeviceIdentity>;
  if (typeof raw.deviceId !== 'string' || typeof raw.publicKey !== 'string') throw new LoaError('LOA_ERR_CONFIG_INVALID', `${p} is not a device identity file`);
  return { deviceId: idChecker.parse(raw.deviceId, 'device id'), publicKey: raw.publicKey, keyid: raw.keyid ?? '' };
}
