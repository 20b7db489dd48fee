/**
 * A counting semaphore: at most `max` holders at a time, the others wait in arrival order. The simulator's
 * devices take a permit for each connection attempt, so 10,000 of them (or 10,000 reconnecting after the
 * broker restarts) do not all knock at once.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new RangeError('a limiter needs at least one permit');
  }

  /** Resolves with a release function once a permit is free. Call the release exactly once. */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.active++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.active--;
          this.waiting.shift()?.();
        });
      };
      if (this.active < this.max) grant();
      else this.waiting.push(grant);
    });
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
