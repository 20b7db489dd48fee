/**
 * The reliability suite runs in two modes from the same test files (issue 10):
 * - short (default, part of `npm test`): few iterations, small fleets, a CI-sized time budget;
 * - long (`npm run soak`, which sets LOA_RELIABILITY=long): the full figures (≥ 200 kill -9 iterations, 30 simulated
 *   days, 2,000 simulated devices for 30 minutes, ≥ 10,000 fuzz cases per parser).
 * Every test records what it measured with `recordFigures`; the soak command prints them as a table and
 * writes them to bench/results/reliability-<run>.json.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Mode = 'short' | 'long';

export function mode(): Mode {
  return process.env.LOA_RELIABILITY === 'long' ? 'long' : 'short';
}

/** `short` in short mode, `long` in long mode. */
export function pick<T>(short: T, long: T): T {
  return mode() === 'long' ? long : short;
}

export type Figure = number | string | boolean;

/** One measured row: which suite, what was measured, the figures, and the command that reproduces it. */
export interface FigureRow {
  suite: string;
  what: string;
  figures: Record<string, Figure>;
  /** The command that reproduces the row, e.g. `npm test -- test/reliability/chaos` or `npm run soak -- chaos`. */
  reproduce: string;
}

/**
 * Appends a row (JSON lines) to LOA_FIGURES_FILE when set (the soak command sets it), else to
 * test-output/reliability-figures.jsonl, so a short run leaves its figures too.
 */
export function recordFigures(row: FigureRow): void {
  const file = process.env.LOA_FIGURES_FILE ?? join(process.cwd(), 'test-output', 'reliability-figures.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ ...row, mode: mode(), at: new Date().toISOString() })}\n`);
}
