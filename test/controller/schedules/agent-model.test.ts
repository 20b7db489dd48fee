import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Manifest, ScheduleEntry } from '../../../shared/schemas/manifest.js';
import { Timeline } from '../../../shared/timeline.js';
import { modelAgentPlays } from '../../../controller/schedules/agent-model.js';
import { baseManifest } from '../../support/trust.js';
import { schedulerHarness } from '../../support/agent-harness.js';
import type { RecordingSink } from '../../support/doubles.js';

// The model claims to make the agent's decisions. These tests hold it to that: the same manifest goes through the
// real Scheduler (virtual clock, recording sink) and through the model, and both must give the same plays and skips.

const vn = (s: string): number => Date.parse(`${s.length === 16 ? `${s}:00` : s}+07:00`);
const T0 = vn('2026-11-23T06:00');
const MEDIA = [
  { sha256: 'a'.repeat(64), size: 100, durationMs: 60_000 },
  { sha256: 'b'.repeat(64), size: 100, durationMs: 20_000 },
  { sha256: 'c'.repeat(64), size: 100, durationMs: 30_000 },
  { sha256: 'd'.repeat(64), size: 100, durationMs: 300_000 },
];
const PROGRAMS = MEDIA.map((m, i) => ({ id: `p${i}`, title: `P${i}`, items: [{ kind: 'media' as const, sha256: m.sha256 }] }));

function manifest(entries: Partial<ScheduleEntry>[]): Manifest {
  return baseManifest({
    media: MEDIA, programs: PROGRAMS,
    schedule: entries.map((e, i) => ({
      id: `e${i}`, programId: 'p0', dtstart: '2026-11-23T06:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000, ...e,
    })),
  });
}

type Row = [string, number, number, number];

/** What the real agent does: each sink play [occurrence, start s, end s, offset ms] and each skip [occurrence, reason]. */
async function agentRun(m: Manifest, untilMs: number): Promise<{ plays: Row[]; skips: [string, string][] }> {
  // Checkpoints (an fsync'd UPDATE every 5 s of play) do not change decisions; spacing them out keeps this fast.
  const h = schedulerHarness({ start: T0 - 60_000, manifest: m, scheduler: { checkpointMs: 86_400_000 } });
  h.scheduler.start();
  await h.clock.advanceTo(untilMs);
  const plays = (h.sink as RecordingSink).plays.map((p): Row => [p.key, (p.startedAt - T0) / 1000, ((p.endedAt ?? NaN) - T0) / 1000, p.offsetMs]);
  const skips = h.outbox.list().filter((e) => e.type === 'play.skip').map((e): [string, string] => [String(e.data.occurrence), String(e.data.reason)]);
  await h.close();
  return { plays, skips };
}

/** What the model says, in the same shape. */
function modelRun(m: Manifest, untilMs: number): { plays: Row[]; skips: [string, string][] } {
  const occ = new Timeline(m).between(T0 - 86_400_000, untilMs);
  const { outcomes } = modelAgentPlays(occ, { expiresAt: Date.parse(m.expiresAt) });
  const plays: Row[] = [];
  const skips: [string, string][] = [];
  for (const [key, o] of outcomes) {
    for (const s of o.spans) plays.push([key, (s.from - T0) / 1000, (s.to - T0) / 1000, s.offsetMs]);
    if (o.skipped) skips.push([key, o.skipped.reason]);
  }
  plays.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
  return { plays, skips: skips.sort() };
}

/**
 * A preempted item whose resume deadline passes is reported `overlap` if the agent looked at the clock while it
 * waited (in production at least every second), else `expired_after_interruption`. This harness sleeps up to
 * 60 s, so that one label is compared as the same.
 */
const sameLabel = (r: { plays: Row[]; skips: [string, string][] }): { plays: Row[]; skips: [string, string][] } =>
  ({ plays: r.plays, skips: r.skips.map(([k, why]): [string, string] => [k, why === 'expired_after_interruption' ? 'overlap' : why]).sort() });

async function assertSame(entries: Partial<ScheduleEntry>[], untilMs = T0 + 3 * 3_600_000): Promise<void> {
  const m = manifest(entries);
  assert.deepEqual(sameLabel(modelRun(m, untilMs)), sameLabel(await agentRun(m, untilMs)));
}

test('the model plays a priority preemption, resume, restart and skip exactly as the agent does', async () => {
  await assertSame([{}, { programId: 'p1', dtstart: '2026-11-23T06:00:30', priority: 'priority' }]);
  await assertSame([
    { onPreempt: 'restart' },
    { id: 'x', programId: 'p1', dtstart: '2026-11-23T06:00:10', priority: 'emergency' },
    { id: 'y', programId: 'p2', dtstart: '2026-11-23T07:00', onPreempt: 'skip' },
    { id: 'z', programId: 'p1', dtstart: '2026-11-23T07:00:10', priority: 'priority' },
  ]);
});

test('the model resolves equal priorities as the agent does: the first plays, the next waits or is skipped as overlap', async () => {
  await assertSame([
    { id: 'm2', programId: 'p1' },
    { id: 'm1', programId: 'p0' },
    { id: 'm3', programId: 'p2', dtstart: '2026-11-23T06:00:05', maxDelayMs: 10_000 },
  ]);
});

test('for random overlapping schedules the model and the real scheduler give the same plays and skips', async () => {
  const entry = fc.record({
    programId: fc.constantFrom('p0', 'p1', 'p2', 'p3'),
    // Starts on a 10 s grid within 20 minutes, so that starts, ends and deadlines often coincide.
    at: fc.integer({ min: 0, max: 120 }),
    priority: fc.constantFrom('normal', 'normal', 'priority', 'emergency'),
    onPreempt: fc.constantFrom('resume', 'restart', 'skip'),
    maxDelayMs: fc.constantFrom(0, 10_000, 60_000, 600_000),
    repeat: fc.boolean(),
  });
  await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 2, maxLength: 5 }), async (es) => {
    await assertSame(es.map((e, i) => ({
      // Interrupting items are kept short (20-30 s): while a preempted item waits past start + maxDelayMs the
      // agent re-ticks every millisecond (Scheduler.nextWake), which costs real time under the virtual clock.
      id: `r${i}`, programId: e.priority === 'normal' ? e.programId : e.programId === 'p2' ? 'p2' : 'p1', priority: e.priority, onPreempt: e.onPreempt, maxDelayMs: e.maxDelayMs,
      dtstart: new Date(T0 + 7 * 3_600_000 + e.at * 10_000).toISOString().slice(0, 19),
      ...(e.repeat ? { rrule: 'FREQ=MINUTELY;INTERVAL=5;COUNT=3' } : {}),
    })), T0 + 7_200_000);
  }), { numRuns: 20, seed: 20261123 });
});
