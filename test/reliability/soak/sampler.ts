import { readdirSync, readFileSync } from 'node:fs';
import type { Sample } from './window-stats.js';

/** `name value` of one Prometheus text-format metric without labels; NaN when absent. */
export function promValue(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** VmRSS of a process from /proc/<pid>/status, in bytes. */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function fdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Samples a controller process every `everyMs`: RSS and open fds from /proc (what the kernel says, not what
 * the process believes), heap used and the event-loop delay p99 from its own /metrics (prom-client's default
 * metrics: nodejs_eventloop_lag_p99_seconds comes from monitorEventLoopDelay and is reset on every scrape, so
 * each sample is the p99 since the previous one).
 */
export class ProcessSampler {
  readonly samples: Sample[] = [];
  /** Scrapes that failed (the controller did not answer /metrics within 5 s): each is a finding. */
  readonly misses: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private busy = false;

  constructor(private readonly o: { pid: number; metricsUrl: string; everyMs: number; prefix?: string }) {}

  /** Starts sampling; `t` of each sample is ms since this call. */
  start(): void {
    this.t0 = performance.now();
    const tick = (): void => {
      if (this.busy) return;
      this.busy = true;
      void this.sample().finally(() => {
        this.busy = false;
      });
    };
    // Drop the first scrape's lag: its histogram covers everything since the controller started.
    void this.scrape().catch(() => undefined);
    this.timer = setInterval(tick, this.o.everyMs);
  }

  /** ms since start(). */
  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  /**
   * Makes the controller run a full GC (SIGUSR2, with LOA_GC_SIGNAL=1: shared/gc-signal.ts) and resolves once its
   * own metrics count one more major GC. Returns the time (ms since start) the GC was seen.
   */
  async fullGc(timeoutMs = 15_000): Promise<number> {
    const majors = async (): Promise<number> => {
      const m = /_gc_duration_seconds_count\{kind="major"\} (\d+)/.exec(await this.scrape());
      return m ? Number(m[1]) : 0;
    };
    const before = await majors();
    process.kill(this.o.pid, 'SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    while ((await majors()) <= before) {
      if (Date.now() > deadline) throw new Error(`the controller did not run a full GC within ${timeoutMs} ms of SIGUSR2 (is LOA_GC_SIGNAL=1 set?)`);
      await new Promise((r) => setTimeout(r, 100)); // polling interval
    }
    return this.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async scrape(): Promise<string> {
    const res = await fetch(this.o.metricsUrl, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
    return res.text();
  }

  private async sample(): Promise<void> {
    const t = performance.now() - this.t0;
    const p = this.o.prefix ?? 'loa_controller_';
    try {
      const text = await this.scrape();
      this.samples.push({
        t: Math.round(t), rssBytes: rssOf(this.o.pid), fds: fdsOf(this.o.pid),
        heapUsedBytes: promValue(text, `${p}nodejs_heap_size_used_bytes`),
        lagP99Ms: promValue(text, `${p}nodejs_eventloop_lag_p99_seconds`) * 1000,
      });
    } catch (e) {
      this.misses.push(`${Math.round(t)} ms: ${(e as Error).message}`);
    }
  }
}
