import { LoaError } from '../../shared/errors.js';
import { EMERGENCY_MAX_BYTES, EMERGENCY_MAX_TTL_MS, SignedEmergencyOrder } from '../../shared/schemas/emergency.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { requireThreshold } from '../../shared/trust.js';
import { checkLifetime, parseSigned } from '../../shared/signed-message.js';
import { checker } from '../../shared/validate.js';

export const signedEmergencyChecker = checker(SignedEmergencyOrder, 'LOA_ERR_EMERGENCY_INVALID');

/** How far in the future an order's issuedAt may be (clock skew between controller and device). */
const SKEW_MS = 5 * 60_000;

export interface EmergencyVerifyContext {
  root: RootMetadata;
  deviceId: string;
  /** The device's zone chain, province first (from its signed manifest). */
  zones: readonly string[];
  now: number;
  /** True when this nonce or this seq was already received. */
  seen(nonce: string, seq: number): boolean;
}

/**
 * Checks an emergency order before the device obeys it (DESIGN §2). In order: size, JSON, schema, signatures
 * by the emergency role, device revocation, lifetime (expired, not yet issued, or living longer than 24 h),
 * shape (start has content), target (this device or one of its zones), key scope (a zone-scoped emergency role
 * must cover one of the device's zones), replay (nonce or seq seen before). Throws a coded LoaError.
 */
export function verifyEmergencyOrder(input: unknown, ctx: EmergencyVerifyContext): SignedEmergencyOrder {
  const env = parseSigned(input, EMERGENCY_MAX_BYTES, signedEmergencyChecker, 'emergency order');
  const o = env.signed;
  const what = `emergency order ${o.orderId} (seq ${o.seq})`;
  requireThreshold(o, env.signatures, ctx.root, 'emergency', {
    signature: 'LOA_ERR_EMERGENCY_SIGNATURE', unknown: 'LOA_ERR_EMERGENCY_SIGNATURE', revoked: 'LOA_ERR_EMERGENCY_SIGNATURE', threshold: 'LOA_ERR_EMERGENCY_SIGNATURE',
  }, what);
  if (ctx.root.revokedDevices.includes(ctx.deviceId)) {
    throw new LoaError('LOA_ERR_EMERGENCY_SCOPE', `device ${ctx.deviceId} is revoked in root metadata v${ctx.root.version}`);
  }
  checkLifetime(o, ctx.now, { maxTtlMs: EMERGENCY_MAX_TTL_MS, skewMs: SKEW_MS, code: 'LOA_ERR_EMERGENCY_EXPIRED', what });
  if (o.action === 'start' && !o.content) throw new LoaError('LOA_ERR_EMERGENCY_INVALID', `${what}: a start order needs content`);
  const mine = new Set(ctx.zones);
  if (!o.target.devices.includes(ctx.deviceId) && !o.target.zones.some((z) => mine.has(z))) {
    throw new LoaError('LOA_ERR_EMERGENCY_SCOPE', `${what} is not addressed to ${ctx.deviceId} or its zones`, { details: { zones: o.target.zones.slice(0, 20), devices: o.target.devices.length } });
  }
  const scope = ctx.root.roles.emergency.zones;
  if (scope && !scope.some((z) => mine.has(z))) {
    throw new LoaError('LOA_ERR_EMERGENCY_SCOPE', `${what}: the emergency key may only address zones ${scope.slice(0, 10).join(', ')}, and this device is in none of them`);
  }
  if (ctx.seen(o.nonce, o.seq)) throw new LoaError('LOA_ERR_EMERGENCY_REPLAY', `${what} was already received`, { details: { seq: o.seq } });
  return env;
}
