import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` so that a power cut leaves either the old or the new file, never a mix: write a
 * temp file in the same folder, fsync it, rename it over the target, then fsync the folder (the rename itself).
 * A failed write (ENOSPC) removes the temp file and throws: the old file stays.
 */
export function writeFileDurably(path: string, data: string | Buffer): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o644);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

/** fsyncs a folder, so that a rename or create inside it is on disk. */
export function syncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
