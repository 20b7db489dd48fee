import { randomBytes } from 'node:crypto';

/** A random identifier with a readable prefix, e.g. `prg-3f9a0c1b2d4e`. Matches the shared Id pattern. */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** Text with LIKE's wildcards escaped (use with `ESCAPE '\\'`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQL `LIKE` prefix pattern for a materialised zone path, with LIKE's wildcards escaped. */
export function likePrefix(path: string): string {
  return `${escapeLike(path)}%`;
}

/** `(col LIKE ? OR …)` matching any of the subtrees, with its arguments. */
export function inSubtrees(column: string, paths: readonly string[]): { sql: string; args: string[] } {
  return { sql: `(${paths.map(() => `${column} LIKE ? ESCAPE '\\'`).join(' OR ')})`, args: paths.map(likePrefix) };
}
