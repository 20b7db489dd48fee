import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseFdLimits, planFds, FD_MARGIN } from '../../agent/sim/fd-limit.js';
import { identitiesFor, loadState, saveState, simDeviceId } from '../../agent/sim/identities.js';
import { Limiter } from '../../agent/sim/limiter.js';
import { connectedLine, orderLine, percentileOf } from '../../agent/sim/progress.js';
import { ReplaySet } from '../../agent/sim/replay.js';
import { defaultMqttUrl, simPassword, startSim } from '../../agent/sim/run.js';
import { isLoaError } from '../../shared/errors.js';

const LOA = join(process.cwd(), 'bin', 'loa.js');

describe('loa sim parts', () => {
  it('reads the open-file limits from /proc and plans against the hard limit (node raises its soft limit itself): enough, or short with how many fit', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    assert.deepEqual(parseFdLimits(text), { soft: 1024, hard: 524288 });
    assert.deepEqual(parseFdLimits('Max open files            unlimited            unlimited            files'), { soft: null, hard: null });
    assert.equal(parseFdLimits('nothing here'), null);
    assert.deepEqual(planFds(900, { soft: 1024, hard: 4096 }), { kind: 'ok' });
    assert.deepEqual(planFds(5000, { soft: 1024, hard: 524288 }), { kind: 'ok' }, 'node raises its soft limit to the hard one');
    assert.deepEqual(planFds(5000, { soft: 1024, hard: 4096 }), { kind: 'short', max: 4096 - FD_MARGIN, limit: 4096 });
    assert.deepEqual(planFds(5000, null), { kind: 'ok' }, 'no /proc: not checked');
    // That is why the workers need no `ulimit -n` of their own: a node started with a soft limit of 256 runs with the hard limit.
    const hard = parseFdLimits(readFileSync('/proc/self/limits', 'utf8'))?.hard;
    const print = 'process.stdout.write(require("fs").readFileSync("/proc/self/limits","utf8"))';
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -Sn 256 && exec "$@"', 'sh', process.execPath, '-e', print], { encoding: 'utf8' });
    assert.equal(parseFdLimits(r.stdout)?.soft, hard);
  });

  it('replay set: refuses a nonce or a seq seen before, and forgets them once the order expired', () => {
    const s = new ReplaySet();
    s.record('n1', 5, 1000, 0);
    assert.ok(s.seen('n1', 6));
    assert.ok(s.seen('n2', 5));
    assert.ok(!s.seen('n2', 6));
    s.prune(1000);
    assert.ok(!s.seen('n1', 5));
  });

  it('limiter: at most N holders, the others in arrival order', async () => {
    const l = new Limiter(2);
    const order: number[] = [];
    const r1 = await l.acquire();
    const r2 = await l.acquire();
    const p3 = l.acquire().then((r) => (order.push(3), r));
    const p4 = l.acquire().then((r) => (order.push(4), r));
    assert.deepEqual([l.inUse, l.queued], [2, 2]);
    r1();
    r1(); // a second release is ignored
    const r3 = await p3;
    assert.deepEqual([l.inUse, l.queued, order], [2, 1, [3]]);
    r2();
    (await p4)();
    r3();
    assert.deepEqual([l.inUse, l.queued, order], [0, 0, [3, 4]]);
  });

  it('identities: ids <prefix>-<zone>-00001…, a state file (0600) reused and extended, refused for another zone', () => {
    assert.equal(simDeviceId('sim', 'X001-C1', 0), 'sim-X001-C1-00001');
    const dir = mkdtempSync(join(tmpdir(), 'loa-sim-state-'));
    try {
      const file = join(dir, 'sub', 'state.json');
      const a = identitiesFor(3, { prefix: 'sim', zoneId: 'X1-C1', controller: 'http://c:8080' });
      a[0]!.imported = true;
      saveState(file, { version: 1, controller: 'http://c:8080', zoneId: 'X1-C1', prefix: 'sim', devices: a });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const st = loadState(file);
      const b = identitiesFor(5, { prefix: 'sim', zoneId: 'X1-C1', controller: 'http://c:8080', state: st });
      assert.deepEqual(b.slice(0, 3).map((d) => [d.id, d.privateKeyPem, d.imported]), a.map((d) => [d.id, d.privateKeyPem, d.imported]));
      assert.deepEqual(b.slice(3).map((d) => [d.id, d.imported]), [['sim-X1-C1-00004', false], ['sim-X1-C1-00005', false]]);
      assert.throws(() => identitiesFor(2, { prefix: 'sim', zoneId: 'Y1-C1', controller: 'http://c:8080', state: st }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_SIM_INPUT');
      writeFileSync(join(dir, 'bad.json'), '{"version":2}');
      assert.throws(() => loadState(join(dir, 'bad.json')), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_SIM_INPUT');
      assert.equal(loadState(join(dir, 'none.json')), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad options with LOA_ERR_SIM_INPUT before it contacts anything', async () => {
    const base = { controller: 'http://127.0.0.1:9', devices: 10, zone: 'X1-C1', username: 'u', password: 'p' };
    for (const bad of [{ controller: 'ftp://x' }, { controller: 'nope' }, { devices: 0 }, { devices: 1.5 }, { devices: 100_001 }, { zone: '../x' }, { workers: 0 }, { playMs: -1 }, { prefix: 'a b' }, { username: '' }, { password: '' }, { mqtt: 'http://x' }]) {
      await assert.rejects(startSim({ ...base, ...bad }, { line: () => undefined }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_SIM_INPUT', JSON.stringify(bad));
    }
    assert.equal(defaultMqttUrl('https://loa.example.vn/x'), 'mqtt://loa.example.vn:1883');
  });

  it('takes the password from --password-file or LOA_SIM_PASSWORD, and says which is missing without echoing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loa-sim-pw-'));
    try {
      writeFileSync(join(dir, 'pw'), 's3cret-pass\n');
      assert.equal(await simPassword({ passwordFile: join(dir, 'pw') }, {}), 's3cret-pass');
      assert.equal(await simPassword({}, { LOA_SIM_PASSWORD: 'from-env' }), 'from-env');
      await assert.rejects(simPassword({}, {}), /LOA_SIM_PASSWORD|password-file/);
      await assert.rejects(simPassword({ passwordFile: join(dir, 'missing') }, {}), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_SIM_INPUT' && /ENOENT/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('formats progress and summary lines, and takes nearest-rank percentiles', () => {
    const counts = { devices: 10_000, connected: 7_500, connectFailures: 3, drops: 0, notifies: 0, pings: 0, unacked: 0, cpuMs: 1234, telemetry: 0, plays: 0, fetches: 0, fetchFailures: 0, workers: 2, workersAlive: 2 };
    assert.equal(connectedLine(counts), 'connected 7,500/10,000 · 2/2 worker(s) · failed attempts 3');
    assert.equal(connectedLine({ ...counts, telemetry: 12_000, plays: 300, fetches: 20, fetchFailures: 1 }), 'connected 7,500/10,000 · 2/2 worker(s) · failed attempts 3 · telemetry 12,000 · plays 300 · manifest fetches 20 (failed 1)');
    const set = (n: number): Set<string> => new Set(Array.from({ length: n }, (_, i) => `d${i}`));
    const tally = { orderId: 'emg-1', devices: { received: set(9990), started: set(9990), finished: set(0), failed: set(0), rejected: set(10), cancelled: set(0) }, times: { received: [], started: [], finished: [], failed: [], rejected: [], cancelled: [] }, codes: { LOA_ERR_EMERGENCY_SCOPE: 10 } };
    assert.equal(orderLine(tally), 'order emg-1: received 9,990 · started 9,990 · finished 0 · rejected 10 (LOA_ERR_EMERGENCY_SCOPE 10)');
    assert.equal(percentileOf([5, 1, 4, 2, 3], 99), 5);
    assert.equal(percentileOf(Array.from({ length: 100 }, (_, i) => i + 1), 99), 99);
    assert.ok(Number.isNaN(percentileOf([], 50)));
  });

  it('has --help with an example session, and the CLI loads the simulator only when `loa sim` runs', () => {
    const r = spawnSync(process.execPath, [LOA, 'sim', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--devices <n>/);
    assert.match(r.stdout, /Example:\n\s+\$ export LOA_SIM_PASSWORD/);
    const cli = readFileSync(join(process.cwd(), 'dist', 'scripts', 'cli', 'sim.js'), 'utf8');
    assert.doesNotMatch(cli, /^import .*agent\/sim/m, 'no static import of the simulator');
    assert.match(cli, /await import\('\.\.\/\.\.\/agent\/sim\/run\.js'\)/);
  });
});
