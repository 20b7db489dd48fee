import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { stopAll } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { recordFigures } from '../support/mode.js';
import { sinkPlays, startStorageRig } from './rig.js';

interface OutRow { seq: number; type: string; sent_at: number | null }
function agentOutbox(dataDir: string): OutRow[] {
  const db = new Database(join(dataDir, 'agent.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], OutRow>('SELECT seq, type, sent_at FROM outbox ORDER BY seq').all();
  } finally {
    db.close();
  }
}

/** Overwrites the header of the first leaf page of `table` (a table b-tree page): quick_check then fails. */
export function corruptTablePage(dbPath: string, table: string): number {
  const db = new Database(dbPath, { fileMustExist: true });
  let pageno: number;
  let pageSize: number;
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.prepare<[string], { pageno: number; pagetype: string }>("SELECT pageno, pagetype FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno").all(table);
    const root = db.prepare<[string], { rootpage: number }>("SELECT rootpage FROM sqlite_schema WHERE name = ? AND type = 'table'").get(table)!.rootpage;
    pageno = pages[0]?.pageno ?? root;
  } finally {
    db.close();
  }
  const fd = openSync(dbPath, 'r+');
  try {
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (pageno - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
  return pageno;
}

test('a corrupt agent.db is moved aside and rebuilt from the signed copies outside it; the agent plays on, reports store.recovered, and its new events are not taken for duplicates by a real controller', { timeout: 110_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-corrupt-db-'));
  const rig = await startStorageRig({ dir, deviceId: 'loa-hong-db' });
  const children: ChildProcess[] = [];
  try {
    let agent = await rig.startAgent();
    children.push(agent);
    const t1 = Math.ceil((Date.now() + 9000) / 1000) * 1000;
    const t2 = t1 + 14_000;
    const version = await rig.scheduleAt([t1, t2]);
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'play.end' && e.data.status === 'completed'), 30_000, 'the first play reaches the controller');
    await stopAll(children.splice(0));
    const before = agentOutbox(rig.dataDir);
    const maxSeqBefore = Math.max(...before.map((r) => r.seq));
    assert.ok(before.some((r) => r.sent_at === null), 'the agent.stop event is still unsent: something to salvage');

    // A damaged page of a table b-tree: the manifests table (the signed manifest in force lives there).
    const page = corruptTablePage(join(rig.dataDir, 'agent.db'), 'manifests');
    const probe = new Database(join(rig.dataDir, 'agent.db'), { readonly: true });
    assert.notEqual(probe.pragma('quick_check', { simple: true }), 'ok', `page ${page} is really damaged`);
    probe.close();

    const started = Date.now();
    agent = await rig.startAgent();
    children.push(agent);
    const startMs = Date.now() - started;
    assert.equal(readdirSync(rig.dataDir).filter((f) => /^agent\.db\.corrupt-/.test(f) && !/-(wal|shm)$/.test(f)).length, 1, 'the corrupt file was moved aside');
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'store.recovered'), 20_000, 'store.recovered reaches the controller');
    const rec = rig.controllerEvents().find((e) => e.type === 'store.recovered')!;
    assert.equal(rec.data.code, 'LOA_ERR_STORE_CORRUPT');
    assert.equal(rec.data.manifestVersion, version, 'the manifest in force was restored from its signed copy');
    assert.ok(Number(rec.data.rootVersion) >= 1, 'the trust root was restored');
    assert.equal(rec.data.mediaMissing, 0, 'the media on disk were re-hashed and kept');
    const salvaged = rec.data.salvaged as Record<string, number>;
    assert.equal(salvaged.outbox, before.filter((r) => r.sent_at === null).length, 'every unsent event was salvaged');
    assert.ok(Number(rec.data.seqFloor) >= maxSeqBefore, `seq floor ${String(rec.data.seqFloor)} ≥ the last seq before ${maxSeqBefore}`);
    assert.ok(rec.seq > maxSeqBefore, `store.recovered has seq ${rec.seq} > ${maxSeqBefore}: new events are not taken for resends`);

    // It plays the second occurrence from the restored manifest, and that proof-of-play is accepted.
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'play.start' && e.data.scheduledAt === t2), 30_000, 'the second occurrence is reported');
    await eventually(() => rig.controllerEvents().some((e) => e.type === 'play.end' && e.seq > maxSeqBefore && e.data.status === 'completed'), 20_000, 'its end is reported');
    await eventually(() => agentOutbox(rig.dataDir).every((r) => r.sent_at !== null), 10_000, 'the outbox drains');
    const plays = sinkPlays(rig.dataDir).filter((p) => p.status === 'completed');
    assert.equal(plays.length, 2, `each occurrence played once: ${plays.map((p) => p.key).join(', ')}`);

    // Every event the rebuilt agent sent is stored by the controller as itself (same seq, same type): none dropped.
    await stopAll(children.splice(0));
    const after = agentOutbox(rig.dataDir).filter((r) => r.sent_at !== null);
    // Acknowledged by the broker is not yet stored: the controller ingests in batches.
    await eventually(() => after.every((r) => rig.controllerEvents().some((e) => e.seq === r.seq)), 10_000, 'the controller stores what it acknowledged');
    const stored = new Map(rig.controllerEvents().map((e) => [e.seq, e.type]));
    const dropped = after.filter((r) => stored.get(r.seq) !== r.type);
    assert.deepEqual(dropped, [], 'the controller stored every event of the rebuilt agent under its own seq');
    recordFigures({
      suite: 'storage', what: 'corrupt agent.db: rebuild and restore (real loa agent run, real controller)',
      figures: { rebuildMs: Number(rec.data.rebuildMs), agentReadyMs: startMs, eventsSalvaged: salvaged.outbox ?? 0, seqFloor: Number(rec.data.seqFloor), lastSeqBefore: maxSeqBefore, eventsAfter: after.length, eventsDropped: dropped.length },
      reproduce: 'npm test -- test/reliability/storage/corrupt-db',
    });
  } finally {
    await stopAll(children);
    await rig.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
