/**
 * The report of `npm run soak` (issue 10): the figure rows the reliability tests recorded (JSON lines, see
 * test/reliability/support/mode.ts), with the run's metadata, as bench/results/reliability-<UTC stamp>.json,
 * and as a table (suite | what | figures | reproduce) for the terminal.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Figure = number | string | boolean;

/** One recorded row, as recordFigures writes it. */
export interface FigureRow {
  suite: string;
  what: string;
  figures: Record<string, Figure>;
  reproduce: string;
  mode?: string;
  at?: string;
}

export interface RunMeta {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  mode: 'long' | 'short';
  /** The --only fragment, or null for the whole suite. */
  only: string | null;
  /** The test files that ran. */
  files: string[];
  exitCode: number;
  passed: boolean;
  machine: { cpus: number; cpuModel: string; memGb: number; node: string; platform: string };
  git: { commit: string | null; dirty: boolean | null };
  /** LOA_SOAK_* and other size overrides in force (a scaled run says so). */
  overrides: Record<string, string>;
}

export interface ReliabilityReport {
  kind: 'loaphuong-reliability';
  version: 1;
  meta: RunMeta;
  rows: FigureRow[];
  /** Lines of the figures file that were not rows (a test killed mid-write): kept, not hidden. */
  badLines: string[];
}

const isRow = (v: unknown): v is FigureRow => {
  const r = v as FigureRow | null;
  return typeof r === 'object' && r !== null && typeof r.suite === 'string' && typeof r.what === 'string' && typeof r.reproduce === 'string'
    && typeof r.figures === 'object' && r.figures !== null && !Array.isArray(r.figures);
};

/** Parses a JSON-lines figures file (missing file = no rows). */
export function readFigureRows(file: string): { rows: FigureRow[]; badLines: string[] } {
  if (!existsSync(file)) return { rows: [], badLines: [] };
  const rows: FigureRow[] = [];
  const badLines: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (isRow(v)) rows.push(v);
      else badLines.push(line);
    } catch {
      badLines.push(line);
    }
  }
  return { rows, badLines };
}

/** `2025-06-01T08:30:05.123Z` → `20250601T083005Z`. */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Writes the report to `<dir>/reliability-<stamp>.json` and returns the path. */
export function writeReport(dir: string, report: ReliabilityReport): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `reliability-${utcStamp(new Date(report.meta.startedAt))}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

const fmt = (v: Figure): string => (typeof v === 'number' && !Number.isInteger(v) ? String(Math.round(v * 100) / 100) : String(v));

/** `k=v, k=v` wrapped at `width` characters into lines. */
function figureLines(f: Record<string, Figure>, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const [k, v] of Object.entries(f)) {
    const part = `${k}=${fmt(v)}`;
    if (cur && cur.length + 2 + part.length > width) {
      lines.push(`${cur},`);
      cur = part;
    } else cur = cur ? `${cur}, ${part}` : part;
  }
  if (cur) lines.push(cur);
  return lines.length ? lines : ['—'];
}

/** Wraps text at spaces into lines of at most `width` characters (a longer word stays whole). */
function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of s.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + w.length > width) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out.length ? out : [''];
}

/** The table printed at the end of `npm run soak`: one block per row, columns padded, cells wrapped. */
export function formatTable(rows: readonly FigureRow[], widths = { suite: 10, what: 40, figures: 60, reproduce: 36 }): string {
  if (!rows.length) return '(no figures were recorded)';
  const cols = ['suite', 'what', 'figures', 'reproduce'] as const;
  const line = (cells: Record<(typeof cols)[number], string>): string => cols.map((c) => cells[c].padEnd(widths[c])).join(' | ').trimEnd();
  const rule = cols.map((c) => '-'.repeat(widths[c])).join('-+-');
  const out = [line({ suite: 'suite', what: 'what', figures: 'figures', reproduce: 'reproduce' }), rule];
  for (const r of rows) {
    const cells = { suite: wrap(r.suite, widths.suite), what: wrap(r.what, widths.what), figures: figureLines(r.figures, widths.figures), reproduce: wrap(r.reproduce, widths.reproduce) };
    const h = Math.max(...cols.map((c) => cells[c].length));
    for (let i = 0; i < h; i++) out.push(line({ suite: cells.suite[i] ?? '', what: cells.what[i] ?? '', figures: cells.figures[i] ?? '', reproduce: cells.reproduce[i] ?? '' }));
    out.push(rule);
  }
  return out.join('\n');
}
