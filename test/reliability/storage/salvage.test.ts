import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { openOrRebuild } from '../../../agent/store/recover.js';
import { SEQ_FILE } from '../../../agent/store/snapshots.js';
import { createLogger } from '../../../shared/log.js';
import { recordFigures } from '../support/mode.js';

const log = createLogger('test', { level: 'silent' });
const N = 400;
const SENT = 100;

/** A real agent store with N events, the first SENT of them acknowledged. */
function fill(dir: string): void {
  const db = openDb({ path: join(dir, 'agent.db') });
  const outbox = new Outbox({ db, deviceId: () => 'loa-salvage' });
  db.transaction(() => {
    for (let i = 1; i <= N; i++) outbox.add('play.end', `end:${i}`, 1_700_000_000_000 + i, { occurrence: `occ-${i}`, pad: 'x'.repeat(120) });
  })();
  outbox.markSent(Array.from({ length: SENT }, (_, i) => i + 1), 1);
  db.close();
}

/** Overwrites the header of a middle leaf page of the outbox table; returns how many rows it held. */
function damageMiddleLeaf(path: string): { pageno: number; cells: number } {
  const db = new Database(path);
  const leaves = db.prepare<[], { pageno: number; ncell: number }>("SELECT pageno, ncell FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' ORDER BY pageno").all();
  const size = db.pragma('page_size', { simple: true }) as number;
  db.close();
  assert.ok(leaves.length >= 5, `the outbox spans ${leaves.length} leaf pages`);
  const victim = leaves[Math.floor(leaves.length / 2)]!;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(32, 0xff), 0, 32, (victim.pageno - 1) * size);
  closeSync(fd);
  return { pageno: victim.pageno, cells: victim.ncell };
}

const open = (dir: string): ReturnType<typeof openOrRebuild> => openOrRebuild({ path: join(dir, 'agent.db'), log, now: () => Date.parse('2026-11-23T10:00:00Z'), monotonic: () => performance.now() });

test('a damaged outbox page loses only its own rows: the unsent events around it are salvaged row by row with their seq, and new events continue above every seq ever used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-salvage-'));
  try {
    fill(dir);
    const damage = damageMiddleLeaf(join(dir, 'agent.db'));
    const { db, rebuild } = open(dir);
    assert.ok(rebuild, 'the corruption was detected');
    assert.ok(existsSync(join(dir, rebuild.movedTo)), `moved aside as ${rebuild.movedTo}`);
    const rows = db.prepare<[], { seq: number; sent_at: number | null }>('SELECT seq, sent_at FROM outbox ORDER BY seq').all();
    assert.equal(rebuild.salvaged.outbox, rows.length);
    assert.ok(rows.every((r) => r.seq > SENT && r.sent_at === null), 'only unsent events are copied, with their own seq');
    assert.ok(rows.length >= N - SENT - damage.cells && rows.length < N - SENT, `salvaged ${rows.length} of ${N - SENT} unsent events; the damaged page held ${damage.cells}`);
    assert.ok(rows.some((r) => r.seq === N), 'rows after the damaged page were reached');
    const next = new Outbox({ db, deviceId: () => 'loa-salvage' }).add('store.recovered', 'recovered:x', 1, {});
    assert.ok(next.seq > N, `the first new event has seq ${next.seq} > ${N}`);
    db.close();
    recordFigures({ suite: 'storage', what: 'row-by-row salvage past a damaged outbox page', figures: { unsentBefore: N - SENT, salvaged: rows.length, rowsOnDamagedPage: damage.cells, firstNewSeq: next.seq }, reproduce: 'npm test -- test/reliability/storage/salvage' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without the seq reservation file the floor comes from the highest seq still readable in the corrupt file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-salvage-'));
  try {
    fill(dir);
    rmSync(join(dir, SEQ_FILE));
    damageMiddleLeaf(join(dir, 'agent.db'));
    const { db, rebuild } = open(dir);
    assert.equal(rebuild?.seqFloorSource, 'salvage');
    assert.ok(rebuild.seqFloor >= N, `floor ${rebuild.seqFloor}`);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not a database at all is moved aside, nothing is salvaged, and the reservation file still keeps seqs above the old ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-salvage-'));
  try {
    fill(dir);
    const fd = openSync(join(dir, 'agent.db'), 'r+');
    writeSync(fd, Buffer.alloc(100, 0x41), 0, 100, 0);
    closeSync(fd);
    const { db, rebuild } = open(dir);
    assert.equal(rebuild?.seqFloorSource, 'reservation');
    assert.ok(rebuild.seqFloor >= N);
    assert.equal(rebuild.salvaged.outbox ?? 0, 0);
    assert.equal(db.pragma('quick_check', { simple: true }), 'ok');
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('agent.db.corrupt-')).length, 1);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
