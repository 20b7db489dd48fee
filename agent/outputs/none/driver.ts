/** The driver for receivers without relays (amplifier always on, or powered by hand): every call succeeds. */
import type { RelayDriver } from '../../../shared/outputs.js';

export class NoneDriver implements RelayDriver {
  readonly kind = 'none';
  readonly channels = 0;
  readonly supportsReadBack = false;
  onFault?: (err: Error) => void;

  start(_signal?: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  set(_channel: number, _on: boolean): Promise<void> {
    return Promise.resolve();
  }

  setAll(_on: boolean): Promise<void> {
    return Promise.resolve();
  }

  readState(): Promise<boolean[] | null> {
    return Promise.resolve(null);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
