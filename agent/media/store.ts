import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Db } from '../store/db.js';

const SHA = /^[0-9a-f]{64}$/;

/**
 * Content-addressed media (DESIGN §2/§4). A file lands under its sha256 only after it was streamed to a temp
 * file, hashed, size-checked and fsynced, then renamed atomically: a partial or corrupt file is never played.
 */
export class MediaStore {
  private readonly dir: string;
  private readonly tmp: string;

  constructor(private readonly options: { dataDir: string; db: Db; log: Logger; now: () => number }) {
    this.dir = join(options.dataDir, 'media');
    this.tmp = join(this.dir, '.tmp');
  }

  /** Creates the folders and removes temp files left by a crash. */
  init(): void {
    mkdirSync(this.tmp, { recursive: true });
    for (const f of readdirSync(this.tmp)) rmSync(join(this.tmp, f), { force: true });
  }

  pathOf(sha256: string): string {
    if (!SHA.test(sha256)) throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `not a sha256: ${sha256.slice(0, 80)}`);
    return join(this.dir, sha256);
  }

  /** True when the file is present, was verified on write, and still has its size. */
  has(sha256: string, size?: number): boolean {
    const row = this.options.db.prepare<[string], { size: number }>('SELECT size FROM media WHERE sha256 = ?').get(sha256);
    if (!row) return false;
    try {
      const st = statSync(this.pathOf(sha256));
      return st.size === row.size && (size === undefined || size === row.size);
    } catch {
      return false;
    }
  }

  /** Streams `source` into the store, checking its sha256 and size. Rejects with LOA_ERR_MEDIA_* and leaves nothing behind. */
  async put(expected: { sha256: string; size: number }, source: Readable): Promise<void> {
    if (this.has(expected.sha256, expected.size)) {
      source.destroy();
      return;
    }
    const tmpPath = join(this.tmp, `${expected.sha256}.${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let seen = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb): void {
        seen += chunk.length;
        if (seen > expected.size) {
          cb(new LoaError('LOA_ERR_MEDIA_SIZE_MISMATCH', `media ${expected.sha256.slice(0, 12)}… is larger than its declared ${expected.size} bytes`));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmpPath, { flags: 'wx', mode: 0o644 }));
      if (seen !== expected.size) throw new LoaError('LOA_ERR_MEDIA_SIZE_MISMATCH', `media ${expected.sha256.slice(0, 12)}… has ${seen} bytes; the manifest says ${expected.size}`);
      const got = hash.digest('hex');
      if (got !== expected.sha256) throw new LoaError('LOA_ERR_MEDIA_HASH_MISMATCH', `media file hashes to ${got.slice(0, 12)}…, expected ${expected.sha256.slice(0, 12)}…`, { details: { expected: expected.sha256, got } });
      const fh = await open(tmpPath, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmpPath, this.pathOf(expected.sha256));
      this.options.db
        .prepare('INSERT INTO media (sha256, size, verified_at) VALUES (?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, verified_at = excluded.verified_at')
        .run(expected.sha256, expected.size, this.options.now());
    } catch (e) {
      await rm(tmpPath, { force: true });
      if ((e as { code?: unknown }).code === 'ENOSPC') throw new LoaError('LOA_ERR_DISK_FULL', `media ${expected.sha256.slice(0, 12)}… could not be stored: the disk is full`, { cause: e });
      throw e instanceof LoaError ? e : new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `media ${expected.sha256.slice(0, 12)}… could not be stored: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Re-hashes a stored file. A corrupt one is removed from the store (and must be fetched again). */
  async verify(sha256: string): Promise<boolean> {
    const p = this.pathOf(sha256);
    if (!existsSync(p)) return this.forget(sha256);
    const hash = createHash('sha256');
    await pipeline(createReadStream(p), hash);
    if (hash.digest('hex') === sha256) return true;
    this.options.log.warn({ sha256 }, 'stored media is corrupt; removed');
    return this.forget(sha256);
  }

  /**
   * Re-hashes a stored file synchronously (before it is played: a file cut short or altered on disk since it
   * was verified must never reach the speakers). A corrupt or missing one is removed from the store.
   */
  verifySync(sha256: string): boolean {
    if (!this.has(sha256)) return this.forget(sha256);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    const fd = openSync(this.pathOf(sha256), 'r');
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    if (hash.digest('hex') === sha256) return true;
    this.options.log.warn({ sha256 }, 'stored media is corrupt; removed');
    return this.forget(sha256);
  }

  /** Every file the store has verified once (sha256s). */
  list(): string[] {
    return this.options.db.prepare<[], { sha256: string }>('SELECT sha256 FROM media ORDER BY sha256').all().map((r) => r.sha256);
  }

  private forget(sha256: string): false {
    this.options.db.prepare('DELETE FROM media WHERE sha256 = ?').run(sha256);
    rmSync(join(this.dir, sha256), { force: true });
    return false;
  }

  /** Deletes every stored file that `keep` does not name. Returns what was removed. */
  gc(keep: ReadonlySet<string>): string[] {
    const removed: string[] = [];
    const rows = this.options.db.prepare<[], { sha256: string }>('SELECT sha256 FROM media').all();
    for (const { sha256 } of rows) if (!keep.has(sha256)) removed.push(sha256);
    for (const f of readdirSync(this.dir)) if (SHA.test(f) && !keep.has(f) && !removed.includes(f)) removed.push(f);
    for (const sha of removed) this.forget(sha);
    if (removed.length) this.options.log.info({ removed: removed.length }, 'media garbage-collected');
    return removed;
  }
}
