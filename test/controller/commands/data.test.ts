import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb, type Db } from '../../../agent/store/db.js';
import { CommandsRepo } from '../../../controller/data/commands.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';

describe('device commands data (controller/data/commands.ts)', () => {
  let dir: string;
  let db: Db;
  let repo: CommandsRepo;
  const now = Date.parse('2026-11-23T03:00:00Z');
  const mk = (id: string, deviceId = 'dev-1', type: 'test_tone' | 'reboot' = 'test_tone') =>
    repo.create({ id, deviceId, zoneId: 'X1-C1', type, params: {}, seq: repo.nextSeq(now), expiresAt: now + 300_000, createdBy: 'u', signedBody: '{}' }, now);
  const at = new Date(now).toISOString();

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'loa-cmd-data-'));
    db = openDb({ path: join(dir, 'c.db'), migrations: CONTROLLER_MIGRATIONS });
    repo = new CommandsRepo(db);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands out seqs that only grow and never fall below the Unix time in seconds', () => {
    const a = repo.nextSeq(now);
    const b = repo.nextSeq(now);
    assert.ok(a >= Math.floor(now / 1000));
    assert.equal(b, a + 1);
    assert.ok(repo.nextSeq(now + 3_600_000) >= Math.floor(now / 1000) + 3600);
  });

  it('counts a sent or received command as running until it is final or expired', () => {
    mk('c1');
    assert.equal(repo.running('dev-1', 'test_tone', now)?.id, 'c1');
    assert.equal(repo.running('dev-1', 'reboot', now), null);
    assert.equal(repo.running('dev-2', 'test_tone', now), null);
    assert.equal(repo.foldAck('dev-1', { commandId: 'c1', seq: 1, state: 'received', at }, now), 'stored');
    assert.equal(repo.running('dev-1', 'test_tone', now)?.state, 'received');
    assert.equal(repo.running('dev-1', 'test_tone', now + 300_000), null, 'past its expiry it no longer blocks');
  });

  it('drops acks from another device and for unknown commands, and never moves a final command back', () => {
    assert.equal(repo.foldAck('dev-2', { commandId: 'c1', seq: 1, state: 'done', at }, now), 'wrong_device');
    assert.equal(repo.foldAck('dev-1', { commandId: 'nope', seq: 1, state: 'done', at }, now), 'unknown_command');
    assert.equal(repo.foldAck('dev-1', { commandId: 'c1', seq: 1, state: 'done', at, result: { hz: 1000 } }, now + 10), 'stored');
    assert.equal(repo.foldAck('dev-1', { commandId: 'c1', seq: 1, state: 'failed', at, code: 'LOA_ERR_X' }, now + 20), 'stale');
    const c = repo.get('c1')!;
    assert.equal(c.state, 'done');
    assert.deepEqual(c.result, { hz: 1000 });
    assert.equal(c.error, null);
  });

  it('expires commands with no final ack by their expiry, and a late final ack still records what the device did', () => {
    mk('c2', 'dev-1', 'reboot');
    assert.deepEqual(repo.expireDue(now + 299_999).map((c) => c.id), []);
    assert.deepEqual(repo.expireDue(now + 300_000).map((c) => c.id), ['c2']);
    const e = repo.get('c2')!;
    assert.equal(e.state, 'expired');
    assert.equal(e.error?.code, 'LOA_ERR_COMMAND_EXPIRED');
    assert.equal(repo.foldAck('dev-1', { commandId: 'c2', seq: 1, state: 'received', at }, now + 300_001), 'stale');
    assert.equal(repo.foldAck('dev-1', { commandId: 'c2', seq: 1, state: 'done', at, result: { restarted: true } }, now + 300_002), 'stored');
    assert.equal(repo.get('c2')!.state, 'done');
    assert.equal(repo.get('c2')!.error, null);
  });

  it('lists a device\'s commands newest first', () => {
    assert.deepEqual(repo.list('dev-1', 10).map((c) => c.id), ['c2', 'c1']);
    assert.deepEqual(repo.list('dev-1', 1).map((c) => c.id), ['c2']);
  });
});
