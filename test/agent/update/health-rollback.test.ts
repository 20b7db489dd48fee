/**
 * The health check's failure path (issue 11): a freshly switched version whose broker is unreachable, or whose
 * relay self-test fails, gives up within healthWindowSec, records LOA_ERR_UPDATE_HEALTH with what failed and
 * asks for a restart; the real launcher script then goes back to the previous version, whose updater reports
 * `rolled-back` with that reason and never retries the deployment. A passing check commits instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { HealthProbes } from '../../../agent/update/health.js';
import { writeLauncher } from '../../../agent/update/launcher.js';
import { InstallLayout } from '../../../agent/update/layout.js';
import { Updater } from '../../../agent/update/updater.js';
import { ControllerHttp } from '../../../agent/sync/http.js';
import { SystemClock } from '../../../shared/clock.js';
import { createLogger } from '../../../shared/log.js';
import type { UpdateStateData } from '../../../shared/schemas/release.js';

const base = mkdtempSync(join(tmpdir(), 'loa-health-'));
after(() => rmSync(base, { recursive: true, force: true }));
let seq = 0;
const WINDOW_SEC = 1;

/** A device switched from 1.0.0 to 1.1.0 (pending), with tiny releases that print their version. */
function switched(): { root: string; data: string; layout: InstallLayout } {
  const root = join(base, `d${++seq}`, 'opt');
  const data = join(base, `d${seq}`, 'data');
  const layout = new InstallLayout(root);
  for (const v of ['1.0.0', '1.1.0']) {
    mkdirSync(join(layout.releaseDir(v), 'bin'), { recursive: true });
    writeFileSync(join(layout.releaseDir(v), 'bin', 'loa.js'), `console.log(${JSON.stringify(v)});\n`);
  }
  layout.switchLink('previous', '1.0.0');
  layout.switchLink('current', '1.1.0');
  writeLauncher(root);
  mkdirSync(join(data, 'update'), { recursive: true });
  writeFileSync(join(data, 'update', 'pending.json'), JSON.stringify({ deploymentId: 'dep-h', version: '1.1.0', from: '1.0.0', switchedAt: Date.now(), healthWindowSec: WINDOW_SEC }));
  return { root, data, layout };
}

function updater(data: string, running: string, probes: HealthProbes, onRestart: (why: string) => void, events: UpdateStateData[]): Updater {
  return new Updater({
    dataDir: data, clock: new SystemClock(), log: createLogger('test', { level: 'silent' }), running: { version: running, arch: process.arch } as never,
    layout: null, root: () => null, desired: () => undefined, report: (_d, e) => events.push(e),
    http: new ControllerHttp({ baseUrl: 'http://127.0.0.1:9', token: () => 'x' }),
    view: { nowPlaying: () => null, nextStart: () => null }, probes, restart: onRestart, checkMs: 60_000,
  });
}

const healthy: HealthProbes = { manifest: () => null, selfTest: () => Promise.resolve(null), broker: () => true };

for (const [what, probes, expect] of [
  ['broker is unreachable', { ...healthy, broker: () => false }, /broker: not connected to the broker/],
  ['relay self-test fails', { ...healthy, selfTest: () => Promise.resolve('relays: channel 2 failed (LOA_ERR_RELAY_IO)') }, /selftest: relays: channel 2 failed/],
] as const) {
  test(`a new version whose ${what} rolls back with LOA_ERR_UPDATE_HEALTH within healthWindowSec, and the old one reports it`, async () => {
    const d = switched();
    const events: UpdateStateData[] = [];
    const t0 = performance.now();
    let restarted = '';
    const asked = new Promise<void>((resolve) => {
      const u = updater(d.data, '1.1.0', probes, (why) => {
        restarted = why;
        void u.stop().then(resolve);
      }, events);
      u.start();
    });
    await asked;
    const ms = performance.now() - t0;
    assert.ok(ms >= WINDOW_SEC * 1000 - 50 && ms < WINDOW_SEC * 1000 + 1500, `gave up after ${Math.round(ms)} ms`);
    assert.equal(restarted, 'update:dep-h:health');
    const [code, message] = readFileSync(join(d.data, 'update', 'rollback'), 'utf8').split('\n');
    assert.equal(code, 'LOA_ERR_UPDATE_HEALTH');
    assert.match(message!, expect);
    assert.equal(events.length, 0, 'the failing version reports nothing itself: the old one does, after the rollback');

    // systemd starts the launcher again: it goes back to 1.0.0
    const r = spawnSync('/bin/sh', [join(d.root, 'loa-launch'), 'agent', 'run', '--data-dir', d.data], { encoding: 'utf8', env: { ...process.env, LOA_NODE: process.execPath } });
    assert.equal(r.stdout.trim(), '1.0.0');
    assert.equal(d.layout.linkVersion('current'), '1.0.0');

    const old = updater(d.data, '1.0.0', healthy, () => assert.fail('the old version does not restart'), events);
    old.start();
    const s0 = performance.now();
    await old.stop(); // right after start: the regression of a stop that waited out checkMs (60 s here)
    assert.ok(performance.now() - s0 < 2_000, `stopped in ${Math.round(performance.now() - s0)} ms`);
    assert.equal(events.length, 1);
    assert.deepEqual([events[0]!.state, events[0]!.version, events[0]!.from, events[0]!.reason], ['rolled-back', '1.1.0', '1.0.0', 'LOA_ERR_UPDATE_HEALTH']);
    assert.match(events[0]!.message ?? '', expect);
    const state = JSON.parse(readFileSync(join(d.data, 'update', 'state.json'), 'utf8')) as { failed: Record<string, { reason: string }> };
    assert.equal(state.failed['dep-h']?.reason, 'LOA_ERR_UPDATE_HEALTH', 'dep-h is not retried');
    for (const f of ['rollback', 'rolled-back.json', 'pending.json', 'attempts']) assert.equal(existsSync(join(d.data, 'update', f)), false, f);
  });
}

test('a new version that passes its health check commits and reports healthy, and nothing is rolled back', async () => {
  const d = switched();
  const events: UpdateStateData[] = [];
  const u = updater(d.data, '1.1.0', healthy, () => assert.fail('no restart'), events);
  u.start();
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (events.length > 0) resolve();
    }, 20);
    setTimeout(() => reject(new Error('no healthy report within 5 s')), 5_000).unref();
    void Promise.resolve().then(() => t.unref());
  });
  await u.stop();
  assert.deepEqual([events[0]!.state, events[0]!.version, events[0]!.from], ['healthy', '1.1.0', '1.0.0']);
  const state = JSON.parse(readFileSync(join(d.data, 'update', 'state.json'), 'utf8')) as { committed?: { version: string } };
  assert.equal(state.committed?.version, '1.1.0');
  assert.equal(existsSync(join(d.data, 'update', 'pending.json')), false);
  assert.equal(d.layout.linkVersion('current'), '1.1.0');
});
