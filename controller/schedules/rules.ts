import { LoaError } from '../../shared/errors.js';
import { compileRule, DAY_MS, formatLocal, iterateFloating, LocalClock, MINUTE_MS, parseInstant, parseLocalDateTime } from './expand.js';
import { parseRuleText } from './rule-text.js';

/**
 * Write-time checks of a schedule entry's recurrence: it must parse, end, stay within a span, and not repeat
 * too often. The expansion is always bounded: by the rule's own end (capped at the maximum span), by the first
 * violation found, and by rrule.js's iteration guard in expand.ts.
 */

/** The recurrence fields of a schedule entry. validFrom/validUntil are instants (RFC 3339 or UTC ms). */
export interface RecurrenceInput {
  /** First occurrence, local wall time `YYYY-MM-DDTHH:mm[:ss]` in the schedule's zone. */
  dtstart: string;
  /** RFC 5545 RRULE (optionally prefixed `RRULE:`); none means one play at dtstart. */
  rrule?: string | null;
  validFrom?: string | number | null;
  validUntil?: string | number | null;
}

export interface RecurrenceLimits {
  /** Longest allowed time from dtstart to the last possible play (default 732 days: two calendar years). */
  maxSpanMs?: number;
  /** Smallest allowed time between two plays of the entry (default 5 minutes). */
  minGapMs?: number;
  /** Most plays of the entry allowed on one local day (default 48). */
  maxPerDay?: number;
  /** The schedule's zone (default Asia/Ho_Chi_Minh, the only zone manifests allow). */
  zone?: string;
}

export const DEFAULT_RECURRENCE_LIMITS: Readonly<Required<RecurrenceLimits>> = Object.freeze({
  maxSpanMs: 732 * DAY_MS, minGapMs: 5 * MINUTE_MS, maxPerDay: 48, zone: 'Asia/Ho_Chi_Minh',
});

export interface RecurrenceSummary {
  /** The rule to store (no `RRULE:` prefix), or null for a single play. */
  rrule: string | null;
  /** What ends the schedule first. */
  endsBy: 'single' | 'count' | 'until' | 'validUntil';
  /** First and last plays inside the validity window: UTC ISO, and local wall time `YYYY-MM-DDTHH:mm`. */
  firstStart: string;
  firstStartLocal: string;
  lastStart: string;
  lastStartLocal: string;
  /** How many times it plays, in all. */
  occurrences: number;
  occurrencesPerDayMax: number;
  /** Shortest time between two consecutive occurrences of the rule; null for fewer than two. */
  minGapMs: number | null;
  /** Days from dtstart to the last play. */
  spanDays: number;
}

/** An entry's parsed recurrence and the floating local starts of every play (validity applied). */
export interface Expansion {
  summary: RecurrenceSummary;
  /** Local wall-clock starts (floating ms, encoded as UTC), in order. */
  starts: number[];
}

const PROBE_OCCURRENCES_PER_LIMIT = 2;
const PROBE_DAYS = 400;

const days = (ms: number): number => Math.round((ms / DAY_MS) * 10) / 10;
const minutes = (ms: number): string => (ms % MINUTE_MS === 0 ? `${ms / MINUTE_MS} minute${ms === MINUTE_MS ? '' : 's'}` : `${ms / 1000} seconds`);

/** Watches consecutive occurrences for the minimum gap and the per-day cap; remembers the first violation. */
class DensityWatch {
  minGap: number | null = null;
  perDayMax = 0;
  violation: LoaError | null = null;
  private prev: number | null = null;
  private day = NaN;
  private inDay = 0;
  constructor(private readonly limits: Required<RecurrenceLimits>) {}

