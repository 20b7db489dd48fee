import { LoaError } from '../../shared/errors.js';

/**
 * Reads the text of a schedule entry's RRULE and refuses, with a message an operator can act on, anything that
 * is not a plain RFC 5545 rule the agent's Timeline evaluates safely. Static checks only: nothing is expanded.
 *
 * Besides syntax, this guards against what rrule.js 2.8 (the agent's RRULE engine) gets wrong:
 * - inputs on which it never returns (`DateTime.addHours` / `addMinutes` loop until an hour or minute in
 *   BYHOUR/BYMINUTE comes up): out-of-range values, and BYHOUR/BYMINUTE values that FREQ=HOURLY/MINUTELY with
 *   the given INTERVAL never reach from dtstart;
 * - FREQ=MINUTELY with BYHOUR and a day filter, which skips weeks;
 * - BYHOUR/BYMINUTE/BYSECOND lists out of increasing order, whose dates come out of order.
 */

export type Freq = 'YEARLY' | 'MONTHLY' | 'WEEKLY' | 'DAILY' | 'HOURLY' | 'MINUTELY';

export interface RuleText {
  /** The rule as it should be stored and as the agent reads it: parts in the given order, no `RRULE:` prefix. */
  text: string;
  freq: Freq;
  interval: number;
  count: number | null;
  /** UNTIL as floating local time (ms, encoded as UTC), the way the agent's Timeline reads it; or null. */
  untilFloating: number | null;
}

export interface ParseRuleOptions {
  /**
   * true (default) for rules being written: UNTIL must be a local date-time (no `Z`, no bare date) and RFC 5545's
   * part/FREQ combinations are enforced. false for rules already in manifests (preview): only what would make
   * the agent misread the rule or hang is refused.
   */
  strict?: boolean;
}

export const MAX_RULE_LENGTH = 500;
const FREQS: readonly string[] = ['YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY'];
const WEEKDAYS: readonly string[] = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const EXAMPLE = 'e.g. FREQ=DAILY;BYHOUR=6,17;UNTIL=20271231T235959';
/** Numeric list parts: [min, max, zero allowed]. Negative values count from the end of the period. */
const NUMERIC: Readonly<Record<string, readonly [number, number, boolean]>> = {
  BYSECOND: [0, 59, true],
  BYMINUTE: [0, 59, true],
  BYHOUR: [0, 23, true],
  BYMONTH: [1, 12, false],
  BYMONTHDAY: [-31, 31, false],
  BYYEARDAY: [-366, 366, false],
  BYWEEKNO: [-53, 53, false],
  BYSETPOS: [-366, 366, false],
};
/** Parts that make the times of day, in rrule.js's `buildTimeset` / `gettimeset` order. */
const TIME_LISTS: readonly string[] = ['BYHOUR', 'BYMINUTE', 'BYSECOND'];
/** Parts that leave out whole days (rrule.js's `isFiltered`). */
const DAY_FILTERS: readonly string[] = ['BYDAY', 'BYMONTH', 'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO'];
const ALLOWED = ['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'WKST', ...Object.keys(NUMERIC)];

function invalid(message: string, details: Record<string, unknown> = {}): LoaError {
  return new LoaError('LOA_ERR_RRULE_INVALID', `The repeat rule is invalid: ${message}`, { details });
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

function parseNumberList(name: string, value: string): number[] {
  const [min, max, zeroOk] = NUMERIC[name]!;
  const out: number[] = [];
  for (const item of value.split(',')) {
    if (!/^[+-]?\d{1,3}$/.test(item)) throw invalid(`${name}=${value} must be a comma-separated list of whole numbers.`, { part: name });
    const n = Number(item);
    if (n < min || n > max || (n === 0 && !zeroOk)) {
      const range = min < 0 ? `1 to ${max} or -1 to ${min}` : `${min} to ${max}`;
      throw invalid(`${name}=${item} is out of range: use ${range}.`, { part: name, value: n, min, max });
    }
    if (out.includes(n)) throw invalid(`${name} lists ${item} twice.`, { part: name, value: n });
    out.push(n);
  }
  // rrule.js emits times of day in list order: BYHOUR=17,6 gives 17:00 before 06:00, so COUNT picks the wrong
  // plays and the Timeline's window query stops at 17:00 and drops 06:00.
  if (TIME_LISTS.includes(name) && out.some((n, i) => i > 0 && n < out[i - 1]!)) {
    throw invalid(`list ${name} in increasing order (${name}=${[...out].sort((a, b) => a - b).join(',')}): the receivers read it in the order given, and out of order they skip plays.`, { part: name });
  }
  return out;
}

function parseUntil(value: string, strict: boolean): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(value);
  if (!m) throw invalid(`UNTIL=${value} is not a date-time: write UNTIL=20271231T235959.`, { part: 'UNTIL' });
  if (strict && m[4] === undefined) {
    throw invalid(`UNTIL=${value} needs a time of day: write UNTIL=${value}T235959 to include the whole of that day (a date alone stops at 00:00).`, { part: 'UNTIL' });
  }
  if (strict && m[7] === 'Z') {
    throw invalid(`UNTIL=${value} must be local time without "Z" (the schedule runs in Vietnam local time): write UNTIL=${value.slice(0, -1)}.`, { part: 'UNTIL' });
  }
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw invalid(`UNTIL=${value} is not a real date and time.`, { part: 'UNTIL' });
  }
  return t;
}

