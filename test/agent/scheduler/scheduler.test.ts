import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest, ScheduleEntry } from '../../../shared/schemas/manifest.js';
import { baseManifest } from '../../support/trust.js';
import { schedulerHarness } from '../../support/agent-harness.js';
import type { RecordingOutputs, RecordingSink } from '../../support/doubles.js';
import type { Occurrence } from '../../../shared/timeline.js';

const vn = (s: string): number => Date.parse(`${s.length === 16 ? `${s}:00` : s}+07:00`);
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

function manifest(entries: Partial<ScheduleEntry>[], over: Partial<Manifest> = {}): Manifest {
  return baseManifest({
    media: [
      { sha256: A, size: 100, durationMs: 60_000 },
      { sha256: B, size: 100, durationMs: 20_000 },
      { sha256: C, size: 100, durationMs: 30_000 },
    ],
    programs: [
      { id: 'pa', title: 'A', items: [{ kind: 'media', sha256: A }] },
      { id: 'pb', title: 'B', items: [{ kind: 'media', sha256: B }] },
      { id: 'pc', title: 'C', items: [{ kind: 'media', sha256: C }] },
    ],
    schedule: entries.map((e, i) => ({
      id: `e${i}`, programId: 'pa', dtstart: '2026-11-23T06:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000, ...e,
    })),
    ...over,
  });
}

const events = (h: ReturnType<typeof schedulerHarness>, type: string): Record<string, unknown>[] =>
  h.outbox.list().filter((e) => e.type === type).map((e) => e.data);

test('plays an occurrence at its local time with the amplifier warmed up first and released after', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: manifest([{ volume: 65 }]) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:02'));
  const sink = h.sink as RecordingSink;
  assert.equal(sink.plays.length, 1);
  assert.equal(sink.plays[0]!.startedAt, vn('2026-11-23T06:00'));
  assert.equal(sink.plays[0]!.volume, 65);
  const out = (h.outputs as RecordingOutputs).log;
  assert.equal(out[0]!.op, 'engage');
  assert.ok(vn('2026-11-23T06:00') - out[0]!.at >= 2000, 'engaged at least the warm-up before audio');
  assert.equal(out[1]!.op, 'release');
  assert.equal(out[1]!.at, vn('2026-11-23T06:01'));
  assert.deepEqual(events(h, 'play.end').map((d) => d.status), ['completed']);
  await h.close();
});

test('a priority item preempts a normal one, which then resumes where it stopped', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: manifest([{}, { programId: 'pb', dtstart: '2026-11-23T06:00:30', priority: 'priority' }]) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:05'));
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.offsetMs, p.status, (p.startedAt - vn('2026-11-23T06:00')) / 1000]);
  // normal A starts at 0 s, B preempts at 30 s (after its 0.5 s emergency... no: 2 s priority warm-up is pre-engaged), A resumes at 30 s offset
  assert.deepEqual(plays, [['a', 0, 'aborted', 0], ['b', 0, 'completed', 30], ['a', 30_000, 'completed', 50]]);
  assert.deepEqual(events(h, 'play.end').map((d) => d.status), ['preempted', 'completed', 'completed']);
  await h.close();
});

test('a preempted item set to restart plays again from the beginning, and one set to skip is skipped', async () => {
  const h = schedulerHarness({
    start: vn('2026-11-23T05:59'),
    manifest: manifest([
      { onPreempt: 'restart' },
      { id: 'x', programId: 'pb', dtstart: '2026-11-23T06:00:10', priority: 'emergency' },
      { id: 'y', programId: 'pc', dtstart: '2026-11-23T07:00', onPreempt: 'skip' },
      { id: 'z', programId: 'pb', dtstart: '2026-11-23T07:00:10', priority: 'priority' },
    ]),
  });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T07:10'));
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.offsetMs, p.status]);
  assert.deepEqual(plays, [['a', 0, 'aborted'], ['b', 0, 'completed'], ['a', 0, 'completed'], ['c', 0, 'aborted'], ['b', 0, 'completed']]);
  assert.deepEqual(events(h, 'play.skip').map((d) => d.reason), ['after_preempted']);
  await h.close();
});

