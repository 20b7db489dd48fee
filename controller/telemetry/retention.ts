import { AbortError, SystemClock, type Clock } from '../../shared/clock.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { TelemetryRepo } from '../data/telemetry.js';

const DAY_MS = 86_400_000;

export interface RetentionDays {
  /** Default 30. */
  telemetry?: number;
  /** Default 180. */
  events?: number;
  /** Default 400. */
  plays?: number;
}

export interface RetentionOptions {
  repo: TelemetryRepo;
  clock?: Clock;
  log?: Logger;
  days?: RetentionDays;
  /** Time between runs. Default 1 h; the first run is right after start(). */
  intervalMs?: number;
  /** Rows per DELETE (one short transaction each), so ingest is never held up for long. Default 1000. */
  batchSize?: number;
}

export interface RetentionResult {
  telemetry: number;
  events: number;
  plays: number;
}

/**
 * Deletes telemetry, device events and plays older than their retention (controller receive time for
 * telemetry and events, scheduled time for plays). Works in small batches and yields to the event loop
 * between them, so the database is never locked for long. Time comes from the injected clock.
 */
export class RetentionJob {
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: RetentionOptions) {}

  private get log(): Logger {
    return (this.options.log ??= createLogger('retention'));
  }

  private get clock(): Clock {
    return (this.options.clock ??= new SystemClock());
  }

  start(): void {
    if (this.abort) return;
    const abort = (this.abort = new AbortController());
    this.loop = this.run(abort.signal);
  }

  /** Stops after the batch in progress; `stopped()` resolves when the loop has ended. */
  stop(): void {
    this.abort?.abort();
    this.abort = null;
  }

  async stopped(): Promise<void> {
    await this.loop;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const r = await this.runOnce(signal);
        if (r.telemetry + r.events + r.plays > 0) this.log.info({ deleted: r }, 'retention: old rows deleted');
      } catch (e) {
        if (e instanceof AbortError) return;
        this.log.error({ code: 'LOA_ERR_INTERNAL', err: (e as Error).message }, 'retention run failed; it will run again');
      }
      try {
        await this.clock.sleep(this.options.intervalMs ?? 3_600_000, signal);
      } catch {
        return;
      }
    }
  }

  /** One pass over the three tables; returns how many rows went. */
  async runOnce(signal?: AbortSignal): Promise<RetentionResult> {
    const d = this.options.days ?? {};
    const now = this.clock.now();
    const repo = this.options.repo;
    const telemetry = await this.drain((n) => repo.deleteTelemetryBefore(now - (d.telemetry ?? 30) * DAY_MS, n), signal);
    const events = await this.drain((n) => repo.deleteEventsBefore(now - (d.events ?? 180) * DAY_MS, n), signal);
    const plays = await this.drain((n) => repo.deletePlaysBefore(now - (d.plays ?? 400) * DAY_MS, n), signal);
    return { telemetry, events, plays };
  }

  private async drain(del: (limit: number) => number, signal?: AbortSignal): Promise<number> {
    const batch = this.options.batchSize ?? 1000;
    let total = 0;
    for (;;) {
      if (signal?.aborted) throw new AbortError();
      const n = del(batch);
      total += n;
      if (n < batch) return total;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}
