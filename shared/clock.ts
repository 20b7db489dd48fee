/** Time is injected everywhere (DESIGN §6): production uses SystemClock, tests a VirtualClock. */
export interface Clock {
  /** Wall-clock time in ms since the epoch (can step when NTP corrects it). */
  now(): number;
  /** Monotonic ms (never steps); compared with now() it reveals wall-clock steps. */
  monotonic(): number;
  /** Resolves after `ms`, or rejects with an AbortError when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class AbortError extends Error {
  override name = 'AbortError';
  constructor(message = 'aborted') {
    super(message);
  }
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortError());
        return;
      }
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new AbortError());
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
