import { createReadStream, existsSync } from 'node:fs';
import { toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ManifestManager } from '../manifest/manager.js';
import type { MediaStore } from '../media/store.js';
import type { Outbox } from './outbox.js';
import type { Rebuild } from './recover.js';
import { readManifestSnapshot, readTrustSnapshot } from './snapshots.js';

/**
 * After a rebuild (recover.ts): re-installs the trust chain and the manifest in force from their copies outside
 * the database, verified again, adopts the media already on disk (re-hashed), and reports it all in one
 * `store.recovered` event. A copy that is missing or fails verification is reported, not trusted: then the
 * device waits for sync (or a bundle) as a freshly provisioned one would.
 */
export async function restoreAfterRebuild(o: {
  dataDir: string; rebuild: Rebuild; manager: ManifestManager; media: MediaStore; outbox: Outbox; log: Logger;
  now: () => number; monotonic: () => number;
}): Promise<Record<string, unknown>> {
  const { manager, media, log } = o;
  const problems: { what: string; code: string; message: string }[] = [];
  let roots = 0;
  try {
    for (const r of readTrustSnapshot(o.dataDir)) {
      manager.restoreRoot(r.envelope, r.installedAt);
      roots++;
    }
  } catch (e) {
    const err = toLoaError(e, 'LOA_ERR_STORE_SNAPSHOT');
    problems.push({ what: 'trust', code: err.code, message: err.message });
  }
  let manifestVersion = 0;
  let missing: string[] = [];
  let kept = 0;
  try {
    const snap = readManifestSnapshot(o.dataDir);
    if (snap && manager.root()) {
      const res = await manager.restore(snap.envelope, snap.acceptedAt, (sha) => {
        const p = media.pathOf(sha);
        return existsSync(p) ? createReadStream(p) : null;
      });
      manifestVersion = res.manifest.signed.version;
      missing = res.missing;
      kept = res.manifest.signed.media.length - missing.length;
    }
  } catch (e) {
    const err = toLoaError(e, 'LOA_ERR_STORE_SNAPSHOT');
    problems.push({ what: 'manifest', code: err.code, message: err.message });
  }
  const { startedMono, ...rebuild } = o.rebuild;
  const data = {
    ...rebuild, rootVersion: manager.root()?.version ?? 0, rootsRestored: roots, manifestVersion, mediaKept: kept,
    mediaMissing: missing.length, ...(problems.length ? { problems } : {}), rebuildMs: Math.round(o.monotonic() - startedMono),
  };
  o.outbox.add('store.recovered', `recovered:${rebuild.movedTo}`, o.now(), data);
  log.warn({ ...data, salvaged: rebuild.salvaged }, 'database rebuilt and restored');
  return data;
}
