/**
 * Checks signed release metadata (issue 11) the same way on the controller (at upload) and on the device
 * (before install): size, JSON, schema, then a threshold of valid signatures by the root metadata's `release`
 * role. Also the semantic-version order that decides upgrade versus downgrade.
 */
import { LoaError } from './errors.js';
import type { RootMetadata } from './schemas/root.js';
import { RELEASE_MAX_BYTES, SignedRelease } from './schemas/release.js';
import { parseSigned } from './signed-message.js';
import { requireThreshold } from './trust.js';
import { checker } from './validate.js';

export const signedReleaseChecker = checker(SignedRelease, 'LOA_ERR_RELEASE_INVALID');

/** Throws a coded LoaError unless `input` is release metadata signed by the release role of `root`. */
export function verifyRelease(input: unknown, root: RootMetadata): SignedRelease {
  const env = parseSigned(input, RELEASE_MAX_BYTES, signedReleaseChecker, 'release metadata');
  if (!root.roles.release) {
    throw new LoaError('LOA_ERR_RELEASE_UNKNOWN_KEY', `root metadata v${root.version} has no release role: rotate the root to add release keys (loa keys rotate)`);
  }
  requireThreshold(env.signed, env.signatures, root, 'release', {
    signature: 'LOA_ERR_RELEASE_SIGNATURE', unknown: 'LOA_ERR_RELEASE_UNKNOWN_KEY',
    revoked: 'LOA_ERR_RELEASE_UNKNOWN_KEY', threshold: 'LOA_ERR_RELEASE_SIGNATURE',
  }, `release ${env.signed.version}`);
  return env;
}

/** Throws LOA_ERR_RELEASE_HASH unless the artifact's size and SHA-256 are those the metadata signs. */
export function checkArtifact(meta: { sha256: string; size: number; version: string }, actual: { sha256: string; size: number }): void {
  if (actual.size !== meta.size || actual.sha256 !== meta.sha256) {
    throw new LoaError('LOA_ERR_RELEASE_HASH', `the artifact of release ${meta.version} is not the one its metadata signs (size ${actual.size} vs ${meta.size}, sha256 ${actual.sha256.slice(0, 12)}… vs ${meta.sha256.slice(0, 12)}…)`,
      { details: { expected: meta.sha256, actual: actual.sha256 } });
  }
}

const parse = (v: string): { nums: number[]; pre: string[] } => {
  const [core = '', pre] = v.split('-', 2);
  return { nums: core.split('.').map((n) => Number(n)), pre: pre === undefined ? [] : v.slice(core.length + 1).split('.') };
};

/** Semantic-version precedence (semver.org §11): negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (!x.pre.length || !y.pre.length) return Math.sign(y.pre.length - x.pre.length);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Math.sign(Number(p) - Number(q));
    if (pn) return -1;
    if (qn) return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
