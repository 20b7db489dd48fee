/**
 * A `loa sim` worker process (child_process.fork of this file, compiled). It waits for its slice of the fleet
 * over IPC, runs one SimDevice per device (connections opened through a limiter), and reports counts, acks,
 * ping replies and errors to the parent every `reportMs`. On `stop` (or when the parent goes away) it
 * disconnects every device, sends a last report and `stopped`, and exits.
 */
import { currentFdLimits, planFds } from './fd-limit.js';
import { SimDevice } from './device.js';
import { Limiter } from './limiter.js';
import { isToWorker, type AckReport, type ErrorTally, type FromWorker, type PingReport, type WorkerCounts, type WorkerStart } from './protocol.js';

const index = Number(process.argv[2] ?? '0');
const counts: WorkerCounts = { devices: 0, connected: 0, connectFailures: 0, drops: 0, notifies: 0, pings: 0, unacked: 0, cpuMs: 0, telemetry: 0, plays: 0, fetches: 0, fetchFailures: 0 };
/** A report goes out at least this often, so the parent's CPU figure stays fresh. */
const HEARTBEAT_MS = 2000;
let lastSent = 0;
let devices: SimDevice[] = [];
let acks: AckReport[] = [];
let pings: PingReport[] = [];
let errors: ErrorTally = {};
let dirty = true;
let reportTimer: NodeJS.Timeout | null = null;
let stopping: Promise<void> | null = null;

function send(m: FromWorker): void {
  if (process.connected) process.send?.(m);
}

function tally(code: string, message: string): void {
  const e = (errors[code] ??= { count: 0, last: '' });
  e.count++;
  e.last = message.slice(0, 300);
}

function report(force = false): void {
  const unacked = devices.reduce((a, d) => a + d.unacked, 0);
  if (unacked !== counts.unacked) dirty = true;
  counts.unacked = unacked;
  const cpu = process.cpuUsage();
  counts.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  const now = Date.now();
  if (!force && !dirty && acks.length === 0 && pings.length === 0 && Object.keys(errors).length === 0 && now - lastSent < HEARTBEAT_MS) return;
  lastSent = now;
  send({ kind: 'report', index, counts: { ...counts }, acks, pings, errors });
  acks = [];
  pings = [];
  errors = {};
  dirty = false;
}

function start(m: WorkerStart): void {
  if (devices.length) return;
  const plan = planFds(m.devices.length, currentFdLimits());
  if (plan.kind === 'short') {
    send({ kind: 'fatal', index, code: 'LOA_ERR_SIM_FD_LIMIT', message: `worker ${index} must hold ${m.devices.length} connections, but its open-file limit is ${plan.limit} (hard): at most ${plan.max} fit. Raise it (ulimit -Hn, /etc/security/limits.conf, LimitNOFILE=) or use more workers.` });
    process.exitCode = 3;
    process.disconnect();
    return;
  }
  const limiter = new Limiter(Math.max(1, m.connectConcurrency));
  const fetchLimiter = new Limiter(Math.max(1, m.fetchConcurrency ?? 20));
  const root = m.root;
  counts.devices = m.devices.length;
  devices = m.devices.map((spec) => new SimDevice({
    spec, url: m.mqttUrl, root: () => root, playMs: m.playMs, limiter, keepaliveS: m.keepaliveS, status: m.status,
    ...(m.traffic ? { traffic: m.traffic, fetchLimiter } : {}),
    hooks: {
      up: () => {
        counts.connected++;
        dirty = true;
      },
      down: (reason) => {
        counts.connected--;
        counts.drops++;
        dirty = true;
        tally('LOA_ERR_SYNC_MQTT', `connection lost: ${reason}`);
      },
      connectFailed: (reason) => {
        counts.connectFailures++;
        dirty = true;
        tally('LOA_ERR_SYNC_MQTT', `connection refused or failed: ${reason}`);
      },
      ack: (r) => acks.push(r),
      ping: (r) => {
        counts.pings++;
        pings.push(r);
      },
      notify: () => {
        counts.notifies++;
        dirty = true;
      },
      error: tally,
      traffic: {
        telemetry: () => {
          counts.telemetry++;
          dirty = true;
        },
        play: () => {
          counts.plays++;
          dirty = true;
        },
        fetched: (ok, detail) => {
          if (ok) counts.fetches++;
          else {
            counts.fetchFailures++;
            tally('LOA_ERR_SYNC_HTTP', `manifest fetch failed: ${detail}`);
          }
          dirty = true;
        },
      },
    },
  }));
  for (const d of devices) d.start();
  reportTimer = setInterval(() => report(), m.reportMs);
  report(true);
}

function stop(): Promise<void> {
  stopping ??= (async () => {
    if (reportTimer) clearInterval(reportTimer);
    reportTimer = null;
    // In chunks: 5,000 devices saying "offline" at once would only queue at the broker.
    for (let i = 0; i < devices.length; i += 500) await Promise.all(devices.slice(i, i + 500).map((d) => d.stop()));
    counts.connected = devices.filter((d) => d.connected).length;
    report(true);
    send({ kind: 'stopped', index, counts: { ...counts } });
    if (process.connected) process.disconnect();
    // Nothing should be left, but a socket stuck in the kernel must not keep the worker alive.
    setTimeout(() => process.exit(0), 3000).unref();
  })();
  return stopping;
}

if (!process.send) {
  console.error('loa sim worker: start it through the fleet (child_process.fork), not by hand');
  process.exit(2);
}
process.on('message', (m: unknown) => {
  if (!isToWorker(m)) return;
  if (m.kind === 'start') start(m);
  else if (m.kind === 'quiet') for (const d of devices) d.quiet();
  else void stop();
});
// The parent died or closed the channel: stop as if asked to.
process.on('disconnect', () => void stop());
// Ctrl-C reaches the whole process group: the parent coordinates the stop, so a worker ignores SIGINT (and
// would stop anyway if the parent died). SIGTERM, sent to this worker alone, stops it.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void stop());
send({ kind: 'ready', index, pid: process.pid });
