import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Manifest, ScheduleEntry } from '../../../shared/schemas/manifest.js';
import { Timeline } from '../../../shared/timeline.js';
import { previewDay, previewZone, type ManifestLike } from '../../../controller/schedules/preview.js';
import { ExpansionCache, windowOccurrences } from '../../../controller/schedules/occurrences.js';
import { baseManifest } from '../../support/trust.js';

const vn = (s: string): number => Date.parse(`${s.length === 16 ? `${s}:00` : s}+07:00`);
const MEDIA = [
  { sha256: 'a'.repeat(64), size: 100, durationMs: 10 * 60_000 },
  { sha256: 'b'.repeat(64), size: 100, durationMs: 2 * 60_000 },
  { sha256: 'c'.repeat(64), size: 100, durationMs: 15 * 60_000 },
];
const PROGRAMS = [
  { id: 'news', title: 'Bản tin', items: [{ kind: 'media' as const, sha256: MEDIA[0]!.sha256 }] },
  { id: 'alert', title: 'Cảnh báo bão', items: [{ kind: 'media' as const, sha256: MEDIA[1]!.sha256 }] },
  { id: 'relay', title: 'Tiếp sóng VOV', items: [{ kind: 'stream' as const, url: 'http://vov.example/live', durationMs: 15 * 60_000 }] },
  { id: 'music', title: 'Nhạc', items: [{ kind: 'media' as const, sha256: MEDIA[2]!.sha256 }] },
];

function manifest(entries: Partial<ScheduleEntry>[], over: Partial<Manifest> = {}): Manifest {
  return baseManifest({
    media: MEDIA, programs: PROGRAMS,
    schedule: entries.map((e, i) => ({
      id: `e${i}`, programId: 'news', dtstart: '2026-11-23T06:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 1_800_000, ...e,
    })),
    ...over,
  });
}

test('an emergency at the same time as a normal bulletin plays first; the bulletin waits and starts when it ends', () => {
  const plan = previewDay(manifest([
    { id: 'news-morning', rrule: 'FREQ=DAILY;COUNT=7' },
    { id: 'storm', programId: 'alert', priority: 'emergency', volume: 100 },
  ]), '2026-11-23');
  assert.deepEqual(plan.occurrences.map((o) => [o.entryId, o.localStart, o.localEnd, o.priority, o.volume, o.durationMs, o.status, o.lateMs]), [
    ['storm', '06:00', '06:02', 'emergency', 100, 120_000, 'on_time', 0],
    ['news-morning', '06:00', '06:10', 'normal', 80, 600_000, 'delayed', 120_000],
  ]);
  assert.equal(plan.conflicts.length, 1);
  const c = plan.conflicts[0]!;
  assert.deepEqual([c.kind, c.winner.entryId, c.loser.entryId, c.rule, c.result, c.delayMs], ['wait', 'storm', 'news-morning', 'higher_priority', 'delayed', 120_000]);
  assert.match(c.message, /"news-morning" \(normal, 06:00\) waits for "storm" \(emergency, 06:00\), which has a higher priority; it starts 2 min late at 06:02/);
});

test('an emergency during a normal bulletin interrupts it, and the bulletin resumes, restarts or is dropped as its entry says', () => {
  for (const [onPreempt, result, plays] of [
    ['resume', 'resumed', [['06:00', '06:03', 0], ['06:05', '06:12', 180_000]]],
    ['restart', 'restarted', [['06:00', '06:03', 0], ['06:05', '06:15', 0]]],
    ['skip', 'skipped', [['06:00', '06:03', 0]]],
  ] as const) {
    const plan = previewDay(manifest([{ id: 'news', onPreempt }, { id: 'storm', programId: 'alert', priority: 'emergency', dtstart: '2026-11-23T06:03' }]), '2026-11-23');
    const news = plan.occurrences.find((o) => o.entryId === 'news')!;
    assert.deepEqual(news.plays.map((p) => [p.localFrom, p.localTo, p.offsetMs]), plays);
    assert.equal(news.status, onPreempt === 'skip' ? 'cut_short' : 'interrupted');
    assert.deepEqual(news.preemptedBy, [plan.occurrences.find((o) => o.entryId === 'storm')!.key]);
    const c = plan.conflicts[0]!;
    assert.deepEqual([c.kind, c.winner.entryId, c.loser.entryId, c.rule, c.result, c.localAt], ['preemption', 'storm', 'news', 'higher_priority', result, '06:03']);
  }
});

test('of two normal entries that overlap, the later one waits for the first; one that cannot wait long enough is skipped', () => {
  const plan = previewDay(manifest([
    { id: 'first' },
    { id: 'second', programId: 'alert', dtstart: '2026-11-23T06:05' },
    { id: 'third', programId: 'alert', dtstart: '2026-11-23T06:06', maxDelayMs: 60_000 },
  ]), '2026-11-23');
  const by = new Map(plan.occurrences.map((o) => [o.entryId, o]));
  assert.deepEqual([by.get('second')!.status, by.get('second')!.plays[0]!.localFrom, by.get('second')!.lateMs], ['delayed', '06:10', 300_000]);
  assert.deepEqual([by.get('third')!.status, by.get('third')!.skipReason], ['skipped', 'overlap']);
  assert.deepEqual(plan.conflicts.map((c) => [c.winner.entryId, c.loser.entryId, c.rule, c.result]), [
    ['first', 'second', 'already_playing', 'delayed'],
    ['first', 'third', 'already_playing', 'skipped'],
  ]);
  assert.match(plan.conflicts[1]!.message, /already playing \(equal priorities never interrupt each other\); it is skipped: it could not start within its maximum delay of 1 min/);
});

