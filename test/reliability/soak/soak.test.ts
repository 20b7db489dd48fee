import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startSim, type SimSession } from '../../../agent/sim/run.js';
import { startControllerProcess, stopAll } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { mode, pick, recordFigures } from '../support/mode.js';
import { ledgerOf } from './ledger.js';
import { ProcessSampler } from './sampler.js';
import { SseCounter } from './sse-counter.js';
import { judge, median, type Limits } from './window-stats.js';
import { Workload } from './workload.js';

/**
 * Soak (issue 10): a real `loa controller run` process (SQLite file, embedded MQTT broker) and `loa sim`'s
 * fleet (worker processes, one real MQTT connection and device key per simulated receiver) under the traffic of
 * an ordinary day, compressed: telemetry and proof-of-play from every device, an operator editing the schedule
 * (→ compile, notify, every device fetches its manifest), emergency orders with their acks, a dashboard reading
 * lists and reports and holding the live event stream open through an API token.
 *
 * Short mode (npm test): 200 devices for 90 s. Long mode (npm run soak): 2,000 devices for 30 minutes.
 * LOA_SOAK_DEVICES, LOA_SOAK_MINUTES, LOA_SOAK_TELEMETRY_S and LOA_SOAK_PLAYS_S override the sizes (a scaled
 * long run, e.g. LOA_RELIABILITY=long LOA_SOAK_MINUTES=3).
 *
 * The machine has 2 cores, shared by the controller, the simulator's workers and this test process: the
 * figures are what one small box does carrying everything, not what the controller does alone.
 */

const envNum = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === '' ? d : Number(v);
};
const DEVICES = envNum('LOA_SOAK_DEVICES', pick(200, 2000));
const DURATION_MS = Math.round(envNum('LOA_SOAK_MINUTES', pick(1.5, 30)) * 60_000);
const TELEMETRY_MS = Math.round(envNum('LOA_SOAK_TELEMETRY_S', pick(2, 20)) * 1000);
const PLAYS_MS = Math.round(envNum('LOA_SOAK_PLAYS_S', pick(5, 30)) * 1000);
const PREFIX = 'soak';
const CLUSTER = { id: 'X01-C1', name: 'Cụm loa thôn Đông' };
const PASSWORD = 'soak-admin-password-1';
/** Manifest fetches in flight across the fleet: what can hold extra sockets at the controller at any moment. */
const FETCH_CONCURRENCY = 40;

/**
 * Warm-up: the first 20% of the run, at least 30 s and at most 5 min: V8 compiles the hot paths, SQLite's page
 * cache and the WAL fill, the first schedule edit's compile-and-fetch wave and the first emergency order pass.
 * Then a forced full GC, and the baseline window; the final window is the end of the run, also started by a
 * forced full GC, so both windows are "the same time after a full GC" (V8 collects the old generation lazily:
 * without this a 90 s run compares the heap before its first major GC with the heap just before it).
 * Each window is 15% of the run (15 s to 2 min).
 */
const WARMUP_MS = Math.max(30_000, Math.min(300_000, DURATION_MS * 0.2));
const WINDOW_MS = Math.max(15_000, Math.min(120_000, DURATION_MS * 0.15));
/** At least 6 samples per window, at most one every 5 s. */
const SAMPLE_MS = Math.max(1000, Math.min(5000, Math.floor(WINDOW_MS / 6)));

/**
 * - RSS and heap used within 5% (the issue's figure) in long mode, low points of each window (both windows start
 *   with a full GC). Short mode allows 10%: 45 s apart, what is in flight at the sampling moment (aedes queues,
 *   the ingest batch, SQLite's page cache) depends on how loaded the CI machine is, and one full run of the
 *   suite measured +6% heap with no leak. A leak still shows: the 30-minute run has ~50 times the gap.
 * - fds: the baseline median + the fetch concurrency (each in-flight manifest fetch holds a socket) + 10 (the
 *   test's API, SSE and /metrics connections, undici keep-alive, SQLite's WAL and shm). A leak of one fd per
 *   request or per message passes this within seconds.
 * - Event-loop lag p99: ×1.5 + 10 ms. 10 ms is prom-client's monitorEventLoopDelay resolution, and on 2 cores
 *   shared by ~4 busy processes the controller waits for a CPU on the order of a scheduler slice.
 */
