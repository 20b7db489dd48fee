import type { Readable } from 'node:stream';
import type { Bundle } from '../bundle.js';
import { canonicalize } from '../../shared/crypto.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { SignedManifest } from '../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { verifyInitialRoot, verifyRootUpdate } from '../../shared/trust.js';
import type { MediaStore } from '../media/store.js';
import type { Db } from '../store/db.js';
import type { Outbox } from '../store/outbox.js';
import { appendTrustSnapshot, dataDirOf, readManifestSnapshot, readTrustSnapshot, writeManifestSnapshot, writeTrustSnapshot } from '../store/snapshots.js';
import { signedManifestChecker, verifyManifest } from './verify.js';
import { installRootChain, rootsOfTrustBundle } from '../sync/trust-fetch.js';

/** Opens the bytes of a media file by sha256, or null when the source does not have it. */
export type MediaSource = (sha256: string) => Readable | null;

/**
 * Holds the trust root and the manifest in force. A new manifest replaces the current one only after it
 * passed every check and all its media are in the store, verified; otherwise the current one stays and a
 * `manifest.rejected` event says why.
 */
export class ManifestManager {
  constructor(private readonly o: { db: Db; outbox: Outbox; media: MediaStore; log: Logger; deviceId: string; now: () => number; keepMedia?: () => Iterable<string> }) {}

  root(): RootMetadata | null {
    const row = this.o.db.prepare<[], { body: string }>('SELECT body FROM trust_root ORDER BY version DESC LIMIT 1').get();
    return row ? (JSON.parse(row.body) as { signed: RootMetadata }).signed : null;
  }

  /** Installs root metadata: the first one on trust (provisioning), later ones only if they chain. */
  installRoot(input: unknown): RootMetadata {
    const current = this.root();
    const next = current ? verifyRootUpdate(current, input, this.o.now()) : verifyInitialRoot(input, this.o.now());
    this.o.db.prepare('INSERT INTO trust_root (version, body, installed_at) VALUES (?, ?, ?)').run(next.version, canonicalize(input), this.o.now());
    const dir = dataDirOf(this.o.db);
    if (dir) appendTrustSnapshot(dir, JSON.parse(canonicalize(input)), this.o.now());
    this.o.log.info({ version: next.version }, 'trust root installed');
    return next;
  }

  /**
   * Re-installs a root from the copy outside the database after a rebuild (store/recover.ts): it is verified
   * again (the first one on its own, later ones chained) as of when it was first installed.
   */
  restoreRoot(input: unknown, installedAt: number): RootMetadata {
    const current = this.root();
    const next = current ? verifyRootUpdate(current, input, installedAt) : verifyInitialRoot(input, installedAt);
    this.o.db.prepare('INSERT INTO trust_root (version, body, installed_at) VALUES (?, ?, ?)').run(next.version, canonicalize(input), installedAt);
    return next;
  }

