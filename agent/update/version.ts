/**
 * The version this agent runs: `release.json` at the root of an unpacked release artifact (made by
 * `loa release build`), or the package.json version of a development checkout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './layout.js';

export interface RunningRelease {
  version: string;
  arch: string;
  /** True when this agent comes from a release artifact (release.json present). */
  packaged: boolean;
}

export function runningRelease(root = packageRoot()): RunningRelease {
  try {
    const r = JSON.parse(readFileSync(join(root, 'release.json'), 'utf8')) as { version?: unknown; arch?: unknown };
    if (typeof r.version === 'string') return { version: r.version, arch: typeof r.arch === 'string' ? r.arch : process.arch, packaged: true };
  } catch {
    // not a release artifact
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  return { version: typeof pkg.version === 'string' ? pkg.version : '0.0.0', arch: process.arch, packaged: false };
}
