import { canonicalize } from './crypto.js';

/**
 * On-site pairing codes (issue 5). A code is 8 characters shown as `XXXX-XXXX`, drawn from 27 characters that
 * cannot be mistaken for one another when read off a small screen or a sticker, or typed on a phone:
 *
 *   2 3 4 5 6 7 8 9 A C D E F G H J K M N P Q R T V W X Y
 *
 * Left out: 0 and O, 1 I and L, B (like 8), S (like 5), Z (like 2) and U (like V). When a technician types one of
 * B, S, Z or U anyway, it is read as 8, 5, 2 or V. The first 3 characters (the locator, 27^3 = 19 683 values)
 * find the pending request; the last 5 (the secret, 27^5 ≈ 14.3 million, 23.8 bits) prove that the person
 * claiming it can see the device. Only a hash of the secret is stored.
 */
export const PAIRING_ALPHABET = '23456789ACDEFGHJKMNPQRTVWXY';
export const PAIRING_LOCATOR_LENGTH = 3;
export const PAIRING_SECRET_LENGTH = 5;
export const PAIRING_CODE_LENGTH = PAIRING_LOCATOR_LENGTH + PAIRING_SECRET_LENGTH;
/** Wrong secrets for one located request before it locks (the device must then ask for a new code). */
export const PAIRING_MAX_ATTEMPTS = 20;
/** How far the proof-of-possession timestamp may be from the controller's clock. */
export const PAIRING_PROOF_SKEW_MS = 5 * 60_000;
/** What the proof of possession signs over (with the request and a timestamp), so it cannot be replayed elsewhere. */
export const PAIRING_PROOF_PURPOSE = 'loa/v1/pairing-request';

const LOOKALIKES: Record<string, string> = { B: '8', S: '5', Z: '2', U: 'V' };
const CODE_CHAR = new RegExp(`^[${PAIRING_ALPHABET}]+$`);

/** `ABCD2345` → `ABCD-2345`. */
export function formatPairingCode(raw: string): string {
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}

/**
 * A typed code, normalised: upper case, spaces and dashes removed, look-alikes mapped. null when it cannot be
 * a code (wrong length or characters outside the alphabet).
 */
export function normalizePairingCode(typed: string): { locator: string; secret: string } | null {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/[BSZU]/g, (c) => LOOKALIKES[c]!);
  if (s.length !== PAIRING_CODE_LENGTH || !CODE_CHAR.test(s)) return null;
  return { locator: s.slice(0, PAIRING_LOCATOR_LENGTH), secret: s.slice(PAIRING_LOCATOR_LENGTH) };
}

/** What the device's key signs in a pairing request: the request itself (less the proof), a purpose and a time. */
export function pairingProofMessage(request: Record<string, unknown>, at: number): Buffer {
  return Buffer.from(canonicalize({ purpose: PAIRING_PROOF_PURPOSE, at, request }));
}

/** The URL a pairing QR code encodes: the controller's pairing page with the code filled in. */
export function pairUrlOf(controllerUrl: string, code: string): string {
  return `${controllerUrl.replace(/\/+$/, '')}/pair?code=${encodeURIComponent(code)}`;
}
