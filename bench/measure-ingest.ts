import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { openDb, type Db } from '../agent/store/db.js';
import { AedesBus } from '../controller/broker/aedes-bus.js';
import { EmbeddedBroker } from '../controller/broker/embedded.js';
import { TelemetryRepo } from '../controller/data/telemetry.js';
import { CONTROLLER_MIGRATIONS } from '../controller/db/migrations.js';
import { TelemetryIngest } from '../controller/telemetry/ingest.js';
import { generateKeyPair } from '../shared/crypto.js';
import { makeDeviceToken } from '../shared/device-token.js';
import { createLogger } from '../shared/log.js';
import { topics } from '../shared/topics.js';
import type { Resources } from './proc.js';

/**
 * Telemetry ingest throughput, end to end: K real mqtt.js clients, each logged in as its own device with its own
 * token, publish telemetry and events at QoS 1 over TCP through the embedded broker (auth + ACL on every
 * message) into TelemetryIngest, which validates and writes them to SQLite in batches. The clock runs from
 * "go" until the last row is committed. The clients run in a worker thread, as they would on other machines.
 *
 * Baseline (same run, same machine, same synchronous mode): the same rows inserted with raw better-sqlite3
 * prepared statements, one transaction per 2,000 rows: what SQLite alone can do with no MQTT, no parsing and
 * no validation.
 */

/** The target for `e2e.perSecond`. */
export const INGEST_TARGET_PER_SECOND = 20_000;

export interface IngestRun {
  rows: number;
  ms: number;
  perSecond: number;
}

export interface IngestBenchResult {
  devices: number;
  messagesPerDevice: number;
  /** Every `eventEvery`-th message is an event (play.start/play.end); the others are telemetry. */
  eventEvery: number;
  inflightPerClient: number;
  clientThreads: number;
  synchronous: 'FULL' | 'NORMAL';
  /** Until the last row is committed. maxFlushMs: the longest single write transaction (it blocks the event loop). */
  e2e: IngestRun & { flushes: number; maxFlushMs: number; publishMs: number };
  /** Reference: the same clients and broker with a subscriber that only counts (no parsing, no SQLite). */
  brokerOnly: IngestRun;
  baseline: IngestRun;
  /** e2e rate / baseline rate. */
  ratio: number;
}

export interface IngestBenchOptions {
  devices?: number;
  messagesPerDevice?: number;
  inflightPerClient?: number;
  eventEvery?: number;
  /** Worker threads the device clients are spread over. Default 1. */
  clientThreads?: number;
  synchronous?: 'FULL' | 'NORMAL';
}

interface ClientJob {
  role: 'loa-bench-ingest-clients';
  port: number;
  devices: { id: string; token: string }[];
  perDevice: number;
  inflight: number;
  eventEvery: number;
  start: number;
}

type FromWorker = { kind: 'ready' } | { kind: 'sent'; ms: number } | { kind: 'error'; message: string };

const telemetryBody = (at: number, i: number): string =>
  JSON.stringify({ at, manifestVersion: 7, stale: false, uptimeS: i, cpuLoad: 0.42, tempC: 51.5, diskFreeMb: 1200, memFreeMb: 180, rssiDbm: -71, ampCurrentMa: 850, outbox: 0, nowPlaying: null });

const eventBody = (deviceId: string, seq: number, at: number): string => {
  const occurrence = `entry-${Math.floor(seq / 2)}@${new Date(at).toISOString()}`;
  const data = seq % 2 === 1
    ? { occurrence, entryId: `entry-${Math.floor(seq / 2)}`, programId: 'p1', scheduledAt: at, attempt: 1, offsetMs: 0, lateMs: 3, volume: 80, priority: 'normal' }
    : { occurrence, entryId: `entry-${Math.floor(seq / 2)}`, attempt: 1, status: 'completed', playedMs: 60_000 };
  return JSON.stringify({ deviceId, seq, key: `${deviceId}:${seq}`, type: seq % 2 === 1 ? 'play.start' : 'play.end', at, data });
};

// ── worker side: the device clients ──

