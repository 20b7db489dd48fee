import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { currentFdLimits, planFds } from '../agent/sim/fd-limit.js';
import { SimFleet } from '../agent/sim/fleet.js';
import { mergeErrors } from '../agent/sim/progress.js';
import type { ErrorTally, SimDeviceSpec } from '../agent/sim/protocol.js';
import type { Bus } from '../controller/broker/bus.js';
import { loadConfig } from '../controller/config.js';
import { Controller } from '../controller/controller.js';
import type { TelemetryIngest } from '../controller/telemetry/ingest.js';
import { generateKeyPair } from '../shared/crypto.js';
import { createLogger } from '../shared/log.js';
import type { SignedRoot } from '../shared/schemas/root.js';
import { topics } from '../shared/topics.js';
import { verifyInitialRoot } from '../shared/trust.js';
import { ApiClient } from '../scripts/lib/api-client.js';
import { createAdmin } from '../scripts/cli/controller-actions.js';
import { initKeys } from '../scripts/cli/keys.js';
import { Resources } from './proc.js';
import { median, percentile } from './stats.js';

/**
 * Emergency fan-out to 10,000 receivers, end to end, against a bare MQTT fan-out measured in the same run.
 *
 * Set-up: an in-process controller with its embedded broker (as the other controller benches), a commune with
 * one cluster of 10,000 devices registered through POST /api/v1/devices/import with their own keys, their
 * manifests compiled, then 10,000 simulated devices (agent/sim: one mqtt.js client each, the real device
 * protocol and the agent's own order verifier) in worker processes on the same machine.
 *
 * (a) Baseline, "bare fan-out + reply": the controller's own bus publishes a small `{"ping":n}` (QoS 1) to
 *     every device's `…/cmd`, with the same publish loop and concurrency as the emergency fan-out; each
 *     simulated device answers with one QoS 1 telemetry sample, which the controller's ingest validates and
 *     commits to SQLite. Timed from the first publish until 99% of the replies are committed.
 * (b) The operator's `POST /api/v1/emergency` (a pre-rendered library file, the whole cluster, confirmed by
 *     the zone's name): HTTP, authorisation, the order signed once, 10,000 target rows, the fan-out; each
 *     device verifies the order (Ed25519, schema, lifetime, zone, replay) and sends "received" and "started"
 *     (two QoS 1 events), which ingest commits and folds into the order's acks. Timed from the request until
 *     99% of the devices' "started" acks are committed.
 *
 * Both end at the same point (a commit of the controller's ingest, seen from its flush hook) and travel the
 * same hops (controller bus → broker → device → broker → ingest → SQLite), so the ratio is what the emergency
 * machinery itself costs: the API and its transaction, signing, a signed payload of about 0.6 KB instead of
 * 10 bytes, verification on the device, and two acks instead of one reply. Rounds alternate (ping, order,
 * ping, …) and the medians are reported. The simulated devices share the machine's cores with the controller,
 * as they would not in the field, and that weighs more on the emergency measure (each device checks an Ed25519
 * signature): the CPU time of the controller and of the devices is reported with every round.
 */

export interface FanoutRound {
  baselineMs: number;
  emergencyMs: number;
  /** Until the HTTP answer of POST /api/v1/emergency (it answers after every publish was handed to the broker). */
  apiMs: number;
  /** Device clocks (this machine): 99% of devices had the ping / the order, from the first publish / the request. */
  pingAtDeviceP99Ms: number;
  orderAtDeviceP99Ms: number;
  /**
   * CPU time spent while each measure ran (ms): by the controller's process (until the commit), and by the
   * worker processes of the simulated devices (for their share of the work). On this machine both share its cores.
   */
  cpu: { baseline: { controllerMs: number; devicesMs: number }; emergency: { controllerMs: number; devicesMs: number } };
}

export interface FanoutBenchResult {
  devices: number;
  workers: number;
  /** The devices that were connected when the measure started. */
  connected: number;
  connectMs: number | null;
  importMs: number;
  compileMs: number;
  /** Why the measure could not run as designed (too few connections, file limits…), else null. */
  limitation: string | null;
  rounds: FanoutRound[];
  /** Medians over the rounds (NaN when no round ran). */
  baselineMs: number;
  emergencyMs: number;
  apiMs: number;
  ratio: number;
  quantile: number;
}