test('equal entries starting together are ordered by entry id, and the waiting one is delayed', () => {
  const plan = previewDay(manifest([{ id: 'b-second', programId: 'alert' }, { id: 'a-first', programId: 'alert' }]), '2026-11-23');
  assert.deepEqual(plan.conflicts.map((c) => [c.winner.entryId, c.loser.entryId, c.rule, c.result]), [['a-first', 'b-second', 'entry_id', 'delayed']]);
});

test('the day plan flags a relay at 03:15 as a night play, and not the daytime bulletins', () => {
  const plan = previewDay(manifest([
    { id: 'relay-vov', programId: 'relay', dtstart: '2026-11-23T03:15', rrule: 'FREQ=DAILY;COUNT=3' },
    { id: 'morning', dtstart: '2026-11-23T06:00' },
    { id: 'evening', programId: 'music', dtstart: '2026-11-23T17:00' },
  ]), '2026-11-23');
  assert.equal(plan.night.count, 1);
  assert.deepEqual(plan.night.examples, [{ entryId: 'relay-vov', start: '2026-11-23T03:15', end: '2026-11-23T03:30', kind: 'starts_in_quiet_hours' }]);
  assert.equal(plan.night.warning?.code, 'LOA_WARN_NIGHT_HOURS');
  assert.deepEqual(plan.occurrences.map((o) => [o.entryId, o.night]), [['relay-vov', 'starts_in_quiet_hours'], ['morning', null], ['evening', null]]);
});

test('a bulletin delayed past 22:00 by a conflict is flagged as running into the quiet hours', () => {
  const plan = previewDay(manifest([
    { id: 'evening', programId: 'music', dtstart: '2026-11-23T21:50' },
    { id: 'late', programId: 'alert', dtstart: '2026-11-23T21:51' },
  ]), '2026-11-23');
  // "late" is set for 21:51, but waits for "evening" (21:50-22:05) and so plays 22:05-22:07.
  const late = plan.occurrences.find((o) => o.entryId === 'late')!;
  assert.deepEqual(late.plays.map((p) => [p.localFrom, p.localTo]), [['22:05', '22:07']]);
  assert.deepEqual(plan.occurrences.map((o) => [o.entryId, o.night]), [['evening', 'runs_into_quiet_hours'], ['late', 'runs_into_quiet_hours']]);
  assert.equal(plan.night.count, 2);
});

