import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../agent/store/db.js';
import { MIGRATIONS } from '../../../agent/store/migrations.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { isLoaError } from '../../../shared/errors.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'loa-store-'));
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isLoaError(e));
    return e.code;
  }
  return 'none';
};

test('the agent database opens in WAL mode with synchronous FULL and migrates to the latest schema', () => {
  const dir = tmp();
  const db = openDb({ path: join(dir, 'agent.db') });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2);
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  db.close();
  const again = openDb({ path: join(dir, 'agent.db') });
  assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length, 'reopening applies nothing twice');
  again.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a database made by a newer agent is refused with LOA_ERR_STORE_NEWER', () => {
  const dir = tmp();
  openDb({ path: join(dir, 'a.db') }).close();
  assert.equal(codeOf(() => openDb({ path: join(dir, 'a.db'), migrations: [] })), 'LOA_ERR_STORE_NEWER');
  rmSync(dir, { recursive: true, force: true });
});

test('after a rollback an older agent opens a database a newer one migrated additively, but not one that needs more', () => {
  const dir = tmp();
  const path = join(dir, 'a.db');
  openDb({ path, migrations: [...MIGRATIONS, 'CREATE TABLE newer_thing (a INTEGER)'] }).close();
  const older = openDb({ path });
  assert.equal(older.pragma('user_version', { simple: true }), MIGRATIONS.length + 1, 'the newer schema stays as it is');
  older.close();
  openDb({ path, migrations: [...MIGRATIONS, 'CREATE TABLE newer_thing (a INTEGER)'], minReader: MIGRATIONS.length + 1 }).close();
  assert.equal(codeOf(() => openDb({ path })), 'LOA_ERR_STORE_NEWER');
  rmSync(dir, { recursive: true, force: true });
});

test('a failing migration leaves the schema version unchanged and says which one failed', () => {
  const dir = tmp();
  openDb({ path: join(dir, 'a.db') }).close();
  assert.equal(codeOf(() => openDb({ path: join(dir, 'a.db'), migrations: [...MIGRATIONS, 'CREATE TABLE y(a); NOT SQL'] })), 'LOA_ERR_STORE_MIGRATION');
  const db = openDb({ path: join(dir, 'a.db') });
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a file that is not a database is reported as LOA_ERR_STORE_CORRUPT', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.db'), Buffer.alloc(8192, 0x41));
  assert.equal(codeOf(() => openDb({ path: join(dir, 'bad.db') })), 'LOA_ERR_STORE_CORRUPT');
  rmSync(dir, { recursive: true, force: true });
});

test('the outbox writes a fact once, keeps order, and hands out deviceId:seq idempotency keys', () => {
  const dir = tmp();
  const db = openDb({ path: join(dir, 'a.db') });
  const ob = new Outbox({ db, deviceId: () => 'dev-9' });
  const a = ob.add('play.start', 'start:x:1', 1, { n: 1 });
  const again = ob.add('play.start', 'start:x:1', 2, { n: 2 });
  ob.add('play.end', 'end:x:1', 3, {});
  assert.deepEqual(again, a, 'a second write of the same fact is a no-op');
  assert.equal(a.key, `dev-9:${a.seq}`);
  assert.deepEqual(ob.pending().map((e) => e.type), ['play.start', 'play.end']);
  ob.markSent([a.seq], 10);
  assert.deepEqual(ob.pending().map((e) => e.type), ['play.end']);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
