#!/usr/bin/env node
// `npm run soak`: the reliability suite (test/reliability: chaos, storage, attacks, fuzz, soak) in long mode,
// then its figures as a table and as bench/results/reliability-<UTC stamp>.json. Run after `npm run build`
// (the npm script does both). Exit code: that of the test run (non-zero when any test failed).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);

const HELP = `Usage: npm run soak [-- --only <fragment>]

Runs every reliability test (test/reliability: chaos, storage, attacks, fuzz, soak) in long mode
(LOA_RELIABILITY=long): the full iteration counts and sizes, e.g. 2,000 simulated devices for 30 minutes
in the soak. It takes a long time (the soak alone is 30 minutes plus set-up). Then it prints a table
(suite | what | figures | reproduce) and writes bench/results/reliability-<UTC stamp>.json with every
figure row and the run's metadata (CPUs, Node version, git commit, duration).

Options:
  --only <fragment>  run only the reliability test files whose path contains <fragment>
                     (e.g. soak, chaos, fuzz, kill9)
  -h, --help         this text

Environment (optional):
  LOA_TEST_TIMEOUT_MS   per-test timeout (default here: 3 hours)
  LOA_SOAK_MINUTES, LOA_SOAK_DEVICES, LOA_SOAK_TELEMETRY_S, LOA_SOAK_PLAYS_S
                        scale the soak (a shorter run for a check; the report records the overrides)

Exit code: 0 when every test passed, 1 when one failed, 2 for a usage error.`;

function parseArgs(argv) {
  let only = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') return { help: true };
    if (a === '--only') {
      only = argv[++i];
      if (!only) return { error: '--only needs a fragment, e.g. --only soak' };
    } else if (a.startsWith('--only=')) only = a.slice(7);
    else return { error: `unknown argument: ${a}` };
  }
  return { only };
}

function walk(dir) {
  if (!existsSync(dir)) return [];
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

function git(args) {
  const r = spawnSync('git', args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (args.error) {
  console.error(`npm run soak: ${args.error}\n\n${HELP}`);
  process.exit(2);
}
const reportLib = join(root, 'dist', 'scripts', 'lib', 'reliability-report.js');
if (!existsSync(reportLib)) {
  console.error('npm run soak: dist/ is missing; run `npm run build` first (the npm script does)');
  process.exit(2);
}
const { readFigureRows, writeReport, formatTable } = await import(reportLib);

const files = walk(join('dist', 'test', 'reliability')).filter((f) => !args.only || relative(join('dist', 'test', 'reliability'), f).includes(args.only));
if (!files.length) {
  console.error(`npm run soak: no reliability test file${args.only ? ` matches "${args.only}"` : ''} under dist/test/reliability`);
  process.exit(2);
}

const tmp = mkdtempSync(join(os.tmpdir(), 'loa-soak-'));
const figuresFile = join(tmp, 'figures.jsonl');
const overrides = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^LOA_SOAK_/.test(k)));
const env = {
  ...process.env,
  LOA_RELIABILITY: 'long',
  LOA_TEST_TIMEOUT_MS: process.env.LOA_TEST_TIMEOUT_MS ?? String(3 * 3600_000),
  LOA_FIGURES_FILE: figuresFile,
};
const started = new Date();
console.log(`[soak] long mode: ${files.length} test file(s), started ${started.toISOString()}${Object.keys(overrides).length ? `, overrides ${JSON.stringify(overrides)}` : ''}`);
for (const f of files) console.log(`[soak]   ${relative('dist', f)}`);

const child = spawn(process.execPath, [join('scripts', 'run-tests.mjs'), ...files], { stdio: 'inherit', env });
const stop = (sig) => child.kill(sig);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
const heartbeat = setInterval(() => {
  const min = Math.floor((Date.now() - started.getTime()) / 60_000);
  console.log(`[soak] ${min} min elapsed · ${readFigureRows(figuresFile).rows.length} figure row(s) recorded so far`);
}, 60_000);
const exitCode = await new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 1))));
clearInterval(heartbeat);

const finished = new Date();
const { rows, badLines } = readFigureRows(figuresFile);
const cpus = os.cpus();
const report = {
  kind: 'loaphuong-reliability', version: 1,
  meta: {
    startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
    mode: 'long', only: args.only ?? null, files: files.map((f) => relative('dist', f).replace(/\.js$/, '.ts')), exitCode, passed: exitCode === 0,
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memGb: Math.round(os.totalmem() / 1024 ** 3 * 10) / 10, node: process.version, platform: `${os.platform()} ${os.release()}` },
    git: { commit: git(['rev-parse', 'HEAD']), dirty: (() => { const s = git(['status', '--porcelain', '--untracked-files=no']); return s === null ? null : s.length > 0; })() },
    overrides,
  },
  rows, badLines,
};
const out = writeReport(join(root, 'bench', 'results'), report);
rmSync(tmp, { recursive: true, force: true });
console.log(`\n${formatTable(rows)}\n`);
console.log(`[soak] ${exitCode === 0 ? 'all tests passed' : `FAILED (exit ${exitCode})`} in ${Math.round(report.meta.durationS / 60)} min · ${rows.length} figure row(s) · ${out}`);
if (badLines.length) console.log(`[soak] ${badLines.length} line(s) of the figures file were not rows (kept in the report)`);
process.exit(exitCode === 0 ? 0 : 1);
