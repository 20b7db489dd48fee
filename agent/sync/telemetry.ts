import { statfs } from 'node:fs/promises';
import { freemem, loadavg, uptime } from 'node:os';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import { DeviceTelemetry } from '../../shared/schemas/telemetry.js';
import { topics } from '../../shared/topics.js';
import { checker } from '../../shared/validate.js';
import { Waker } from './backoff.js';
import type { DrainSource } from './queue-drain.js';
import type { QueuedTelemetry, TelemetryQueue } from './telemetry-queue.js';

const telemetryChecker = checker(DeviceTelemetry, 'LOA_ERR_INTERNAL');
const MiB = 1024 * 1024;

/** What the agent knows about itself, for telemetry. */
export interface AgentStats {
  manifestVersion: number;
  stale: boolean;
  nowPlaying: string | null;
  /** Events not yet sent. */
  outbox: number;
}

export interface TelemetryOptions {
  dataDir: string;
  queue: TelemetryQueue;
  stats: () => AgentStats;
  clock: Clock;
  log: Logger;
  /** Sampling period (default 60 s). */
  intervalMs?: number;
  /** Called after each sample is queued (the drain looks at once). */
  onSample?: () => void;
}

/**
 * Health figures (DESIGN §3/§4): every minute a DeviceTelemetry sample goes into the durable telemetry
 * queue, whether or not the device is online; the queue is drained to `…/up/telemetry`.
 */
export class Telemetry {
  private readonly waker = new Waker();

  constructor(private readonly o: TelemetryOptions) {}

  async sample(): Promise<DeviceTelemetry> {
    const s = this.o.stats();
    let diskFreeMb: number | undefined;
    try {
      const fs = await statfs(this.o.dataDir);
      diskFreeMb = round1((fs.bavail * fs.bsize) / MiB);
    } catch {
      diskFreeMb = undefined;
    }
    const t: DeviceTelemetry = {
      at: Math.max(0, Math.round(this.o.clock.now())),
      manifestVersion: s.manifestVersion,
      stale: s.stale,
      uptimeS: Math.round(uptime()),
      cpuLoad: Math.min(1000, round1(loadavg()[0] ?? 0)),
      memFreeMb: round1(freemem() / MiB),
      ...(diskFreeMb !== undefined ? { diskFreeMb } : {}),
      outbox: s.outbox,
      nowPlaying: s.nowPlaying === null ? null : s.nowPlaying.slice(0, 300),
    };
    return telemetryChecker.parse(t, 'telemetry sample');
  }

  /** Samples now and then every interval, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.o.queue.add(await this.sample());
        this.o.onSample?.();
      } catch (e) {
        if (signal.aborted) break;
        this.o.log.warn({ reason: (e as Error).message }, 'telemetry sample failed');
      }
      await this.waker.wait(this.o.clock, this.o.intervalMs ?? 60_000, signal);
    }
  }
}

/** The telemetry queue as a drain source: each sample is deleted after its PUBACK. */
export function telemetrySource(o: { queue: TelemetryQueue; deviceId: string }): DrainSource<QueuedTelemetry> {
  return {
    name: 'telemetry',
    topic: topics.up(o.deviceId, 'telemetry'),
    next: (limit) => o.queue.next(limit),
    payload: (row) => row.body,
    ack: (row) => o.queue.remove(row.id),
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