function checkByDay(value: string, freq: Freq, strict: boolean): void {
  const seen = new Set<string>();
  for (const item of value.split(',')) {
    const m = /^([+-]?\d{1,2})?([A-Z]{2})$/.exec(item);
    if (!m || !WEEKDAYS.includes(m[2]!)) throw invalid(`BYDAY=${value}: "${item}" is not a weekday; use MO, TU, WE, TH, FR, SA, SU (optionally with a position, e.g. 1MO or -1FR).`, { part: 'BYDAY' });
    if (m[1] !== undefined) {
      const n = Number(m[1]);
      if (n === 0 || Math.abs(n) > 53) throw invalid(`BYDAY=${item}: the position must be 1 to 53 or -1 to -53.`, { part: 'BYDAY' });
      if (strict && freq !== 'MONTHLY' && freq !== 'YEARLY') throw invalid(`BYDAY=${item}: a numbered weekday needs FREQ=MONTHLY or FREQ=YEARLY.`, { part: 'BYDAY' });
    }
    if (seen.has(item)) throw invalid(`BYDAY lists ${item} twice.`, { part: 'BYDAY' });
    seen.add(item);
  }
}

/** RFC 5545 §3.3.10 combinations that rrule.js accepts but that mean nothing (or something surprising). */
function checkCombinations(freq: Freq, parts: ReadonlyMap<string, string>): void {
  if (parts.has('BYWEEKNO') && freq !== 'YEARLY') throw invalid('BYWEEKNO can only be used with FREQ=YEARLY.', { part: 'BYWEEKNO' });
  if (parts.has('BYYEARDAY') && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(freq)) throw invalid(`BYYEARDAY cannot be used with FREQ=${freq}.`, { part: 'BYYEARDAY' });
  if (parts.has('BYMONTHDAY') && freq === 'WEEKLY') throw invalid('BYMONTHDAY cannot be used with FREQ=WEEKLY; use FREQ=MONTHLY.', { part: 'BYMONTHDAY' });
  if (parts.has('BYSETPOS') && ![...parts.keys()].some((k) => k.startsWith('BY') && k !== 'BYSETPOS')) {
    throw invalid('BYSETPOS needs another BY… part to pick from.', { part: 'BYSETPOS' });
  }
}