async function runClients(job: ClientJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const clients: MqttClient[] = await Promise.all(job.devices.map((d) => mqtt.connectAsync(`mqtt://127.0.0.1:${job.port}`, {
    clientId: d.id, username: d.id, password: d.token, protocolVersion: 4, reconnectPeriod: 0, clean: true, keepalive: 60,
  })));
  // Payloads are made before the clock starts: the load generator should cost as little as it can.
  const work = job.devices.map((d) => {
    let seq = 0;
    return Array.from({ length: job.perDevice }, (_, i) => {
      const at = job.start + i;
      const isEvent = job.eventEvery > 0 && i % job.eventEvery === job.eventEvery - 1;
      return { topic: topics.up(d.id, isEvent ? 'events' : 'telemetry'), body: isEvent ? eventBody(d.id, ++seq, at) : telemetryBody(at, i) };
    });
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
  await new Promise<void>((r) => port.once('message', () => r()));
  const t0 = performance.now();
  await Promise.all(clients.map((c, k) => new Promise<void>((resolve, reject) => {
    const msgs = work[k]!;
    let next = 0;
    let acked = 0;
    const onAck = (err?: Error): void => {
      if (err) {
        reject(err);
        return;
      }
      if (++acked === job.perDevice) resolve();
      else if (next - acked <= job.inflight / 2) burst();
    };
    // Refill the QoS 1 window in bursts, corked into few TCP writes, as a busy device gateway would.
    const burst = (): void => {
      c.stream.cork();
      while (next < job.perDevice && next - acked < job.inflight) {
        const m = msgs[next++]!;
        c.publish(m.topic, m.body, { qos: 1 }, onAck);
      }
      process.nextTick(() => c.stream.uncork());
    };
    burst();
  })));
  const ms = performance.now() - t0;
  await Promise.all(clients.map((c) => c.endAsync()));
  port.postMessage({ kind: 'sent', ms } satisfies FromWorker);
}

if (!isMainThread && (workerData as ClientJob | undefined)?.role === 'loa-bench-ingest-clients' && parentPort) {
  const port = parentPort;
  runClients(workerData as ClientJob, port).catch((e: unknown) => port.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker));
}

// ── main side ──

function seedDevices(db: Db, n: number, now: number): { id: string; token: string }[] {
  db.prepare("INSERT INTO zones (id, parent_id, level, code, name, path, created_at, updated_at) VALUES ('bench-p', NULL, 'province', 'BP', 'Bench', '/bench-p/', ?, ?)").run(now, now);
  const ins = db.prepare('INSERT INTO devices (id, zone_id, name, public_key, keyid, enrolled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const out: { id: string; token: string }[] = [];
  for (let i = 0; i < n; i++) {
    const id = `bench-dev-${String(i).padStart(4, '0')}`;
    const k = generateKeyPair();
    ins.run(id, 'bench-p', id, k.publicKey, k.keyid, now, now, now);
    out.push({ id, token: makeDeviceToken(k.privateKeyPem, id, now, 3600) });
  }
  return out;
}

function waitFor<T extends FromWorker['kind']>(w: Worker, kind: T): Promise<Extract<FromWorker, { kind: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromWorker): void => {
      if (m.kind === 'error') {
        cleanup();
        reject(new Error(`ingest bench clients: ${m.message}`));
      } else if (m.kind === kind) {
        cleanup();
        resolve(m as Extract<FromWorker, { kind: T }>);
      }
    };
    const onErr = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      w.off('message', onMsg);
      w.off('error', onErr);
    };
    w.on('message', onMsg);
    w.on('error', onErr);
  });
}

