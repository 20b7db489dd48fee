import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LoaError } from '../../shared/errors.js';
import { MIGRATIONS, MIN_READER } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  path: string;
  /** FULL (default) fsyncs every commit: proof-of-play survives power loss. NORMAL is faster, for benchmarks. */
  synchronous?: 'FULL' | 'NORMAL';
  migrations?: readonly string[];
  /** The fewest migrations an agent must know to use a database these migrations made (default MIN_READER). */
  minReader?: number;
}

/** The settings row where a database records the fewest migrations an agent must know to open it. */
export const MIN_READER_KEY = 'store.minReader';

/**
 * Opens the agent database in WAL mode, checks its integrity and applies pending migrations in one transaction
 * each (PRAGMA user_version is the schema version). A corrupt file gives LOA_ERR_STORE_CORRUPT.
 */
export function openDb(options: OpenOptions): Db {
  const migrations = options.migrations ?? MIGRATIONS;
  mkdirSync(dirname(options.path), { recursive: true });
  let db: Db;
  try {
    db = new Database(options.path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') throw new Error(check);
  } catch (e) {
    throw new LoaError('LOA_ERR_STORE_CORRUPT', `the database ${options.path} cannot be used: ${(e as Error).message}`, { cause: e });
  }
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    // A newer agent migrated it (and then rolled back, issue 11). Its migrations are additive up to the
    // version it recorded: an older agent that knows at least that many may use it as it is.
    const minReader = readMinReader(db);
    if (minReader === null || minReader > migrations.length) {
      db.close();
      throw new LoaError('LOA_ERR_STORE_NEWER', `the database ${options.path} has schema version ${current} and needs an agent that knows ${minReader ?? current} migrations; this agent knows ${migrations.length}`);
    }
    return db;
  }
  for (let v = current; v < migrations.length; v++) {
    try {
      db.transaction(() => {
        db.exec(migrations[v]!);
        db.pragma(`user_version = ${v + 1}`);
      })();
    } catch (e) {
      db.close();
      throw new LoaError('LOA_ERR_STORE_MIGRATION', `migration ${v + 1} failed: ${(e as Error).message}`, { cause: e });
    }
  }
  const minReader = options.minReader ?? MIN_READER;
  if (migrations.length > 0 && readMinReader(db) !== minReader) {
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(MIN_READER_KEY, String(minReader));
  }
  return db;
}

function readMinReader(db: Db): number | null {
  try {
    const row = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(MIN_READER_KEY);
    const n = row ? Number(row.value) : NaN;
    return Number.isInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}
