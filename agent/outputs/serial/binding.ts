/**
 * A `serialport` binding that notices an unplugged port.
 *
 * On Linux, @serialport/bindings-cpp 13 retries a read that returns 0 bytes at once and forever
 * (serialport/bindings-cpp issue #162). A read returns 0 when the other end hangs up: a USB adapter unplugged,
 * a pty whose socat died. The agent would then spin at 100% CPU and never learn that the relay board is gone.
 * This wrapper gives opened Unix ports a read that treats 0 bytes as a disconnect, which the stream turns into
 * a 'close' event with `disconnected: true`. Other platforms keep the stock read.
 */
import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import type { SerialPort as SerialPortType } from 'serialport';

// serialport (and its native binding) is loaded on first use: profiles without a serial relay never pay for it.
const loadSerialPort = (): typeof SerialPortType => (createRequire(import.meta.url)('serialport') as { SerialPort: typeof SerialPortType }).SerialPort;

const readAsync = promisify(fsRead);

type Binding = typeof SerialPortType.binding;
type PortBinding = Awaited<ReturnType<Binding['open']>>;

/** The parts of bindings-cpp's Linux/Darwin port binding this read needs. */
interface UnixPortBinding {
  fd: number | null;
  readonly isOpen: boolean;
  poller: { once(event: 'readable', cb: (err?: Error | null) => void): unknown };
}

function isUnixPort(port: unknown): port is UnixPortBinding {
  const p = port as Partial<UnixPortBinding> | null;
  return !!p && typeof p.fd === 'number' && typeof p.poller?.once === 'function';
}

function canceled(message: string): Error {
  return Object.assign(new Error(message), { canceled: true });
}

/** One read: waits for data, and fails (as a disconnect) instead of looping when the port reports end of file. */
export async function eofSafeRead(port: UnixPortBinding, buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }> {
  for (;;) {
    const fd = port.fd;
    if (!port.isOpen || fd === null) throw canceled('Port is not open');
    try {
      const { bytesRead } = await readAsync(fd, buffer, offset, length, null);
      if (bytesRead === 0) {
        throw Object.assign(new Error('end of file on the serial port: the device went away'), { code: 'EOF', disconnect: true });
      }
      return { bytesRead, buffer };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') {
        if (!port.isOpen) throw canceled('Port is not open');
        await new Promise<void>((resolve, reject) => port.poller.once('readable', (err) => (err ? reject(err) : resolve())));
        continue;
      }
      throw e;
    }
  }
}

/** Wraps a binding (default: the one serialport detected) so that its Unix ports read with eofSafeRead. */
export function eofSafeBinding(base: Binding = loadSerialPort().binding): Binding {
  const wrapped = {
    list: (): ReturnType<Binding['list']> => base.list(),
    async open(options: Parameters<Binding['open']>[0]): Promise<PortBinding> {
      const port = await base.open(options as never);
      if (isUnixPort(port)) {
        const unix = port;
        (port as { read: PortBinding['read'] }).read = (buffer: Buffer, offset: number, length: number) => eofSafeRead(unix, buffer, offset, length);
      }
      return port;
    },
  };
  return wrapped as unknown as Binding;
}
