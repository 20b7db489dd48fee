/**
 * The trust bundle given to `loa provision --trust FILE`: a signed root.json (`{signed, signatures}`), or a
 * bundle `{root}` / `{roots: [v1, v2, …]}` whose later roots must chain from the first. It is checked in full
 * (schema, self-signature threshold, expiry, every rotation) before anything is written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize } from '../../shared/crypto.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { verifyRootChain } from '../../shared/trust.js';
import { parseJsonText } from '../../shared/validate.js';
import { ManifestManager } from '../manifest/manager.js';
import { MediaStore } from '../media/store.js';
import { openDb } from '../store/db.js';
import { Outbox } from '../store/outbox.js';

export interface TrustBundle {
  /** Signed roots in order: the first is trusted on install, each later one chains from the one before. */
  roots: unknown[];
  /** The newest root, verified. */
  latest: RootMetadata;
}

const TRUST_MAX_BYTES = 1024 * 1024;

function trustError(path: string, why: string, cause?: unknown): LoaError {
  return new LoaError('LOA_ERR_PROVISION_TRUST', `the trust file ${path} cannot be used: ${why}`, cause === undefined ? {} : { cause });
}

/** Reads and verifies a trust file. Every problem is LOA_ERR_PROVISION_TRUST, with the precise reason. */
export function readTrustFile(path: string, now: number): TrustBundle {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw trustError(path, `it cannot be read (${(e as Error).message})`, e);
  }
  let raw: unknown;
  try {
    raw = parseJsonText(text, TRUST_MAX_BYTES, path, 'LOA_ERR_PROVISION_TRUST');
  } catch (e) {
    throw trustError(path, `it is not JSON (${toLoaError(e).message})`, e);
  }
  const o = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  // A bare array is what `loa keys export-trust` writes; {roots} and {root} are accepted too.
  const roots: unknown[] = Array.isArray(raw) ? raw : 'signed' in o ? [raw] : Array.isArray(o.roots) ? o.roots : o.root !== undefined ? [o.root] : [];
  if (!roots.length) throw trustError(path, 'it is neither a signed root.json ({signed, signatures}), a chain of them (loa keys export-trust), nor a bundle with "root" or "roots"');
  let latest: RootMetadata;
  try {
    latest = verifyRootChain(roots, now).at(-1)!;
  } catch (e) {
    throw trustError(path, `its root metadata is not valid or does not chain (${toLoaError(e).code}: ${toLoaError(e).message})`, e);
  }
  return { roots, latest };
}

/**
 * Opens the agent store of a (staged) data dir for trust operations and closes it after `fn`. The media store is
 * never initialised, so no media folder is made.
 */
export async function withTrustStore<T>(dataDir: string, fn: (manager: ManifestManager) => T | Promise<T>): Promise<T> {
  const db = openDb({ path: join(dataDir, 'agent.db') });
  try {
    const log = createLogger('provision', { level: process.env.LOA_LOG_LEVEL ?? 'warn' });
    const outbox = new Outbox({ db, deviceId: () => '' });
    const media = new MediaStore({ dataDir, db, log, now: Date.now });
    const manager = new ManifestManager({ db, outbox, media, log, deviceId: '', now: Date.now });
    return await fn(manager);
  } finally {
    db.close();
  }
}

/** Installs the bundle's roots that are newer than what the store has (each must chain). Returns the newest. */
export function installTrust(manager: ManifestManager, bundle: TrustBundle): RootMetadata {
  for (const r of bundle.roots) {
    const v = (r as { signed?: { version?: unknown } }).signed?.version;
    const current = manager.root();
    if (current && typeof v === 'number' && v === current.version && canonicalize(current) !== canonicalize((r as { signed: unknown }).signed)) {
      throw new LoaError('LOA_ERR_PROVISION_TRUST', `this device already trusts a different root v${v}; it belongs to another province or key ceremony`);
    }
    if (current && typeof v === 'number' && v <= current.version) continue;
    manager.installRoot(r);
  }
  const root = manager.root();
  if (!root) throw new LoaError('LOA_ERR_PROVISION_TRUST', 'no trust root was installed');
  return root;
}
