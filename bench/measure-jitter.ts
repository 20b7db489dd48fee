import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDb } from '../agent/store/db.js';
import { Outbox } from '../agent/store/outbox.js';
import { PlaysRepo } from '../agent/scheduler/plays.js';
import { Scheduler, type SchedulerOutputs } from '../agent/scheduler/scheduler.js';
import { SystemClock } from '../shared/clock.js';
import { createLogger } from '../shared/log.js';
import type { Manifest } from '../shared/schemas/manifest.js';
import { RecordingSink } from '../test/support/doubles.js';
import { localStamp } from './fixture.js';
import type { Resources } from './proc.js';
import { max, percentile } from './stats.js';

export interface JitterResult {
  /** Plays the manifest asked for, and plays that started. */
  expected: number;
  n: number;
  skipped: number;
  rrule: string;
  itemMs: number;
  /** startedAt − scheduled start, ms, per play. */
  jittersMs: number[];
  p50: number;
  p99: number;
  max: number;
  baseline: { n: number; latenessMs: number[]; p50: number; p99: number; max: number };
}

const noOutputs: SchedulerOutputs = { warmupMs: () => 0, engage: () => Promise.resolve(), release: () => undefined };

/** setTimeout lateness: `n` timers one after another, with delays from 50 to 500 ms, measured on the monotonic clock. */
export async function timerLateness(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const delay = 50 + ((i * 137) % 450);
    const target = performance.now() + delay;
    await sleep(delay);
    out.push(performance.now() - target);
  }
  return out;
}

/**
 * A real Scheduler on the system clock and a SQLite file (synchronous FULL): a 300 ms item every 2 s, and how
 * late each play reached the sink compared with its scheduled start. The baseline is plain setTimeout lateness
 * over the same number of timers, in the same process, right after.
 */
export async function measureJitter(res: Resources, plays = 20, intervalS = 2, itemMs = 300): Promise<JitterResult> {
  const dir = res.tempDir('jitter');
  const db = openDb({ path: join(dir, 'agent.db'), synchronous: 'FULL' });
  const clock = new SystemClock();
  const outbox = new Outbox({ db, deviceId: () => 'bench-001' });
  const sink = new RecordingSink(clock);
  const scheduler = new Scheduler({
    clock, plays: new PlaysRepo({ db, outbox }), outbox, sink, outputs: noOutputs, log: createLogger('bench', { level: 'silent' }),
    media: { pathOf: (s) => join(dir, s), has: () => true },
  });
  const sha = 'a'.repeat(64);
  const first = Math.ceil((Date.now() + 2500) / 1000) * 1000;
  const rrule = `FREQ=SECONDLY;INTERVAL=${intervalS};COUNT=${plays}`;
  const manifest: Manifest = {
    _type: 'manifest', schemaVersion: 1, deviceId: 'bench-001', version: 1,
    issuedAt: new Date(first - 60_000).toISOString(), expiresAt: new Date(first + 86_400_000).toISOString(), timezone: 'Asia/Ho_Chi_Minh',
    media: [{ sha256: sha, size: 1, durationMs: itemMs }],
    programs: [{ id: 'tick', title: 'Tick', items: [{ kind: 'media', sha256: sha }] }],
    schedule: [{ id: 'tick', programId: 'tick', dtstart: localStamp(first), rrule, priority: 'normal', volume: 50, outputs: [], onPreempt: 'resume', maxDelayMs: 30_000 }],
  };
  let skipped = 0;
  try {
    scheduler.setManifest(manifest);
    scheduler.start();
    const last = first + (plays - 1) * intervalS * 1000;
    const deadline = last + itemMs + 5000;
    while (Date.now() < deadline && sink.plays.filter((p) => p.status !== undefined).length < plays) await sleep(250);
  } finally {
    await scheduler.stop();
    skipped = outbox.list(['play.skip']).length;
    db.close();
    res.removeDir(dir);
  }
  const jittersMs = sink.plays.map((p) => p.startedAt - Date.parse(p.key.slice(p.key.lastIndexOf('@') + 1)));
  const lateness = await timerLateness(Math.max(jittersMs.length, 1));
  return {
    expected: plays, n: jittersMs.length, skipped, rrule, itemMs, jittersMs,
    p50: percentile(jittersMs, 50), p99: percentile(jittersMs, 99), max: max(jittersMs),
    baseline: { n: lateness.length, latenessMs: lateness, p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: max(lateness) },
  };
}