/**
 * FREQ=HOURLY/MINUTELY only ever reach some hours/minutes from dtstart; rrule.js loops forever looking for a
 * BYHOUR/BYMINUTE value outside them. Its `addMinutes` carries whole hours through `addHours`, so a MINUTELY
 * INTERVAL that does not divide 60 skips hours in ways that do not follow the RFC grid: those are refused.
 */
function checkReachable(freq: Freq, interval: number, dtstartFloating: number, parts: ReadonlyMap<string, string>): void {
  const start = new Date(dtstartFloating);
  if (freq === 'HOURLY' && parts.has('BYHOUR')) {
    const g = gcd(interval, 24);
    const hours = parseNumberList('BYHOUR', parts.get('BYHOUR')!);
    if (!hours.some((h) => mod(h - start.getUTCHours(), g) === 0)) {
      throw invalid(`with FREQ=HOURLY;INTERVAL=${interval} starting at ${String(start.getUTCHours()).padStart(2, '0')}:00 the hours in BYHOUR=${parts.get('BYHOUR')} are never reached, so it would never play. Change BYHOUR, INTERVAL or the start time.`, { part: 'BYHOUR', interval });
    }
  }
  if (freq === 'MINUTELY') {
    if (60 % interval !== 0) {
      throw invalid(`with FREQ=MINUTELY use an INTERVAL that divides 60 (5, 10, 15, 20, 30 or 60); for longer steps use FREQ=HOURLY or BYHOUR/BYMINUTE lists.`, { part: 'INTERVAL', interval });
    }
    // On a day that BYDAY/BYMONTH/… leaves out, addMinutes jumps to the day's end and then steps BYHOUR by the
    // whole carried hours: FREQ=MINUTELY;INTERVAL=30;BYHOUR=7;BYDAY=MO,TU,WE,TH,FR,SA skips from a Saturday to
    // the Wednesday 2.5 weeks later, and can loop forever when dtstart's hour is not in BYHOUR.
    const dayFilter = DAY_FILTERS.find((p) => parts.has(p));
    if (parts.has('BYHOUR') && dayFilter) {
      throw invalid(`FREQ=MINUTELY with both BYHOUR and ${dayFilter} is computed wrongly by the receivers (whole weeks are skipped). Write it as FREQ=DAILY;${dayFilter}=${parts.get(dayFilter)};BYHOUR=${parts.get('BYHOUR')};BYMINUTE=… listing the minutes instead.`, { part: dayFilter });
    }
    if (parts.has('BYMINUTE')) {
      const minutes = parseNumberList('BYMINUTE', parts.get('BYMINUTE')!);
      if (!minutes.some((m) => mod(m - start.getUTCMinutes(), interval) === 0)) {
        throw invalid(`with FREQ=MINUTELY;INTERVAL=${interval} starting at minute ${start.getUTCMinutes()} the minutes in BYMINUTE=${parts.get('BYMINUTE')} are never reached, so it would never play.`, { part: 'BYMINUTE', interval });
      }
    }
  }
}

/**
 * Parses and checks an RRULE for a schedule entry whose first occurrence is `dtstartFloating` (local wall time,
 * encoded as UTC ms). Throws LOA_ERR_RRULE_INVALID (or LOA_ERR_RRULE_TOO_FREQUENT for FREQ=SECONDLY).
 */
