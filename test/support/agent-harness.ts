import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../shared/virtual-clock.js';
import { createLogger } from '../../shared/log.js';
import type { Manifest } from '../../shared/schemas/manifest.js';
import type { AudioSink } from '../../shared/player.js';
import { openDb, type Db } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { PlaysRepo } from '../../agent/scheduler/plays.js';
import { Scheduler, type SchedulerOptions, type SchedulerOutputs } from '../../agent/scheduler/scheduler.js';
import { RecordingOutputs, RecordingSink } from './doubles.js';

export interface Harness {
  dir: string;
  db: Db;
  clock: VirtualClock;
  outbox: Outbox;
  plays: PlaysRepo;
  sink: AudioSink;
  outputs: SchedulerOutputs;
  scheduler: Scheduler;
  close(): Promise<void>;
}

/** A scheduler on a real SQLite file, a virtual clock, and recording sink/outputs unless given. */
export function schedulerHarness(opts: {
  start: number;
  manifest?: Manifest;
  sink?: (clock: VirtualClock) => AudioSink;
  outputs?: (clock: VirtualClock) => SchedulerOutputs;
  lag?: () => number;
  dir?: string;
  scheduler?: Partial<SchedulerOptions>;
}): Harness {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'loa-sched-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const clock = new VirtualClock({ start: opts.start, ...(opts.lag ? { lag: opts.lag } : {}) });
  const outbox = new Outbox({ db, deviceId: () => 'dev-001' });
  const plays = new PlaysRepo({ db, outbox });
  const sink = opts.sink ? opts.sink(clock) : new RecordingSink(clock);
  const outputs = opts.outputs ? opts.outputs(clock) : new RecordingOutputs(clock);
  const scheduler = new Scheduler({
    clock, plays, outbox, sink, outputs, log: createLogger('test', { level: 'silent' }),
    media: { pathOf: (s) => join(dir, s), has: () => true }, maxSleepMs: 60_000, ...opts.scheduler,
  });
  if (opts.manifest) scheduler.setManifest(opts.manifest);
  return {
    dir, db, clock, outbox, plays, sink, outputs, scheduler,
    async close() {
      await scheduler.stop();
      db.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
