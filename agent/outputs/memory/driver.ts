/**
 * An in-memory relay board for tests and the demo. It records every switch with the clock's time, reads back its
 * real state, and can be made to fail (the board vanishes) or to have a stuck relay (read-back mismatch).
 */
import type { Clock } from '../../../shared/clock.js';
import { LoaError } from '../../../shared/errors.js';
import type { RelayDriver } from '../../../shared/outputs.js';
import { checkChannel, throwIfAborted } from '../util.js';

export interface RelaySwitch {
  /** clock.now() when the board switched. */
  at: number;
  channel: number;
  on: boolean;
  /** Which call switched it. */
  via: 'set' | 'setAll';
}

export interface MemoryRelayDriverOptions {
  channels: number;
  clock: Clock;
  /** Board state before start (a board keeps its relays across an agent crash). Default all off. */
  initial?: readonly boolean[];
}

export class MemoryRelayDriver implements RelayDriver {
  readonly kind = 'memory';
  readonly supportsReadBack = true;
  readonly channels: number;
  onFault?: (err: Error) => void;
  /** Every switch, in order. setAll records one entry per channel. */
  readonly switches: RelaySwitch[] = [];
  /** The board's relays. */
  readonly board: boolean[];
  starts = 0;
  stops = 0;
  private readonly options: MemoryRelayDriverOptions;
  private started = false;
  private failure: LoaError | undefined;
  private readonly stuck = new Map<number, boolean>();

  constructor(options: MemoryRelayDriverOptions) {
    this.options = options;
    this.channels = options.channels;
    this.board = Array.from({ length: options.channels }, (_, i) => options.initial?.[i] === true);
  }

  get isStarted(): boolean {
    return this.started;
  }

  /**
   * The board disappears: every call rejects with `err` until heal(). With `notify` (default) a started driver
   * also tells onFault, as a closed port does; without it the next call is the first to notice.
   */
  fail(
    err: LoaError = new LoaError('LOA_ERR_SERIAL_PORT_MISSING', 'The serial port does not exist: memory', { details: { port: 'memory' } }),
    options: { notify?: boolean } = {},
  ): void {
    this.failure = err;
    const wasStarted = this.started;
    this.started = false;
    if (wasStarted && options.notify !== false) this.onFault?.(err);
  }

  /** The board is back (it keeps whatever its relays were). */
  heal(): void {
    this.failure = undefined;
  }

  /** A relay that stays at `value` whatever is set (a welded contact); undefined frees it. */
  stick(channel: number, value: boolean | undefined): void {
    if (value === undefined) this.stuck.delete(channel);
    else {
      this.stuck.set(channel, value);
      this.board[channel] = value;
    }
  }

  /** Switches recorded for one channel, as [at, on] pairs. */
  history(channel: number): Array<[number, boolean]> {
    return this.switches.filter((s) => s.channel === channel).map((s) => [s.at, s.on]);
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.op(() => {
      throwIfAborted(signal);
      this.starts++;
      this.started = true;
    }, false);
  }

  set(channel: number, on: boolean): Promise<void> {
    return this.op(() => {
      checkChannel(channel, this.channels, 'memory');
      this.switch(channel, on, 'set');
    });
  }

  setAll(on: boolean): Promise<void> {
    return this.op(() => {
      for (let ch = 0; ch < this.channels; ch++) this.switch(ch, on, 'setAll');
    });
  }

  readState(): Promise<boolean[] | null> {
    return this.op(() => [...this.board]);
  }

  stop(): Promise<void> {
    if (this.started) this.stops++;
    this.started = false;
    return Promise.resolve();
  }

  private switch(channel: number, on: boolean, via: RelaySwitch['via']): void {
    this.switches.push({ at: this.options.clock.now(), channel, on, via });
    this.board[channel] = this.stuck.get(channel) ?? on;
  }

  private op<T>(fn: () => T, needsStart = true): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (needsStart && !this.started) return Promise.reject(new LoaError('LOA_ERR_SERIAL_IO', 'The memory relay board is not started'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
