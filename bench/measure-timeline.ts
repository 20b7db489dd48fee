import { Timeline } from '../shared/timeline.js';
import type { Manifest, ScheduleEntry } from '../shared/schemas/manifest.js';
import { localStamp } from './fixture.js';
import { median } from './stats.js';

const DAY = 86_400_000;
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;

/** The kinds of rule a commune's schedule is made of, cycled through the entries. */
function ruleFor(i: number): string {
  const day = (k: number): string => WEEKDAYS[(i + k) % 7]!;
  switch (i % 6) {
    case 0: return 'FREQ=DAILY';
    case 1: return `FREQ=DAILY;BYHOUR=${5 + (i % 3)},${16 + (i % 4)}`;
    case 2: return `FREQ=WEEKLY;BYDAY=${day(0)}`;
    case 3: return `FREQ=WEEKLY;BYDAY=${day(0)},${day(2)},${day(4)}`;
    case 4: return `FREQ=HOURLY;BYHOUR=6,7,8,9,10`;
    default: return `FREQ=MINUTELY;INTERVAL=30;BYHOUR=${17 + (i % 3)},${18 + (i % 3)}`;
  }
}

/** A manifest with `entries` schedule entries over 50 programs, varied RRULEs, some bounded by validFrom/validUntil. */
export function bigManifest(now: number, entries: number): Manifest {
  const media = Array.from({ length: 50 }, (_, i) => ({ sha256: i.toString(16).padStart(64, '0'), size: 1000 + i, durationMs: 60_000 + i * 1000 }));
  const programs = media.map((m, i) => ({ id: `p-${i}`, title: `Chương trình ${i}`, items: [{ kind: 'media' as const, sha256: m.sha256 }] }));
  const schedule: ScheduleEntry[] = Array.from({ length: entries }, (_, i) => {
    const dtstart = localStamp(Math.floor((now - 7 * DAY) / 60_000) * 60_000 + ((i * 7) % 1440) * 60_000);
    const bounded = i % 10 === 9 ? { validFrom: new Date(now + 2 * DAY).toISOString(), validUntil: new Date(now + 20 * DAY).toISOString() } : {};
    return {
      id: `e-${i}`, programId: `p-${i % programs.length}`, dtstart, rrule: ruleFor(i), ...bounded,
      priority: i % 25 === 0 ? 'priority' : 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 1_800_000,
    };
  });
  return {
    _type: 'manifest', schemaVersion: 1, deviceId: 'bench-001', version: 1,
    issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 60 * DAY).toISOString(), timezone: 'Asia/Ho_Chi_Minh',
    media, programs, schedule,
  };
}

export interface TimelineResult {
  entries: number;
  days: number;
  occurrences: number;
  /** new Timeline(m) + between(now, now + days), ms per run. */
  runsMs: number[];
  medianMs: number;
  baseline: { objects: number; runsMs: number[]; medianMs: number };
}

/** Timeline compile + 30-day expansion of 1,000 entries, against sorting as many plain objects as it yields. */
export function measureTimeline(entries = 1000, days = 30, runs = 5): TimelineResult {
  const now = Date.now();
  const m = bigManifest(now, entries);
  const runsMs: number[] = [];
  let occurrences = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    occurrences = new Timeline(m).between(now, now + days * DAY).length;
    runsMs.push(performance.now() - t0);
  }
  let seed = 42;
  const rand = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const objects = Array.from({ length: occurrences }, (_, i) => ({ start: now + Math.floor(rand() * days * DAY), rank: 1 + (i % 3), entryId: `e-${i % entries}` }));
  const cmp = (a: (typeof objects)[number], b: (typeof objects)[number]): number =>
    a.start - b.start || b.rank - a.rank || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0);
  const sortRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const copy = objects.slice();
    const t0 = performance.now();
    copy.sort(cmp);
    sortRuns.push(performance.now() - t0);
  }
  return { entries, days, occurrences, runsMs, medianMs: median(runsMs), baseline: { objects: occurrences, runsMs: sortRuns, medianMs: median(sortRuns) } };
}
