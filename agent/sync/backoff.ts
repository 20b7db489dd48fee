import { AbortError, type Clock } from '../../shared/clock.js';

export interface BackoffOptions {
  /** First delay (default 1 s). */
  minMs: number;
  /** Cap (default 60 s). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 60_000 };

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of min·2ⁿ (capped), so a fleet
 * that lost its broker at the same moment does not come back at the same moment.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** `base` ± `fraction` (default ±20 %), uniformly. */
export function jittered(base: number, fraction = 0.2, random: () => number = Math.random): number {
  return Math.max(0, Math.round(base * (1 - fraction + 2 * fraction * random())));
}

/** Sleeps on the injected clock until a timeout, a kick, or an abort (which also just returns). */
export class Waker {
  private kicked = false;
  private wake: (() => void) | null = null;

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
    if (this.kicked || signal.aborted) {
      this.kicked = false;
      return;
    }
    const ctl = new AbortController();
    const onAbort = (): void => ctl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.wake = onAbort;
    try {
      await clock.sleep(ms, ctl.signal);
    } catch (e) {
      if (!(e instanceof AbortError)) throw e;
    } finally {
      this.wake = null;
      this.kicked = false;
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** Sleeps on the clock; false when aborted instead. */
export async function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await clock.sleep(ms, signal);
    return true;
  } catch (e) {
    if (e instanceof AbortError) return false;
    throw e;
  }
}