export interface FanoutBenchOptions {
  devices?: number;
  workers?: number;
  rounds?: number;
  connectTimeoutMs?: number;
  /** Sub-step progress (the standalone run prints it). */
  log?: (s: string) => void;
}

const QUANTILE = 0.99;

/** What the benchmark needs from the controller: its bus (to publish like the emergency route) and ingest (its flush hook). */
function internals(c: Controller): { bus: Bus; ingest: TelemetryIngest } {
  return { bus: c.messageBus, ingest: c.telemetryIngest };
}

/** controller/emergency/signer.ts fanOut, on another topic: the same loop, 256 publishes in flight. */
async function publishAll(bus: Bus, ids: readonly string[], kind: 'cmd', payload: Buffer, concurrency = 256): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) await bus.publish(topics.down(ids[next++]!, kind), payload, { qos: 1 });
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
}

/** Resolves with performance.now() of the first ingest commit after which `count()` ≥ target. */
function committed(ingest: TelemetryIngest, count: () => number, target: number, timeoutMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const off = ingest.onFlush(() => {
      if (count() < target) return;
      off();
      clearTimeout(timer);
      resolve(performance.now());
    });
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${what}: ${count()}/${target} after ${timeoutMs} ms`));
    }, timeoutMs);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function measureFanout(res: Resources, options: FanoutBenchOptions = {}): Promise<FanoutBenchResult> {
  const N = options.devices ?? 10_000;
  const W = options.workers ?? availableParallelism();
  const log = options.log ?? ((): void => undefined);
  const target = Math.ceil(QUANTILE * N);
  const dir = res.tempDir('fanout');
  initKeys(join(dir, 'keys'), 1, 1, 1);
  await createAdmin(join(dir, 'data'), { username: 'admin', password: 'bench-admin-pw', provinceId: 'T01' });
  const config = loadConfig(undefined, {}, {
    dataDir: join(dir, 'data'), keysDir: join(dir, 'keys'), logLevel: 'silent', http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 },
    manifests: { debounceMs: 60_000 },
  });
  const controller = new Controller({ config, log: createLogger('bench', { level: 'silent' }) });
  await controller.start();
  let fleet: SimFleet | null = null;
  const result: FanoutBenchResult = {
    devices: N, workers: W, connected: 0, connectMs: null, importMs: NaN, compileMs: NaN, limitation: null, rounds: [],
    baselineMs: NaN, emergencyMs: NaN, apiMs: NaN, ratio: NaN, quantile: QUANTILE,
  };
  try {
    const d = controller.data;
    const { bus, ingest } = internals(controller);
    const now = Date.now();
    d.zones.create({ id: 'B01', parentId: 'T01', level: 'commune', code: 'B01', name: 'Xã Bench' }, now);
    d.zones.create({ id: 'B01-C1', parentId: 'B01', level: 'cluster', code: 'C1', name: 'Cụm Bench' }, now);
    // Pre-rendered audio of 10 minutes: no device finishes (or sends more acks) while the rounds run.
    const mediaId = d.media.create({ id: 'med-bench', sha256: 'e'.repeat(64), size: 4_800_000, durationMs: 600_000, mime: 'audio/ogg', title: 'Còi báo động', originalName: null, sourceSha256: null, loudnessLufs: -16, zoneId: 'T01', createdBy: 'bench' }, now).id;
    const api = new ApiClient(controller.httpUrl);
    await api.login('admin', 'bench-admin-pw');

    log(`keys for ${N.toLocaleString('en-US')} devices`);
    const keys = Array.from({ length: N }, (_, i) => ({ id: `sim-B01-C1-${String(i + 1).padStart(5, '0')}`, ...generateKeyPair() }));
    const i0 = performance.now();
    await api.post('/api/v1/devices/import', { devices: keys.map((k) => ({ id: k.id, zoneId: 'B01-C1', name: `Loa ${k.id.slice(-5)}`, kind: 'speaker', publicKey: k.publicKey })) });
    result.importMs = performance.now() - i0;
    const c0 = performance.now();
    await controller.manifestCompiler.flush();
    result.compileMs = performance.now() - c0;
    log(`imported in ${result.importMs.toFixed(0)} ms, ${N} manifests compiled in ${result.compileMs.toFixed(0)} ms`);

    const fd = planFds(N, currentFdLimits());
    if (fd.kind === 'short') {
      result.limitation = `this machine cannot hold ${N.toLocaleString('en-US')} connections in one controller process: open-file hard limit ${fd.limit} (at most ${fd.max.toLocaleString('en-US')} sockets)`;
      return result;
    }
    const root = verifyInitialRoot(await api.get<SignedRoot>('/api/v1/trust/root'), Date.now());
    const zones = ['T01', 'B01', 'B01-C1'];
    const devices: SimDeviceSpec[] = keys.map((k) => ({ id: k.id, privateKeyPem: k.privateKeyPem, zones }));
    fleet = new SimFleet({ devices, mqttUrl: controller.mqttUrl, root, workers: W, playMs: null, connectConcurrency: 200, workerOutput: 'inherit' });
    const errors: ErrorTally = {};
    fleet.on('errors', (t) => mergeErrors(errors, t));
    const f0 = performance.now();
    await fleet.start();
    result.workers = fleet.workerCount;
    let lastLog = 0;
    fleet.on('progress', (t) => {
      if (t.connected < N && performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        log(`connected ${t.connected.toLocaleString('en-US')}/${N.toLocaleString('en-US')}`);
      }
    });
    try {
      await fleet.waitConnected(N, { timeoutMs: options.connectTimeoutMs ?? 300_000 });
      result.connectMs = performance.now() - f0;
    } catch (e) {
      const t = fleet.totals();
      const last = Object.entries(errors).map(([c, x]) => `${c} ×${x.count}: ${x.last}`).join('; ');
      result.connected = t.connected;
      result.limitation = `only ${t.connected.toLocaleString('en-US')}/${N.toLocaleString('en-US')} simulated devices connected on this machine (${(e as Error).message}${last ? `; ${last}` : ''})`;
      return result;
    }
    result.connected = fleet.totals().connected;
    log(`all ${N.toLocaleString('en-US')} connected in ${(result.connectMs / 1000).toFixed(1)} s on ${fleet.workerCount} worker(s)`);

    const f = fleet;
    const settle = async (): Promise<void> => {
      for (let i = 1; i <= 600 && (ingest.pending > 0 || f.totals().unacked > 0); i++) {
        if (i % 40 === 0) log(`waiting for quiet: ${ingest.pending} item(s) queued in ingest, ${f.totals().unacked} ack(s) awaiting PUBACK`);
        await sleep(50);
      }
      await sleep(1000);
    };
    const db = d.db;
    const teleSince = db.prepare<[number], number>('SELECT count(*) FROM telemetry WHERE received_at >= ?').pluck();
    const newestOrder = db.prepare<[number], string>('SELECT id FROM emergency_orders WHERE created_at >= ? ORDER BY created_at DESC LIMIT 1').pluck();
    const startedOf = db.prepare<[string], number>("SELECT count(*) FROM emergency_acks WHERE order_id = ? AND state IN ('started', 'finished')").pluck();
    const ids = keys.map((k) => k.id);
    const deviceP99 = async (times: () => number[] | undefined, wall0: number): Promise<number> => {
      for (let i = 0; i < 100 && (times()?.length ?? 0) < target; i++) await sleep(50); // worker reports come every 250 ms
      return percentile(times() ?? [], QUANTILE * 100) - wall0;
    };

    const cpuNow = (): { controller: number; devices: number } => {
      const u = process.cpuUsage();
      return { controller: (u.user + u.system) / 1000, devices: f.totals().cpuMs };
    };
    const cpuSince = (a: { controller: number; devices: number }): { controllerMs: number; devicesMs: number } => {
      const b = cpuNow();
      return { controllerMs: Math.round(b.controller - a.controller), devicesMs: Math.round(b.devices - a.devices) };
    };

    await settle();
    for (let r = 1; r <= (options.rounds ?? 3); r++) {
      // (a) the bare fan-out and its replies
      const pWall = Date.now();
      // The SQL count runs only once ingest has stored enough items for it to be reached (it costs controller time).
      const pStored = ingest.counters.stored;
      const pDone = committed(ingest, () => (ingest.counters.stored - pStored < target ? 0 : teleSince.get(pWall) ?? 0), target, 120_000, `round ${r}: ping replies`);
      const pCpu = cpuNow();
      const p0 = performance.now();
      await publishAll(bus, ids, 'cmd', Buffer.from(JSON.stringify({ ping: r })));
      const baselineMs = (await pDone) - p0;
      const baselineCpu = cpuSince(pCpu);
      const pingAtDeviceP99Ms = await deviceP99(() => f.ping(r)?.times, pWall);
      baselineCpu.devicesMs = cpuSince(pCpu).devicesMs; // the workers' reports of that work may come after the commit
      await settle();

      // (b) the operator's emergency order
      const eWall = Date.now();
      let orderId: string | undefined;
      const eAcks = ingest.counters.acksStored;
      const eDone = committed(ingest, () => {
        if (ingest.counters.acksStored - eAcks < target) return 0; // each started ack is one stored ack
        orderId ??= newestOrder.get(eWall);
        return orderId ? startedOf.get(orderId) ?? 0 : 0;
      }, target, 120_000, `round ${r}: started acks`);
      const eCpu = cpuNow();
      const e0 = performance.now();
      const sent = await api.post<{ order: { id: string }; published: number }>('/api/v1/emergency', {
        title: `Bench ${r}`, zones: ['B01-C1'], content: { kind: 'media', mediaId }, repeat: 1, ttlMinutes: 60, confirm: 'Cụm Bench',
      });
      const apiMs = performance.now() - e0;
      const emergencyMs = (await eDone) - e0;
      const emergencyCpu = cpuSince(eCpu);
      if (sent.published !== N) throw new Error(`round ${r}: the order was published to ${sent.published}/${N} devices`);
      const orderAtDeviceP99Ms = await deviceP99(() => f.order(sent.order.id)?.times.received, eWall);
      emergencyCpu.devicesMs = cpuSince(eCpu).devicesMs;
      result.rounds.push({ baselineMs, emergencyMs, apiMs, pingAtDeviceP99Ms, orderAtDeviceP99Ms, cpu: { baseline: baselineCpu, emergency: emergencyCpu } });
      log(`round ${r}: bare fan-out ${baselineMs.toFixed(0)} ms (CPU: controller ${baselineCpu.controllerMs} ms, devices ${baselineCpu.devicesMs} ms), `
        + `emergency ${emergencyMs.toFixed(0)} ms (API answered after ${apiMs.toFixed(0)} ms; CPU: controller ${emergencyCpu.controllerMs} ms, devices ${emergencyCpu.devicesMs} ms)`);
      await settle();
    }
    const rejected = f.orders.reduce((a, o) => a + o.devices.rejected.size, 0);
    if (rejected > 0) throw new Error(`${rejected} device(s) rejected an order: ${JSON.stringify(f.orders.map((o) => o.codes))}`);
    result.baselineMs = median(result.rounds.map((x) => x.baselineMs));
    result.emergencyMs = median(result.rounds.map((x) => x.emergencyMs));
    result.apiMs = median(result.rounds.map((x) => x.apiMs));
    result.ratio = result.emergencyMs / result.baselineMs;
    return result;
  } finally {
    await fleet?.stop(20_000);
    await controller.stop();
  }
}

// `node dist/bench/measure-fanout.js [devices] [workers]`: this measure alone, with its progress.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const res = new Resources();
  process.once('exit', () => res.cleanupSync());
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  const w = process.argv[3] ? Number(process.argv[3]) : undefined;
  measureFanout(res, { ...(n ? { devices: n } : {}), ...(w ? { workers: w } : {}), log: (s) => process.stderr.write(`[fanout] ${s}\n`) }).then((r) => {
    console.log(JSON.stringify(r, null, 2));
    res.cleanupSync();
  }, (e: unknown) => {
    console.error(e);
    res.cleanupSync();
    process.exitCode = 1;
  });
}
