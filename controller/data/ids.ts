import { randomBytes } from 'node:crypto';

/** A random identifier with a readable prefix, e.g. `prg-3f9a0c1b2d4e`. Matches the shared Id pattern. */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** SQL `LIKE` prefix pattern for a materialised zone path, with LIKE's wildcards escaped. */
export function likePrefix(path: string): string {
  return `${path.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
