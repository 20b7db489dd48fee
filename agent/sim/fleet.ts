import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LoaError } from '../../shared/errors.js';
import type { EmergencyAck } from '../../shared/schemas/emergency.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { currentFdLimits, planFds } from './fd-limit.js';
import type { TrafficSpec } from './traffic.js';
import { isFromWorker, type AckReport, type ErrorTally, type FromWorker, type PingReport, type SimDeviceSpec, type ToWorker, type WorkerCounts, type WorkerStart } from './protocol.js';

export type AckState = EmergencyAck['state'];
export const ACK_STATES: readonly AckState[] = ['received', 'started', 'finished', 'failed', 'rejected', 'cancelled'];

export interface FleetOptions {
  devices: readonly SimDeviceSpec[];
  mqttUrl: string;
  root: RootMetadata;
  /** Worker processes (default: the number of CPUs, never more than the devices). */
  workers?: number;
  /** See SimDeviceOptions.playMs (default null: the order's own duration). */
  playMs?: number | null;
  /** Connection attempts in flight across the whole fleet (default 200). */
  connectConcurrency?: number;
  reportMs?: number;
  keepaliveS?: number;
  status?: boolean;
  /** Worker stdout/stderr: inherited (default) or ignored. */
  workerOutput?: 'inherit' | 'ignore';
  /** The compiled worker (default: worker.js next to this file). */
  workerPath?: string;
  /** How long a worker may take to start (default 20 s). */
  readyTimeoutMs?: number;
  /** Everyday traffic of every device (soak runs): telemetry, proof-of-play, manifest fetches on notify. */
  traffic?: TrafficSpec;
  /** Manifest fetches in flight across the fleet (default 40). */
  fetchConcurrency?: number;
}

export interface FleetTotals extends WorkerCounts {
  workers: number;
  workersAlive: number;
}

/** What the fleet saw of one order: devices per ack state, the times of their acks, refusal codes. */
export interface OrderTally {
  orderId: string;
  /** Distinct devices that sent each state. */
  devices: Record<AckState, Set<string>>;
  /** Device time of each device's first ack of each state, in arrival order (ms since epoch). */
  times: Record<AckState, number[]>;
  /** Refusal codes (rejected/failed), by code: devices. */
  codes: Record<string, number>;
}

export interface PingTally {
  n: number;
  devices: Set<string>;
  times: number[];
}

type FleetEvents = {
  progress: [FleetTotals];
  ack: [AckReport];
  errors: [ErrorTally, number];
  failure: [LoaError];
};

interface Slot {
  index: number;
  child: ChildProcess;
  counts: WorkerCounts;
  alive: boolean;
  stopped: boolean;
}

const emptyCounts = (devices: number): WorkerCounts => ({ devices, connected: 0, connectFailures: 0, drops: 0, notifies: 0, pings: 0, unacked: 0, cpuMs: 0, telemetry: 0, plays: 0, fetches: 0, fetchFailures: 0 });

/**
 * N simulated devices spread over W worker processes (child_process.fork of worker.js). The parent hands
 * each worker its slice (ids, private keys, zone chains), the root and the broker URL over IPC, and folds
 * their reports: connection counts, and per order the devices that acked each state with their times.
 * `stop()` asks every worker to disconnect its devices and exit; a worker that does not is killed (by its
 * own pid, never by name).
 */
export class SimFleet extends EventEmitter<FleetEvents> {
  private slots: Slot[] = [];
  private readonly orderMap = new Map<string, OrderTally>();
  private readonly pingMap = new Map<number, PingTally>();
  private stopping = false;
  private failed: LoaError | null = null;

  constructor(private readonly o: FleetOptions) {
    super();
  }

  get workerCount(): number {
    return this.slots.length;
  }

  /** Worker pids (for tests and diagnostics). */
  get pids(): number[] {
    return this.slots.map((s) => s.child.pid ?? -1);
  }

  /** A worker failure (fatal message or unexpected exit), if any. */
  get failure(): LoaError | null {
    return this.failed;
  }

  totals(): FleetTotals {
    const t: FleetTotals = { ...emptyCounts(0), workers: this.slots.length, workersAlive: 0 };
    for (const s of this.slots) {
      for (const k of Object.keys(s.counts) as (keyof WorkerCounts)[]) t[k] += s.counts[k];
      if (s.alive) t.workersAlive++;
    }
    return t;
  }

  order(orderId: string): OrderTally | undefined {
    return this.orderMap.get(orderId);
  }

