import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { checkArtifact } from '../../shared/release.js';
import type { Release } from '../../shared/schemas/release.js';
import { openFileRange, type FileRangeResponse } from '../media/serve.js';
import type { RequestHeaders } from '../media/range.js';
import { receiveUpload } from '../media/upload.js';

export interface ReleaseStoreOptions {
  /** `<dataDir>/releases`: artifacts by sha256, and `.tmp/` for uploads in flight. */
  dir: string;
}

/** An artifact checked against its signed metadata, in a temp file until `commit` renames it into place. */
export interface StagedArtifact {
  tmpPath: string;
  sha256: string;
  size: number;
}

/**
 * The content-addressed store of agent release artifacts (issue 11). An upload streams into `.tmp/` (hashed,
 * capped at the signed size), is checked against the signed size and SHA-256, and only then is renamed to
 * `<sha256>`; a failed or interrupted upload leaves nothing (the temp file is removed, and `init` clears any
 * left by a crash).
 */
export class ReleaseStore {
  private readonly tmpDir: string;

  constructor(private readonly o: ReleaseStoreOptions) {
    this.tmpDir = join(o.dir, '.tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (const f of await readdir(this.tmpDir)) await rm(join(this.tmpDir, f), { force: true });
  }

  /** Removes artifacts without a release row: a crash between the rename and the row's commit. */
  async sweep(known: (sha256: string) => boolean): Promise<string[]> {
    const gone: string[] = [];
    for (const f of await readdir(this.o.dir)) {
      if (/^[0-9a-f]{64}$/.test(f) && !known(f)) {
        await rm(join(this.o.dir, f), { force: true });
        gone.push(f);
      }
    }
    return gone;
  }

  pathOf(sha256: string): string {
    return join(this.o.dir, sha256);
  }

  /** Streams `source` into a temp file; throws LOA_ERR_RELEASE_HASH (nothing kept) unless it is the signed artifact. */
  async stage(source: Readable, meta: Release): Promise<StagedArtifact> {
    const tmpPath = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
    // One byte over the signed size is enough to know it is not the signed artifact.
    const r = await receiveUpload(source, tmpPath, { maxBytes: meta.size + 1 }).catch((e: unknown) => {
      // More bytes than signed: not the signed artifact (receiveUpload has removed the temp file).
      if ((e as { code?: string }).code === 'LOA_ERR_INPUT_TOO_LARGE') checkArtifact(meta, { sha256: 'more bytes than signed', size: meta.size + 1 });
      throw e;
    });
    try {
      checkArtifact(meta, { sha256: r.sha256, size: r.size });
    } catch (e) {
      await rm(tmpPath, { force: true });
      throw e;
    }
    return { tmpPath, sha256: r.sha256, size: r.size };
  }

  /** Moves a staged artifact into place (atomic rename; the same bytes may already be there). */
  async commit(s: StagedArtifact): Promise<void> {
    await rename(s.tmpPath, this.pathOf(s.sha256));
  }

  async discard(s: StagedArtifact): Promise<void> {
    await rm(s.tmpPath, { force: true });
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  /** Range-aware read for `GET|HEAD /releases/:sha256` (resumable downloads). */
  openRange(sha256: string, req: { method?: string | undefined; headers: RequestHeaders }): Promise<FileRangeResponse> {
    return openFileRange(this.pathOf(sha256), req, { etag: sha256, mime: 'application/gzip' });
  }
}
