/**
 * The bottom layer of the serial relay drivers (DESIGN §6: transport → frame → driver → adapter): a byte pipe to
 * a serial port. The real implementation wraps `serialport`; tests can inject their own.
 */
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { SerialPort as SerialPortType } from 'serialport';

// serialport (and its native binding) is loaded on first use: profiles without a serial relay never pay for it.
const loadSerialPort = (): typeof SerialPortType => (createRequire(import.meta.url)('serialport') as { SerialPort: typeof SerialPortType }).SerialPort;
import { LoaError } from '../../../shared/errors.js';
import { eofSafeBinding } from './binding.js';

export interface SerialTransportOptions {
  path: string;
  baudRate: number;
  parity?: 'none' | 'even' | 'odd';
}

export interface SerialTransport {
  readonly path: string;
  /** Opens the port. Rejects with LOA_ERR_SERIAL_PORT_MISSING (naming the port) or LOA_ERR_SERIAL_IO. */
  open(): Promise<void>;
  /** Writes and waits until the bytes left the process. Rejects with LOA_ERR_SERIAL_IO. */
  write(data: Uint8Array): Promise<void>;
  /** Closes the port. Never rejects; onClose is not called for a close that was asked for. */
  close(): Promise<void>;
  /** Bytes from the port. */
  onData: ((chunk: Buffer) => void) | undefined;
  /** The port closed or failed without being asked to (unplugged, peer gone). Called at most once per open. */
  onClose: ((err: LoaError) => void) | undefined;
}

export type SerialTransportFactory = (options: SerialTransportOptions) => SerialTransport;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Turns an open failure into a coded error: a missing device node becomes LOA_ERR_SERIAL_PORT_MISSING. */
export async function serialOpenError(path: string, cause: unknown): Promise<LoaError> {
  let missing = /no such file|ENOENT/i.test(message(cause));
  if (!missing) {
    try {
      await stat(path);
    } catch (e) {
      missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
  if (missing) {
    return new LoaError('LOA_ERR_SERIAL_PORT_MISSING', `The serial port does not exist: ${path}`, { cause, details: { port: path } });
  }
  return new LoaError('LOA_ERR_SERIAL_IO', `Cannot open serial port ${path}: ${message(cause)}`, { cause, details: { port: path } });
}

export function serialIoError(path: string, what: string, cause: unknown): LoaError {
  return new LoaError('LOA_ERR_SERIAL_IO', `Serial ${what} failed on ${path}: ${message(cause)}`, { cause, details: { port: path } });
}

/** A SerialTransport over the `serialport` package. It always reads, so that an unplugged port is noticed. */
export class NodeSerialTransport implements SerialTransport {
  readonly path: string;
  onData: ((chunk: Buffer) => void) | undefined;
  onClose: ((err: LoaError) => void) | undefined;
  private readonly options: SerialTransportOptions;
  private port: SerialPortType | undefined;
  private closing = false;
  private faulted = false;

  constructor(options: SerialTransportOptions) {
    this.options = options;
    this.path = options.path;
  }

  async open(): Promise<void> {
    if (this.port) throw new LoaError('LOA_ERR_SERIAL_IO', `Serial port ${this.path} is already open`, { details: { port: this.path } });
    // `binding` is not in SerialPort's option type, but its constructor hands it to the stream: the EOF-safe
    // binding notices an unplugged port (see ./binding.ts).
    const options = { path: this.path, baudRate: this.options.baudRate, parity: this.options.parity ?? 'none', autoOpen: false, binding: eofSafeBinding() };
    const SerialPort = loadSerialPort();
    const port = new SerialPort(options);
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } catch (e) {
      throw await serialOpenError(this.path, e);
    }
    this.port = port;
    this.closing = false;
    this.faulted = false;
    port.on('data', this.handleData);
    port.on('error', this.handleError);
    port.on('close', this.handleClose);
  }

  write(data: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port || !port.isOpen) {
      return Promise.reject(serialIoError(this.path, 'write', new Error('port is not open')));
    }
    return new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(data), (err) => {
        if (err) {
          reject(serialIoError(this.path, 'write', err));
          return;
        }
        port.drain((derr) => (derr ? reject(serialIoError(this.path, 'drain', derr)) : resolve()));
      });
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port) return;
    this.closing = true;
    this.port = undefined;
    port.off('data', this.handleData);
    port.off('close', this.handleClose);
    if (port.isOpen) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    // An 'error' can still arrive while a failed port tears down; keep a listener until here so it is never unhandled.
    port.off('error', this.handleError);
    port.on('error', ignore);
  }

  private readonly handleData = (chunk: Buffer): void => {
    this.onData?.(chunk);
  };

  private readonly handleError = (err: Error): void => {
    this.fail(serialIoError(this.path, 'I/O', err));
  };

  private readonly handleClose = (err?: Error | null): void => {
    this.fail(new LoaError('LOA_ERR_SERIAL_IO', `Serial port ${this.path} closed unexpectedly${err ? `: ${err.message}` : ''}`, {
      cause: err ?? undefined,
      details: { port: this.path },
    }));
  };

  private fail(err: LoaError): void {
    if (this.closing || this.faulted) return;
    this.faulted = true;
    const port = this.port;
    this.port = undefined;
    if (port) {
      port.off('data', this.handleData);
      port.off('close', this.handleClose);
      port.off('error', this.handleError);
      port.on('error', ignore);
      if (port.isOpen) port.close(ignore);
    }
    this.onClose?.(err);
  }
}

function ignore(): void {
  /* a failed port may still report errors while it closes */
}
