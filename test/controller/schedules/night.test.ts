import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LoaError } from '../../../shared/errors.js';
import { checkEntryNight, findNightPlays, nightKind, quietWindow, requireNightConfirmation } from '../../../controller/schedules/night.js';

const MIN = 60_000;
const at = (hhmm: string, day = 0): number => Date.UTC(2026, 10, 23 + day, Number(hhmm.slice(0, 2)), Number(hhmm.slice(3, 5)));
const W = quietWindow();

test('a relay set for 03:15 every day is flagged, with the local time as an example', () => {
  const r = checkEntryNight({ entryId: 'relay-vov', dtstart: '2026-11-23T03:15', rrule: 'FREQ=DAILY;COUNT=30' }, 15 * MIN);
  assert.equal(r.count, 30);
  assert.deepEqual(r.examples, [{ entryId: 'relay-vov', start: '2026-11-23T03:15', end: '2026-11-23T03:30', kind: 'starts_in_quiet_hours' }]);
  assert.equal(r.warning?.code, 'LOA_WARN_NIGHT_HOURS');
  assert.equal(r.warning?.count, 30);
  assert.match(r.warning?.message ?? "", /30 plays fall in the quiet hours 22:00–05:00 \(first: 2026-11-23T03:15\)/);
});

test('a play at 21:50 that lasts 15 minutes runs into the quiet hours and is flagged', () => {
  const r = checkEntryNight({ dtstart: '2026-11-23T21:50', rrule: 'FREQ=WEEKLY;COUNT=4' }, 15 * MIN);
  assert.equal(r.count, 4);
  assert.equal(r.examples[0]!.kind, 'runs_into_quiet_hours');
  assert.equal(r.examples[0]!.end, '2026-11-23T22:05');
  // Ending exactly at 22:00 is fine: the window is half-open.
  assert.equal(checkEntryNight({ dtstart: '2026-11-23T21:45', rrule: 'FREQ=WEEKLY;COUNT=4' }, 15 * MIN).count, 0);
});

test('plays at 06:00 and 17:00 are not flagged, nor one starting exactly at 05:00', () => {
  const r = checkEntryNight({ dtstart: '2026-11-23T06:00', rrule: 'FREQ=DAILY;BYHOUR=6,17;UNTIL=20271231T235959' }, 30 * MIN);
  assert.equal(r.count, 0);
  assert.equal(r.warning, null);
  assert.equal(nightKind(at('05:00'), 10 * MIN, W), null);
  assert.equal(nightKind(at('04:59'), 10 * MIN, W), 'starts_in_quiet_hours');
  assert.equal(nightKind(at('22:00'), MIN, W), 'starts_in_quiet_hours');
});

test('the window wraps midnight: 23:30 and 00:30 are inside, 12:00 is not, and a long day play can run into the night', () => {
  assert.equal(nightKind(at('23:30'), MIN, W), 'starts_in_quiet_hours');
  assert.equal(nightKind(at('00:30'), MIN, W), 'starts_in_quiet_hours');
  assert.equal(nightKind(at('12:00'), MIN, W), null);
  assert.equal(nightKind(at('12:00'), 10 * 3_600_000 + MIN, W), 'runs_into_quiet_hours');
  // A window that does not wrap (00:00–05:00) and an empty one (equal ends) work too.
  const early = quietWindow({ start: '00:00', end: '05:00' });
  assert.equal(nightKind(at('23:30'), 10 * MIN, early), null);
  assert.equal(nightKind(at('23:55'), 10 * MIN, early), 'runs_into_quiet_hours');
  assert.equal(nightKind(at('03:00'), MIN, quietWindow({ start: '05:00', end: '05:00' })), null);
});

test('for any start and length, a play is flagged exactly when some minute of it lies in 22:00–05:00', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 * 24 * 60 - 1 }), fc.integer({ min: 1, max: 6 * 60 }), (startMin, lenMin) => {
    let touches = false;
    for (let m = startMin; m < startMin + lenMin && !touches; m++) {
      const tod = m % (24 * 60);
      touches = tod >= 22 * 60 || tod < 5 * 60;
    }
    assert.equal(nightKind(Date.UTC(2026, 10, 23) + startMin * MIN, lenMin * MIN, W) !== null, touches);
  }), { numRuns: 500 });
});

test('findNightPlays reads real instants in Vietnam time and keeps one example per entry and time of day', () => {
  const utc = (hhmm: string, day = 0): number => at(hhmm, day) - 7 * 3_600_000;
  const r = findNightPlays([
    { start: utc('03:15'), durationMs: 15 * MIN, entryId: 'a' },
    { start: utc('03:15', 1), durationMs: 15 * MIN, entryId: 'a' },
    { start: utc('06:00'), durationMs: 15 * MIN, entryId: 'b' },
    { start: utc('21:55'), durationMs: 15 * MIN, entryId: 'c' },
  ]);
  assert.equal(r.count, 3);
  assert.deepEqual(r.examples.map((e) => [e.entryId, e.start, e.kind]), [['a', '2026-11-23T03:15', 'starts_in_quiet_hours'], ['c', '2026-11-23T21:55', 'runs_into_quiet_hours']]);
  assert.equal(findNightPlays([{ start: utc('03:15'), durationMs: MIN }], { quietHours: { start: '01:00', end: '03:00' } }).count, 0);
});

test('an unconfirmed night schedule is refused with the count and examples; a confirmed or daytime one passes', () => {
  const night = checkEntryNight({ dtstart: '2026-11-23T03:15', rrule: 'FREQ=DAILY;COUNT=3' }, 15 * MIN);
  assert.throws(() => requireNightConfirmation(night, false), (e: unknown) => {
    assert.ok(e instanceof LoaError);
    assert.equal(e.code, 'LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED');
    assert.match(e.message, /3 times in the quiet hours 22:00–05:00 \(first: 2026-11-23T03:15\).*confirm/);
    assert.equal(e.details?.count, 3);
    assert.deepEqual(e.details?.quietHours, { start: '22:00', end: '05:00' });
    return true;
  });
  assert.doesNotThrow(() => requireNightConfirmation(night, true));
  assert.doesNotThrow(() => requireNightConfirmation(checkEntryNight({ dtstart: '2026-11-23T06:00' }, 15 * MIN), false));
});

test('a malformed quiet-hours setting is refused', () => {
  assert.throws(() => quietWindow({ start: '25:00', end: '05:00' }), { code: 'LOA_ERR_CONFIG_INVALID' });
  assert.throws(() => quietWindow({ start: '22:00', end: '5:00' }), { code: 'LOA_ERR_CONFIG_INVALID' });
});
