import { canonicalize, signBytes, verifyBytes } from './crypto.js';
import { CryptoError } from './errors.js';

/**
 * Short-lived device tokens (DESIGN §2): the device signs `{sub, iat, exp}` with its own Ed25519 key, and the
 * controller checks it against the public key bound at enrollment. No shared fleet secret exists. Used as the
 * MQTT password (username = device id) and as the HTTP bearer token.
 *
 * Format: `loa1.<base64url(canonical JSON payload)>.<base64url(signature)>`.
 */
export interface DeviceTokenPayload {
  sub: string;
  /** Issued at, seconds since epoch. */
  iat: number;
  /** Expires at, seconds since epoch. */
  exp: number;
}

export const TOKEN_PREFIX = 'loa1';
/** Longest lifetime the controller accepts. */
export const TOKEN_MAX_TTL_S = 3600;
/** Allowed clock skew between device and controller. */
export const TOKEN_SKEW_S = 600;

export function makeDeviceToken(privateKeyPem: string, deviceId: string, nowMs: number, ttlS = 900): string {
  const iat = Math.floor(nowMs / 1000);
  const payload: DeviceTokenPayload = { sub: deviceId, iat, exp: iat + Math.min(ttlS, TOKEN_MAX_TTL_S) };
  const body = Buffer.from(canonicalize(payload));
  const sig = Buffer.from(signBytes(privateKeyPem, body), 'base64');
  return `${TOKEN_PREFIX}.${body.toString('base64url')}.${sig.toString('base64url')}`;
}

/** The claimed device id, unverified: only to look up the key. */
export function tokenSubject(token: string): string | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || parts[1]!.length > 400) return null;
  try {
    const p = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<DeviceTokenPayload>;
    return typeof p.sub === 'string' && p.sub.length <= 128 ? p.sub : null;
  } catch {
    return null;
  }
}

/**
 * Verifies a token against the device's public key (raw base64). Every failure is one CryptoError, so a
 * caller cannot leak which check failed.
 */
export function verifyDeviceToken(token: string, publicKeyB64: string, nowMs: number): DeviceTokenPayload {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || token.length > 1000) throw new CryptoError('malformed device token');
  const body = Buffer.from(parts[1]!, 'base64url');
  const sig = Buffer.from(parts[2]!, 'base64url');
  if (sig.length !== 64 || !verifyBytes(publicKeyB64, body, sig.toString('base64'))) throw new CryptoError('device token signature is not valid');
  let p: Partial<DeviceTokenPayload>;
  try {
    p = JSON.parse(body.toString('utf8')) as Partial<DeviceTokenPayload>;
  } catch (e) {
    throw new CryptoError('device token payload is not JSON', { cause: e });
  }
  if (typeof p.sub !== 'string' || typeof p.iat !== 'number' || typeof p.exp !== 'number') throw new CryptoError('device token payload is incomplete');
  const now = nowMs / 1000;
  if (p.exp - p.iat > TOKEN_MAX_TTL_S) throw new CryptoError('device token lifetime is too long');
  if (p.iat > now + TOKEN_SKEW_S || p.exp < now - TOKEN_SKEW_S) throw new CryptoError('device token is expired or not yet valid');
  return { sub: p.sub, iat: p.iat, exp: p.exp };
}
