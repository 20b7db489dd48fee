/**
 * `loa release build` (issue 11): stages the agent as a self-contained release — compiled JS (no tests, no
 * bench), bin/, package.json, hardware-profiles/ and the production dependency closure copied from the local
 * node_modules (no network) — checks that the staged agent runs, and packs it with node-tar (gzip) as
 * `loaphuong-agent-<version>-linux-<arch>.tar.gz` with one top folder `loaphuong-agent-<version>/`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { c as createTar } from 'tar';
import { LoaError } from '../../shared/errors.js';
import { SEMVER_PATTERN } from '../../shared/schemas/release.js';

/**
 * Dependencies the agent never loads: the controller's (it is loaded lazily, only by `loa controller`) and the
 * compiler. `checkStaged` proves it by running the staged agent without them.
 */
export const NOT_FOR_THE_AGENT: readonly string[] = [
  'typescript', 'fastify', 'fastify-plugin', '@fastify/cookie', '@fastify/multipart', '@fastify/rate-limit', '@fastify/static',
  '@fastify/swagger', '@fastify/swagger-ui', '@fastify/type-provider-typebox', 'aedes', 'aedes-persistence', 'exceljs',
  'csv-parse', 'csv-stringify', 'file-type', 'prom-client', 'fast-xml-parser', '@roamhq/wrtc',
];

export interface BuildOptions {
  /** The checkout to package (holds dist/, bin/, package.json, node_modules/). */
  source: string;
  version?: string;
  out: string;
  arch?: string;
  progress?: (line: string) => void;
  now?: number;
}

export interface BuildResult {
  artifact: string;
  version: string;
  arch: string;
  sha256: string;
  size: number;
  files: number;
  packages: number;
}

interface Pkg { name?: string; version?: string; engines?: { node?: string }; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }
const readPkg = (dir: string): Pkg => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Pkg;

/** Node's resolution of `name` from a package folder: its own node_modules, then each parent's. */
function resolvePackage(name: string, from: string, top: string): string | null {
  let dir = from;
  for (;;) {
    if (basename(dir) !== 'node_modules') {
      const cand = join(dir, 'node_modules', name);
      if (existsSync(join(cand, 'package.json'))) return cand;
    }
    const up = dirname(dir);
    if (dir === top || up === dir || !up.startsWith(top)) return null;
    dir = up;
  }
}

/** The production dependency closure of `roots` (package folders under `top`), following each package.json. */
export function dependencyClosure(top: string, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const queue: [string, string][] = roots.map((r) => [r, top]);
  while (queue.length) {
    const [name, from] = queue.shift()!;
    const dir = resolvePackage(name, from, top);
    if (!dir || seen.has(dir)) continue;
    seen.add(dir);
    const p = readPkg(dir);
    for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) queue.push([d, dir]);
    for (const d of Object.keys(p.peerDependencies ?? {})) if (resolvePackage(d, dir, top)) queue.push([d, dir]);
  }
  return [...seen].sort();
}

/** Files a package never needs at run time on `arch`: other platforms' prebuilt binaries, native sources. */
function pruneFilter(pkgRel: string, arch: string): (src: string) => boolean {
  const node = { x64: 'x64', arm64: 'arm64', arm: 'armhf' }[arch] ?? arch;
  return (src) => {
    const rel = src.split(sep).join('/');
    if (rel.endsWith('/node_modules')) return false; // nested packages are copied on their own
    if (pkgRel.endsWith('node_modules/koffi')) {
      const m = /\/build\/koffi\/([^/]+)/.exec(rel);
      if (m && m[1] !== `linux_${node}`) return false;
    }
    if (pkgRel.endsWith('node_modules/better-sqlite3')) {
      if (/\/better-sqlite3\/(deps|src)(\/|$)/.test(rel) || /\/build\/Release\/(obj|obj\.target|\.deps)(\/|$)/.test(rel) || /test_extension/.test(rel)) return false;
    }
    if (pkgRel.endsWith('bindings-cpp')) {
      const m = /\/prebuilds\/([^/]+)/.exec(rel);
      if (m && m[1] !== `linux-${arch}`) return false;
    }
    return true;
  };
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(dir, e.name)) : 1;
  return n;
}

