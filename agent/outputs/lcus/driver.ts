/** The LCUS serial relay driver: frames from ./frame.ts over a SerialTransport, behind the shared RelayDriver. */
import type { Clock } from '../../../shared/clock.js';
import { LoaError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import type { RelayDriver } from '../../../shared/outputs.js';
import { NodeSerialTransport, type SerialTransport, type SerialTransportFactory } from '../serial/transport.js';
import { checkChannel, notStarted, throwIfAborted } from '../util.js';
import { encodeLcusFrame, LCUS_MAX_CHANNEL } from './frame.js';

export interface LcusDriverOptions {
  port: string;
  channels: number;
  baudRate?: number;
  clock: Clock;
  log: Logger;
  /** Builds the byte pipe; defaults to `serialport`. */
  transport?: SerialTransportFactory;
  /** Pause between the frames of setAll: some boards drop a frame that follows another too closely. Default 20. */
  frameGapMs?: number;
}

export class LcusDriver implements RelayDriver {
  readonly kind = 'lcus';
  readonly supportsReadBack = false;
  readonly channels: number;
  onFault?: (err: Error) => void;
  private readonly options: LcusDriverOptions;
  private transport: SerialTransport | undefined;

  constructor(options: LcusDriverOptions) {
    this.options = options;
    this.channels = options.channels;
  }

  get port(): string {
    return this.options.port;
  }

  async start(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (!Number.isInteger(this.channels) || this.channels < 1 || this.channels > LCUS_MAX_CHANNEL) {
      throw new LoaError('LOA_ERR_PROFILE_INVALID', `An LCUS board has 1..${LCUS_MAX_CHANNEL} channels, not ${this.channels}`);
    }
    await this.stop();
    const factory = this.options.transport ?? ((o): SerialTransport => new NodeSerialTransport(o));
    const transport = factory({ path: this.port, baudRate: this.options.baudRate ?? 9600 });
    // The boards send nothing we use, but reading keeps the port polled so an unplugged adapter is noticed.
    transport.onData = undefined;
    transport.onClose = (err): void => {
      if (this.transport !== transport) return;
      this.transport = undefined;
      this.options.log.warn({ err, port: this.port }, 'LCUS relay port closed unexpectedly');
      this.onFault?.(err);
    };
    await transport.open();
    this.transport = transport;
    this.options.log.info({ port: this.port, channels: this.channels }, 'LCUS relay board opened');
  }

  async set(channel: number, on: boolean): Promise<void> {
    checkChannel(channel, this.channels, this.port);
    await this.write(encodeLcusFrame(channel + 1, on));
  }

  async setAll(on: boolean): Promise<void> {
    const gap = this.options.frameGapMs ?? 20;
    for (let ch = 0; ch < this.channels; ch++) {
      if (ch > 0 && gap > 0) await this.options.clock.sleep(gap);
      await this.write(encodeLcusFrame(ch + 1, on));
    }
  }

  readState(): Promise<boolean[] | null> {
    return Promise.resolve(null);
  }

  async stop(): Promise<void> {
    const transport = this.transport;
    this.transport = undefined;
    if (!transport) return;
    transport.onClose = undefined;
    transport.onData = undefined;
    await transport.close();
  }

  private async write(frame: Buffer): Promise<void> {
    const transport = this.transport;
    if (!transport) throw notStarted(this.port);
    await transport.write(frame);
  }
}
