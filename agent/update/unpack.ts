/**
 * Unpacks a verified release artifact side by side (issue 11): into `releases/<version>.tmp`, checked, flushed
 * to disk, then renamed to `releases/<version>` in one rename(2). A power cut mid-unpack leaves only a `.tmp`
 * folder, which the next attempt removes; the running version is never touched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { LoaError } from '../../shared/errors.js';
import { failpoint } from '../../shared/failpoints.js';
import { fsyncDir, type InstallLayout } from './layout.js';

/** Flushes every file system's dirty pages (the unpacked tree holds thousands of files: one sync beats fsyncing each). */
export function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** Unpacks `artifact` as release `version` (no-op when it is already there); returns its folder. */
export async function unpackRelease(layout: InstallLayout, artifact: string, expect: { version: string; arch: string }): Promise<string> {
  const dest = layout.releaseDir(expect.version);
  if (layout.has(expect.version) && releaseJsonMatches(dest, expect)) return dest;
  const tmp = `${dest}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const top = `loaphuong-agent-${expect.version}/`;
  try {
    await extract({
      file: artifact, cwd: tmp, strip: 1, strict: true,
      filter: (path) => path === top || path.startsWith(top),
      onReadEntry: () => failpoint('update.mid-unpack'),
    });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new LoaError('LOA_ERR_UPDATE_UNPACK', `release ${expect.version} could not be unpacked: ${(e as Error).message}`, { cause: e });
  }
  if (!releaseJsonMatches(tmp, expect) || !existsSync(join(tmp, 'bin', 'loa.js'))) {
    rmSync(tmp, { recursive: true, force: true });
    throw new LoaError('LOA_ERR_UPDATE_UNPACK', `the artifact of release ${expect.version} does not hold ${top}release.json for ${expect.version} (${expect.arch}) and bin/loa.js`);
  }
  syncDisks();
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
  fsyncDir(layout.releases);
  return dest;
}

function releaseJsonMatches(dir: string, expect: { version: string; arch: string }): boolean {
  try {
    const r = JSON.parse(readFileSync(join(dir, 'release.json'), 'utf8')) as { version?: unknown; arch?: unknown };
    return r.version === expect.version && r.arch === expect.arch;
  } catch {
    return false;
  }
}

/**
 * First install of a release on a device (provisioning, tests): unpack, point `current` at it, write the
 * launcher. Later versions arrive through the updater.
 */
export async function installFirst(layout: InstallLayout, artifact: string, expect: { version: string; arch: string }): Promise<string> {
  mkdirSync(layout.releases, { recursive: true });
  const dir = await unpackRelease(layout, artifact, expect);
  layout.switchLink('current', expect.version);
  return dir;
}