  get orders(): OrderTally[] {
    return [...this.orderMap.values()];
  }

  ping(n: number): PingTally | undefined {
    return this.pingMap.get(n);
  }

  /** Forks the workers, waits until each is ready, and hands out the slices. Devices then connect in the background. */
  async start(): Promise<void> {
    if (this.slots.length) throw new LoaError('LOA_ERR_SIM_INPUT', 'the fleet is already started');
    const n = this.o.devices.length;
    if (n === 0) throw new LoaError('LOA_ERR_SIM_INPUT', 'a fleet needs at least one device');
    const w = Math.max(1, Math.min(n, Math.floor(this.o.workers ?? availableParallelism())));
    const path = this.o.workerPath ?? fileURLToPath(new URL('./worker.js', import.meta.url));
    const per = Math.ceil(n / w);
    const slices = Array.from({ length: w }, (_, i) => this.o.devices.slice(i * per, (i + 1) * per)).filter((s) => s.length > 0);
    const limits = currentFdLimits();
    const concurrency = Math.max(1, Math.ceil((this.o.connectConcurrency ?? 200) / slices.length));
    const ready: Promise<void>[] = [];
    for (const [index, slice] of slices.entries()) {
      const plan = planFds(slice.length, limits);
      if (plan.kind === 'short') {
        throw new LoaError('LOA_ERR_SIM_FD_LIMIT', `each worker would hold ${slice.length} connections, but the open-file limit is ${plan.limit} (hard): at most ${plan.max} per worker fit. Raise the hard limit (ulimit -Hn, /etc/security/limits.conf, LimitNOFILE=) or use more workers (--workers ${Math.ceil(n / Math.max(1, plan.max))}).`, {
          details: { perWorker: slice.length, hardLimit: plan.limit },
        });
      }
      const child = fork(path, [String(index)], {
        stdio: ['ignore', this.o.workerOutput ?? 'inherit', this.o.workerOutput ?? 'inherit', 'ipc'],
        execArgv: [],
      });
      const slot: Slot = { index, child, counts: emptyCounts(slice.length), alive: true, stopped: false };
      this.slots.push(slot);
      ready.push(this.wire(slot, {
        kind: 'start', index, mqttUrl: this.o.mqttUrl, root: this.o.root, devices: [...slice], connectConcurrency: concurrency, playMs: this.o.playMs ?? null,
        reportMs: this.o.reportMs ?? 250, keepaliveS: this.o.keepaliveS ?? 60, status: this.o.status ?? true,
        ...(this.o.traffic ? { traffic: this.o.traffic, fetchConcurrency: Math.max(1, Math.ceil((this.o.fetchConcurrency ?? 40) / slices.length)) } : {}),
      }));
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await this.stop(2000);
      throw e;
    }
  }

