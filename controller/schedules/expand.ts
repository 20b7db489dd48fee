import { LoaError } from '../../shared/errors.js';
import { RRule } from '../../shared/rrule.js';
import { zoneOffsetMs } from '../../shared/timezone.js';
import type { RuleText } from './rule-text.js';

/**
 * Bounded expansion of RRULEs in floating local time, and local-time helpers. RRULEs are built exactly as the
 * agent's Timeline builds them (shared/timeline.ts: `RRule.parseString` then `dtstart` floating, `tzid: null`),
 * so the dates are the ones the receivers will play.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** Parses a local wall time `YYYY-MM-DDTHH:mm[:ss]` into floating ms; refuses impossible dates like 02-30. */
export function parseLocalDateTime(value: unknown, field = 'dtstart'): number {
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value) : null;
  const nums = m ? [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number] : null;
  if (nums) {
    const [y, mo, d, h, mi, s] = nums;
    const t = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(t);
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60) return t;
  }
  throw new LoaError('LOA_ERR_RRULE_INVALID', `${field} must be a real local date and time like 2026-11-23T06:00 (Vietnam time, no offset); got ${JSON.stringify(value)}.`, { details: { field } });
}

/** Parses an RFC 3339 instant (validFrom/validUntil) into UTC ms. */
export function parseInstant(value: unknown, field: string): number {
  const t = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new LoaError('LOA_ERR_RRULE_INVALID', `${field} must be a date and time with offset, like 2027-12-31T23:59:59+07:00; got ${JSON.stringify(value)}.`, { details: { field } });
  return t;
}

/** Floating local ms → `YYYY-MM-DDTHH:mm`, with `:ss` only when the seconds are not zero. */
export function formatLocal(floating: number): string {
  const iso = new Date(floating).toISOString();
  return iso.slice(17, 19) === '00' ? iso.slice(0, 16) : iso.slice(0, 19);
}

/** Floating local ms → `HH:mm` (or `HH:mm:ss` when the seconds are not zero). */
export function formatLocalTime(floating: number): string {
  return formatLocal(floating).slice(11);
}

/**
 * UTC ⇄ local conversions for one zone, memoised per quarter hour (every zone's offset changes on a quarter
 * hour). Same results as shared/timezone.ts `utcToLocal`/`localToUtc`, without an Intl call per occurrence.
 * Make one per computation; it is not shared between calls.
 */
export class LocalClock {
  private readonly offsets = new Map<number, number>();
  constructor(readonly zone: string) {}

  offsetAt(utc: number): number {
    const bucket = Math.floor(utc / 900_000);
    let off = this.offsets.get(bucket);
    if (off === undefined) {
      off = zoneOffsetMs(this.zone, utc);
      this.offsets.set(bucket, off);
    }
    return off;
  }

  toLocal(utc: number): number {
    return utc + this.offsetAt(utc);
  }

  toUtc(floating: number): number {
    const guess = floating - this.offsetAt(floating);
    return floating - this.offsetAt(guess);
  }
}

/** The rule as the agent's Timeline builds it (no result cache: each expansion here runs once). */
export function compileRule(rule: RuleText, dtstartFloating: number): RRule {
  const opts = RRule.parseString(rule.text);
  return new RRule({ ...opts, dtstart: new Date(dtstartFloating), tzid: null }, true);
}

/**
 * Visits the rule's occurrences (floating ms) in order, from dtstart, until `visit` returns false or the
 * iteration passes `toFloating`.
 *
 * rrule.js 2.8 only checks UNTIL, COUNT and its callers' bounds when an occurrence comes out, so a rule that
 * never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) iterates day by day to the year 9999, about 12 s of
 * blocked event loop. Its `iter` reads `options.interval` once on entry and then twice per pass of its main
 * loop: first the `options.interval === 0` exit test (even-numbered reads), then `DateTime.add` (odd). We count
 * the reads and, after too many passes without an occurrence, answer 0 to an exit test, which ends the
 * iteration. (Never to `add`: `addHours(0)` would spin.) A pass without an occurrence moves at least one day on
 * (parseRuleText refuses BYSETPOS with sub-daily FREQ, the one exception), so the cap, the number of days up to
 * `toFloating` plus a margin, is only reached past `toFloating`. `capped` says it was reached.
 */
export function iterateFloating(rule: RRule, toFloating: number, visit: (floating: number) => boolean): { capped: boolean } {
  const options = rule.options as unknown as Record<string, unknown>;
  const interval = options.interval;
  const dtstart = (options.dtstart as Date).getTime();
  const maxIdleReads = 2 * (Math.max(0, Math.ceil((toFloating - dtstart) / DAY_MS)) + 16);
  let reads = 0;
  let lastResultRead = 0;
  let capped = false;
  Object.defineProperty(options, 'interval', {
    configurable: true,
    enumerable: true,
    get: (): unknown => {
      reads++;
      if (capped || (reads % 2 === 0 && reads - lastResultRead > maxIdleReads)) {
        capped = true;
        return 0;
      }
      return interval;
    },
  });
  try {
    rule.all((date) => {
      lastResultRead = reads;
      const t = date.getTime();
      return t <= toFloating && visit(t);
    });
  } finally {
    Object.defineProperty(options, 'interval', { configurable: true, enumerable: true, writable: true, value: interval });
  }
  return { capped };
}