test('overlapping items of equal priority resolve deterministically: the first plays, the next waits or is skipped', async () => {
  const run = async (): Promise<unknown[]> => {
    const h = schedulerHarness({
      start: vn('2026-11-23T05:59'),
      manifest: manifest([
        { id: 'm2', programId: 'pb' }, // same start as m1; m1 wins the tie by id
        { id: 'm1', programId: 'pa' },
        { id: 'm3', programId: 'pc', dtstart: '2026-11-23T06:00:05', maxDelayMs: 10_000 }, // cannot wait 75 s
      ]),
    });
    h.scheduler.start();
    await h.clock.advanceTo(vn('2026-11-23T06:05'));
    const out = [(h.sink as RecordingSink).plays.map((p) => [p.key.split('@')[0], (p.startedAt - vn('2026-11-23T06:00')) / 1000]), events(h, 'play.skip').map((d) => [d.entryId, d.reason])];
    await h.close();
    return out;
  };
  const first = await run();
  assert.deepEqual(first, [[['m1', 0], ['m2', 60]], [['m3', 'overlap']]]);
  assert.deepEqual(await run(), first);
});

test('a clock stepped backwards does not play anything twice', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: manifest([{ rrule: 'FREQ=HOURLY;COUNT=3' }]) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:30'));
  await h.clock.step(-45 * 60_000); // NTP corrects 45 minutes back: 05:45 again
  await h.clock.advanceBy(3 * 3600_000);
  const keys = (h.sink as RecordingSink).plays.map((p) => p.key);
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 3);
  assert.ok(events(h, 'clock.step').length >= 1);
  await h.close();
});

test('a clock stepped forwards past a priority item still plays it; a normal item past its delay is skipped and reported', async () => {
  const h = schedulerHarness({
    start: vn('2026-11-23T05:50'),
    manifest: manifest([
      { id: 'n', programId: 'pb', dtstart: '2026-11-23T06:00', maxDelayMs: 60_000 },
      { id: 'p', programId: 'pc', dtstart: '2026-11-23T06:05', priority: 'priority', maxDelayMs: 60_000 },
    ]),
  });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T05:55'));
  await h.clock.step(2 * 3600_000); // jump to 07:55
  await h.clock.advanceBy(5 * 60_000);
  const plays = (h.sink as RecordingSink).plays.map((p) => p.key.split('@')[0]);
  assert.deepEqual(plays, ['p']);
  assert.deepEqual(events(h, 'play.skip').map((d) => [d.entryId, d.reason]), [['n', 'clock_step']]);
  await h.close();
});

test('a restarted scheduler closes the interrupted play and resumes it without duplicating proof-of-play', async () => {
  const m = manifest([{}]);
  const h1 = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: m, scheduler: { checkpointMs: 5000 } });
  h1.scheduler.start();
  await h1.clock.advanceTo(vn('2026-11-23T06:00:23'));
  // Simulate a crash: abandon the scheduler without stop(); the DB says "playing".
  const dir = h1.dir;
  h1.db.close();
  const h2 = schedulerHarness({ start: vn('2026-11-23T06:00:40'), manifest: m, dir });
  h2.scheduler.start();
  await h2.clock.advanceTo(vn('2026-11-23T06:05'));
  const ends = events(h2, 'play.end').map((d) => [d.status, d.attempt]);
  assert.deepEqual(ends, [['interrupted', 1], ['completed', 2]]);
  const starts = events(h2, 'play.start').map((d) => [d.attempt, d.offsetMs]);
  assert.equal(starts.length, 2);
  assert.equal(starts[1]![1], 20_000, 'resumed from the last checkpoint');
  await h2.close();
});

test('an expired manifest keeps playing, flagged stale, until the grace period ends', async () => {
  const m = manifest([{ rrule: 'FREQ=DAILY' }], { expiresAt: '2026-11-23T12:00:00Z' });
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: m, scheduler: { staleGraceMs: 2 * 86_400_000 } });
  h.scheduler.start();
  for (let d = 0; d < 5; d++) await h.clock.advanceBy(86_400_000);
  const starts = events(h, 'play.start');
  assert.equal(starts.length, 3, 'day 1 normal, days 2 and 3 stale, later days silent');
  assert.deepEqual(starts.map((s) => s.stale ?? false), [false, true, true]);
  assert.equal(events(h, 'manifest.stale').length, 1);
  assert.ok(events(h, 'play.skip').every((d) => d.reason === 'manifest_expired'));
  await h.close();
});

test('a failing media item is reported and the rest of the program still plays', async () => {
  const m = manifest([{ programId: 'multi' }]);
  const programs = [...m.programs, { id: 'multi', title: 'M', items: [{ kind: 'media' as const, sha256: B }, { kind: 'media' as const, sha256: C }] }];
  const { RecordingSink: Sink } = await import('../../support/doubles.js');
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: { ...m, programs }, sink: (c) => new Sink(c, new Set([B])) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:02'));
  const end = events(h, 'play.end')[0]!;
  assert.equal(end.status, 'completed');
  assert.equal((end.failures as unknown[]).length, 1);
  assert.equal(events(h, 'audio.fault').length, 1);
  await h.close();
});

