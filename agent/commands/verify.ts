import { LoaError } from '../../shared/errors.js';
import { COMMAND_MAX_BYTES, COMMAND_MAX_TTL_MS, SignedDeviceCommand } from '../../shared/schemas/command.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { checkLifetime, parseSigned } from '../../shared/signed-message.js';
import { requireThreshold } from '../../shared/trust.js';
import { checker } from '../../shared/validate.js';

export const signedCommandChecker = checker(SignedDeviceCommand, 'LOA_ERR_COMMAND_INVALID');

/** How far in the future a command's issuedAt may be (clock skew between controller and device). */
const SKEW_MS = 5 * 60_000;

export interface CommandVerifyContext {
  root: RootMetadata;
  deviceId: string;
  now: number;
  /** True when this nonce was accepted before, or this seq is not above the last accepted one. */
  seen(nonce: string, seq: number): boolean;
}

/**
 * Checks a device command before the device obeys it, exactly as manifests and emergency orders are checked.
 * In order: size, JSON, schema, signatures by the root's schedule role (unknown, revoked or emergency keys are
 * refused), device revocation, device binding, lifetime (expired, issued in the future, or living longer
 * than 15 min), replay (a nonce seen before, or a seq not above the last accepted). Throws a coded LoaError.
 */
export function verifyDeviceCommand(input: unknown, ctx: CommandVerifyContext): SignedDeviceCommand {
  const env = parseSigned(input, COMMAND_MAX_BYTES, signedCommandChecker, 'device command');
  const c = env.signed;
  const what = `command ${c.commandId} (${c.type}, seq ${c.seq})`;
  requireThreshold(c, env.signatures, ctx.root, 'schedule', {
    signature: 'LOA_ERR_COMMAND_SIGNATURE', unknown: 'LOA_ERR_COMMAND_SIGNATURE', revoked: 'LOA_ERR_COMMAND_SIGNATURE', threshold: 'LOA_ERR_COMMAND_SIGNATURE',
  }, what);
  if (ctx.root.revokedDevices.includes(ctx.deviceId)) {
    throw new LoaError('LOA_ERR_COMMAND_WRONG_DEVICE', `device ${ctx.deviceId} is revoked in root metadata v${ctx.root.version}`);
  }
  if (c.deviceId !== ctx.deviceId) {
    throw new LoaError('LOA_ERR_COMMAND_WRONG_DEVICE', `${what} is for device ${c.deviceId}, not ${ctx.deviceId}`, { details: { deviceId: c.deviceId } });
  }
  checkLifetime(c, ctx.now, { maxTtlMs: COMMAND_MAX_TTL_MS, skewMs: SKEW_MS, code: 'LOA_ERR_COMMAND_EXPIRED', what });
  if (ctx.seen(c.nonce, c.seq)) throw new LoaError('LOA_ERR_COMMAND_REPLAY', `${what} was already received, or an older seq`, { details: { seq: c.seq } });
  return env;
}
