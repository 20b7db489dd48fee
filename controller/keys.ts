import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyFromPrivatePem } from '../shared/crypto.js';
import { LoaError } from '../shared/errors.js';
import { verifyInitialRoot } from '../shared/trust.js';

export interface ControllerKeys {
  /** The signed root envelope handed to devices at enrollment. */
  root: unknown;
  scheduleKeyPem: string;
  scheduleKeyId: string;
}

/**
 * Loads the controller's online keys: root.json (made offline by `loa keys init`) and schedule.key. The root
 * keys themselves stay offline; only the schedule key signs here. Refuses a schedule key the root does not
 * list for the schedule role, so a misconfiguration shows at start, not as devices rejecting manifests.
 */
export function loadControllerKeys(dir: string, now: number): ControllerKeys {
  const rootPath = join(dir, 'root.json');
  const keyPath = join(dir, 'schedule.key');
  if (!existsSync(rootPath) || !existsSync(keyPath)) {
    throw new LoaError('LOA_ERR_KEYS_MISSING', `${dir} must hold root.json and schedule.key: run \`loa keys init --out ${dir}\` (then move the root-*.key files offline)`);
  }
  const root: unknown = JSON.parse(readFileSync(rootPath, 'utf8'));
  const meta = verifyInitialRoot(root, now);
  const scheduleKeyPem = readFileSync(keyPath, 'utf8');
  const { keyid } = publicKeyFromPrivatePem(scheduleKeyPem);
  if (!meta.roles.schedule.keyids.includes(keyid) || meta.revokedKeys.includes(keyid)) {
    throw new LoaError('LOA_ERR_KEYS_MISSING', `schedule.key (${keyid.slice(0, 12)}…) is not a schedule key of root.json v${meta.version}`);
  }
  return { root, scheduleKeyPem, scheduleKeyId: keyid };
}
