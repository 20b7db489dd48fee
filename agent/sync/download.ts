import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { MediaEntry } from '../../shared/schemas/manifest.js';
import { networkError, responseError, type ControllerHttp } from './http.js';

const SHA = /^[0-9a-f]{64}$/;

export interface MediaDownloaderOptions {
  dataDir: string;
  http: ControllerHttp;
  log: Logger;
  /** A download that receives nothing for this long is cut and resumes later (default 60 s). */
  idleTimeoutMs?: number;
  /** Where partials go (default `<dataDir>/media/.partial`; agent releases use `<dataDir>/update/download`). */
  dir?: string;
  /** Called after each chunk is written, with the bytes the partial now holds. */
  onProgress?: (sha256: string, bytes: number) => void;
}

/**
 * Resumable media downloads (DESIGN §3). Bytes land in `<dataDir>/media/.partial/<sha256>`; the next attempt
 * asks for `Range: bytes=<partial size>-` and appends on 206, or starts over on 200. A download never grows
 * past the size the signed manifest declares, and a finished file is hashed before it is offered to the media
 * store, which checks it again while it copies it in. A cut connection leaves the partial for the next attempt.
 */
export class MediaDownloader {
  readonly dir: string;

  constructor(private readonly o: MediaDownloaderOptions) {
    this.dir = o.dir ?? join(o.dataDir, 'media', '.partial');
  }

  partialPath(sha256: string): string {
    if (!SHA.test(sha256)) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `not a sha256: ${sha256.slice(0, 80)}`);
    return join(this.dir, sha256);
  }

  /** Bytes already downloaded for this file. */
  have(sha256: string): number {
    try {
      return statSync(this.partialPath(sha256)).size;
    } catch {
      return 0;
    }
  }

  /** Where the file is served: the entry's own `url` when it has one, else `/media/<sha256>` on the controller. */
  urlOf(entry: MediaEntry): URL {
    return this.o.http.url(entry.url ?? `media/${entry.sha256}`);
  }

  /** Downloads (or finishes) one file into its partial. Throws LOA_ERR_SYNC_DOWNLOAD when cut, keeping what arrived. */
  async fetch(entry: MediaEntry, signal: AbortSignal): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const path = this.partialPath(entry.sha256);
    let have = this.have(entry.sha256);
    if (have > entry.size) {
      rmSync(path, { force: true });
      have = 0;
    }
    if (have < entry.size) await this.transfer(entry, path, have, signal);
    await this.checkHash(entry, path);
  }

  /** A finished partial as a stream (the MediaSource for ManifestManager.install), or null. */
  open(sha256: string): Readable | null {
    const path = this.partialPath(sha256);
    return existsSync(path) ? createReadStream(path) : null;
  }

  /** Removes partials: the given ones, or all of them. */
  clear(sha256s?: Iterable<string>): void {
    if (!existsSync(this.dir)) return;
    for (const f of sha256s ?? readdirSync(this.dir)) if (SHA.test(f)) rmSync(join(this.dir, f), { force: true });
  }

  private async transfer(entry: MediaEntry, path: string, have: number, signal: AbortSignal): Promise<void> {
    const url = this.urlOf(entry);
    const short = `${entry.sha256.slice(0, 12)}…`;
    const idle = new AbortController();
    const res = await this.o.http.get(url, have > 0 ? { range: `bytes=${have}-` } : {}, AbortSignal.any([signal, idle.signal]))
      .catch((e: unknown) => {
        throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', `media ${short} could not be requested: ${(e as Error).message}`, { cause: e, details: { sha256: entry.sha256, have } });
      });
    let offset: number;
    if (res.status === 206) {
      offset = contentRangeStart(res.headers.get('content-range'));
      if (offset !== have) {
        await res.body?.cancel();
        rmSync(path, { force: true });
        throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', `media ${short}: the server resumed at byte ${offset}, not ${have}; starting over`, { details: { sha256: entry.sha256, have, offset } });
      }
    } else if (res.status === 200) {
      offset = 0;
    } else {
      if (res.status === 416) rmSync(path, { force: true });
      const err = await responseError(res, url, 'LOA_ERR_SYNC_DOWNLOAD');
      throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', err.message, { details: { ...err.details, sha256: entry.sha256, have } });
    }

    const fh = await open(path, offset === 0 ? 'w' : 'a', 0o644);
    let written = offset;
    const timer = setTimeout(() => idle.abort(), this.o.idleTimeoutMs ?? 60_000);
    try {
      if (!res.body) throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', `media ${short}: empty response`);
      for await (const chunk of res.body) {
        timer.refresh();
        const b = Buffer.from(chunk as Uint8Array);
        if (written + b.length > entry.size) {
          await res.body.cancel().catch(() => undefined);
          await fh.truncate(0);
          throw new LoaError('LOA_ERR_MEDIA_SIZE_MISMATCH', `media ${short} is larger than the ${entry.size} bytes the manifest declares`, { details: { sha256: entry.sha256 } });
        }
        await fh.write(b);
        written += b.length;
        this.o.onProgress?.(entry.sha256, written);
      }
    } catch (e) {
      if (e instanceof LoaError) throw e;
      if ((e as { code?: unknown }).code === 'ENOSPC') {
        // A partial kept on a full disk only keeps it full: start over when there is room.
        await res.body?.cancel().catch(() => undefined);
        await fh.truncate(0).catch(() => undefined);
        written = offset = 0;
        rmSync(path, { force: true });
        throw new LoaError('LOA_ERR_DISK_FULL', `media ${short} could not be saved: the disk is full`, { cause: e, details: { sha256: entry.sha256 } });
      }
      throw networkError(url, e, 'LOA_ERR_SYNC_DOWNLOAD');
    } finally {
      clearTimeout(timer);
      await fh.datasync().catch(() => undefined);
      await fh.close();
      if (written !== offset) this.o.log.debug({ sha256: entry.sha256, from: offset, to: written, of: entry.size }, 'media bytes received');
    }
    if (written < entry.size) {
      throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', `media ${short}: the response ended at byte ${written} of ${entry.size}; it will resume`, { details: { sha256: entry.sha256, have: written } });
    }
  }

  /** A finished file whose hash is wrong is deleted (it will be fetched again from the start). */
  private async checkHash(entry: MediaEntry, path: string): Promise<void> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(path), hash);
    const got = hash.digest('hex');
    if (got !== entry.sha256) {
      rmSync(path, { force: true });
      throw new LoaError('LOA_ERR_MEDIA_HASH_MISMATCH', `downloaded media hashes to ${got.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…; it will be fetched again`, { details: { expected: entry.sha256, got } });
    }
  }
}

/** `bytes 100-999/1000` → 100; anything else → -1. */
export function contentRangeStart(header: string | null): number {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return m ? Number(m[1]) : -1;
}
