/** Small helpers shared by the relay drivers. */
import { AbortError } from '../../shared/clock.js';
import { LoaError, type ErrorCode } from '../../shared/errors.js';

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/** Rejects a channel (0-based) that the board does not have: a profile that names too many channels. */
export function checkChannel(channel: number, channels: number, where: string): void {
  if (!Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw new LoaError('LOA_ERR_PROFILE_INVALID', `Relay channel ${channel} does not exist on ${where} (it has channels 0..${channels - 1})`, {
      details: { channel, channels, where },
    });
  }
}

/** The error for an operation on a driver whose transport is closed (not started, or the port went away). */
export function notStarted(where: string, code: ErrorCode = 'LOA_ERR_SERIAL_IO'): LoaError {
  return new LoaError(code, `The relay driver for ${where} is not connected`, { details: { port: where } });
}

/** Runs async operations one at a time, in call order (a board answers one request at a time). */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