test('while a preempted item waits to resume, the loop sleeps instead of spinning', async () => {
  // A has no grace for a late start (maxDelayMs 0) but may resume until its own end; B interrupts it for 20 s.
  const h = schedulerHarness({
    start: vn('2026-11-23T05:59'),
    manifest: manifest([{ maxDelayMs: 0 }, { programId: 'pb', dtstart: '2026-11-23T06:00:10', priority: 'priority' }]),
    scheduler: { maxSleepMs: 1000, checkpointMs: 5000 },
  });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:00:11'));
  const before = h.scheduler.ticks;
  await h.clock.advanceTo(vn('2026-11-23T06:00:29'));
  const during = h.scheduler.ticks - before;
  // 18 s of B with a 1 s maximum sleep: about 18 looks; a spinning loop makes thousands.
  assert.ok(during <= 40, `${during} ticks in 18 s`);
  await h.clock.advanceTo(vn('2026-11-23T06:02'));
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.offsetMs, p.status]);
  assert.deepEqual(plays, [['a', 0, 'aborted'], ['b', 0, 'completed'], ['a', 10_000, 'completed']]);
  await h.close();
});

function emergency(id: string, start: number, repeat = 2): Occurrence {
  const items = Array.from({ length: repeat }, () => ({ kind: 'media' as const, ref: B, durationMs: 20_000 }));
  return {
    key: `emergency:${id}@${new Date(start).toISOString()}`, entryId: `emergency:${id}`, programId: `emergency:${id}`, start, durationMs: 20_000 * repeat,
    priority: 'emergency', rank: 4, volume: 100, outputs: [], onPreempt: 'restart', maxDelayMs: 3_600_000, items,
  };
}

test('a one-off emergency occurrence preempts the schedule, plays all its repeats, then the program resumes where it stopped', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: manifest([{}]) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:00:15'));
  h.scheduler.addAdhoc(emergency('em-1', vn('2026-11-23T06:00:15')));
  h.scheduler.addAdhoc(emergency('em-1', vn('2026-11-23T06:00:15')));
  await h.clock.advanceTo(vn('2026-11-23T06:03'));
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.offsetMs, p.status, p.volume]);
  // A plays 15 s, the order plays twice (emergency warm-up 0.5 s with relays already on), A resumes at 15 s.
  assert.deepEqual(plays.map((p) => p.slice(0, 3)), [['a', 0, 'aborted'], ['b', 0, 'completed'], ['b', 0, 'completed'], ['a', 15_000, 'completed']]);
  assert.equal(plays[1]![3], 100);
  assert.deepEqual(events(h, 'play.end').map((d) => [d.entryId, d.status]), [['e0', 'preempted'], ['emergency:em-1', 'completed'], ['e0', 'completed']]);
  await h.close();
});

test('cancelling a one-off occurrence stops it at once and the schedule resumes; one not started yet is skipped', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59'), manifest: manifest([{}]) });
  h.scheduler.start();
  await h.clock.advanceTo(vn('2026-11-23T06:00:10'));
  const em = emergency('em-2', vn('2026-11-23T06:00:10'), 3);
  h.scheduler.addAdhoc(em);
  const later = emergency('em-3', vn('2026-11-23T06:30'));
  h.scheduler.addAdhoc(later);
  await h.clock.advanceTo(vn('2026-11-23T06:00:30'));
  assert.equal(h.scheduler.nowPlaying()?.entryId, 'emergency:em-2');
  assert.equal(await h.scheduler.cancelAdhoc(em.key), true);
  assert.equal(await h.scheduler.cancelAdhoc(later.key), true);
  assert.equal(await h.scheduler.cancelAdhoc(later.key), false, 'already final');
  await h.clock.advanceTo(vn('2026-11-23T06:40'));
  assert.deepEqual(events(h, 'play.end').map((d) => [d.entryId, d.status]), [['e0', 'preempted'], ['emergency:em-2', 'cancelled'], ['e0', 'completed']]);
  assert.deepEqual(events(h, 'play.skip').map((d) => d.reason), ['after_cancelled', 'cancelled']);
  const sink = (h.sink as RecordingSink).plays;
  assert.ok(!sink.some((p) => p.startedAt >= vn('2026-11-23T06:30')), 'the cancelled later order never played');
  await h.close();
});

test('a one-off occurrence plays on a device that has no manifest yet', async () => {
  const h = schedulerHarness({ start: vn('2026-11-23T05:59') });
  h.scheduler.start();
  h.scheduler.addAdhoc(emergency('em-4', vn('2026-11-23T06:00'), 1));
  await h.clock.advanceTo(vn('2026-11-23T06:01'));
  assert.deepEqual((h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.status]), [['b', 'completed']]);
  await h.close();
});
