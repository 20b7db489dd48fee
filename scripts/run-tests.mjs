#!/usr/bin/env node
// `npm test`: type-check and build (tsc), lint (typescript-eslint, no warnings), then every test file under
// dist/test with node's test runner. The last line is always `N passed, N failed` (the two checks count as tests).
// Pass path fragments to run a subset: `npm test -- scheduler store`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
process.chdir(root);
const filters = process.argv.slice(2);
let passed = 0;
let failed = 0;

function step(name, cmd, args) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status === 0) { passed++; console.log(`✔ ${name}`); } else { failed++; console.log(`✖ ${name} (exit ${r.status})`); }
  return r.status === 0;
}

const missing = ['ffmpeg', 'sox', 'socat'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missing.length) {
  console.log(`! System tools missing: ${missing.join(', ')}. The tests that need them will fail.`);
  console.log('  Install them with: npm run setup:system   (runs scripts/install-system-deps.sh, needs root)');
}

const tscBin = join('node_modules', 'typescript', 'bin', 'tsc');
const eslintBin = join('node_modules', 'eslint', 'bin', 'eslint.js');
step('typecheck', process.execPath, [tscBin, '-p', 'tsconfig.json']);
if (!filters.length) step('lint', process.execPath, [eslintBin, '--max-warnings', '0', '.']);

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = [];
try { files = walk(join('dist', 'test')).sort(); } catch { /* no build output */ }
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (!files.length) {
  console.log('no test files found under dist/test');
  failed++;
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'loa-test-'));
  const tapFile = join(tmp, 'report.tap');
  const r = spawnSync(process.execPath, [
    '--enable-source-maps', '--test', '--test-concurrency=2', `--test-timeout=${process.env.LOA_TEST_TIMEOUT_MS ?? 120000}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ], { stdio: 'inherit', env: { ...process.env, LOA_LOG_LEVEL: process.env.LOA_LOG_LEVEL ?? 'silent' } });
  let tap = '';
  try { tap = readFileSync(tapFile, 'utf8'); } catch { /* runner died */ }
  const num = (k) => Number((tap.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  passed += num('pass');
  failed += num('fail') + num('cancelled');
  // node's summary counts tests, not suites: a failing before/after hook makes the run exit non-zero with
  // `# fail 0`. Count every failed top-level entry that the summary missed, so such a failure is never hidden.
  const topNotOk = (tap.match(/^not ok \d+ /gm) ?? []).length;
  if (r.status !== 0 && num('fail') + num('cancelled') === 0) failed += Math.max(1, topNotOk);
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
