import { canonicalize, verifyBytes } from './crypto.js';
import { LoaError, type ErrorCode } from './errors.js';
import { SignedRoot, type RoleName, type RootMetadata } from './schemas/root.js';
import { checker } from './validate.js';

export const signedRootChecker = checker(SignedRoot, 'LOA_ERR_ROOT_INVALID');
/** Root metadata files and HTTP bodies larger than this are refused before parsing. */
export const ROOT_MAX_BYTES = 16 * 1024 * 1024;

export interface SignatureTally {
  valid: string[];
  unknown: string[];
  revoked: string[];
  bad: string[];
  threshold: number;
}

/** Counts the distinct valid signatures on `signed` by keys of `role`, and why the others do not count. */
export function tallySignatures(
  signed: unknown,
  signatures: readonly { keyid: string; sig: string }[],
  root: RootMetadata,
  role: RoleName,
): SignatureTally {
  const r = root.roles[role];
  const tally: SignatureTally = { valid: [], unknown: [], revoked: [], bad: [], threshold: r?.threshold ?? Infinity };
  if (!r) return tally;
  const bytes = Buffer.from(canonicalize(signed), 'utf8');
  const seen = new Set<string>();
  for (const s of signatures) {
    if (seen.has(s.keyid)) continue;
    seen.add(s.keyid);
    const key = root.keys[s.keyid];
    if (root.revokedKeys.includes(s.keyid)) tally.revoked.push(s.keyid);
    else if (!key || !r.keyids.includes(s.keyid)) tally.unknown.push(s.keyid);
    else if (verifyBytes(key.public, bytes, s.sig)) tally.valid.push(s.keyid);
    else tally.bad.push(s.keyid);
  }
  return tally;
}

export interface RoleCodes {
  signature: ErrorCode;
  unknown: ErrorCode;
  revoked: ErrorCode;
  threshold: ErrorCode;
}

/**
 * Throws unless `threshold` valid signatures by `role` are present. The error names the most telling reason:
 * a bad signature, then a revoked key, then an unknown key, then too few signatures.
 */
export function requireThreshold(
  signed: unknown,
  signatures: readonly { keyid: string; sig: string }[],
  root: RootMetadata,
  role: RoleName,
  codes: RoleCodes,
  what: string,
): SignatureTally {
  const t = tallySignatures(signed, signatures, root, role);
  if (t.valid.length >= t.threshold) return t;
  const details = { role, valid: t.valid.length, threshold: t.threshold, unknown: t.unknown, revoked: t.revoked, bad: t.bad };
  if (t.bad.length) throw new LoaError(codes.signature, `${what}: signature by key ${t.bad[0]!.slice(0, 12)}… does not verify`, { details });
  if (t.revoked.length) throw new LoaError(codes.revoked, `${what}: signed by revoked key ${t.revoked[0]!.slice(0, 12)}…`, { details });
  if (t.unknown.length && !t.valid.length) throw new LoaError(codes.unknown, `${what}: signed by key ${t.unknown[0]!.slice(0, 12)}…, which is not a trusted ${role} key`, { details });
  throw new LoaError(codes.threshold, `${what}: ${t.valid.length} valid ${role} signature(s), ${t.threshold} required`, { details });
}

const ROOT_CODES: RoleCodes = {
  signature: 'LOA_ERR_ROOT_THRESHOLD', unknown: 'LOA_ERR_ROOT_THRESHOLD', revoked: 'LOA_ERR_ROOT_THRESHOLD', threshold: 'LOA_ERR_ROOT_THRESHOLD',
};

function checkRootShape(root: RootMetadata): void {
  for (const [name, role] of Object.entries(root.roles)) {
    if (!role) continue;
    if (role.threshold > role.keyids.length) throw new LoaError('LOA_ERR_ROOT_INVALID', `role ${name}: threshold ${role.threshold} exceeds its ${role.keyids.length} key(s)`);
    for (const id of role.keyids) if (!root.keys[id]) throw new LoaError('LOA_ERR_ROOT_INVALID', `role ${name}: key ${id.slice(0, 12)}… is not listed in keys`);
  }
}

/** Accepts a first root (trust on install): it must be signed by its own root threshold. */
export function verifyInitialRoot(input: unknown, now: number): RootMetadata {
  const env = signedRootChecker.parse(input, 'root metadata');
  checkRootShape(env.signed);
  requireThreshold(env.signed, env.signatures, env.signed, 'root', ROOT_CODES, 'root metadata');
  if (Date.parse(env.signed.expires) <= now) throw new LoaError('LOA_ERR_ROOT_EXPIRED', `root metadata version ${env.signed.version} expired at ${env.signed.expires}`);
  return env.signed;
}

/**
 * A root rotation (TUF): the new root must be newer, and signed by the old root threshold *and* its own.
 * This is also how online keys are rotated and keys revoked.
 */
export function verifyRootUpdate(trusted: RootMetadata, input: unknown, now: number): RootMetadata {
  const env = signedRootChecker.parse(input, 'root metadata');
  const next = env.signed;
  checkRootShape(next);
  if (next.version <= trusted.version) {
    throw new LoaError('LOA_ERR_ROOT_ROLLBACK', `root metadata version ${next.version} is not newer than the trusted version ${trusted.version}`);
  }
  requireThreshold(next, env.signatures, trusted, 'root', ROOT_CODES, `root metadata v${next.version} (old root keys)`);
  requireThreshold(next, env.signatures, next, 'root', ROOT_CODES, `root metadata v${next.version} (new root keys)`);
  if (Date.parse(next.expires) <= now) throw new LoaError('LOA_ERR_ROOT_EXPIRED', `root metadata version ${next.version} expired at ${next.expires}`);
  return next;
}

/**
 * Checks a chain of signed roots, oldest first (what `loa keys export-trust` writes and the controller serves):
 * the first must carry its own root threshold, each next one must be exactly one version newer and signed by
 * the previous root threshold and its own (verifyRootUpdate). Only the newest must be unexpired: older links
 * are history that a device walks through. Returns the parsed roots, oldest first.
 */
export function verifyRootChain(chain: readonly unknown[], now: number): RootMetadata[] {
  if (chain.length === 0) throw new LoaError('LOA_ERR_TRUST_CHAIN', 'the chain of root metadata is empty');
  const out: RootMetadata[] = [];
  for (const [i, input] of chain.entries()) {
    const last = i === chain.length - 1;
    const at = last ? now : 0;
    const prev = out[i - 1];
    const next = prev ? verifyRootUpdate(prev, input, at) : verifyInitialRoot(input, at);
    if (prev && next.version !== prev.version + 1) {
      throw new LoaError('LOA_ERR_TRUST_CHAIN', `root metadata v${next.version} follows v${prev.version}: versions must follow one another`, { details: { after: prev.version, version: next.version } });
    }
    out.push(next);
  }
  return out;
}
