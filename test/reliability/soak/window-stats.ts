/**
 * The soak's verdicts on the controller's resource samples (issue 10): a baseline window right after the
 * warm-up is compared with the final window. File descriptors and lag are summarised by the median of each
 * window, so one burst cannot decide the verdict. Memory (RSS, heap used) by the window's MINIMUM: the heap is a
 * sawtooth between full GCs (75 → 280 MB and back within minutes at 2,000 devices), and its median only says
 * where in the tooth the window fell (a schedule-edit wave in one window and not the other moved it by 50%).
 * The low point after a full GC is the live set: what a leak makes grow. Both windows start with a forced GC.
 */

/** One sample of the controller process. */
export interface Sample {
  /** ms since the traffic started. */
  t: number;
  rssBytes: number;
  heapUsedBytes: number;
  fds: number;
  /** p99 of the event-loop delay since the previous sample (prom-client resets its histogram on each scrape), ms. */
  lagP99Ms: number;
}

export interface Windows {
  /** The baseline window starts here (after the warm-up and a forced full GC), ms since the traffic started. */
  baselineFromMs: number;
  /** The final window starts here (after a forced full GC) and runs to the last sample. */
  finalFromMs: number;
  /** Length of the baseline window. */
  windowMs: number;
}

/** Tolerances, each justified where the soak defines it. */
export interface Limits {
  /** Final minimum RSS (and heap used) ≤ baseline minimum × (1 + rssGrowth). */
  rssGrowth: number;
  /** Final median fd count ≤ baseline median + fdSlack. */
  fdSlack: number;
  /** Final median lag p99 ≤ baseline median × lagFactor + lagSlackMs. */
  lagFactor: number;
  lagSlackMs: number;
}

export interface WindowSummary {
  samples: number;
  rssMb: number;
  heapUsedMb: number;
  fds: number;
  lagP99Ms: number;
}

export interface Verdict {
  baseline: WindowSummary;
  final: WindowSummary;
  rssGrowthPct: number;
  fdLimit: number;
  lagLimitMs: number;
  /** One sentence per broken invariant (empty when all hold). */
  failures: string[];
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const MB = 1024 * 1024;
const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

export function summarise(xs: readonly Sample[]): WindowSummary {
  return {
    samples: xs.length,
    rssMb: round(Math.min(...xs.map((s) => s.rssBytes)) / MB),
    heapUsedMb: round(Math.min(...xs.map((s) => s.heapUsedBytes)) / MB),
    fds: median(xs.map((s) => s.fds)),
    lagP99Ms: round(median(xs.map((s) => s.lagP99Ms)), 2),
  };
}

/** The baseline and final windows of `samples` (sorted by t). Throws when either has fewer than `minSamples`. */
export function windowsOf(samples: readonly Sample[], w: Windows, minSamples = 5): { baseline: Sample[]; final: Sample[] } {
  const last = samples.at(-1)?.t ?? 0;
  const baseline = samples.filter((s) => s.t >= w.baselineFromMs && s.t < w.baselineFromMs + w.windowMs && s.t < w.finalFromMs);
  const final = samples.filter((s) => s.t >= w.finalFromMs);
  if (baseline.length < minSamples || final.length < minSamples) {
    throw new Error(`too few samples to judge: baseline ${baseline.length}, final ${final.length} (need ${minSamples} each; ${samples.length} samples over ${last} ms)`);
  }
  return { baseline, final };
}

/** Compares the final window with the baseline window. */
export function judge(samples: readonly Sample[], w: Windows, l: Limits): Verdict {
  const { baseline, final } = windowsOf(samples, w);
  const b = summarise(baseline);
  const f = summarise(final);
  const rssGrowthPct = round((f.rssMb / b.rssMb - 1) * 100, 2);
  const fdLimit = b.fds + l.fdSlack;
  const lagLimitMs = round(b.lagP99Ms * l.lagFactor + l.lagSlackMs, 2);
  const failures: string[] = [];
  if (f.rssMb > b.rssMb * (1 + l.rssGrowth)) failures.push(`memory grew ${rssGrowthPct}% (RSS low point ${b.rssMb} MB → ${f.rssMb} MB; at most ${l.rssGrowth * 100}%)`);
  if (f.heapUsedMb > b.heapUsedMb * (1 + l.rssGrowth)) failures.push(`heap grew ${round((f.heapUsedMb / b.heapUsedMb - 1) * 100, 2)}% (heap used after GC ${b.heapUsedMb} MB → ${f.heapUsedMb} MB; at most ${l.rssGrowth * 100}%)`);
  if (f.fds > fdLimit) failures.push(`open file descriptors grew from ${b.fds} to ${f.fds} (median; at most ${fdLimit})`);
  if (f.lagP99Ms > lagLimitMs) failures.push(`event-loop lag p99 grew from ${b.lagP99Ms} ms to ${f.lagP99Ms} ms (median; at most ${lagLimitMs} ms)`);
  return { baseline: b, final: f, rssGrowthPct, fdLimit, lagLimitMs, failures };
}