  /** Returns false once a limit is broken. */
  see(f: number): boolean {
    const { minGapMs, maxPerDay } = this.limits;
    if (this.prev !== null) {
      const gap = f - this.prev;
      this.minGap = this.minGap === null ? gap : Math.min(this.minGap, gap);
      if (gap < minGapMs) {
        this.violation = new LoaError('LOA_ERR_RRULE_TOO_FREQUENT', `The schedule repeats too often: it plays at ${formatLocal(this.prev)} and again at ${formatLocal(f)}, ${minutes(gap)} later; plays must be at least ${minutes(minGapMs)} apart. Use fewer BYMINUTE/BYHOUR values or a larger INTERVAL.`, {
          details: { gapMs: gap, minGapMs, first: formatLocal(this.prev), second: formatLocal(f) },
        });
        return false;
      }
    }
    this.prev = f;
    const day = Math.floor(f / DAY_MS);
    this.inDay = day === this.day ? this.inDay + 1 : 1;
    this.day = day;
    this.perDayMax = Math.max(this.perDayMax, this.inDay);
    if (this.inDay > maxPerDay) {
      this.violation = new LoaError('LOA_ERR_RRULE_TOO_FREQUENT', `The schedule repeats too often: it plays more than ${maxPerDay} times on ${formatLocal(f).slice(0, 10)}; at most ${maxPerDay} plays a day are allowed. Use fewer BYHOUR/BYMINUTE values.`, {
        details: { day: formatLocal(f).slice(0, 10), maxPerDay },
      });
      return false;
    }
    return true;
  }
}

function unbounded(message: string, details: Record<string, unknown>): LoaError {
  return new LoaError('LOA_ERR_RRULE_UNBOUNDED', message, { details });
}

/**
 * Validates an entry's recurrence and expands it completely. Throws LOA_ERR_RRULE_INVALID,
 * LOA_ERR_RRULE_UNBOUNDED, LOA_ERR_RRULE_TOO_FREQUENT or LOA_ERR_SCHEDULE_NEVER_PLAYS, each with `details`.
 * Cost: proportional to the number of plays (at most maxPerDay × span days; a 2/day rule over two years is
 * a few ms, 48/day over two years about 200 ms).
 */
