/**
 * Release artifacts for the self-update tests (issue 11), built ONCE per build of dist/ and shared by the test
 * files: A with the real `loa release build`, B (and a lower 0.9.0) re-versioned from A's tree, C broken for
 * real (its agent module throws when loaded). `loa release build` takes 10–40 s on a loaded machine, so the
 * artifacts are cached under `<tmpdir>/loa-upd-releases/<key>/`, where the key hashes the path and content of
 * every file of ours the build packs (dist/ without test/, bench/ and tsc's build info, bin/, package.json, hardware-profiles/):
 * any change of the compiled code makes a new key, so a cached artifact always holds the code under test.
 * A lock folder (mkdir is atomic) keeps two test files from building at once; a lock whose owner died is taken.
 * Artifacts are only ever read after `done` is written, and signing (per test file, per trust) stays per file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRelease, reversions } from './update-fleet.js';

export interface ReleaseSet {
  A: string;
  B: string;
  C: string;
  lower: string;
}

const repo = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');

function walk(dir: string, skip: (rel: string) => boolean, rel = '', out: string[] = []): string[] {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip(r)) continue;
    const st = statSync(join(dir, r));
    if (st.isDirectory()) walk(dir, skip, r, out);
    else out.push(`${r}\t${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex')}`);
  }
  return out;
}

/** The cache key: what `loa release build` would pack from this checkout, as it is on disk now. */
export function buildKey(): string {
  const h = createHash('sha256');
  const files = walk(repo, (r) => r === 'dist/test' || r === 'dist/bench' || r === 'dist/.tsbuildinfo' || (!r.includes('/') && !['dist', 'bin', 'package.json', 'hardware-profiles'].includes(r)));
  h.update(files.join('\n'));
  return h.digest('hex').slice(0, 16);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function lock(dir: string): Promise<() => void> {
  const l = join(dir, '.lock');
  for (;;) {
    try {
      mkdirSync(l);
      writeFileSync(join(l, 'pid'), String(process.pid));
      return () => rmSync(l, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(l, 'pid'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      if (Number.isInteger(owner) && !alive(owner)) rmSync(l, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200)); // waiting for another process's lock, not synchronising a test
    }
  }
}

/** The four artifacts for this build of dist/, built on first use (blocking the event loop while `loa release build` runs). */
export async function releaseSet(): Promise<ReleaseSet> {
  const base = join(tmpdir(), 'loa-upd-releases');
  const key = buildKey();
  const dir = join(base, key);
  mkdirSync(dir, { recursive: true });
  const set: ReleaseSet = {
    A: join(dir, `loaphuong-agent-1.0.0-linux-${process.arch}.tar.gz`),
    B: join(dir, `loaphuong-agent-1.1.0-linux-${process.arch}.tar.gz`),
    C: join(dir, `loaphuong-agent-1.2.0-linux-${process.arch}.tar.gz`),
    lower: join(dir, `loaphuong-agent-0.9.0-linux-${process.arch}.tar.gz`),
  };
  if (existsSync(join(dir, 'done'))) return set;
  const unlock = await lock(dir);
  try {
    if (existsSync(join(dir, 'done'))) return set;
    const work = join(dir, `.build-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work);
    const a = buildRelease(work, '1.0.0');
    const [b, lower, c] = await reversions(a, work, [{ version: '1.1.0' }, { version: '0.9.0' },
      { version: '1.2.0', edit: (top) => writeFileSync(join(top, 'dist', 'agent', 'agent.js'), 'throw new Error("release C is broken");\n') }]);
    for (const [from, to] of [[a, set.A], [b!, set.B], [c!, set.C], [lower!, set.lower]] as const) renameSync(from, to);
    rmSync(work, { recursive: true, force: true });
    writeFileSync(join(dir, 'done'), new Date().toISOString());
    // older builds' artifacts (an hour old: no test file of a running `npm test` still reads them)
    for (const old of readdirSync(base)) {
      const p = join(base, old);
      if (old !== key && Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
    }
  } finally {
    unlock();
  }
  return set;
}
