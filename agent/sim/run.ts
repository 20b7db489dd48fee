import { availableParallelism } from 'node:os';
import { LoaError } from '../../shared/errors.js';
import type { RootMetadata, SignedRoot } from '../../shared/schemas/root.js';
import { verifyInitialRoot } from '../../shared/trust.js';
import { controllerCode, SimApi } from './api.js';
import { SimFleet, type FleetTotals } from './fleet.js';
import { checkPrefix, identitiesFor, loadState, saveState, type SimIdentity, type SimState } from './identities.js';
import { connectedLine, errorsLine, mergeErrors, orderLine } from './progress.js';
import type { ErrorTally } from './protocol.js';
import type { TrafficSpec } from './traffic.js';

export interface SimRunOptions {
  /** Controller base URL (HTTP API). */
  controller: string;
  /** Broker URL; default mqtt://<controller host>:1883. */
  mqtt?: string;
  devices: number;
  /** The cluster (or commune) the devices are registered in. */
  zone: string;
  workers?: number;
  prefix?: string;
  /** Play time of every accepted order; null = the order's own audio duration × repeat. */
  playMs?: number | null;
  username: string;
  password: string;
  /** Keep the keys here, and reuse the devices a previous run registered. */
  state?: string;
  /** Devices per import request (default 1,000; the API takes at most 10,000). */
  importBatch?: number;
  /** Connection attempts in flight across the fleet (default 200). */
  connectConcurrency?: number;
  /** Progress line period (default 1 s). */
  progressMs?: number;
  workerOutput?: 'inherit' | 'ignore';
  /** Everyday traffic (soak runs): telemetry every `telemetryMs`, a play every `playEveryMs`, manifest fetches on notify when `fetchManifests`. */
  traffic?: { telemetryMs?: number | null; playEveryMs?: number | null; fetchManifests?: boolean };
}

export interface SimIo {
  /** A progress line (the CLI writes them to stderr). Never carries a secret. */
  line(s: string): void;
}

export interface SimOrderSummary {
  orderId: string;
  received: number;
  started: number;
  finished: number;
  cancelled: number;
  failed: number;
  rejected: number;
  codes: Record<string, number>;
}

export interface SimSummary {
  devices: number;
  workers: number;
  connectedAtStop: number;
  connectFailures: number;
  drops: number;
  /** Everyday traffic (zero without it): telemetry samples acknowledged, plays queued, events still unacknowledged, manifest fetches. */
  telemetry: number;
  plays: number;
  unacked: number;
  fetches: number;
  fetchFailures: number;
  orders: SimOrderSummary[];
}

export interface SimSession {
  fleet: SimFleet;
  deviceIds: string[];
  /** The zone chain every simulated device checks orders against (province first). */
  zones: string[];
  root: RootMetadata;
  mqttUrl: string;
  /** Resolves once every device is connected; rejects on a worker failure. */
  connected: Promise<FleetTotals>;
  /** Disconnects every device, ends the workers, and prints the summary. */
  stop(): Promise<SimSummary>;
}

const MAX_DEVICES = 100_000;

