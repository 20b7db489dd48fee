/**
 * A wall clock that steps on demand, for drills and the chaos tests (issue 10): with `LOA_CLOCK_OFFSET_FILE`
 * set, `loa agent run` reads its wall time as Date.now() plus the whole number of milliseconds in that file
 * (re-read at most every 100 ms; missing or unreadable means 0). Writing -600000 into the file steps the
 * process's clock ten minutes back, the way NTP or a receiver whose RTC battery died steps it, while the
 * monotonic clock keeps running. Never set in production; libfaketime would do the same from outside.
 */
import { readFileSync } from 'node:fs';
import { SystemClock, type Clock } from './clock.js';

export class FileOffsetClock extends SystemClock {
  private offset = 0;
  private readAt = -Infinity;

  constructor(private readonly file: string) {
    super();
  }

  override now(): number {
    const m = performance.now();
    if (m - this.readAt >= 100) {
      this.readAt = m;
      try {
        const text = readFileSync(this.file, 'utf8').trim();
        this.offset = /^-?\d{1,15}$/.test(text) ? Number(text) : 0;
      } catch {
        this.offset = 0;
      }
    }
    return Date.now() + this.offset;
  }
}

/** The agent's clock: the system clock, or a FileOffsetClock when LOA_CLOCK_OFFSET_FILE is set. */
export function agentClock(env: NodeJS.ProcessEnv = process.env): Clock {
  const file = env.LOA_CLOCK_OFFSET_FILE;
  return file ? new FileOffsetClock(file) : new SystemClock();
}
