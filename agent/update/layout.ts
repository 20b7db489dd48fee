/**
 * The install layout of a self-updating receiver (issue 11):
 *
 *   <installRoot>/loa-launch            the stable launcher systemd runs (agent/update/launcher.ts)
 *   <installRoot>/releases/<version>/   unpacked artifacts, side by side (A/B and older)
 *   <installRoot>/current  → releases/<v>   the version the launcher starts
 *   <installRoot>/previous → releases/<v>   the version a rollback returns to
 *
 * A symlink is switched atomically: a new symlink under a temporary name, rename(2) over the old one, then an
 * fsync of the directory, so after a power cut `current` is either the old or the new target, never missing.
 */
import { existsSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncDir } from '../store/durable-file.js';

export const RELEASES_DIR = 'releases';
export const CURRENT_LINK = 'current';
export const PREVIOUS_LINK = 'previous';
export const LAUNCHER_NAME = 'loa-launch';

export class InstallLayout {
  constructor(readonly root: string) {}

  get releases(): string {
    return join(this.root, RELEASES_DIR);
  }

  releaseDir(version: string): string {
    return join(this.releases, version);
  }

  /** The version a link points to (`releases/<v>` → `<v>`), or null when the link is missing. */
  linkVersion(name: typeof CURRENT_LINK | typeof PREVIOUS_LINK): string | null {
    try {
      return basename(readlinkSync(join(this.root, name)));
    } catch {
      return null;
    }
  }

  /** Points `name` at releases/<version>, atomically, and makes the change durable. */
  switchLink(name: typeof CURRENT_LINK | typeof PREVIOUS_LINK, version: string): void {
    const tmp = join(this.root, `.${name}.${process.pid}.tmp`);
    rmSync(tmp, { force: true });
    symlinkSync(join(RELEASES_DIR, version), tmp);
    renameSync(tmp, join(this.root, name));
    fsyncDir(this.root);
  }

  has(version: string): boolean {
    return existsSync(join(this.releaseDir(version), 'bin', 'loa.js'));
  }
}

/** fsync(2) on a directory, so renames and new entries in it survive a power cut. */
export const fsyncDir = syncDir;

/** The folder this agent runs from (the one holding bin/ and dist/). */
export function packageRoot(): string {
  // dist/agent/update/layout.js → the package root three levels up.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/**
 * The install root when this agent runs from the release layout (`<root>/releases/<v>/`), else null (a
 * development checkout, or an install made before issue 11): such an agent cannot update itself.
 */
export function detectLayout(env: NodeJS.ProcessEnv = process.env): InstallLayout | null {
  const pkg = packageRoot();
  const fromEnv = env.LOA_INSTALL_ROOT;
  const guessed = basename(dirname(pkg)) === RELEASES_DIR ? dirname(dirname(pkg)) : null;
  const root = fromEnv && fromEnv.length > 0 ? fromEnv : guessed;
  return root ? new InstallLayout(root) : null;
}
