import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../agent/store/db.js';
import { TelemetryRepo, type PlayFold } from '../../../controller/data/telemetry.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';
import { isLoaError } from '../../../shared/errors.js';
import { seed } from '../broker/fleet.js';

function withRepo(fn: (repo: TelemetryRepo, db: Db) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'loa-tq-'));
  const db = openDb({ path: join(dir, 'c.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: 'NORMAL' });
  seed(db);
  try {
    fn(new TelemetryRepo({ db }), db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const H = 3_600_000;
const play = (deviceId: string, i: number, over: Partial<PlayFold> = {}): PlayFold => ({
  deviceId, occurrence: `e${i}@${new Date(i * H).toISOString()}`, seq: i, entryId: `e${i}`, programId: 'p', scheduledAt: i * H,
  startedAt: i * H + 5, endedAt: i * H + 600, status: 'completed', attempt: 1, playedMs: 595, reason: null, receivedAt: 1, ...over,
});

test('playHistory pages newest first with an opaque cursor and stays inside [from, to)', () => withRepo((repo) => {
  for (let i = 1; i <= 6; i++) repo.foldPlay(play('dev-a', i));
  repo.foldPlay(play('dev-b', 3));
  const pages: number[][] = [];
  let cursor: string | null = null;
  do {
    const page = repo.playHistory('dev-a', 1 * H, 6 * H, 2, cursor);
    pages.push(page.items.map((p) => p.scheduledAt! / H));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(pages, [[5, 4], [3, 2], [1]]);
  assert.throws(() => repo.playHistory('dev-a', 0, 10 * H, 2, 'not-a-cursor'), (e) => isLoaError(e) && e.code === 'LOA_ERR_SCHEMA');
}));

test('playsBetween returns every listed device\'s plays in the window, by device then time', () => withRepo((repo) => {
  for (const d of ['dev-a', 'dev-b', 'dev-c']) for (const i of [2, 1, 9]) repo.foldPlay(play(d, i));
  const rows = repo.playsBetween(['dev-b', 'dev-a'], 0, 5 * H);
  assert.deepEqual(rows.map((p) => `${p.deviceId}/${p.scheduledAt! / H}`), ['dev-a/1', 'dev-a/2', 'dev-b/1', 'dev-b/2']);
  assert.deepEqual(repo.playsBetween([], 0, 5 * H), []);
}));

test('eventsOf filters by type and device-time window, newest seq first, with a limit', () => withRepo((repo) => {
  const types = ['agent.start', 'play.start', 'play.end', 'relay.fault', 'play.start'] as const;
  types.forEach((t, i) => repo.insertEvent('dev-a', i + 1, t, (i + 1) * 1000, 1, JSON.stringify({ i })));
  repo.insertEvent('dev-b', 1, 'play.start', 1000, 1, '{}');
  assert.deepEqual(repo.eventsOf('dev-a').map((e) => e.seq), [5, 4, 3, 2, 1]);
  assert.deepEqual(repo.eventsOf('dev-a', ['play.start', 'play.end']).map((e) => e.seq), [5, 3, 2]);
  assert.deepEqual(repo.eventsOf('dev-a', undefined, 2000, 4000).map((e) => e.seq), [3, 2]);
  assert.deepEqual(repo.eventsOf('dev-a', [], undefined, undefined, 2).map((e) => e.seq), [5, 4]);
  assert.deepEqual(repo.eventsOf('dev-a', ['relay.fault'])[0], { deviceId: 'dev-a', seq: 4, type: 'relay.fault', at: 4000, receivedAt: 1, data: { i: 3 } });
}));

test('latestTelemetry and telemetrySeries read samples by device time', () => withRepo((repo) => {
  assert.equal(repo.latestTelemetry('dev-a'), null);
  for (const at of [3000, 1000, 2000]) repo.insertTelemetry('dev-a', at, 10, JSON.stringify({ at, manifestVersion: 1, stale: false }));
  assert.equal(repo.latestTelemetry('dev-a')?.body.at, 3000);
  assert.deepEqual(repo.telemetrySeries('dev-a', 1000, 3000).map((t) => t.at), [1000, 2000]);
  assert.deepEqual(repo.telemetrySeries('dev-a', 0, 10_000, 1).map((t) => t.at), [1000]);
}));

test('deviceStates lists every device (or the ones asked for), with defaults for the silent ones', () => withRepo((repo) => {
  repo.applyStatus('dev-b', true, 50, 4);
  repo.mergeState('dev-b', { lastSeen: 60, appliedVersion: 3, telemetry: { json: '{"at":55,"manifestVersion":3,"stale":true}', at: 55, stale: true } });
  repo.mergeState('dev-b', { lastSeen: 40, appliedVersion: 1, telemetry: { json: '{"at":54,"manifestVersion":1,"stale":false}', at: 54, stale: false } });
  const all = repo.deviceStates();
  assert.deepEqual(all.map((s) => s.deviceId), ['dev-a', 'dev-b', 'dev-c', 'dev-r', 'dev-u']);
  const [b] = repo.deviceStates(['dev-b', 'nobody']);
  assert.deepEqual(b, { deviceId: 'dev-b', online: true, lastSeen: 60, statusAt: 50, appliedVersion: 4, stale: true, telemetry: { at: 55, manifestVersion: 3, stale: true }, telemetryAt: 55 });
  assert.equal(repo.deviceStates(['nobody']).length, 0);
}));
