import { randomBytes } from 'node:crypto';
import { canonicalize, makeSigner, publicKeyFromPrivatePem, signBytes } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { EMERGENCY_MAX_BYTES, EmergencyOrder } from '../../shared/schemas/emergency.js';
import { topics } from '../../shared/topics.js';
import { checker } from '../../shared/validate.js';
import type { Bus } from '../broker/bus.js';

const orderChecker = checker(EmergencyOrder, 'LOA_ERR_EMERGENCY_INVALID');

/** How an operator gets an emergency key (the 503 message of every route that signs). */
export const EMERGENCY_KEY_HINT = 'copy emergency.key from the key ceremony folder (`loa keys init`, or `loa keys rotate-online --role emergency`) into the controller\'s keys folder, then reload trust (POST /api/v1/trust/reload or SIGHUP)';

/** The emergency key in force (DESIGN §2): it signs each order once; the canonical text goes to every device as is. */
export interface EmergencySigner {
  readonly keyid: string;
  /** The zones the root's emergency role is scoped to; null = every zone. */
  readonly zones: readonly string[] | null;
  /** Schema-checks the order and returns the canonical signed envelope (≤ EMERGENCY_MAX_BYTES). */
  sign(order: EmergencyOrder): string;
  /** The raw Ed25519 public key, base64 (the public emergency feed publishes it). */
  readonly publicKey: string;
  /** A detached Ed25519 signature (base64) of exactly these bytes: the public emergency feed (issue 8). */
  detached(data: Buffer): string;
}

export function emergencySigner(privateKeyPem: string, zones: readonly string[] | null): EmergencySigner {
  const s = makeSigner(privateKeyPem);
  const { publicKey } = publicKeyFromPrivatePem(privateKeyPem);
  return {
    keyid: s.keyid,
    zones,
    publicKey,
    detached: (data) => signBytes(privateKeyPem, data),
    sign(order) {
      orderChecker.parse(order, `emergency order ${order.orderId}`);
      const text = s.signCanonical(canonicalize(order));
      const size = Buffer.byteLength(text);
      if (size > EMERGENCY_MAX_BYTES) {
        throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `the signed order is ${size} bytes; devices accept at most ${EMERGENCY_MAX_BYTES}: target zones rather than long lists of devices, or shorten the text`, { details: { size, max: EMERGENCY_MAX_BYTES } });
      }
      return text;
    },
  };
}

/** 128 random bits, base64url (22 characters), as the order schema asks. */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** True when the device (by its zone path) is inside the emergency key's zone scope, or the key is not scoped. */
export function inKeyScope(zones: readonly string[] | null, devicePath: string): boolean {
  return !zones || devicePath.split('/').some((z) => z !== '' && zones.includes(z));
}

export interface FanOutResult {
  published: number;
  /** Devices the broker refused the message for (logged; they are still targets and show as pending). */
  failed: string[];
}

/**
 * Publishes one signed order (QoS 1) on each device's own `loa/v1/dev/{id}/emergency`. The payload is one
 * Buffer shared by every publish; `concurrency` publishes are in flight at a time.
 */
export async function fanOut(bus: Bus, deviceIds: readonly string[], body: string, concurrency = 256): Promise<FanOutResult> {
  const payload = Buffer.from(body, 'utf8');
  const failed: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < deviceIds.length) {
      const id = deviceIds[next++]!;
      try {
        await bus.publish(topics.down(id, 'emergency'), payload, { qos: 1 });
      } catch {
        failed.push(id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, deviceIds.length) }, worker));
  return { published: deviceIds.length - failed.length, failed };
}
