/**
 * The Modbus RTU relay driver: coils on one slave, through modbus-serial (which does the transport and the CRC
 * framing). FC05 switches one coil, FC0F all of them, FC01 reads them back.
 */
import { createRequire } from 'node:module';
import type ModbusSerialType from 'modbus-serial';

const requireCjs = createRequire(import.meta.url);
import { LoaError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import type { RelayDriver } from '../../../shared/outputs.js';
import { eofSafeBinding } from '../serial/binding.js';
import { serialOpenError } from '../serial/transport.js';
import { checkChannel, notStarted, OperationQueue, throwIfAborted } from '../util.js';

/** The part of modbus-serial's client the driver uses, so tests can inject another. */
export interface ModbusClient {
  connectRTUBuffered(path: string, options: { baudRate?: number; parity?: 'none' | 'even' | 'odd'; binding?: unknown }): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readCoils(address: number, length: number): Promise<{ data: boolean[] }>;
  writeCoil(address: number, state: boolean): Promise<unknown>;
  writeCoils(address: number, states: boolean[]): Promise<unknown>;
  close(callback: (err?: unknown) => void): void;
  on(event: 'close' | 'error', listener: (err?: unknown) => void): unknown;
  removeListener(event: 'close' | 'error', listener: (err?: unknown) => void): unknown;
  readonly isOpen: boolean;
}

export interface ModbusDriverOptions {
  port: string;
  channels: number;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  /** Slave address, default 1. */
  unitId?: number;
  /** Address of the coil for channel 0, default 0. */
  coilOffset?: number;
  /** How long to wait for each reply, default 500 ms. */
  timeoutMs?: number;
  log: Logger;
  client?: () => ModbusClient;
}

function describe(e: unknown): { message: string; errno: unknown } {
  if (e && typeof e === 'object') {
    const o = e as { message?: unknown; errno?: unknown };
    return { message: typeof o.message === 'string' ? o.message : JSON.stringify(o), errno: o.errno };
  }
  return { message: String(e), errno: undefined };
}

export class ModbusDriver implements RelayDriver {
  readonly kind = 'modbus-rtu';
  readonly supportsReadBack = true;
  readonly channels: number;
  onFault?: (err: Error) => void;
  private readonly options: ModbusDriverOptions;
  private readonly queue = new OperationQueue();
  private client: ModbusClient | undefined;
  private detach: (() => void) | undefined;

  constructor(options: ModbusDriverOptions) {
    this.options = options;
    this.channels = options.channels;
  }

  get port(): string {
    return this.options.port;
  }

  private get unitId(): number {
    return this.options.unitId ?? 1;
  }

  private get coilOffset(): number {
    return this.options.coilOffset ?? 0;
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 500;
  }

  async start(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.stop();
    const client = this.options.client ? this.options.client() : (new (requireCjs('modbus-serial') as { default: typeof ModbusSerialType.default }).default() as unknown as ModbusClient);
    client.setID(this.unitId);
    client.setTimeout(this.timeoutMs);
    // modbus-serial emits 'error' on port errors; an EventEmitter without a listener would throw it.
    client.on('error', ignore);
    try {
      // modbus-serial hands the options to serialport, so the EOF-safe binding notices an unplugged adapter.
      await client.connectRTUBuffered(this.port, { baudRate: this.options.baudRate ?? 9600, parity: this.options.parity ?? 'none', binding: eofSafeBinding() });
    } catch (e) {
      throw await serialOpenError(this.port, e);
    }
    const onClose = (): void => {
      if (this.client !== client) return;
      this.client = undefined;
      client.removeListener('close', onClose);
      const err = new LoaError('LOA_ERR_SERIAL_IO', `Serial port ${this.port} closed unexpectedly`, { details: { port: this.port } });
      this.options.log.warn({ err, port: this.port }, 'Modbus relay port closed unexpectedly');
      this.onFault?.(err);
    };
    client.on('close', onClose);
    this.detach = (): void => {
      client.removeListener('close', onClose);
    };
    this.client = client;
    this.options.log.info({ port: this.port, unitId: this.unitId, channels: this.channels }, 'Modbus relay board opened');
  }

  set(channel: number, on: boolean): Promise<void> {
    checkChannel(channel, this.channels, this.port);
    return this.call('write coil', async (c) => {
      await c.writeCoil(this.coilOffset + channel, on);
    });
  }

  setAll(on: boolean): Promise<void> {
    return this.call('write coils', async (c) => {
      await c.writeCoils(this.coilOffset, new Array<boolean>(this.channels).fill(on));
    });
  }

  readState(): Promise<boolean[] | null> {
    return this.call('read coils', async (c) => {
      const r = await c.readCoils(this.coilOffset, this.channels);
      if (!Array.isArray(r.data) || r.data.length < this.channels) {
        throw new LoaError('LOA_ERR_SERIAL_IO', `Short read-coils reply from unit ${this.unitId} on ${this.port}`, { details: { port: this.port } });
      }
      return r.data.slice(0, this.channels);
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.detach?.();
    this.detach = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      try {
        client.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private call<T>(what: string, fn: (client: ModbusClient) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      const client = this.client;
      if (!client || !client.isOpen) throw notStarted(this.port);
      try {
        return await fn(client);
      } catch (e) {
        throw this.mapError(what, e);
      }
    });
  }

  private mapError(what: string, e: unknown): LoaError {
    if (e instanceof LoaError) return e;
    const { message, errno } = describe(e);
    const details = { port: this.port, unitId: this.unitId };
    if (errno === 'ETIMEDOUT' || /timed out/i.test(message)) {
      return new LoaError('LOA_ERR_RELAY_TIMEOUT', `Modbus unit ${this.unitId} on ${this.port} did not answer ${what} within ${this.timeoutMs} ms`, { cause: e, details });
    }
    return new LoaError('LOA_ERR_SERIAL_IO', `Modbus ${what} failed on ${this.port} (unit ${this.unitId}): ${message}`, { cause: e, details });
  }
}

function ignore(): void {
  /* errors are reported through the failed request or the 'close' event */
}
