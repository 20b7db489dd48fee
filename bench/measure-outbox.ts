import { join } from 'node:path';
import { openDb } from '../agent/store/db.js';
import { Outbox } from '../agent/store/outbox.js';
import type { Resources } from './proc.js';

export interface OutboxRun {
  synchronous: 'FULL' | 'NORMAL';
  inserts: number;
  ms: number;
  perSecond: number;
}

export interface OutboxResult {
  full: OutboxRun;
  normal: OutboxRun;
  /** FULL rate / NORMAL rate. */
  ratio: number;
}

/** `n` outbox.add calls, each its own (autocommit) transaction, on a fresh WAL file database. */
function run(res: Resources, synchronous: 'FULL' | 'NORMAL', n: number): OutboxRun {
  const dir = res.tempDir(`outbox-${synchronous.toLowerCase()}`);
  const db = openDb({ path: join(dir, 'agent.db'), synchronous });
  try {
    const outbox = new Outbox({ db, deviceId: () => 'bench-001' });
    const base = Date.now();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      outbox.add('play.end', `end:bench@${i}:1`, base + i, { occurrence: `bench@${i}`, attempt: 1, status: 'completed', playedMs: 300 });
    }
    const ms = performance.now() - t0;
    return { synchronous, inserts: n, ms, perSecond: (n / ms) * 1000 };
  } finally {
    db.close();
    res.removeDir(dir);
  }
}

export function measureOutbox(res: Resources, n = 2000): OutboxResult {
  const normal = run(res, 'NORMAL', n);
  const full = run(res, 'FULL', n);
  return { full, normal, ratio: full.perSecond / normal.perSecond };
}