test('an entry whose rule could stall the agent is reported and left out; the rest of the day is still planned', () => {
  const t = performance.now();
  const plan = previewDay(manifest([
    { id: 'ok', rrule: 'FREQ=DAILY;COUNT=3' },
    { id: 'stall', dtstart: '2026-11-23T06:00', rrule: 'FREQ=HOURLY;INTERVAL=2;BYHOUR=7' },
    { id: 'never', rrule: 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30' },
  ]), '2026-11-23');
  assert.ok(performance.now() - t < 1000);
  assert.deepEqual(plan.problems.map((p) => [p.entryId, p.code]), [['stall', 'LOA_ERR_RRULE_INVALID']]);
  assert.deepEqual(plan.occurrences.map((o) => o.entryId), ['ok']);
});

test('the preview takes the pieces of a manifest too, and says when the manifest is stale or past its grace period', () => {
  const m = manifest([{ priority: 'normal', rrule: 'FREQ=DAILY;COUNT=90' }, { id: 'storm', programId: 'alert', priority: 'emergency', rrule: 'FREQ=DAILY;COUNT=90', dtstart: '2026-11-23T07:00' }], { expiresAt: '2026-12-01T00:00:00Z' });
  const pieces: ManifestLike = { media: m.media, programs: m.programs, schedule: m.schedule, expiresAt: m.expiresAt };
  assert.deepEqual(previewDay(pieces, '2026-11-25').occurrences.length, 2);
  const stale = previewDay(m, '2026-12-05');
  assert.deepEqual([stale.stale, stale.emergencyOnly, stale.occurrences.every((o) => o.status === 'on_time')], [true, false, true]);
  const beyond = previewDay(m, '2027-01-05');
  assert.equal(beyond.emergencyOnly, true);
  assert.deepEqual(beyond.occurrences.map((o) => [o.entryId, o.status, o.skipReason]), [['e0', 'skipped', 'manifest_expired'], ['storm', 'on_time', null]]);
  assert.throws(() => previewDay(m, '2026-02-30'), { code: 'LOA_ERR_SCHEMA' });
});

const RULES = [
  'FREQ=DAILY;BYHOUR=6,17', 'FREQ=DAILY;INTERVAL=2', 'FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=5,21', 'FREQ=HOURLY;INTERVAL=3',
  'FREQ=MINUTELY;INTERVAL=30;BYHOUR=0,6,23', 'FREQ=MONTHLY;BYMONTHDAY=1,-1;BYHOUR=23;BYMINUTE=50', 'FREQ=DAILY;COUNT=20', null,
];
const entryArb = fc.record({
  rrule: fc.constantFrom(...RULES),
  day: fc.integer({ min: 0, max: 40 }),
  minute: fc.integer({ min: 0, max: 24 * 60 - 1 }),
  programId: fc.constantFrom('news', 'alert', 'relay', 'music'),
  priority: fc.constantFrom('normal', 'priority', 'emergency'),
  validFromDay: fc.option(fc.integer({ min: 0, max: 60 })),
  validDays: fc.option(fc.integer({ min: 1, max: 30 })),
});
type EntryValue = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;
const toEntry = (e: EntryValue, i: number): Partial<ScheduleEntry> => {
  const start = Date.UTC(2026, 10, 1) + e.day * 86_400_000 + e.minute * 60_000;
  const validFrom = e.validFromDay === null ? undefined : new Date(vn('2026-11-01T00:00') + e.validFromDay * 86_400_000 + e.minute * 1000).toISOString();
  const validUntil = validFrom === undefined || e.validDays === null ? undefined : new Date(Date.parse(validFrom) + e.validDays * 86_400_000).toISOString();
  return {
    id: `x${i}`, programId: e.programId, priority: e.priority, dtstart: new Date(start).toISOString().slice(0, 16),
    ...(e.rrule ? { rrule: e.rrule } : {}), ...(validFrom ? { validFrom } : {}), ...(validUntil ? { validUntil } : {}),
  };
};

test('for any manifest and day, the preview has exactly the occurrences Timeline.between gives the agent for that day', () => {
  fc.assert(fc.property(fc.array(entryArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 70 }), (entries, dayOffset) => {
    const m = manifest(entries.map(toEntry));
    const date = new Date(Date.UTC(2026, 10, 1) + dayOffset * 86_400_000).toISOString().slice(0, 10);
    const from = vn(`${date}T00:00`);
    const expected = new Timeline(m).between(from, from + 86_400_000);
    const plan = previewDay(m, date);
    assert.deepEqual(plan.occurrences.map((o) => o.key), expected.map((o) => o.key));
    assert.deepEqual(plan.occurrences.map((o) => [o.durationMs, o.priority, o.volume]), expected.map((o) => [o.durationMs, o.priority, o.volume]));
    // The expansion underneath gives the very same Occurrence objects, item lists included.
    assert.deepEqual(windowOccurrences(m, from, from + 86_400_000, new ExpansionCache()).occurrences, expected);
    for (const o of plan.occurrences) assert.ok(o.status === 'skipped' || o.plays.length > 0);
  }), { numRuns: 60 });
});

test('a zone preview of 300 devices that share their entries is fast, and each device plan equals its own previewDay', () => {
  const shared = [
    { id: 'news-am', rrule: 'FREQ=DAILY;BYHOUR=6,17;UNTIL=20271231T235959', dtstart: '2026-01-01T06:00' },
    { id: 'music', programId: 'music', rrule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20271231T235959', dtstart: '2026-01-02T06:05' },
    { id: 'relay', programId: 'relay', rrule: 'FREQ=DAILY;UNTIL=20271231T235959', dtstart: '2026-01-01T21:50' },
  ];
  const manifests = new Map<string, Manifest>();
  for (let i = 0; i < 300; i++) {
    const own = i % 10 === 0 ? [{ id: `storm-${i}`, programId: 'alert', priority: 'emergency' as const, dtstart: '2026-11-25T06:03' }] : [];
    manifests.set(`dev-${String(i).padStart(3, '0')}`, manifest([...shared, ...own], { deviceId: `dev-${i}` }));
  }
  const t = performance.now();
  const zone = previewZone(manifests, '2026-11-25');
  const ms = performance.now() - t;
  assert.ok(ms < 3000, `took ${Math.round(ms)} ms`);
  assert.equal(zone.devices.length, 300);
  assert.equal(zone.totals.occurrences, 300 * 4 + 30);
  assert.equal(zone.totals.devicesWithConflicts, 300, 'news-am at 06:00 runs into music at 06:05 everywhere');
  assert.equal(zone.totals.devicesWithNightPlays, 300);
  assert.equal(zone.totals.byStatus.interrupted, 30);
  const music = zone.entries.find((e) => e.entryId === 'music')!;
  assert.deepEqual([music.devices, music.byStatus.delayed], [300, 300]);
  assert.equal(zone.entries.find((e) => e.entryId === 'relay')!.nightPlays, 300);
  const one = zone.devices.find((d) => d.deviceId === 'dev-010')!;
  assert.deepEqual(one, { ...previewDay(manifests.get('dev-010')!, '2026-11-25', { marginMs: 2 * (15 * 60_000 + 1_800_000) + 60_000 }), deviceId: 'dev-010' });
});
