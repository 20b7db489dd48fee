/**
 * The launcher (agent/update/launcher.ts) as the real POSIX sh script, run by /bin/sh against a temporary
 * install root with two tiny releases whose bin/loa.js prints its version and exits with $EXIT: it counts the
 * starts of a pending version, rolls back at the crash-loop limit or when the health check asked for it, and
 * picks up where it left off after a power cut at any step.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAX_BOOT_ATTEMPTS, writeLauncher } from '../../../agent/update/launcher.js';
import { InstallLayout } from '../../../agent/update/layout.js';

const base = mkdtempSync(join(tmpdir(), 'loa-launch-'));
after(() => rmSync(base, { recursive: true, force: true }));
let seq = 0;

/** An install root with releases 1.0.0 (previous) and 1.1.0 (current, pending), and a data dir. */
function device(o: { pending?: boolean } = {}): { root: string; data: string; layout: InstallLayout; upd: string } {
  const root = join(base, `d${++seq}`, 'opt');
  const data = join(base, `d${seq}`, 'data');
  const layout = new InstallLayout(root);
  for (const v of ['1.0.0', '1.1.0']) {
    mkdirSync(join(layout.releaseDir(v), 'bin'), { recursive: true });
    writeFileSync(join(layout.releaseDir(v), 'bin', 'loa.js'),
      `console.log(JSON.stringify({ version: ${JSON.stringify(v)}, args: process.argv.slice(2), root: process.env.LOA_INSTALL_ROOT }));\nprocess.exit(Number(process.env.EXIT ?? 0));\n`);
  }
  layout.switchLink('previous', '1.0.0');
  layout.switchLink('current', '1.1.0');
  writeLauncher(root);
  const upd = join(data, 'update');
  mkdirSync(upd, { recursive: true });
  if (o.pending !== false) writeFileSync(join(upd, 'pending.json'), JSON.stringify({ deploymentId: 'dep-1', version: '1.1.0', from: '1.0.0', switchedAt: 1, healthWindowSec: 10 }));
  return { root, data, layout, upd };
}

function launch(root: string, data: string, exit = 1, dataArg: 'split' | 'equals' = 'split'): { status: number | null; version: string; args: string[]; root: string } {
  const dd = dataArg === 'split' ? ['--data-dir', data] : [`--data-dir=${data}`];
  const r = spawnSync('/bin/sh', [join(root, 'loa-launch'), 'agent', 'run', ...dd], { encoding: 'utf8', env: { ...process.env, LOA_NODE: process.execPath, EXIT: String(exit) } });
  assert.equal(r.stderr, '', 'the launcher writes nothing to stderr');
  const out = JSON.parse(r.stdout.trim()) as { version: string; args: string[]; root: string };
  return { status: r.status, ...out };
}

test('without a pending version the launcher execs current with the arguments, the exit status and LOA_INSTALL_ROOT, and counts nothing', () => {
  const d = device({ pending: false });
  const r = launch(d.root, d.data, 7);
  assert.deepEqual([r.status, r.version, r.args], [7, '1.1.0', ['agent', 'run', '--data-dir', d.data]]);
  assert.equal(r.root, d.root);
  assert.equal(existsSync(join(d.upd, 'attempts')), false);
});

test(`a pending version that keeps failing runs ${MAX_BOOT_ATTEMPTS} times, then the launcher goes back to previous and records LOA_ERR_UPDATE_CRASH_LOOP`, () => {
  const d = device();
  for (let i = 1; i <= MAX_BOOT_ATTEMPTS; i++) {
    assert.equal(launch(d.root, d.data).version, '1.1.0', `start ${i} runs the pending version`);
    assert.equal(readFileSync(join(d.upd, 'attempts'), 'utf8').trim(), String(i));
  }
  const r = launch(d.root, d.data, 0);
  assert.equal(r.version, '1.0.0');
  assert.equal(d.layout.linkVersion('current'), '1.0.0');
  assert.equal(readFileSync(join(d.upd, 'rollback'), 'utf8').split('\n')[0], 'LOA_ERR_UPDATE_CRASH_LOOP');
  assert.equal(existsSync(join(d.upd, 'pending.json')), false);
  assert.equal((JSON.parse(readFileSync(join(d.upd, 'rolled-back.json'), 'utf8')) as { version: string }).version, '1.1.0');
  assert.equal(existsSync(join(d.upd, 'attempts')), false);
  assert.equal(launch(d.root, d.data, 0).version, '1.0.0', 'and stays there');
});