  /** Resolves once `count` devices (default all) are connected; rejects on a worker failure, the timeout, or `signal`. */
  waitConnected(count = this.o.devices.length, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<FleetTotals> {
    return this.waitFor((t) => t.connected >= count, `${count.toLocaleString('en-US')} connected devices`, opts);
  }

  /** Resolves when `check` holds for the totals (checked on every report). */
  waitFor(check: (t: FleetTotals) => boolean, what: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<FleetTotals> {
    return new Promise((resolve, reject) => {
      const done = (e: Error | null): void => {
        this.off('progress', onProgress);
        this.off('failure', onFailure);
        opts.signal?.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
        if (e) reject(e);
        else resolve(this.totals());
      };
      const onProgress = (t: FleetTotals): void => {
        if (check(t)) done(null);
      };
      const onFailure = (e: LoaError): void => done(e);
      const onAbort = (): void => done(new LoaError('LOA_ERR_SIM_INPUT', `stopped while waiting for ${what}`));
      const timer = opts.timeoutMs ? setTimeout(() => {
        const t = this.totals();
        done(new LoaError('LOA_ERR_SIM_WORKER', `timed out after ${opts.timeoutMs} ms waiting for ${what} (connected ${t.connected}/${t.devices}, failed attempts ${t.connectFailures})`, { details: { ...t } }));
      }, opts.timeoutMs) : null;
      if (this.failed) return done(this.failed);
      if (check(this.totals())) return done(null);
      this.on('progress', onProgress);
      this.on('failure', onFailure);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops the everyday traffic on every worker; the devices stay connected and their queued events drain. */
  quiet(): void {
    for (const s of this.slots) this.post(s, { kind: 'quiet' });
  }

  /** Asks every worker to disconnect its devices and exit; kills those still running after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<FleetTotals> {
    this.stopping = true;
    const exits = this.slots.filter((s) => s.alive).map((s) => new Promise<void>((resolve) => {
      const killer = setTimeout(() => {
        if (s.alive) s.child.kill('SIGKILL');
      }, timeoutMs);
      s.child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      if (!s.alive) resolve();
      this.post(s, { kind: 'stop' });
    }));
    await Promise.all(exits);
    return this.totals();
  }

  private post(s: Slot, m: ToWorker): void {
    if (s.alive && s.child.connected) s.child.send(m);
  }

  private fail(e: LoaError): void {
    if (this.failed) return;
    this.failed = e;
    this.emit('failure', e);
  }

  /** Listens to one worker; resolves when it is ready and has been sent its slice. */
  private wire(s: Slot, startMsg: WorkerStart): Promise<void> {
    return new Promise((resolve, reject) => {
      let isReady = false;
      const timer = setTimeout(() => {
        const e = new LoaError('LOA_ERR_SIM_WORKER', `worker ${s.index} did not start within ${this.o.readyTimeoutMs ?? 20_000} ms`);
        this.fail(e);
        reject(e);
      }, this.o.readyTimeoutMs ?? 20_000);
      s.child.on('message', (m: unknown) => {
        if (!isFromWorker(m)) return;
        this.onMessage(s, m);
        if (m.kind === 'ready' && !isReady) {
          isReady = true;
          clearTimeout(timer);
          this.post(s, startMsg);
          resolve();
        }
      });
      s.child.once('error', (e) => {
        clearTimeout(timer);
        const err = new LoaError('LOA_ERR_SIM_WORKER', `worker ${s.index} could not be started: ${e.message}`, { cause: e });
        this.fail(err);
        reject(err);
      });
      s.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        s.alive = false;
        s.counts.connected = 0;
        if (!this.stopping && !s.stopped) this.fail(new LoaError('LOA_ERR_SIM_WORKER', `worker ${s.index} (pid ${s.child.pid ?? '?'}) exited unexpectedly (${signal ?? `code ${code ?? '?'}`})`, { details: { code, signal } }));
        if (!isReady) reject(this.failed ?? new LoaError('LOA_ERR_SIM_WORKER', `worker ${s.index} exited before it was ready`));
        this.emit('progress', this.totals());
      });
    });
  }

  private onMessage(s: Slot, m: FromWorker): void {
    switch (m.kind) {
      case 'ready':
        return;
      case 'fatal':
        this.fail(new LoaError(m.code === 'LOA_ERR_SIM_FD_LIMIT' ? 'LOA_ERR_SIM_FD_LIMIT' : 'LOA_ERR_SIM_WORKER', m.message));
        return;
      case 'stopped':
        s.stopped = true;
        s.counts = m.counts;
        this.emit('progress', this.totals());
        return;
      case 'report': {
        s.counts = m.counts;
        for (const a of m.acks) this.foldAck(a);
        for (const p of m.pings) this.foldPing(p);
        const n = Object.keys(m.errors).length;
        if (n) this.emit('errors', m.errors, s.index);
        this.emit('progress', this.totals());
        return;
      }
    }
  }

  private foldAck(a: AckReport): void {
    let t = this.orderMap.get(a.orderId);
    if (!t) {
      t = {
        orderId: a.orderId, codes: {},
        devices: Object.fromEntries(ACK_STATES.map((s) => [s, new Set<string>()])) as Record<AckState, Set<string>>,
        times: Object.fromEntries(ACK_STATES.map((s) => [s, [] as number[]])) as Record<AckState, number[]>,
      };
      this.orderMap.set(a.orderId, t);
    }
    const set = t.devices[a.state];
    if (!set.has(a.deviceId)) {
      set.add(a.deviceId);
      t.times[a.state].push(a.at);
      if (a.code) t.codes[a.code] = (t.codes[a.code] ?? 0) + 1;
    }
    this.emit('ack', a);
  }

  private foldPing(p: PingReport): void {
    let t = this.pingMap.get(p.n);
    if (!t) this.pingMap.set(p.n, (t = { n: p.n, devices: new Set(), times: [] }));
    if (!t.devices.has(p.deviceId)) {
      t.devices.add(p.deviceId);
      t.times.push(p.at);
    }
  }
}
