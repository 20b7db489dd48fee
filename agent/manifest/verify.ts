import { rrulestr } from '../../shared/rrule.js';
import { LoaError } from '../../shared/errors.js';
import { MANIFEST_MAX_BYTES, SignedManifest, type Manifest } from '../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { requireThreshold } from '../../shared/trust.js';
import { checker, parseJsonText } from '../../shared/validate.js';

export const signedManifestChecker = checker(SignedManifest, 'LOA_ERR_MANIFEST_INVALID');

export interface VerifyContext {
  root: RootMetadata;
  deviceId: string;
  /** Version of the manifest in force, 0 when none. */
  currentVersion: number;
  now: number;
}

/**
 * Checks a signed manifest before it may replace the one in force (DESIGN §2). In order: size, JSON, schema,
 * signatures by the schedule role (unknown key, revoked key, bad signature, threshold), device binding
 * (and device revocation), monotonic version, expiry, internal references. Throws a coded LoaError.
 */
export function verifyManifest(input: unknown, ctx: VerifyContext): SignedManifest {
  const raw = typeof input === 'string' || Buffer.isBuffer(input)
    ? parseJsonText(input, MANIFEST_MAX_BYTES, 'manifest', 'LOA_ERR_MANIFEST_TOO_LARGE')
    : input;
  const env = signedManifestChecker.parse(raw, 'manifest');
  const m = env.signed;
  requireThreshold(m, env.signatures, ctx.root, 'schedule', {
    signature: 'LOA_ERR_MANIFEST_SIGNATURE', unknown: 'LOA_ERR_MANIFEST_UNKNOWN_KEY',
    revoked: 'LOA_ERR_MANIFEST_REVOKED_KEY', threshold: 'LOA_ERR_MANIFEST_THRESHOLD',
  }, `manifest v${m.version}`);
  if (m.deviceId !== ctx.deviceId || ctx.root.revokedDevices.includes(ctx.deviceId)) {
    throw new LoaError('LOA_ERR_MANIFEST_WRONG_DEVICE', m.deviceId !== ctx.deviceId
      ? `manifest v${m.version} is for device ${m.deviceId}, this is ${ctx.deviceId}`
      : `device ${ctx.deviceId} is revoked in root metadata v${ctx.root.version}`, { details: { for: m.deviceId, me: ctx.deviceId } });
  }
  if (m.version <= ctx.currentVersion) {
    throw new LoaError('LOA_ERR_MANIFEST_ROLLBACK', `manifest v${m.version} is not newer than v${ctx.currentVersion} in force`, { details: { version: m.version, current: ctx.currentVersion } });
  }
  if (Date.parse(m.expiresAt) <= ctx.now) {
    throw new LoaError('LOA_ERR_MANIFEST_EXPIRED', `manifest v${m.version} expired at ${m.expiresAt}`, { details: { expiresAt: m.expiresAt } });
  }
  checkReferences(m);
  return env;
}

/** Programs, media and RRULEs referenced by the schedule must exist and parse. */
export function checkReferences(m: Manifest): void {
  const bad = (msg: string): never => {
    throw new LoaError('LOA_ERR_MANIFEST_INVALID', `manifest v${m.version}: ${msg}`);
  };
  const media = new Set(m.media.map((x) => x.sha256));
  const programs = new Set<string>();
  for (const p of m.programs) {
    if (programs.has(p.id)) bad(`program ${p.id} is listed twice`);
    programs.add(p.id);
    for (const it of p.items) if ((it.kind === 'media' || it.kind === 'image' || it.kind === 'video') && !media.has(it.sha256)) bad(`program ${p.id} uses media ${it.sha256.slice(0, 12)}… that is not in the media list`);
  }
  const entries = new Set<string>();
  for (const e of m.schedule) {
    if (entries.has(e.id)) bad(`schedule entry ${e.id} is listed twice`);
    entries.add(e.id);
    if (!programs.has(e.programId)) bad(`schedule entry ${e.id} uses unknown program ${e.programId}`);
    if (e.rrule) {
      try {
        rrulestr(e.rrule.startsWith('RRULE:') ? e.rrule : `RRULE:${e.rrule}`);
      } catch (err) {
        bad(`schedule entry ${e.id} has an invalid RRULE: ${(err as Error).message}`);
      }
    }
    if (e.validFrom && e.validUntil && Date.parse(e.validUntil) <= Date.parse(e.validFrom)) bad(`schedule entry ${e.id}: validUntil is not after validFrom`);
  }
}
