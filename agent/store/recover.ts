import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { openDb, type Db, type OpenOptions } from './db.js';
import { syncDir } from './durable-file.js';
import { readSeqReservation } from './snapshots.js';

/** What a rebuild kept and lost; the agent reports it as a `store.recovered` event (with the restore results). */
export interface Rebuild {
  code: 'LOA_ERR_STORE_CORRUPT';
  reason: string;
  /** Where the corrupt file went (its -wal/-shm alongside). */
  movedTo: string;
  /** Rows copied from the corrupt file, per table; unsent outbox events keep their seq. */
  salvaged: Record<string, number>;
  /** Rows (by rowid) that could not be read, per table. */
  unreadable: Record<string, number>;
  /** The first new event's seq is above this. */
  seqFloor: number;
  /** Where the floor came from: the reservation file, the salvaged rows, or nothing (then 0). */
  seqFloorSource: 'reservation' | 'salvage' | 'none';
  startedMono: number;
}

/** Tables copied row by row from a corrupt store, and which rows of each. */
const SALVAGE: readonly { table: string; where: string }[] = [
  { table: 'outbox', where: 'sent_at IS NULL' },
  { table: 'settings', where: '1' },
  { table: 'plays', where: '1' },
  { table: 'emergency_seen', where: '1' },
  { table: 'commands_seen', where: '1' },
];
/** A rowid range no larger than this is probed row by row past a damaged page. */
const MAX_PROBES = 200_000;

/**
 * Opens the agent store; when it is corrupt (quick_check fails or the file cannot be read as a database), moves
 * it aside as `agent.db.corrupt-<time>` (with its -wal and -shm), creates a fresh one, copies what can still be
 * read from the corrupt file row by row, and sets the outbox seq above every seq ever handed out (the
 * reservation file, outbox.ts), so the controller never takes a new event for a duplicate. Other failures
 * (a newer schema, a failed migration) still throw. Returns the rebuild summary, or null when the store was sound.
 */
export function openOrRebuild(options: OpenOptions & { log: Logger; now: () => number; monotonic: () => number }): { db: Db; rebuild: Rebuild | null } {
  try {
    return { db: openDb(options), rebuild: null };
  } catch (e) {
    if (!isLoaError(e) || e.code !== 'LOA_ERR_STORE_CORRUPT') throw e;
    const startedMono = options.monotonic();
    const reason = (e.cause as Error | undefined)?.message ?? e.message;
    options.log.error({ code: e.code, reason }, 'the database is corrupt: moving it aside and rebuilding');
    const movedPath = moveAside(options.path, options.now());
    const movedTo = basename(movedPath);
    const db = openDb(options);
    const salvaged: Record<string, number> = {};
    const unreadable: Record<string, number> = {};
    let maxSeq = 0;
    let oldSequence = 0;
    const src = openCorrupt(movedPath, options.log);
    if (src) {
      try {
        oldSequence = Math.max(
          readOr(() => src.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get()?.seq ?? 0, 0),
          readOr(() => src.prepare<[], { m: number | null }>('SELECT max(seq) AS m FROM outbox').get()?.m ?? 0, 0),
        );
        for (const { table, where } of SALVAGE) {
          const r = readOr(() => salvageTable(src, db, table, where), { copied: 0, unreadable: 1, maxRowid: 0 }, options.log);
          salvaged[table] = r.copied;
          if (r.unreadable) unreadable[table] = r.unreadable;
          if (table === 'outbox') maxSeq = r.maxRowid;
        }
      } finally {
        src.close();
      }
    }
    const reserved = readSeqReservation(dirname(options.path));
    const fromSalvage = Math.max(maxSeq, oldSequence);
    const seqFloor = Math.max(reserved, fromSalvage);
    const seqFloorSource = reserved > 0 && reserved >= fromSalvage ? 'reservation' : fromSalvage > 0 ? 'salvage' : 'none';
    db.transaction(() => {
      db.prepare("DELETE FROM sqlite_sequence WHERE name = 'outbox'").run();
      db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)").run(seqFloor);
    })();
    options.log.warn({ movedTo, salvaged, unreadable, seqFloor, seqFloorSource }, 'database rebuilt');
    return { db, rebuild: { code: 'LOA_ERR_STORE_CORRUPT', reason: reason.slice(0, 500), movedTo, salvaged, unreadable, seqFloor, seqFloorSource, startedMono } };
  }
}

function moveAside(path: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let target = `${path}.corrupt-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${path}.corrupt-${stamp}-${i}`;
  for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  if (existsSync(path)) renameSync(path, target);
  syncDir(dirname(path));
  return target;
}

function openCorrupt(path: string, log: Logger): Database.Database | null {
  return readOr(() => new Database(path, { fileMustExist: true }), null, log);
}

function readOr<T>(fn: () => T, fallback: T, log?: Logger): T {
  try {
    return fn();
  } catch (e) {
    log?.warn({ reason: (e as Error).message }, 'the corrupt database cannot be read at all; nothing salvaged');
    return fallback;
  }
}

/** Copies the rows of `table` matching `where`, keeping their rowid; past an unreadable page, row by row. */
function salvageTable(src: Database.Database, dst: Db, table: string, where: string): { copied: number; unreadable: number; maxRowid: number } {
  let copied = 0;
  let unreadable = 0;
  let last = 0;
  let maxRowid = 0;
  const cols = readOr(() => dst.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all().map((c) => c.name), []);
  if (!cols.length) return { copied, unreadable, maxRowid };
  const insert = dst.prepare(`INSERT OR IGNORE INTO ${table} (rowid, ${cols.join(', ')}) VALUES (@_rid, ${cols.map((c) => `@${c}`).join(', ')})`);
  const take = (row: Record<string, unknown>): void => {
    const rid = Number(row._rid);
    maxRowid = Math.max(maxRowid, rid);
    const values: Record<string, unknown> = { _rid: rid };
    for (const c of cols) values[c] = row[c] ?? null;
    try {
      if (insert.run(values).changes) copied++;
    } catch {
      unreadable++;
    }
  };
  const scan = src.prepare<[number], Record<string, unknown>>(`SELECT rowid AS _rid, * FROM ${table} WHERE rowid > ? AND (${where}) ORDER BY rowid`);
  dst.transaction(() => {
    try {
      for (const row of scan.iterate(last)) {
        take(row);
        last = Number(row._rid);
      }
      return;
    } catch {
      // A damaged page: go on row by row up to the highest rowid the table still admits to.
    }
    const top = readOr(() => src.prepare<[], { m: number | null }>(`SELECT max(rowid) AS m FROM ${table}`).get()?.m ?? 0, 0);
    const hi = Math.min(top, last + MAX_PROBES);
    const one = src.prepare<[number], Record<string, unknown>>(`SELECT rowid AS _rid, * FROM ${table} WHERE rowid = ? AND (${where})`);
    for (let rid = last + 1; rid <= hi; rid++) {
      try {
        const row = one.get(rid);
        if (row) take(row);
      } catch {
        unreadable++;
      }
    }
  })();
  return { copied, unreadable, maxRowid };
}