export function expandRecurrence(input: RecurrenceInput, limits: RecurrenceLimits = {}): Expansion {
  const lim: Required<RecurrenceLimits> = { ...DEFAULT_RECURRENCE_LIMITS, ...limits };
  const clock = new LocalClock(lim.zone);
  const dtstart = parseLocalDateTime(input.dtstart);
  const instant = (v: string | number | null | undefined, field: string): number | null =>
    v === null || v === undefined ? null : typeof v === 'number' && Number.isFinite(v) ? v : parseInstant(v, field);
  const validFrom = instant(input.validFrom, 'validFrom');
  const validUntil = instant(input.validUntil, 'validUntil');
  // Floating bounds: exact for a zone without DST (Asia/Ho_Chi_Minh), and one Intl call instead of one per play.
  const vFrom = validFrom === null ? -Infinity : clock.toLocal(validFrom);
  const vUntil = validUntil === null ? Infinity : clock.toLocal(validUntil);
  if (vUntil <= vFrom) {
    throw new LoaError('LOA_ERR_SCHEDULE_NEVER_PLAYS', `The schedule never plays: "valid until" (${formatLocal(vUntil)}) is not after "valid from" (${formatLocal(vFrom)}).`, {
      details: { validFrom: formatLocal(vFrom), validUntil: formatLocal(vUntil) },
    });
  }
  const plays = (f: number): boolean => f >= vFrom && f < vUntil;

  if (input.rrule === null || input.rrule === undefined || input.rrule === '') {
    if (!plays(dtstart)) {
      throw new LoaError('LOA_ERR_SCHEDULE_NEVER_PLAYS', `The schedule never plays: its only play, ${formatLocal(dtstart)}, is outside its validity dates.`, { details: { dtstart: formatLocal(dtstart) } });
    }
    const iso = new Date(clock.toUtc(dtstart)).toISOString();
    return {
      summary: { rrule: null, endsBy: 'single', firstStart: iso, firstStartLocal: formatLocal(dtstart), lastStart: iso, lastStartLocal: formatLocal(dtstart), occurrences: 1, occurrencesPerDayMax: 1, minGapMs: null, spanDays: 0 },
      starts: [dtstart],
    };
  }

  const text = parseRuleText(input.rrule, dtstart, { strict: true });
  const spanEnd = dtstart + lim.maxSpanMs;
  const until = text.untilFloating ?? Infinity;
  const hardEnd = Math.min(until, vUntil);

  // 1. Probe the first occurrences (the first N, or the first ~year) for density, before anything else: a rule
  //    that repeats every minute is refused for that even when it also has no end.
  const probe = new DensityWatch(lim);
  let probed = 0;
  iterateFloating(compileRule(text, dtstart), Math.min(hardEnd, dtstart + PROBE_DAYS * DAY_MS), (f) => probe.see(f) && ++probed < lim.maxPerDay * PROBE_OCCURRENCES_PER_LIMIT + 2);
  if (probe.violation) throw probe.violation;

  // 2. It must end, within the span.
  if (text.count === null && hardEnd === Infinity) {
    throw unbounded(`The schedule never ends: add COUNT or UNTIL to the rule (e.g. ${text.text};UNTIL=${new Date(spanEnd - DAY_MS).toISOString().slice(0, 10).replace(/-/g, '')}T235959) or set a "valid until" date, at most ${days(lim.maxSpanMs)} days after the start.`, {
      maxSpanDays: days(lim.maxSpanMs),
    });
  }
  if (hardEnd !== Infinity && hardEnd > spanEnd && text.count === null) {
    const by = until <= vUntil ? 'UNTIL' : '"valid until"';
    throw unbounded(`The schedule lasts too long: from ${formatLocal(dtstart)} to ${formatLocal(hardEnd)} (${by}) is ${days(hardEnd - dtstart)} days; at most ${days(lim.maxSpanMs)} days are allowed. Set an earlier end, or move the start later.`, {
      spanDays: days(hardEnd - dtstart), maxSpanDays: days(lim.maxSpanMs), end: formatLocal(hardEnd),
    });
  }

  // 3. Expand it all, up to its end or the span limit, watching density as we go.
  const watch = new DensityWatch(lim);
  const starts: number[] = [];
  let ruleOccurrences = 0;
  let lastRule = -Infinity;
  iterateFloating(compileRule(text, dtstart), Math.min(hardEnd, spanEnd), (f) => {
    ruleOccurrences++;
    lastRule = f;
    if (plays(f)) starts.push(f);
    return watch.see(f);
  });
  if (watch.violation) throw watch.violation;
  const countEnded = text.count !== null && ruleOccurrences === text.count;
  if (hardEnd > spanEnd && !countEnded) {
    throw unbounded(`The schedule lasts too long: COUNT=${text.count} keeps it playing beyond ${formatLocal(spanEnd)}, ${days(lim.maxSpanMs)} days after the start (${ruleOccurrences} plays fit before). Lower COUNT, or add an UNTIL or "valid until" date within that limit.`, {
      count: text.count, maxSpanDays: days(lim.maxSpanMs), playsWithinSpan: ruleOccurrences,
    });
  }
  const first = starts[0];
  const last = starts[starts.length - 1];
  if (first === undefined || last === undefined) {
    throw new LoaError('LOA_ERR_SCHEDULE_NEVER_PLAYS', ruleOccurrences === 0
      ? `The schedule never plays: the rule ${text.text} gives no date from ${formatLocal(dtstart)} to its end. Check BYMONTH, BYMONTHDAY, BYDAY and UNTIL.`
      : `The schedule never plays: all ${ruleOccurrences} dates of the rule fall outside its validity dates.`, {
      details: { ruleOccurrences, dtstart: formatLocal(dtstart) },
    });
  }
  const endsBy = countEnded && lastRule < vUntil ? 'count' : vUntil <= until ? 'validUntil' : 'until';
  return {
    summary: {
      rrule: text.text, endsBy,
      firstStart: new Date(clock.toUtc(first)).toISOString(), firstStartLocal: formatLocal(first),
      lastStart: new Date(clock.toUtc(last)).toISOString(), lastStartLocal: formatLocal(last),
      occurrences: starts.length, occurrencesPerDayMax: watch.perDayMax, minGapMs: watch.minGap, spanDays: days(last - dtstart),
    },
    starts,
  };
}

/**
 * Checks an entry's recurrence before it is saved; returns what an operator should see about it.
 * Throws as `expandRecurrence` does.
 */
export function checkRecurrence(input: RecurrenceInput, limits: RecurrenceLimits = {}): RecurrenceSummary {
  return expandRecurrence(input, limits).summary;
}