function checkOptions(o: SimRunOptions): void {
  const bad = (m: string): never => {
    throw new LoaError('LOA_ERR_SIM_INPUT', m);
  };
  try {
    const u = new URL(o.controller);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(`--controller must be an http(s) URL (got ${u.protocol})`);
  } catch (e) {
    if (e instanceof LoaError) throw e;
    bad('--controller must be a URL, e.g. http://127.0.0.1:8080');
  }
  if (o.mqtt !== undefined && !/^(mqtts?|wss?):\/\/[^\s]+$/.test(o.mqtt)) bad('--mqtt must be an mqtt://, mqtts://, ws:// or wss:// URL');
  if (!Number.isSafeInteger(o.devices) || o.devices < 1 || o.devices > MAX_DEVICES) bad(`--devices must be a whole number from 1 to ${MAX_DEVICES.toLocaleString('en-US')}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(o.zone)) bad('--zone must be a zone id (a cluster, e.g. X001-C1)');
  if (o.workers !== undefined && (!Number.isSafeInteger(o.workers) || o.workers < 1 || o.workers > 256)) bad('--workers must be a whole number from 1 to 256');
  if (o.playMs !== undefined && o.playMs !== null && (!Number.isSafeInteger(o.playMs) || o.playMs < 0 || o.playMs > 86_400_000)) bad('--play-ms must be a whole number of milliseconds from 0 to 86,400,000');
  if (o.importBatch !== undefined && (!Number.isSafeInteger(o.importBatch) || o.importBatch < 1 || o.importBatch > 10_000)) bad('the import batch must be from 1 to 10,000 devices');
  for (const [k, v] of [['--telemetry-every', o.traffic?.telemetryMs], ['--plays-every', o.traffic?.playEveryMs]] as const) {
    if (v !== undefined && v !== null && (!Number.isSafeInteger(v) || v < 100 || v > 86_400_000)) bad(`${k} must be from 0.1 to 86,400 seconds`);
  }
  if (!o.username) bad('--username is required (an admin or technician of the zone)');
  if (!o.password) bad('no password: set LOA_SIM_PASSWORD or use --password-file FILE');
  checkPrefix(o.prefix ?? 'sim');
}

/** mqtt://<host of the controller URL>:1883 */
export function defaultMqttUrl(controller: string): string {
  const h = new URL(controller).hostname;
  return `mqtt://${h.includes(':') ? `[${h}]` : h}:1883`;
}

/** The zone chain of `zoneId` (province first), checked to be a place devices can be registered in. */
async function zoneChain(api: SimApi, zoneId: string): Promise<string[]> {
  const { zone } = await api.get<{ zone: { id: string; level: string; path: string } }>(`/api/v1/zones/${encodeURIComponent(zoneId)}`);
  if (zone.level !== 'cluster' && zone.level !== 'commune') {
    throw new LoaError('LOA_ERR_SIM_INPUT', `zone ${zoneId} is a ${zone.level}; simulated devices go into a cluster (or a commune)`);
  }
  return zone.path.split('/').filter(Boolean);
}

/** Registers the devices not imported yet, in batches, saving the state after each batch. */
async function register(api: SimApi, ids: SimIdentity[], o: SimRunOptions, io: SimIo, save: () => void): Promise<void> {
  const todo = ids.filter((d) => !d.imported);
  const batch = o.importBatch ?? 1000;
  let done = ids.length - todo.length;
  if (done) io.line(`registered ${done.toLocaleString('en-US')} device(s) in an earlier run (state file)`);
  for (let i = 0; i < todo.length; i += batch) {
    const part = todo.slice(i, i + batch);
    try {
      await api.post('/api/v1/devices/import', {
        devices: part.map((d) => ({ id: d.id, zoneId: o.zone, name: `Loa mô phỏng ${d.id.slice(d.id.lastIndexOf('-') + 1)}`, kind: 'speaker', publicKey: d.publicKey })),
      });
    } catch (e) {
      if (controllerCode(e) === 'LOA_ERR_CONFLICT') {
        throw new LoaError('LOA_ERR_SIM_INPUT', `${(e as Error).message}. Devices with these ids were registered by an earlier run: use another --prefix, or the --state file of that run to reuse them`, { cause: e });
      }
      throw e;
    }
    for (const d of part) d.imported = true;
    save();
    done += part.length;
    io.line(`registered ${done.toLocaleString('en-US')}/${ids.length.toLocaleString('en-US')} devices in ${o.zone}`);
  }
}

/**
 * `loa sim`, up to a running fleet: signs in, reads the zone chain and the trust root (checked against its own
 * signatures, as a device installs its first root), makes or reuses the device keys, registers the devices
 * through POST /api/v1/devices/import, and starts the worker processes. Progress lines go to `io`, about once
 * a second: connections while they come up, then each order's acks as they change, and errors.
 */
export async function startSim(o: SimRunOptions, io: SimIo): Promise<SimSession> {
  checkOptions(o);
  const prefix = o.prefix ?? 'sim';
  const controller = new URL(o.controller).origin;
  const api = new SimApi(controller);
  await api.login(o.username, o.password);
  const zones = await zoneChain(api, o.zone);
  const env = await api.get<SignedRoot>('/api/v1/trust/root');
  const root = verifyInitialRoot(env, Date.now());
  io.line(`controller ${controller}: root v${root.version}, zone ${o.zone} (${zones.join(' › ')})`);

  const prior: SimState | null = o.state ? loadState(o.state) : null;
  const ids = identitiesFor(o.devices, { prefix, zoneId: o.zone, controller, state: prior, progress: (k) => io.line(`keys ${k.toLocaleString('en-US')}/${o.devices.toLocaleString('en-US')}`) });
  const state: SimState = { version: 1, controller, zoneId: o.zone, prefix, devices: prior ? [...ids, ...prior.devices.slice(ids.length)] : ids };
  const save = (): void => {
    if (o.state) saveState(o.state, state);
  };
  save();
  await register(api, ids, o, io, save);

  const mqttUrl = o.mqtt ?? defaultMqttUrl(controller);
  const t = o.traffic;
  const traffic: TrafficSpec | null = t && (t.telemetryMs || t.playEveryMs || t.fetchManifests)
    ? { telemetryMs: t.telemetryMs ?? null, playEveryMs: t.playEveryMs ?? null, httpBase: t.fetchManifests ? controller : null } : null;
  const fleet = new SimFleet({
    devices: ids.map((d) => ({ id: d.id, privateKeyPem: d.privateKeyPem, zones })), mqttUrl, root,
    workers: o.workers ?? availableParallelism(), playMs: o.playMs ?? null, connectConcurrency: o.connectConcurrency ?? 200, workerOutput: o.workerOutput ?? 'inherit',
    ...(traffic ? { traffic } : {}),
  });
  await fleet.start();
  io.line(`${ids.length.toLocaleString('en-US')} devices on ${fleet.workerCount} worker process(es) (pids ${fleet.pids.join(', ')}), connecting to ${mqttUrl}`);

  const t0 = performance.now();
  let allUp = false;
  let lastConnected = -1;
  const dirty = new Set<string>();
  const errors: ErrorTally = {};
  const onAck = (a: { orderId: string }): void => {
    dirty.add(a.orderId);
  };
  const onErrors = (t: ErrorTally): void => mergeErrors(errors, t);
  fleet.on('ack', onAck);
  fleet.on('errors', onErrors);
  const tick = (): void => {
    const t = fleet.totals();
    if (t.connected !== lastConnected && (!allUp || t.connected < t.devices || lastConnected < t.devices)) io.line(connectedLine(t));
    lastConnected = t.connected;
    for (const id of dirty) {
      const ot = fleet.order(id);
      if (ot) io.line(orderLine(ot));
    }
    dirty.clear();
    if (Object.keys(errors).length) {
      io.line(errorsLine(errors));
      for (const k of Object.keys(errors)) delete errors[k];
    }
  };
  const ticker = setInterval(tick, o.progressMs ?? 1000);
  const connected = fleet.waitConnected().then((t) => {
    tick();
    allUp = true;
    io.line(`all ${t.devices.toLocaleString('en-US')} devices connected in ${((performance.now() - t0) / 1000).toFixed(1)} s; waiting for orders`);
    return t;
  });
  connected.catch(() => undefined); // the caller awaits it; a failure must not go unhandled meanwhile

  let stopping: Promise<SimSummary> | null = null;
  const stop = (): Promise<SimSummary> => (stopping ??= (async () => {
    clearInterval(ticker);
    tick();
    const before = fleet.totals().connected;
    io.line(`stopping: disconnecting ${before.toLocaleString('en-US')} device(s)`);
    const t = await fleet.stop();
    fleet.off('ack', onAck);
    fleet.off('errors', onErrors);
    const orders = fleet.orders.map((x) => ({
      orderId: x.orderId, received: x.devices.received.size, started: x.devices.started.size, finished: x.devices.finished.size,
      cancelled: x.devices.cancelled.size, failed: x.devices.failed.size, rejected: x.devices.rejected.size, codes: { ...x.codes },
    }));
    for (const x of fleet.orders) io.line(orderLine(x));
    io.line(`stopped: ${t.workers} worker(s) ended`);
    return {
      devices: ids.length, workers: t.workers, connectedAtStop: before, connectFailures: t.connectFailures, drops: t.drops,
      telemetry: t.telemetry, plays: t.plays, unacked: t.unacked, fetches: t.fetches, fetchFailures: t.fetchFailures, orders,
    };
  })());
  return { fleet, deviceIds: ids.map((d) => d.id), zones, root, mqttUrl, connected, stop };
}

/** The password from `--password-file` or LOA_SIM_PASSWORD (never from the command line, never printed). */
export async function simPassword(o: { passwordFile?: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (o.passwordFile) {
    const { readFileSync } = await import('node:fs');
    try {
      return readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new LoaError('LOA_ERR_SIM_INPUT', `--password-file ${o.passwordFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
  }
  const p = env.LOA_SIM_PASSWORD;
  if (!p) throw new LoaError('LOA_ERR_SIM_INPUT', 'no password: set LOA_SIM_PASSWORD or use --password-file FILE');
  return p;
}

export interface SimCliOptions {
  controller: string;
  mqtt?: string;
  devices: string;
  zone: string;
  workers?: string;
  prefix: string;
  playMs?: string;
  username: string;
  passwordFile?: string;
  state?: string;
  connectConcurrency: string;
  telemetryEvery?: string;
  playsEvery?: string;
  fetchManifests?: boolean;
}

function int(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const s = v.replace(/[,_]/g, '');
  if (!/^\d+$/.test(s)) throw new LoaError('LOA_ERR_SIM_INPUT', `${what} must be a whole number (got "${v}")`);
  return Number(s);
}

/** Seconds (decimals allowed) → ms; undefined when not given. */
function seconds(v: string | undefined, what: string): number | null {
  if (v === undefined) return null;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new LoaError('LOA_ERR_SIM_INPUT', `${what} must be a number of seconds (got "${v}")`);
  return Math.round(Number(v) * 1000);
}

/** The `loa sim` action: runs until SIGINT/SIGTERM, then stops cleanly and prints a JSON summary on stdout. */
export async function simCommand(c: SimCliOptions): Promise<SimSummary> {
  const io: SimIo = { line: (s) => process.stderr.write(`${s}\n`) };
  const ctl = new AbortController();
  let session: SimSession | null = null;
  const onSignal = (): void => {
    // Before the workers run there is nothing to stop: the state file is saved after every import batch.
    if (!session) process.exit(130);
    ctl.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    session = await startSim({
      controller: c.controller, ...(c.mqtt ? { mqtt: c.mqtt } : {}), devices: int(c.devices, '--devices') ?? 0, zone: c.zone,
      ...(c.workers !== undefined ? { workers: int(c.workers, '--workers')! } : {}), prefix: c.prefix, playMs: int(c.playMs, '--play-ms') ?? null,
      username: c.username, password: await simPassword(c), ...(c.state ? { state: c.state } : {}), connectConcurrency: int(c.connectConcurrency, '--connect-concurrency') ?? 200,
      traffic: { telemetryMs: seconds(c.telemetryEvery, '--telemetry-every'), playEveryMs: seconds(c.playsEvery, '--plays-every'), fetchManifests: c.fetchManifests === true },
    }, io);
    const s = session;
    console.log(JSON.stringify({ ready: true, devices: s.deviceIds.length, workers: s.fleet.workerCount, zone: c.zone, mqtt: s.mqttUrl }));
    let failure: Error | null = s.fleet.failure;
    try {
      if (failure) throw failure;
      await Promise.race([
        new Promise<void>((r) => ctl.signal.addEventListener('abort', () => r(), { once: true })),
        new Promise<never>((_, reject) => s.fleet.once('failure', reject)),
      ]);
    } catch (e) {
      failure = e instanceof Error ? e : new LoaError('LOA_ERR_SIM_WORKER', String(e));
    }
    const summary = await s.stop();
    console.log(JSON.stringify({ stopped: true, ...summary }));
    if (failure) throw failure;
    return summary;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