async function endToEnd(res: Resources, o: Required<IngestBenchOptions>, mode: 'ingest' | 'broker'): Promise<IngestBenchResult['e2e']> {
  const dir = res.tempDir('ingest-e2e');
  const db = openDb({ path: join(dir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: o.synchronous });
  const now = Date.now();
  const devices = seedDevices(db, o.devices, now);
  const log = createLogger('bench', { level: 'silent' });
  // The broker's key lookup, as the controller wires it (one indexed SELECT per login).
  const keyStmt = db.prepare<[string], { public_key: string; revoked_at: number | null }>('SELECT public_key, revoked_at FROM devices WHERE id = ?');
  const deviceKeys = (id: string): { publicKey: string; revoked: boolean } | null => {
    const r = keyStmt.get(id);
    return r ? { publicKey: r.public_key, revoked: r.revoked_at !== null } : null;
  };
  const broker = new EmbeddedBroker({ deviceKeys, deviceZones: () => [], registry: new Registry(), host: '127.0.0.1', port: 0, log });
  const repo = new TelemetryRepo({ db });
  await broker.start();
  const bus = new AedesBus({ broker, log });
  await bus.start();
  const ingest = new TelemetryIngest({ bus, repo, log });
  const total = o.devices * o.messagesPerDevice;
  let counted = 0;
  let allCounted: (t: number) => void = () => undefined;
  if (mode === 'ingest') await ingest.start();
  else {
    await bus.subscribe(topics.allUp, () => {
      if (++counted === total) allCounted(performance.now());
    });
  }
  let flushes = 0;
  let maxFlushMs = 0;
  const workers: Worker[] = [];
  try {
    const threads = Math.max(1, Math.min(o.clientThreads, o.devices));
    for (let t = 0; t < threads; t++) {
      const mine = devices.filter((_, i) => i % threads === t);
      const job: ClientJob = { role: 'loa-bench-ingest-clients', port: broker.port, devices: mine, perDevice: o.messagesPerDevice, inflight: o.inflightPerClient, eventEvery: o.eventEvery, start: now };
      workers.push(new Worker(new URL(import.meta.url), { workerData: job }));
    }
    await Promise.all(workers.map((w) => waitFor(w, 'ready')));
    const committed = new Promise<number>((resolve) => {
      allCounted = resolve;
      const off = ingest.onFlush((s) => {
        flushes++;
        maxFlushMs = Math.max(maxFlushMs, s.ms);
        if (ingest.counters.stored >= total) {
          off();
          resolve(performance.now());
        }
      });
    });
    const sent = Promise.all(workers.map((w) => waitFor(w, 'sent')));
    const t0 = performance.now();
    for (const w of workers) w.postMessage('go');
    const [t1, s] = await Promise.all([committed, sent]);
    const bad = ingest.counters.malformed + ingest.counters.mismatched + ingest.counters.unknownDevice + ingest.counters.dropped + ingest.counters.failed;
    if (mode === 'ingest' && (bad > 0 || ingest.counters.stored !== total)) throw new Error(`ingest stored ${ingest.counters.stored}/${total}, ${bad} rejected`);
    const ms = t1 - t0;
    return { rows: total, ms, perSecond: (total / ms) * 1000, flushes, maxFlushMs, publishMs: Math.max(...s.map((x) => x.ms)) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await ingest.stop();
    await bus.stop();
    await broker.stop();
    db.close();
    res.removeDir(dir);
  }
}

/** The same rows, straight into SQLite: prepared INSERTs, one transaction per 2,000 rows. */
function baseline(res: Resources, o: Required<IngestBenchOptions>): IngestRun {
  const dir = res.tempDir('ingest-base');
  const db = openDb({ path: join(dir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: o.synchronous });
  try {
    const now = Date.now();
    const ids = Array.from({ length: o.devices }, (_, i) => `bench-dev-${String(i).padStart(4, '0')}`);
    const rows: { id: string; event: boolean; at: number; seq: number; body: string }[] = [];
    for (const [k, id] of ids.entries()) {
      let seq = 0;
      for (let i = 0; i < o.messagesPerDevice; i++) {
        const event = o.eventEvery > 0 && i % o.eventEvery === o.eventEvery - 1;
        rows.push({ id, event, at: now + i, seq: event ? ++seq : 0, body: event ? eventBody(id, seq, now + i) : telemetryBody(now + i, i + k) });
      }
    }
    const tele = db.prepare('INSERT INTO telemetry (device_id, at, received_at, body) VALUES (?, ?, ?, ?)');
    const evt = db.prepare('INSERT OR IGNORE INTO device_events (device_id, seq, type, at, received_at, data) VALUES (?, ?, ?, ?, ?, ?)');
    const write = db.transaction((batch: typeof rows) => {
      for (const r of batch) {
        if (r.event) evt.run(r.id, r.seq, 'play.start', r.at, now, r.body);
        else tele.run(r.id, r.at, now, r.body);
      }
    });
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += 2000) write(rows.slice(i, i + 2000));
    const ms = performance.now() - t0;
    return { rows: rows.length, ms, perSecond: (rows.length / ms) * 1000 };
  } finally {
    db.close();
    res.removeDir(dir);
  }
}

export async function measureIngest(res: Resources, options: IngestBenchOptions = {}): Promise<IngestBenchResult> {
  const o: Required<IngestBenchOptions> = { devices: 50, messagesPerDevice: 2000, inflightPerClient: 100, eventEvery: 5, clientThreads: 1, synchronous: 'FULL', ...options };
  const e2e = await endToEnd(res, o, 'ingest');
  const base = baseline(res, o);
  const broker = await endToEnd(res, o, 'broker');
  return {
    devices: o.devices, messagesPerDevice: o.messagesPerDevice, eventEvery: o.eventEvery, inflightPerClient: o.inflightPerClient, clientThreads: o.clientThreads, synchronous: o.synchronous,
    e2e, brokerOnly: { rows: broker.rows, ms: broker.ms, perSecond: broker.perSecond }, baseline: base, ratio: e2e.perSecond / base.perSecond,
  };
}
