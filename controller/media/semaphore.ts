/** At most `limit` holders at a time; the rest wait in order. Used so a 2-core controller runs one ffmpeg at a time. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: { limit: number }) {}

  /** Resolves with the release function once a slot is free. Aborting while waiting rejects with the reason. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const release = (): (() => void) => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.active--;
        this.waiting.shift()?.();
      };
    };
    if (this.active < Math.max(1, this.options.limit)) {
      this.active++;
      return Promise.resolve(release());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve(release());
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  /** Holders plus waiters, for metrics. */
  get pending(): number {
    return this.active + this.waiting.length;
  }
}
