import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../agent/store/db.js';
import { TelemetryRepo } from '../../../controller/data/telemetry.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';
import { RetentionJob } from '../../../controller/telemetry/retention.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { seed } from '../broker/fleet.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');

function withDb(fn: (repo: TelemetryRepo, db: Db) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'loa-ret-'));
  const db = openDb({ path: join(dir, 'c.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: 'NORMAL' });
  seed(db);
  return fn(new TelemetryRepo({ db }), db).finally(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

const n = (db: Db, table: string): number => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

function fill(repo: TelemetryRepo, ages: { telemetry: number[]; events: number[]; plays: number[] }, now: number, tag: string): void {
  ages.telemetry.forEach((d) => repo.insertTelemetry('dev-a', now - d * DAY, now - d * DAY, '{}'));
  ages.events.forEach((d, i) => repo.insertEvent('dev-a', Math.floor(now / 1000) + i, 'agent.start', now - d * DAY, now - d * DAY, '{}'));
  ages.plays.forEach((d, i) => repo.foldPlay({
    deviceId: 'dev-a', occurrence: `${tag}-${i}@x`, seq: 1, entryId: null, programId: null, scheduledAt: now - d * DAY, startedAt: null,
    endedAt: null, status: 'playing', attempt: 1, playedMs: 0, reason: null, receivedAt: now,
  }));
}

test('retention deletes telemetry, events and plays older than their limits, and nothing newer', () => withDb(async (repo, db) => {
  fill(repo, { telemetry: [31, 40, 90, 30.5, 29, 1], events: [181, 365, 179, 0], plays: [401, 500, 800, 399] }, NOW, 'a');
  // A play with no scheduled time falls back to when it last changed.
  repo.foldPlay({ deviceId: 'dev-a', occurrence: 'weird', seq: 1, entryId: null, programId: null, scheduledAt: null, startedAt: null, endedAt: null, status: 'playing', attempt: 0, playedMs: 0, reason: null, receivedAt: NOW - 401 * DAY });
  const job = new RetentionJob({ repo, clock: new VirtualClock({ start: NOW }), batchSize: 2 });
  assert.deepEqual(await job.runOnce(), { telemetry: 4, events: 2, plays: 4 });
  assert.deepEqual(db.prepare('SELECT at FROM telemetry ORDER BY at').pluck().all(), [NOW - 29 * DAY, NOW - DAY]);
  assert.deepEqual([n(db, 'device_events'), n(db, 'plays')], [2, 1]);
  assert.deepEqual(await job.runOnce(), { telemetry: 0, events: 0, plays: 0 }, 'a second pass finds nothing');
}));

test('retention days are configurable', () => withDb(async (repo, db) => {
  fill(repo, { telemetry: [3, 1], events: [3, 1], plays: [3, 1] }, NOW, 'b');
  const job = new RetentionJob({ repo, clock: new VirtualClock({ start: NOW }), days: { telemetry: 2, events: 2, plays: 2 } });
  assert.deepEqual(await job.runOnce(), { telemetry: 1, events: 1, plays: 1 });
  assert.deepEqual([n(db, 'telemetry'), n(db, 'device_events'), n(db, 'plays')], [1, 1, 1]);
}));

test('the retention job runs at start and then every interval of the injected clock, until stopped', () => withDb(async (repo, db) => {
  const clock = new VirtualClock({ start: NOW });
  const job = new RetentionJob({ repo, clock, intervalMs: DAY, days: { telemetry: 30 } });
  fill(repo, { telemetry: [31, 29.5], events: [], plays: [] }, NOW, 'c');
  job.start();
  await VirtualClock.settle();
  assert.equal(n(db, 'telemetry'), 1, 'the first run happens right away');
  await clock.advanceBy(DAY - 1);
  assert.equal(n(db, 'telemetry'), 1, 'not yet: the 29.5-day-old sample is 30.5 days old only after the next run');
  await clock.advanceBy(1);
  await VirtualClock.settle();
  assert.equal(n(db, 'telemetry'), 0);
  job.stop();
  await job.stopped();
  assert.equal(clock.pending, 0, 'no timer left behind');
}));
