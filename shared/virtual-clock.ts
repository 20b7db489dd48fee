import { AbortError, type Clock } from './clock.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * A clock for tests and simulations. Time only moves when `advanceTo`/`advanceBy` is called; sleepers wake
 * in order, and between wake-ups the event loop is drained so that async work settles as it would in real time.
 * `step()` simulates an NTP step of the wall clock: sleepers keep their remaining duration, as real timers do.
 * An optional `lag` function adds event-loop lateness to each wake-up (to measure that start times do not drift).
 */
export class VirtualClock implements Clock {
  private t: number;
  private mono = 0;
  private seq = 0;
  private timers: Timer[] = [];
  private readonly lag: () => number;

  constructor(options: { start: number; lag?: () => number }) {
    this.t = options.start;
    this.lag = options.lag ?? ((): number => 0);
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.mono;
  }

  private moveTo(t: number): void {
    if (t > this.t) {
      this.mono += t - this.t;
      this.t = t;
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortError());
        return;
      }
      const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve: () => undefined };
      const onAbort = (): void => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(new AbortError());
      };
      timer.resolve = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Number of pending sleepers. */
  get pending(): number {
    return this.timers.length;
  }

  /** Lets promise chains and I/O callbacks run (a few macrotask turns). */
  static async settle(turns = 5): Promise<void> {
    for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
    // Real file I/O takes no simulated time: while any is in flight (thread-pool requests), wait for it in
    // real time, so simulated time never runs ahead of work that is still being done.
    for (let i = 0; i < 1000 && VirtualClock.ioInFlight(); i++) {
      await new Promise<void>((r) => setTimeout(r, 1));
      for (let j = 0; j < turns; j++) await new Promise<void>((r) => setImmediate(r));
    }
  }

  private static ioInFlight(): boolean {
    return process.getActiveResourcesInfo().some((t) => /^(FS|FileHandle|CloseReq)/.test(t));
  }

  async advanceTo(target: number): Promise<void> {
    if (!Number.isFinite(target)) throw new RangeError(`VirtualClock.advanceTo needs a finite time, got ${target}`);
    await VirtualClock.settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.moveTo(next.at + Math.max(0, this.lag()));
      next.resolve();
      await VirtualClock.settle();
    }
    this.moveTo(target);
    await VirtualClock.settle();
  }

  advanceBy(ms: number): Promise<void> {
    return this.advanceTo(this.t + ms);
  }

  /** Steps the wall clock by `ms` (negative = backwards) without firing anything; timers keep their remaining time. */
  async step(ms: number): Promise<void> {
    this.t += ms;
    for (const timer of this.timers) timer.at += ms;
    await VirtualClock.settle();
  }
}
