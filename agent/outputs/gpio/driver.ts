/** Relays on GPIO lines: the RelayDriver over a GpioLines factory (libgpiod through koffi, or the fake). */
import { LoaError, toLoaError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import type { RelayDriver } from '../../../shared/outputs.js';
import { checkChannel, notStarted, throwIfAborted } from '../util.js';
import type { GpioLines, GpioLinesFactory } from './lines.js';

export interface GpioDriverOptions {
  chip: string;
  /** Line offsets, one per channel. */
  lines: readonly number[];
  activeLow?: boolean;
  /** Name shown as the lines' user in `gpioinfo`. Default "loaphuong". */
  consumer?: string;
  gpio: GpioLinesFactory;
  log: Logger;
}

export class GpioDriver implements RelayDriver {
  readonly kind = 'gpio';
  /** Reads the value the kernel drives on each line. */
  readonly supportsReadBack = true;
  readonly channels: number;
  onFault?: (err: Error) => void;
  private readonly options: GpioDriverOptions;
  private lines: GpioLines | undefined;

  constructor(options: GpioDriverOptions) {
    this.options = options;
    this.channels = options.lines.length;
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.run(() => {
      throwIfAborted(signal);
      this.stopSync();
      // Requested with every line off: the relays never flicker on while the agent starts.
      this.lines = this.options.gpio({
        chip: this.options.chip,
        offsets: this.options.lines,
        activeLow: this.options.activeLow ?? false,
        consumer: this.options.consumer ?? 'loaphuong',
        initial: new Array<boolean>(this.channels).fill(false),
      });
      this.options.log.info({ chip: this.options.chip, lines: this.options.lines }, 'GPIO relay lines requested');
    });
  }

  set(channel: number, on: boolean): Promise<void> {
    return this.run(() => {
      checkChannel(channel, this.channels, this.options.chip);
      this.live().set(channel, on);
    });
  }

  setAll(on: boolean): Promise<void> {
    return this.run(() => this.live().setAll(new Array<boolean>(this.channels).fill(on)));
  }

  readState(): Promise<boolean[] | null> {
    return this.run(() => {
      const lines = this.live();
      return Array.from({ length: this.channels }, (_, i) => lines.get(i));
    });
  }

  stop(): Promise<void> {
    this.stopSync();
    return Promise.resolve();
  }

  private stopSync(): void {
    const lines = this.lines;
    this.lines = undefined;
    lines?.release();
  }

  private live(): GpioLines {
    if (!this.lines) throw notStarted(this.options.chip, 'LOA_ERR_GPIO');
    return this.lines;
  }

  /** GpioLines are synchronous; this turns what they throw into a rejected promise with a coded error. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof LoaError || (e instanceof Error && e.name === 'AbortError') ? e : toLoaError(e, 'LOA_ERR_GPIO'));
    }
  }
}
