import { LoaError } from '../../shared/errors.js';
import { DAY_MS, formatLocal, LocalClock, MINUTE_MS } from './expand.js';
import { expandRecurrence, type RecurrenceInput, type RecurrenceLimits } from './rules.js';

/**
 * Quiet hours: plays that start inside them, or start before and run into them (21:50 with a 15-minute
 * program), are flagged, so that nothing wakes a commune at night without someone confirming it on purpose.
 */

/** The warning code (not an error: the schedule may still be saved once confirmed). */
export const NIGHT_WARNING_CODE = 'LOA_WARN_NIGHT_HOURS';

/** A daily window of local wall time; `start` after `end` wraps midnight. Equal start and end: no quiet hours. */
export interface QuietHours {
  /** `HH:mm`, inclusive. */
  start: string;
  /** `HH:mm`, exclusive. */
  end: string;
}

export const DEFAULT_QUIET_HOURS: Readonly<QuietHours> = Object.freeze({ start: '22:00', end: '05:00' });

export interface NightOptions {
  quietHours?: QuietHours;
  /** How many examples to keep (default 5): the first play of each distinct entry / local time / kind. */
  maxExamples?: number;
  /** Zone of the local times (default Asia/Ho_Chi_Minh). */
  zone?: string;
}

export type NightKind = 'starts_in_quiet_hours' | 'runs_into_quiet_hours';

export interface NightExample {
  entryId?: string;
  /** Local wall time `YYYY-MM-DDTHH:mm` of the start and of the end. */
  start: string;
  end: string;
  kind: NightKind;
}

export interface NightWarning {
  code: typeof NIGHT_WARNING_CODE;
  count: number;
  examples: NightExample[];
  quietHours: QuietHours;
  message: string;
}

export interface NightCheck {
  /** How many plays touch the quiet hours. */
  count: number;
  examples: NightExample[];
  quietHours: QuietHours;
  /** Null when nothing touches the quiet hours. */
  warning: NightWarning | null;
}

/** A play to check: its real start (UTC ms) and how long it lasts. */
export interface NightPlay {
  start: number;
  durationMs: number;
  entryId?: string;
}

function minutesOf(hhmm: string, field: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new LoaError('LOA_ERR_CONFIG_INVALID', `quiet hours ${field} must be HH:mm (00:00 to 23:59); got ${JSON.stringify(hhmm)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** The window in ms since local midnight, checked once. */
export function quietWindow(q: QuietHours = DEFAULT_QUIET_HOURS): { startMs: number; endMs: number } {
  return { startMs: minutesOf(q.start, 'start') * MINUTE_MS, endMs: minutesOf(q.end, 'end') * MINUTE_MS };
}

/**
 * Whether a play starting at local wall time `floatingStart` (floating ms) and lasting `durationMs` starts in
 * the quiet window or runs into it; null if neither. The window is half-open: a play that ends exactly at
 * 22:00, or starts exactly at 05:00, is fine.
 */
export function nightKind(floatingStart: number, durationMs: number, w: { startMs: number; endMs: number }): NightKind | null {
  const { startMs: s, endMs: e } = w;
  if (s === e) return null;
  const tod = ((floatingStart % DAY_MS) + DAY_MS) % DAY_MS;
  const inside = s < e ? tod >= s && tod < e : tod >= s || tod < e;
  if (inside) return 'starts_in_quiet_hours';
  // Not inside, so the next moment of quiet hours is the next time the window opens.
  let open = floatingStart - tod + s;
  if (open <= floatingStart) open += DAY_MS;
  return open < floatingStart + durationMs ? 'runs_into_quiet_hours' : null;
}

function collect(plays: Iterable<{ floating: number; durationMs: number; entryId?: string }>, options: NightOptions): NightCheck {
  const quietHours = { ...(options.quietHours ?? DEFAULT_QUIET_HOURS) };
  const w = quietWindow(quietHours);
  const maxExamples = options.maxExamples ?? 5;
  const examples: NightExample[] = [];
  const seen = new Set<string>();
  let count = 0;
  for (const p of plays) {
    const kind = nightKind(p.floating, p.durationMs, w);
    if (!kind) continue;
    count++;
    const start = formatLocal(p.floating);
    const sig = `${p.entryId ?? ''}|${start.slice(11)}|${kind}`;
    if (examples.length < maxExamples && !seen.has(sig)) {
      seen.add(sig);
      examples.push({ ...(p.entryId === undefined ? {} : { entryId: p.entryId }), start, end: formatLocal(p.floating + p.durationMs), kind });
    }
  }
  const warning: NightWarning | null = count === 0 ? null : {
    code: NIGHT_WARNING_CODE, count, examples, quietHours,
    message: `${count} play${count === 1 ? '' : 's'} fall${count === 1 ? 's' : ''} in the quiet hours ${quietHours.start}–${quietHours.end} (first: ${examples[0]!.start}${examples[0]!.kind === 'runs_into_quiet_hours' ? `, running until ${examples[0]!.end}` : ''}). Move ${count === 1 ? 'it' : 'them'} to daytime, or confirm that ${count === 1 ? 'it' : 'they'} must play at night.`,
  };
  return { count, examples, quietHours, warning };
}

/** Checks plays given by their real start (e.g. Timeline occurrences). */
export function findNightPlays(plays: Iterable<NightPlay>, options: NightOptions = {}): NightCheck {
  const clock = new LocalClock(options.zone ?? 'Asia/Ho_Chi_Minh');
  function* local(): Generator<{ floating: number; durationMs: number; entryId?: string }> {
    for (const p of plays) yield { floating: clock.toLocal(p.start), durationMs: p.durationMs, ...(p.entryId === undefined ? {} : { entryId: p.entryId }) };
  }
  return collect(local(), options);
}

/**
 * Checks every play of one schedule entry over its whole life, for a program lasting `durationMs`. Expands
 * the recurrence with the same checks as `checkRecurrence` (and throws as it does).
 */
export function checkEntryNight(input: RecurrenceInput & { entryId?: string }, durationMs: number, options: NightOptions & { limits?: RecurrenceLimits } = {}): NightCheck {
  const { starts } = expandRecurrence(input, { ...options.limits, ...(options.zone ? { zone: options.zone } : {}) });
  const entryId = input.entryId;
  return collect(starts.map((floating) => ({ floating, durationMs, ...(entryId === undefined ? {} : { entryId }) })), options);
}

/**
 * Refuses a schedule that plays in the quiet hours unless the operator confirmed it explicitly
 * (LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED, with the count, examples and window in `details`).
 */
export function requireNightConfirmation(result: NightCheck, confirmed: boolean): void {
  if (result.count === 0 || confirmed) return;
  const q = result.quietHours;
  const first = result.examples[0];
  throw new LoaError('LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED',
    `The schedule plays ${result.count} time${result.count === 1 ? '' : 's'} in the quiet hours ${q.start}–${q.end}${first ? ` (first: ${first.start}${first.kind === 'runs_into_quiet_hours' ? `, running until ${first.end}` : ''})` : ''}. Move it to daytime, or confirm night playing explicitly.`,
    { details: { code: NIGHT_WARNING_CODE, count: result.count, examples: result.examples, quietHours: q } });
}
