import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { verifyDeviceToken } from '../../shared/device-token.js';
import type { ErrorCode } from '../../shared/errors.js';
import { isDeviceId } from './acl.js';

/** What the controller knows about a device's key: backed by the devices table. null = unknown or not enrolled. */
export interface DeviceKeyInfo {
  publicKey: string;
  revoked: boolean;
}
export type DeviceKeysLookup = (deviceId: string) => DeviceKeyInfo | null | Promise<DeviceKeyInfo | null>;

/** Who a connected client is. The internal client is the controller's own process (optional). */
export type Principal = { kind: 'device'; deviceId: string } | { kind: 'internal'; clientId: string };

export type AuthReason = 'credentials' | 'client_id' | 'unknown_device' | 'revoked' | 'token' | 'lookup_failed';
export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: AuthReason; code: ErrorCode };

/** The internal client's user name. It starts with `$`, which no device id can. */
export const INTERNAL_USERNAME = '$loa-controller';
/** Internal client ids start with this. */
export const INTERNAL_CLIENT_PREFIX = '$loa-controller-';

const MAX_PASSWORD_BYTES = 1000;

export interface InternalCredentials {
  clientId: string;
  username: string;
  /** Random per process; never logged, never stored. */
  password: string;
}

export interface BrokerAuthOptions {
  deviceKeys: DeviceKeysLookup;
  clock: Pick<Clock, 'now'>;
  /** Accept the controller's own internal client (random per-process secret). Default false. */
  internalClient?: boolean;
}

/**
 * Authentication for the embedded broker (DESIGN §2): deny by default. A device connects with username =
 * device id, password = a device token it signed, and clientId = device id; the token is verified against
 * the public key bound at enrollment. Unknown, unenrolled and revoked devices are refused.
 */
export class BrokerAuthenticator {
  private secret: Buffer | null = null;

  constructor(private readonly options: BrokerAuthOptions) {}

  /** The internal client's credentials (made on first call). Throws when the internal client is disabled. */
  internalCredentials(): InternalCredentials {
    if (!this.options.internalClient) throw new Error('the internal MQTT client is disabled (internalClient: false)');
    this.secret ??= randomBytes(32);
    return { clientId: `${INTERNAL_CLIENT_PREFIX}${randomBytes(6).toString('hex')}`, username: INTERNAL_USERNAME, password: this.secret.toString('base64url') };
  }

  async authenticate(clientId: string | null | undefined, username: string | undefined, password: Buffer | undefined): Promise<AuthResult> {
    if (!username || !password || password.length === 0 || password.length > MAX_PASSWORD_BYTES) return { ok: false, reason: 'credentials', code: 'LOA_ERR_MQTT_FORBIDDEN' };
    if (username === INTERNAL_USERNAME) return this.internal(clientId, password);
    if (!isDeviceId(username)) return { ok: false, reason: 'credentials', code: 'LOA_ERR_MQTT_FORBIDDEN' };
    if (clientId !== username) return { ok: false, reason: 'client_id', code: 'LOA_ERR_MQTT_FORBIDDEN' };
    let info: DeviceKeyInfo | null;
    try {
      info = await this.options.deviceKeys(username);
    } catch {
      return { ok: false, reason: 'lookup_failed', code: 'LOA_ERR_INTERNAL' };
    }
    if (!info) return { ok: false, reason: 'unknown_device', code: 'LOA_ERR_DEVICE_NOT_ENROLLED' };
    if (info.revoked) return { ok: false, reason: 'revoked', code: 'LOA_ERR_DEVICE_REVOKED' };
    try {
      const claims = verifyDeviceToken(password.toString('utf8'), info.publicKey, this.options.clock.now());
      if (claims.sub !== username) return { ok: false, reason: 'token', code: 'LOA_ERR_CRYPTO' };
    } catch {
      return { ok: false, reason: 'token', code: 'LOA_ERR_CRYPTO' };
    }
    return { ok: true, principal: { kind: 'device', deviceId: username } };
  }

  private internal(clientId: string | null | undefined, password: Buffer): AuthResult {
    const secret = this.options.internalClient ? this.secret : null;
    const expected = secret ? Buffer.from(secret.toString('base64url')) : null;
    if (!expected || password.length !== expected.length || !timingSafeEqual(password, expected)) return { ok: false, reason: 'credentials', code: 'LOA_ERR_MQTT_FORBIDDEN' };
    if (!clientId?.startsWith(INTERNAL_CLIENT_PREFIX)) return { ok: false, reason: 'client_id', code: 'LOA_ERR_MQTT_FORBIDDEN' };
    return { ok: true, principal: { kind: 'internal', clientId } };
  }
}