export function parseRuleText(rule: string, dtstartFloating: number, options: ParseRuleOptions = {}): RuleText {
  const strict = options.strict ?? true;
  if (typeof rule !== 'string' || rule.length === 0) throw invalid(`the rule is empty; ${EXAMPLE}.`);
  if (rule.length > MAX_RULE_LENGTH) throw invalid(`it is ${rule.length} characters long; at most ${MAX_RULE_LENGTH} are allowed.`, { length: rule.length, max: MAX_RULE_LENGTH });
  const body = rule.startsWith('RRULE:') ? rule.slice(6) : rule;
  if (/[\r\n]/.test(body)) {
    throw invalid('it must be a single line. Remove the line break and what follows: the first play is the separate start field (dtstart), never DTSTART or TZID inside the rule.');
  }
  const bad = /[^A-Z0-9=;,+-]/.exec(body);
  if (bad) {
    const hint = /[a-z]/.test(bad[0]) ? 'write it in capital letters' : 'use only capital letters, digits and = ; , + -';
    throw invalid(`the character "${bad[0]}" at position ${bad.index + 1} is not allowed: ${hint}, ${EXAMPLE}.`, { position: bad.index + 1 });
  }
  const parts = new Map<string, string>();
  for (const [i, part] of body.split(';').entries()) {
    const eq = part.indexOf('=');
    if (part === '') throw invalid('it has an empty part (";;" or a ";" at the end): remove it.');
    if (eq <= 0 || eq !== part.lastIndexOf('=') || eq === part.length - 1) throw invalid(`"${part}" is not of the form NAME=VALUE.`, { part });
    const name = part.slice(0, eq);
    if (name === 'DTSTART' || name === 'TZID') {
      throw invalid(`${name} is not allowed inside the rule: the first play is the separate start field (local time in Asia/Ho_Chi_Minh).`, { part: name });
    }
    if (!ALLOWED.includes(name)) throw invalid(`unknown part ${name}. Allowed: ${ALLOWED.join(', ')}.`, { part: name });
    if (parts.has(name)) throw invalid(`${name} appears twice.`, { part: name });
    if (i === 0 && name !== 'FREQ') throw invalid(`it must start with FREQ=…, ${EXAMPLE}.`);
    parts.set(name, part.slice(eq + 1));
  }
  const freqText = parts.get('FREQ')!;
  if (freqText === 'SECONDLY') {
    throw new LoaError('LOA_ERR_RRULE_TOO_FREQUENT', 'The schedule repeats too often: FREQ=SECONDLY is never allowed. Use FREQ=DAILY with BYHOUR and BYMINUTE for the times of day.', { details: { freq: 'SECONDLY' } });
  }
  if (!FREQS.includes(freqText)) throw invalid(`FREQ=${freqText} is unknown: use YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY or MINUTELY.`, { part: 'FREQ' });
  const freq = freqText as Freq;

  let interval = 1;
  if (parts.has('INTERVAL')) {
    const v = parts.get('INTERVAL')!;
    if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw invalid(`INTERVAL=${v} must be a whole number from 1 to 9999.`, { part: 'INTERVAL' });
    interval = Number(v);
  }
  let count: number | null = null;
  if (parts.has('COUNT')) {
    const v = parts.get('COUNT')!;
    if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw invalid(`COUNT=${v} must be a whole number from 1 to 999999.`, { part: 'COUNT' });
    count = Number(v);
  }
  const untilFloating = parts.has('UNTIL') ? parseUntil(parts.get('UNTIL')!, strict) : null;
  if (count !== null && untilFloating !== null) throw invalid('use either COUNT or UNTIL, not both.');
  for (const name of Object.keys(NUMERIC)) if (parts.has(name)) parseNumberList(name, parts.get(name)!);
  if (parts.has('BYDAY')) checkByDay(parts.get('BYDAY')!, freq, strict);
  if (parts.has('WKST') && !WEEKDAYS.includes(parts.get('WKST')!)) throw invalid(`WKST=${parts.get('WKST')} must be MO, TU, WE, TH, FR, SA or SU.`, { part: 'WKST' });
  if (parts.has('BYSETPOS') && (freq === 'HOURLY' || freq === 'MINUTELY')) throw invalid(`BYSETPOS cannot be used with FREQ=${freq}.`, { part: 'BYSETPOS' });
  if (strict) checkCombinations(freq, parts);
  checkReachable(freq, interval, dtstartFloating, parts);
  return { text: body, freq, interval, count, untilFloating };
}
