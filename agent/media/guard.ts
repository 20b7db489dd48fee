import { AbortError, type Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { MediaEntry, SignedManifest } from '../../shared/schemas/manifest.js';
import { backoffDelay } from '../sync/backoff.js';
import type { Outbox } from '../store/outbox.js';
import type { MediaStore } from './store.js';

/**
 * Guards playback against media damaged on disk after it was verified (issue 10: a file cut short by a full
 * disk or a power cut, bytes flipped by a failing card). Every file is re-hashed before it is played and once
 * at start; a damaged one is removed, reported (`media.rejected`, LOA_ERR_MEDIA_STORED_CORRUPT), never played,
 * and fetched again from the controller with backoff while the manifest in force still names it.
 */
export class MediaGuard {
  private readonly wanted = new Set<string>();
  private readonly ctl = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly o: {
    media: MediaStore; outbox: Outbox; clock: Clock; log: Logger;
    current: () => SignedManifest | null;
    /** Fetches one file again (Sync.downloadMedia + MediaStore.put); rejects while sync is not running. */
    download: (entry: MediaEntry, signal: AbortSignal) => Promise<void>;
  }) {}

  /** For the scheduler: true only when the file is in the store AND still hashes to its name. */
  playable(sha256: string): boolean {
    if (!this.o.media.has(sha256)) {
      this.want(sha256);
      return false;
    }
    if (this.o.media.verifySync(sha256)) return true;
    this.reject(sha256, 'before_play');
    return false;
  }

  /** Re-hashes every stored file, then asks for every file of the manifest in force that is not there. */
  async checkAll(): Promise<number> {
    let bad = 0;
    for (const sha of this.o.media.list()) {
      if (this.ctl.signal.aborted) return bad;
      if (!(await this.o.media.verify(sha))) {
        bad++;
        this.reject(sha, 'start');
      }
    }
    for (const m of this.o.current()?.signed.media ?? []) if (!this.o.media.has(m.sha256, m.size)) this.want(m.sha256);
    return bad;
  }

  stop(): Promise<void> {
    this.ctl.abort();
    return this.running ?? Promise.resolve();
  }

  private reject(sha256: string, when: 'start' | 'before_play'): void {
    const now = this.o.clock.now();
    const err = new LoaError('LOA_ERR_MEDIA_STORED_CORRUPT', `stored media ${sha256.slice(0, 12)}… no longer matches its sha256; removed and fetched again`);
    this.o.outbox.add('media.rejected', `stored-corrupt:${sha256}:${now}`, now, { code: err.code, message: err.message, sha256, when });
    this.o.log.error({ code: err.code, sha256, when }, err.message);
    this.want(sha256);
  }

  private want(sha256: string): void {
    if (this.ctl.signal.aborted || this.wanted.has(sha256)) return;
    if (!this.o.current()?.signed.media.some((m) => m.sha256 === sha256)) return;
    this.wanted.add(sha256);
    this.running ??= this.repairLoop().finally(() => {
      this.running = null;
      if (this.wanted.size && !this.ctl.signal.aborted) this.running = this.repairLoop();
    });
  }

  private async repairLoop(): Promise<void> {
    let attempt = 0;
    while (this.wanted.size && !this.ctl.signal.aborted) {
      const sha = this.wanted.values().next().value!;
      const entry = this.o.current()?.signed.media.find((m) => m.sha256 === sha);
      if (!entry || this.o.media.has(sha, entry.size)) {
        this.wanted.delete(sha);
        continue;
      }
      try {
        await this.o.download(entry, this.ctl.signal);
        this.wanted.delete(sha);
        attempt = 0;
        this.o.log.info({ sha256: sha }, 'damaged or missing media fetched again');
      } catch (e) {
        if (this.ctl.signal.aborted) return;
        const err = toLoaError(e, 'LOA_ERR_SYNC_DOWNLOAD');
        this.o.log.warn({ sha256: sha, code: err.code }, `media could not be fetched again yet: ${err.message}`);
        try {
          await this.o.clock.sleep(backoffDelay(attempt++, { minMs: 1000, maxMs: 60_000 }), this.ctl.signal);
        } catch (s) {
          if (!(s instanceof AbortError)) throw s;
          return;
        }
      }
    }
  }
}