const LIMITS: Limits = { rssGrowth: pick(0.10, 0.05), fdSlack: FETCH_CONCURRENCY + 10, lagFactor: 1.5, lagSlackMs: 10 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(`soak: ${DEVICES} simulated receivers for ${DURATION_MS / 60_000} min against a real controller process; memory, open files and event-loop lag stay flat and every play and ack sent is stored`, { timeout: DURATION_MS + 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-soak-'));
  const children: ChildProcess[] = [];
  let sim: SimSession | null = null;
  let sse: SseCounter | null = null;
  let sampler: ProcessSampler | null = null;
  let workload: Workload | null = null;
  const note = (s: string): void => t.diagnostic(s);
  let ctlLog = '';
  let ctlExit: string | null = null;
  try {
    const ctl = await startControllerProcess(dir, PASSWORD, { LOA_GC_SIGNAL: '1' });
    children.push(ctl.child);
    const pid = ctl.child.pid!;
    // If the controller dies, say how, with the end of its log (warnings and errors), instead of a bare ECONNREFUSED.
    ctl.child.stderr?.on('data', (d: Buffer) => { ctlLog = (ctlLog + d.toString()).slice(-6000); });
    ctl.child.once('exit', (code, signal) => { ctlExit = `controller exited (${signal ?? `code ${code}`}); last log:\n${ctlLog}`; });
    const alive = (): void => assert.equal(ctlExit, null, ctlExit ?? '');
    const dbFile = join(dir, 'controller', 'controller.db');
    workload = new Workload({
      api: ctl.api, dir, commune: 'X01', cluster: CLUSTER,
      // A scaled run (LOA_SOAK_MINUTES) still sees several edits and orders.
      scheduleEveryMs: Math.min(pick(20_000, 60_000), DURATION_MS / 6), emergencyEveryMs: Math.min(pick(30_000, 120_000), DURATION_MS / 4),
      readEveryMs: pick(3000, 5000), reportEvery: pick(5, 6),
    });
    await workload.setup();

    const t0 = performance.now();
    sim = await startSim({
      controller: ctl.http, mqtt: ctl.mqtt, devices: DEVICES, zone: CLUSTER.id, workers: 2, prefix: PREFIX, playMs: 2000,
      username: 'admin', password: PASSWORD, workerOutput: 'ignore', progressMs: 5000,
      traffic: { telemetryMs: TELEMETRY_MS, playEveryMs: PLAYS_MS, fetchManifests: true },
    }, { line: () => undefined });
    const fleet = sim.fleet;
    await fleet.waitConnected(DEVICES, { timeoutMs: 180_000 });
    note(`${DEVICES} devices registered and connected in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The dashboard's live stream, held through an API token as Node-RED or a wall display would.
    const me = (await ctl.api.get<{ user: { id: string } }>('/api/v1/auth/me')).user;
    const { token } = await ctl.api.post<{ token: string }>(`/api/v1/users/${me.id}/tokens`, { name: 'soak dashboard' });
    sse = await SseCounter.open(`${ctl.http}/api/v1/events/stream`, token);
    assert.equal(sse.status, 200, sse.ended ?? '');
    const eventsAtOpen = ledgerOf(dbFile, PREFIX).events;

    sampler = new ProcessSampler({ pid, metricsUrl: `${ctl.http}/metrics`, everyMs: SAMPLE_MS });
    sampler.start();
    workload.start();
    const s = sampler;
    const wl = workload;
    /** The soak's clock: waits (in steps of at most a minute, noting progress) until `ms` into the traffic. */
    const until = async (ms: number): Promise<void> => {
      while (s.now() < ms) {
        alive();
        await sleep(Math.min(60_000, ms - s.now()));
        const f = fleet.totals();
        const last = s.samples.at(-1);
        note(`${Math.round(s.now() / 1000)} s: connected ${f.connected}/${DEVICES}, telemetry ${f.telemetry}, plays ${f.plays}, fetches ${f.fetches}, orders ${wl.counts.orders.length}, edits ${wl.counts.scheduleEdits}` +
          (last ? `; controller RSS ${(last.rssBytes / 1048576).toFixed(0)} MB, heap ${(last.heapUsedBytes / 1048576).toFixed(0)} MB, fds ${last.fds}, lag p99 ${last.lagP99Ms.toFixed(1)} ms` : ''));
      }
    };
    await until(WARMUP_MS);
    alive();
    const baselineFromMs = await sampler.fullGc();
    await until(DURATION_MS - WINDOW_MS);
    const finalFromMs = await sampler.fullGc();
    await until(DURATION_MS);
    alive();
    sampler.stop();
    const WINDOWS = { baselineFromMs, finalFromMs, windowMs: WINDOW_MS };
    await workload.stop();
    const w = workload.counts;
    assert.deepEqual(w.errors, [], 'every operator, officer and dashboard call succeeded');

    // Every device ends on the last schedule: its telemetry names the manifest version the controller holds for it.
    await eventually(() => ledgerOf(dbFile, PREFIX).devicesOnCurrentManifest === DEVICES, 60_000 + 2 * TELEMETRY_MS, 'every device reports the manifest of the last schedule edit');
    // Then the devices go quiet (still connected) and their queued events drain.
    fleet.quiet();
    await fleet.waitFor((x) => x.unacked === 0, 'every event acknowledged by the broker', { timeoutMs: 60_000 });
    for (const id of w.orders) {
      await eventually(() => fleet.order(id)?.devices.finished.size === DEVICES, 60_000, `order ${id} finished on every device`);
    }
    const ackEvents = (): number => fleet.orders.reduce((a, o) => a + o.devices.received.size + o.devices.started.size + o.devices.finished.size + o.devices.rejected.size + o.devices.cancelled.size + o.devices.failed.size, 0);
    // The last telemetry PUBACKs and ingest flushes settle within a second or two; the assertions below say what differs if they do not.
    let sent = fleet.totals();
    let ledger = ledgerOf(dbFile, PREFIX);
    await eventually(() => {
      sent = fleet.totals();
      ledger = ledgerOf(dbFile, PREFIX);
      return ledger.telemetry === sent.telemetry && ledger.playsCompleted === sent.plays && ledger.events === 2 * sent.plays + ackEvents();
    }, 30_000, 'the controller stores what the devices sent').catch(() => undefined);

    // Everything sent was received: telemetry samples, plays, acks, each exactly once.
    assert.equal(sent.connected, DEVICES, 'every device still connected');
    assert.equal(sent.drops, 0, 'no connection dropped during the soak');
    assert.equal(sent.fetchFailures, 0, 'no manifest fetch failed');
    assert.equal(ledger.telemetry, sent.telemetry, 'telemetry samples stored = samples the broker acknowledged');
    assert.equal(ledger.playsCompleted, sent.plays, 'completed plays stored = plays the devices reported');
    assert.equal(ledger.events, 2 * sent.plays + ackEvents(), 'events stored = play.start + play.end per play + one per emergency ack');
    assert.ok(w.orders.length >= 2 && w.scheduleEdits >= 2, `the soak sent orders (${w.orders.length}) and edited the schedule (${w.scheduleEdits})`);
    for (const id of w.orders) {
      const { progress } = await ctl.api.get<{ progress: Record<string, number> }>(`/api/v1/emergency/${id}`);
      assert.equal(progress.finished, DEVICES, `order ${id}: the controller counts a finished ack from every device`);
    }
    assert.equal(sse.ended, null, 'the dashboard\'s event stream stayed open');
    const sseEvents = sse.counts['device.event'] ?? 0;
    assert.ok(sseEvents >= ledger.events - eventsAtOpen, `the event stream carried every event stored while it was open (${sseEvents} ≥ ${ledger.events - eventsAtOpen})`);
    assert.ok((sse.counts['emergency.progress'] ?? 0) > 0, 'the event stream carried emergency progress');

    // Flat resources: final window against the baseline window after warm-up.
    const v = judge(sampler.samples, WINDOWS, LIMITS);
    const seconds = DURATION_MS / 1000;
    const figures = {
      mode: mode(), devices: DEVICES, minutes: DURATION_MS / 60_000, cpus: 2, telemetryEveryS: TELEMETRY_MS / 1000, playsEveryS: PLAYS_MS / 1000,
      messagesPerSecond: Math.round((sent.telemetry + 2 * sent.plays + ackEvents()) / seconds),
      telemetryStored: ledger.telemetry, playsStored: ledger.playsCompleted, eventsStored: ledger.events, emergencyOrders: w.orders.length, scheduleEdits: w.scheduleEdits,
      manifestFetches: sent.fetches, dashboardReads: w.reads, dashboardReadP50Ms: Math.round(median(w.readMs)), sseEvents,
      warmupS: WARMUP_MS / 1000, windowS: WINDOW_MS / 1000, samples: sampler.samples.length, scrapeMisses: sampler.misses.length,
      rssBaselineMb: v.baseline.rssMb, rssFinalMb: v.final.rssMb, rssGrowthPct: v.rssGrowthPct,
      heapBaselineMb: v.baseline.heapUsedMb, heapFinalMb: v.final.heapUsedMb,
      fdsBaseline: v.baseline.fds, fdsFinal: v.final.fds, lagP99BaselineMs: v.baseline.lagP99Ms, lagP99FinalMs: v.final.lagP99Ms,
    };
    note(JSON.stringify(figures));
    // The whole series, for a plot or a second look.
    const series = join(process.cwd(), 'test-output', `soak-samples-${mode()}.json`);
    mkdirSync(join(process.cwd(), 'test-output'), { recursive: true });
    writeFileSync(series, JSON.stringify({ windows: WINDOWS, limits: LIMITS, samples: sampler.samples, misses: sampler.misses }));
    note(`samples: ${series}`);
    recordFigures({
      suite: 'soak', what: `${DEVICES} simulated receivers, ${DURATION_MS / 60_000} min: telemetry, plays, schedule edits, emergency orders, dashboard reads and live stream`,
      figures, reproduce: mode() === 'long' ? 'npm run soak -- --only soak' : 'npm test -- test/reliability/soak',
    });
    assert.deepEqual(v.failures, [], `resources stay flat (baseline ${JSON.stringify(v.baseline)}, final ${JSON.stringify(v.final)})`);
    assert.ok(sampler.misses.length <= 1, `the controller answered /metrics within 5 s (missed: ${sampler.misses.join('; ')})`);
  } catch (e) {
    // A dead controller explains itself (exit signal or code, last log lines) better than the call that found it.
    throw ctlExit ? new Error(ctlExit, { cause: e }) : e;
  } finally {
    sampler?.stop();
    sse?.close();
    await workload?.stop();
    await sim?.stop();
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