  /**
   * Re-installs the manifest that was in force from its copy outside the database, after a rebuild: its
   * signatures and device binding are verified again against the restored root, as of when it was accepted
   * (an expired manifest goes on as stale, as it would have). Its media already on disk are re-hashed and kept;
   * the ones missing or corrupt are returned (sync fetches them again). No event: store.recovered reports it.
   */
  async restore(envelope: unknown, acceptedAt: number, onDisk: (sha256: string) => Readable | null): Promise<{ manifest: SignedManifest; missing: string[] }> {
    const root = this.root();
    if (!root) throw new LoaError('LOA_ERR_ROOT_INVALID', 'no trust root was restored');
    const env = verifyManifest(envelope, { root, deviceId: this.o.deviceId, currentVersion: 0, now: acceptedAt });
    const missing: string[] = [];
    for (const m of env.signed.media) {
      const src = onDisk(m.sha256);
      try {
        if (!src) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `media ${m.sha256.slice(0, 12)}… is not on disk`);
        await this.o.media.put(m, src);
      } catch (e) {
        missing.push(m.sha256);
        this.o.log.warn({ sha256: m.sha256, code: toLoaError(e).code }, 'media of the restored manifest is missing or corrupt');
      }
    }
    this.o.db.prepare('INSERT INTO manifests (version, body, accepted_at) VALUES (?, ?, ?)').run(env.signed.version, canonicalize(env), acceptedAt);
    return { manifest: env, missing };
  }

  /**
   * Installs an offline bundle: its root first when it is newer (it must chain), then its manifest and media.
   * The bundle's root.json may also be a trust bundle (`loa keys export-trust`: every root version, oldest
   * first), walked from the version in force.
   */
  async installBundle(b: Bundle): Promise<SignedManifest> {
    const v = (b.root as { signed?: { version?: unknown } } | null)?.signed?.version;
    const chain = b.root && !(b.root as { signed?: unknown }).signed ? rootsOfTrustBundle(b.root) : null;
    if (chain) installRootChain(this, chain);
    else if (b.root && (typeof v !== 'number' || v > (this.root()?.version ?? 0))) this.installRoot(b.root);
    return this.install(b.manifest, b.media);
  }

  /**
   * Writes the copies kept outside the database when they lag behind it (a data dir from before they existed,
   * or a crash between the commit and the copy). Called at agent start.
   */
  snapshot(): void {
    const dir = dataDirOf(this.o.db);
    if (!dir) return;
    const roots = this.o.db.prepare<[], { body: string; installed_at: number }>('SELECT body, installed_at FROM trust_root ORDER BY version').all();
    if (readTrustSnapshot(dir).length < roots.length) {
      writeTrustSnapshot(dir, { roots: roots.map((r) => ({ installedAt: r.installed_at, envelope: JSON.parse(r.body) as Record<string, unknown> })) });
    }
    const m = this.o.db.prepare<[], { body: string; accepted_at: number }>('SELECT body, accepted_at FROM manifests ORDER BY version DESC LIMIT 1').get();
    const snap = readManifestSnapshot(dir);
    if (m && (snap?.envelope as { signed?: { version?: unknown } } | undefined)?.signed?.version !== (JSON.parse(m.body) as { signed: { version: number } }).signed.version) {
      writeManifestSnapshot(dir, JSON.parse(m.body), m.accepted_at);
    }
  }

  current(): SignedManifest | null {
    const row = this.o.db.prepare<[], { body: string }>('SELECT body FROM manifests ORDER BY version DESC LIMIT 1').get();
    return row ? signedManifestChecker.parse(JSON.parse(row.body)) : null;
  }

  currentVersion(): number {
    return this.o.db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM manifests').get()?.v ?? 0;
  }

  /** Verifies and installs a manifest with its media. Returns it, or throws the coded reason (also reported). */
  async install(raw: unknown, source: MediaSource): Promise<SignedManifest> {
    const now = this.o.now();
    let claimed: unknown;
    try {
      const root = this.root();
      if (!root) throw new LoaError('LOA_ERR_ROOT_INVALID', 'no trust root is installed: provision the device first (loa agent init)');
      const env = verifyManifest(raw, { root, deviceId: this.o.deviceId, currentVersion: this.currentVersion(), now });
      claimed = env.signed.version;
      for (const m of env.signed.media) {
        if (this.o.media.has(m.sha256, m.size)) continue;
        const stream = source(m.sha256);
        if (!stream) throw new LoaError('LOA_ERR_MANIFEST_MEDIA_MISSING', `media ${m.sha256.slice(0, 12)}… of manifest v${env.signed.version} is not in the bundle`, { details: { sha256: m.sha256 } });
        await this.o.media.put(m, stream);
      }
      this.o.db.transaction(() => {
        this.o.db.prepare('INSERT INTO manifests (version, body, accepted_at) VALUES (?, ?, ?)').run(env.signed.version, canonicalize(env), now);
        this.o.outbox.add('manifest.accepted', `accepted:${env.signed.version}`, now, { version: env.signed.version, media: env.signed.media.length, entries: env.signed.schedule.length });
      })();
      // A copy outside the database: a corrupt database is rebuilt from it (store/recover.ts).
      const dir = dataDirOf(this.o.db);
      if (dir) writeManifestSnapshot(dir, JSON.parse(canonicalize(env)), now);
      // Files an emergency order in force still needs are kept too.
      this.o.media.gc(new Set([...env.signed.media.map((m) => m.sha256), ...(this.o.keepMedia?.() ?? [])]));
      this.o.db.prepare('DELETE FROM manifests WHERE version < ?').run(env.signed.version);
      this.o.log.info({ version: env.signed.version }, 'manifest accepted');
      return env;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_MANIFEST_INVALID');
      this.o.outbox.add('manifest.rejected', `rejected:${now}:${err.code}:${String(claimed)}`, now, { code: err.code, message: err.message, ...(claimed !== undefined ? { version: claimed } : {}), current: this.currentVersion() });
      this.o.log.warn({ code: err.code, reason: err.message }, 'manifest rejected; the current one stays in force');
      throw err;
    }
  }
}
