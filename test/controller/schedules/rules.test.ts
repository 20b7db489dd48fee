import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LoaError, type ErrorCode } from '../../../shared/errors.js';
import { checkRecurrence, expandRecurrence, type RecurrenceInput } from '../../../controller/schedules/rules.js';
import { parseRuleText } from '../../../controller/schedules/rule-text.js';

const START = '2026-11-23T06:00';

function rejects(input: Partial<RecurrenceInput>, code: ErrorCode, pattern?: RegExp): LoaError {
  let caught: unknown;
  try {
    checkRecurrence({ dtstart: START, ...input });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LoaError, `expected ${code} for ${JSON.stringify(input)}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

test('a daily rule with an UNTIL passes and reports its first and last plays in local time', () => {
  const s = checkRecurrence({ dtstart: START, rrule: 'FREQ=DAILY;BYHOUR=6,17;UNTIL=20261231T235959' });
  assert.equal(s.firstStartLocal, '2026-11-23T06:00');
  assert.equal(s.firstStart, '2026-11-22T23:00:00.000Z');
  assert.equal(s.lastStartLocal, '2026-12-31T17:00');
  assert.equal(s.occurrences, 39 * 2);
  assert.equal(s.occurrencesPerDayMax, 2);
  assert.equal(s.minGapMs, 11 * 3_600_000);
  assert.equal(s.endsBy, 'until');
});

test('a weekly rule bounded by COUNT passes and ends by its count', () => {
  const s = checkRecurrence({ dtstart: START, rrule: 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12' });
  assert.equal(s.rrule, 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12', 'stored without the RRULE: prefix');
  assert.equal(s.occurrences, 12);
  assert.equal(s.lastStartLocal, '2026-12-18T06:00');
  assert.equal(s.endsBy, 'count');
});

test('a rule without an end of its own is bounded by validUntil, and validFrom moves the first play', () => {
  const s = checkRecurrence({ dtstart: START, rrule: 'FREQ=DAILY', validFrom: '2026-12-01T00:00:00+07:00', validUntil: Date.parse('2027-01-01T00:00:00+07:00') });
  assert.equal(s.firstStartLocal, '2026-12-01T06:00');
  assert.equal(s.lastStartLocal, '2026-12-31T06:00');
  assert.equal(s.occurrences, 31);
  assert.equal(s.endsBy, 'validUntil');
});

test('a single play without a rule passes', () => {
  const s = checkRecurrence({ dtstart: '2026-11-23T06:00:30' });
  assert.equal(s.rrule, null);
  assert.equal(s.occurrences, 1);
  assert.equal(s.firstStartLocal, '2026-11-23T06:00:30');
});

test('a rule without an end is rejected as unbounded, saying how to end it', () => {
  const e = rejects({ rrule: 'FREQ=DAILY;BYHOUR=6' }, 'LOA_ERR_RRULE_UNBOUNDED', /add COUNT or UNTIL/);
  assert.equal(e.details?.maxSpanDays, 732);
});

test('a rule lasting longer than two years, by UNTIL, validUntil or COUNT, is rejected as unbounded', () => {
  const e = rejects({ rrule: 'FREQ=DAILY;UNTIL=20301231T235959' }, 'LOA_ERR_RRULE_UNBOUNDED', /too long/);
  assert.ok((e.details?.spanDays as number) > 1400);
  rejects({ rrule: 'FREQ=WEEKLY', validUntil: '2030-01-01T00:00:00+07:00' }, 'LOA_ERR_RRULE_UNBOUNDED');
  rejects({ rrule: 'FREQ=DAILY;COUNT=1000' }, 'LOA_ERR_RRULE_UNBOUNDED', /COUNT=1000/);
  // A COUNT that outlives the limit is still fine when validUntil stops it first.
  assert.equal(checkRecurrence({ dtstart: START, rrule: 'FREQ=DAILY;COUNT=1000', validUntil: '2027-01-01T00:00:00+07:00' }).endsBy, 'validUntil');
  // The limit is an option.
  assert.throws(() => checkRecurrence({ dtstart: START, rrule: 'FREQ=DAILY;COUNT=40' }, { maxSpanMs: 30 * 86_400_000 }), { code: 'LOA_ERR_RRULE_UNBOUNDED' });
});

test('FREQ=SECONDLY, FREQ=MINUTELY and a BYMINUTE list of adjacent minutes are rejected as too frequent, even without an end', () => {
  rejects({ rrule: 'FREQ=SECONDLY;COUNT=5' }, 'LOA_ERR_RRULE_TOO_FREQUENT', /SECONDLY/);
  rejects({ rrule: 'FREQ=SECONDLY' }, 'LOA_ERR_RRULE_TOO_FREQUENT');
  const e = rejects({ rrule: 'FREQ=MINUTELY' }, 'LOA_ERR_RRULE_TOO_FREQUENT', /1 minute later.*at least 5 minutes apart/);
  assert.deepEqual(e.details, { gapMs: 60_000, minGapMs: 300_000, first: '2026-11-23T06:00', second: '2026-11-23T06:01' });
  rejects({ rrule: 'FREQ=MINUTELY;INTERVAL=1;COUNT=10' }, 'LOA_ERR_RRULE_TOO_FREQUENT');
  rejects({ rrule: 'FREQ=DAILY;BYHOUR=6;BYMINUTE=0,1,2,3,4,5;UNTIL=20261231T235959' }, 'LOA_ERR_RRULE_TOO_FREQUENT', /BYMINUTE/);
  // The gap is checked across midnight too.
  rejects({ dtstart: '2026-11-23T23:58', rrule: 'FREQ=HOURLY;INTERVAL=1;BYHOUR=0,23;BYMINUTE=1,58;COUNT=10' }, 'LOA_ERR_RRULE_TOO_FREQUENT');
});

test('more plays a day than allowed are rejected as too frequent, and both limits are options', () => {
  const hours = Array.from({ length: 24 }, (_, h) => h).join(',');
  const e = rejects({ dtstart: '2026-11-23T00:00', rrule: `FREQ=DAILY;BYHOUR=${hours};BYMINUTE=0,20,40;COUNT=200` }, 'LOA_ERR_RRULE_TOO_FREQUENT', /more than 48 times/);
  assert.equal(e.details?.maxPerDay, 48);
  assert.doesNotThrow(() => checkRecurrence({ dtstart: '2026-11-23T00:00', rrule: `FREQ=DAILY;BYHOUR=${hours};BYMINUTE=0,20,40;COUNT=200` }, { maxPerDay: 72 }));
  assert.throws(() => checkRecurrence({ dtstart: START, rrule: 'FREQ=DAILY;BYHOUR=6,7;COUNT=4' }, { minGapMs: 2 * 3_600_000 }), { code: 'LOA_ERR_RRULE_TOO_FREQUENT' });
});

test('garbage and injected text are rejected as invalid rules', () => {
  rejects({ rrule: 'FREQ=DAILY;X-EVIL=1;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /unknown part X-EVIL/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3\nDTSTART:20200101T000000Z' }, 'LOA_ERR_RRULE_INVALID', /single line/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3;DTSTART=20200101T000000' }, 'LOA_ERR_RRULE_INVALID', /DTSTART is not allowed/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3;TZID=Europe/Paris' }, 'LOA_ERR_RRULE_INVALID', /not allowed/);
  rejects({ rrule: "'; DROP TABLE schedules;--" }, 'LOA_ERR_RRULE_INVALID');
  rejects({ rrule: 'freq=daily;count=3' }, 'LOA_ERR_RRULE_INVALID', /capital letters/);
  rejects({ rrule: 'hello' }, 'LOA_ERR_RRULE_INVALID');
  rejects({ rrule: 'FREQ=FORTNIGHTLY;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /FREQ=FORTNIGHTLY is unknown/);
  rejects({ rrule: 'BYHOUR=6;FREQ=DAILY;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /start with FREQ/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3;COUNT=4' }, 'LOA_ERR_RRULE_INVALID', /twice/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3;' }, 'LOA_ERR_RRULE_INVALID', /empty part/);
  rejects({ rrule: `FREQ=DAILY;COUNT=3;BYHOUR=${'6,'.repeat(260)}6` }, 'LOA_ERR_RRULE_INVALID', /at most 500/);
  rejects({ rrule: 'FREQ=DAILY;BYHOUR=24;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /BYHOUR=24 is out of range: use 0 to 23/);
  rejects({ rrule: 'FREQ=DAILY;BYDAY=XX;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /not a weekday/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3;UNTIL=20271231T235959' }, 'LOA_ERR_RRULE_INVALID', /either COUNT or UNTIL/);
  rejects({ dtstart: '2026-02-30T06:00', rrule: 'FREQ=DAILY;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /dtstart/);
});

test('UNTIL must be a local date-time: a trailing Z or a bare date is refused with the fix in the message', () => {
  rejects({ rrule: 'FREQ=DAILY;UNTIL=20271231T235959Z' }, 'LOA_ERR_RRULE_INVALID', /write UNTIL=20271231T235959\./);
  rejects({ rrule: 'FREQ=DAILY;UNTIL=20271231' }, 'LOA_ERR_RRULE_INVALID', /UNTIL=20271231T235959 to include the whole of that day/);
});

test('rules on which rrule.js would loop forever are refused without expanding them', () => {
  // FREQ=HOURLY;INTERVAL=2 from 06:00 only reaches even hours; rrule.js would look for 07:00 forever.
  rejects({ rrule: 'FREQ=HOURLY;INTERVAL=2;BYHOUR=7;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /never reached/);
  rejects({ rrule: 'FREQ=MINUTELY;INTERVAL=10;BYMINUTE=5;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /never reached/);
  rejects({ rrule: 'FREQ=MINUTELY;INTERVAL=7;COUNT=3' }, 'LOA_ERR_RRULE_INVALID', /divides 60/);
  // rrule.js skips weeks for this one: refused with the equivalent rule to use instead.
  rejects({ rrule: 'FREQ=MINUTELY;INTERVAL=30;BYHOUR=7;BYDAY=MO,TU;COUNT=6' }, 'LOA_ERR_RRULE_INVALID', /FREQ=DAILY;BYDAY=MO,TU;BYHOUR=7;BYMINUTE=/);
  assert.doesNotThrow(() => checkRecurrence({ dtstart: START, rrule: 'FREQ=HOURLY;INTERVAL=2;BYHOUR=6,8,10;COUNT=6' }));
});

test('a rule that never gives a date is refused quickly as never playing, as is an empty validity window', () => {
  const t = performance.now();
  rejects({ rrule: 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20281031T235959' }, 'LOA_ERR_SCHEDULE_NEVER_PLAYS', /gives no date/);
  rejects({ rrule: 'FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31;BYHOUR=6;UNTIL=20281031T235959' }, 'LOA_ERR_SCHEDULE_NEVER_PLAYS');
  assert.ok(performance.now() - t < 1000, 'rrule.js alone would iterate to the year 9999 (~12 s each)');
  rejects({ rrule: 'FREQ=DAILY;COUNT=3', validFrom: '2027-01-01T00:00:00+07:00' }, 'LOA_ERR_SCHEDULE_NEVER_PLAYS', /outside its validity/);
  rejects({ rrule: 'FREQ=DAILY;COUNT=3', validFrom: '2027-01-01T00:00:00+07:00', validUntil: '2026-01-01T00:00:00+07:00' }, 'LOA_ERR_SCHEDULE_NEVER_PLAYS', /not after/);
  rejects({ dtstart: START, validUntil: '2026-11-23T05:00:00+07:00' }, 'LOA_ERR_SCHEDULE_NEVER_PLAYS');
});

test('times of day listed out of order are refused, since the receivers would then skip plays', () => {
  rejects({ rrule: 'FREQ=DAILY;BYHOUR=17,6;COUNT=4' }, 'LOA_ERR_RRULE_INVALID', /BYHOUR=6,17/);
  rejects({ rrule: 'FREQ=DAILY;BYHOUR=6;BYMINUTE=30,0;COUNT=4' }, 'LOA_ERR_RRULE_INVALID', /BYMINUTE=0,30/);
  // Day-level lists are order-free.
  assert.doesNotThrow(() => checkRecurrence({ dtstart: START, rrule: 'FREQ=WEEKLY;BYDAY=FR,MO;COUNT=4' }));
});

test('the expansion gives every play in order, whatever hours a daily rule lists', () => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 4 }),
    fc.integer({ min: 1, max: 60 }),
    (hours, count) => {
      const rrule = `FREQ=DAILY;BYHOUR=${[...hours].sort((a, b) => a - b).join(',')};BYMINUTE=30;COUNT=${count}`;
      const { starts, summary } = expandRecurrence({ dtstart: '2026-11-23T00:30', rrule });
      assert.equal(starts.length, count);
      assert.equal(summary.occurrences, count);
      const sorted = [...hours].sort((a, b) => a - b);
      starts.forEach((f, i) => assert.equal(new Date(f).getUTCHours(), sorted[i % sorted.length]));
    }), { numRuns: 50 });
});

test('parseRuleText in lenient mode accepts what manifests may already hold, but never what would hang', () => {
  const d = Date.UTC(2026, 10, 23, 6);
  assert.equal(parseRuleText('FREQ=DAILY;UNTIL=20271231T235959Z', d, { strict: false }).untilFloating, Date.UTC(2027, 11, 31, 23, 59, 59));
  assert.throws(() => parseRuleText('FREQ=HOURLY;INTERVAL=2;BYHOUR=7', d, { strict: false }), { code: 'LOA_ERR_RRULE_INVALID' });
});