/** Runs the staged agent: its CLI must load, and an agent must start and stop on the file-sink profile. */
export function checkStaged(stage: string): void {
  const loa = join(stage, 'bin', 'loa.js');
  const run = (args: string[], env: Record<string, string> = {}): string => {
    const r = spawnSync(process.execPath, [loa, ...args], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent', ...env }, timeout: 60_000 });
    if (r.status !== 0) throw new LoaError('LOA_ERR_RELEASE_BUILD', `the staged agent failed \`loa ${args.join(' ')}\`: ${(r.stderr || r.stdout).slice(0, 2000)}`);
    return r.stdout;
  };
  run(['agent', '--help']);
  const tmp = mkdtempSync(join(stage, '..', '.selftest-'));
  try {
    const out = run(['selftest', '--profile', join(stage, 'hardware-profiles', 'sim-file-sink.json'), '--data-dir', tmp, '--tone-ms', '100', '--json']);
    const r = JSON.parse(out) as { ok?: boolean; pass?: boolean };
    if (r.ok === false || r.pass === false) throw new LoaError('LOA_ERR_RELEASE_BUILD', `the staged agent's selftest failed: ${out.slice(0, 2000)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function buildRelease(o: BuildOptions): Promise<BuildResult> {
  const progress = o.progress ?? ((): void => undefined);
  const src = resolve(o.source);
  const pkg = readPkg(src);
  const version = o.version ?? pkg.version ?? '0.0.0';
  if (!new RegExp(SEMVER_PATTERN).test(version)) throw new LoaError('LOA_ERR_RELEASE_BUILD', `--version ${version} is not a semantic version (1.2.3 or 1.2.3-rc.1)`);
  const arch = o.arch ?? process.arch;
  if (arch !== process.arch) throw new LoaError('LOA_ERR_RELEASE_BUILD', `this machine is ${process.arch}: a release for ${arch} needs node_modules built on a ${arch} machine (native modules); build it there`);
  if (!existsSync(join(src, 'dist', 'scripts', 'loa.js'))) throw new LoaError('LOA_ERR_RELEASE_BUILD', `${src}/dist is missing: run \`npm run build\` first`);
  mkdirSync(o.out, { recursive: true });
  const name = `loaphuong-agent-${version}`;
  const artifact = join(resolve(o.out), `${name}-linux-${arch}.tar.gz`);
  if (existsSync(artifact)) throw new LoaError('LOA_ERR_RELEASE_BUILD', `${artifact} already exists`);
  const stageRoot = mkdtempSync(join(resolve(o.out), '.stage-'));
  const stage = join(stageRoot, name);
  try {
    progress(`staging ${name} for linux-${arch} in ${stage}`);
    mkdirSync(stage);
    cpSync(join(src, 'dist'), join(stage, 'dist'), {
      recursive: true,
      filter: (f) => {
        const rel = relative(join(src, 'dist'), f).split(sep);
        return !(rel[0] === 'test' || rel[0] === 'bench' || f.endsWith('.tsbuildinfo') || f.endsWith('.d.ts') || f.endsWith('.map'));
      },
    });
    cpSync(join(src, 'bin'), join(stage, 'bin'), { recursive: true });
    cpSync(join(src, 'hardware-profiles'), join(stage, 'hardware-profiles'), { recursive: true });
    const deps = Object.keys(pkg.dependencies ?? {}).filter((d) => !NOT_FOR_THE_AGENT.includes(d));
    const shipped: Pkg = { name: pkg.name ?? 'loaphuong', version, engines: pkg.engines ?? {}, dependencies: Object.fromEntries(deps.map((d) => [d, pkg.dependencies![d]!])) };
    writeFileSync(join(stage, 'package.json'), JSON.stringify({ ...shipped, type: 'module', private: true, bin: { loa: 'bin/loa.js' } }, null, 2) + '\n');
    progress(`dist/, bin/, hardware-profiles/ staged (${countFiles(join(stage, 'dist'))} compiled files)`);
    const closure = dependencyClosure(src, deps);
    for (const dir of closure) {
      const rel = relative(src, dir);
      const relPosix = rel.split(sep).join('/');
      cpSync(dir, join(stage, rel), { recursive: true, filter: pruneFilter(relPosix, arch) });
    }
    progress(`node_modules: ${closure.length} production packages (left out: ${NOT_FOR_THE_AGENT.join(', ')})`);
    const release = { format: 1, name: 'loaphuong-agent', version, platform: 'linux', arch, node: pkg.engines?.node ?? '>=20', builtAt: new Date(o.now ?? Date.now()).toISOString() };
    writeFileSync(join(stage, 'release.json'), JSON.stringify(release, null, 2) + '\n');
    progress('checking the staged agent runs: loa agent --help, loa selftest (sim profile)');
    checkStaged(stage);
    const files = countFiles(stage);
    progress(`packing ${files} files`);
    const tmp = `${artifact}.tmp`;
    let packed = 0;
    await createTar({
      gzip: { level: 9 }, file: tmp, cwd: stageRoot, portable: true, mtime: new Date(o.now ?? Date.now()),
      filter: () => {
        packed++;
        if (packed % 2000 === 0) progress(`packed ${packed} of ${files} files`);
        return true;
      },
    }, [name]);
    renameSync(tmp, artifact);
    const hash = createHash('sha256');
    await pipeline(createReadStream(artifact), hash);
    const sha256 = hash.digest('hex');
    const size = statSync(artifact).size;
    progress(`wrote ${artifact}: ${(size / 1048576).toFixed(1)} MiB, sha256 ${sha256}`);
    return { artifact, version, arch, sha256, size, files, packages: closure.length };
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
}