test('a rollback the health check wrote is carried out at the next start, whatever the attempt count, also with --data-dir=DIR', () => {
  const d = device();
  writeFileSync(join(d.upd, 'attempts'), '1\n');
  writeFileSync(join(d.upd, 'rollback'), 'LOA_ERR_UPDATE_HEALTH\nbroker: not connected to the broker\n');
  const r = launch(d.root, d.data, 0, 'equals');
  assert.equal(r.version, '1.0.0');
  assert.equal(d.layout.linkVersion('current'), '1.0.0');
  assert.equal(readFileSync(join(d.upd, 'rollback'), 'utf8').split('\n')[0], 'LOA_ERR_UPDATE_HEALTH', 'the reason stays for the old agent to report');
  assert.ok(existsSync(join(d.upd, 'rolled-back.json')));
});

test('a power cut at each step of the rollback is picked up at the next start and ends the same way', () => {
  const steps: [string, (d: ReturnType<typeof device>) => void][] = [
    ['attempts written, rollback not yet', (d) => writeFileSync(join(d.upd, 'attempts'), `${MAX_BOOT_ATTEMPTS}\n`)],
    ['a half-written attempts file', (d) => {
      writeFileSync(join(d.upd, 'attempts'), `${MAX_BOOT_ATTEMPTS}\n`);
      writeFileSync(join(d.upd, '.attempts.tmp'), '');
      writeFileSync(join(d.upd, 'rollback'), 'LOA_ERR_UPDATE_CRASH_LOOP\nx\n');
    }],
    ['rollback written, current not switched', (d) => writeFileSync(join(d.upd, 'rollback'), 'LOA_ERR_UPDATE_CRASH_LOOP\nx\n')],
    ['the temporary link made, not renamed', (d) => {
      writeFileSync(join(d.upd, 'rollback'), 'LOA_ERR_UPDATE_CRASH_LOOP\nx\n');
      symlinkSync('releases/1.0.0', join(d.root, '.current.launch.tmp'));
    }],
    ['current switched, pending.json not renamed', (d) => {
      writeFileSync(join(d.upd, 'rollback'), 'LOA_ERR_UPDATE_CRASH_LOOP\nx\n');
      d.layout.switchLink('current', '1.0.0');
    }],
  ];
  for (const [name, cut] of steps) {
    const d = device();
    cut(d);
    const r = launch(d.root, d.data, 0);
    assert.equal(r.version, '1.0.0', name);
    assert.equal(d.layout.linkVersion('current'), '1.0.0', name);
    assert.equal(existsSync(join(d.upd, 'pending.json')), false, name);
    assert.ok(existsSync(join(d.upd, 'rolled-back.json')), name);
    assert.equal(readFileSync(join(d.upd, 'rollback'), 'utf8').split('\n')[0], 'LOA_ERR_UPDATE_CRASH_LOOP', name);
    assert.equal(existsSync(join(d.root, '.current.launch.tmp')), false, name);
  }
  // the last step done, the attempts file not yet removed: a plain start of previous
  const d = device({ pending: false });
  d.layout.switchLink('current', '1.0.0');
  writeFileSync(join(d.upd, 'attempts'), '4\n');
  assert.equal(launch(d.root, d.data, 0).version, '1.0.0');
});

test('an attempts file that is not a number counts as zero', () => {
  const d = device();
  writeFileSync(join(d.upd, 'attempts'), 'garbage');
  assert.equal(launch(d.root, d.data).version, '1.1.0');
  assert.equal(readFileSync(join(d.upd, 'attempts'), 'utf8').trim(), '1');
});
