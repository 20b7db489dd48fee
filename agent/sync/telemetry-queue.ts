import type { DeviceTelemetry } from '../../shared/schemas/telemetry.js';
import type { Db } from '../store/db.js';

export interface QueuedTelemetry {
  id: number;
  at: number;
  body: string;
}

/**
 * Telemetry samples waiting to be published (`telemetry_outbox`, migration 2). Durable, so samples taken
 * offline survive a restart; capped (default 1000 rows, about 16 h at one a minute), oldest dropped first,
 * so a long outage cannot fill the disk.
 */
export class TelemetryQueue {
  private readonly insertStmt;
  private readonly trimStmt;
  private readonly nextStmt;
  private readonly deleteStmt;
  private readonly countStmt;

  constructor(private readonly o: { db: Db; cap?: number }) {
    const db = o.db;
    this.insertStmt = db.prepare('INSERT INTO telemetry_outbox (at, body) VALUES (?, ?)');
    this.trimStmt = db.prepare('DELETE FROM telemetry_outbox WHERE id <= (SELECT max(id) FROM telemetry_outbox) - ?');
    this.nextStmt = db.prepare<[number], QueuedTelemetry>('SELECT id, at, body FROM telemetry_outbox ORDER BY id LIMIT ?');
    this.deleteStmt = db.prepare('DELETE FROM telemetry_outbox WHERE id = ?');
    this.countStmt = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM telemetry_outbox');
  }

  add(sample: DeviceTelemetry): void {
    this.o.db.transaction(() => {
      this.insertStmt.run(sample.at, JSON.stringify(sample));
      this.trimStmt.run(this.o.cap ?? 1000);
    })();
  }

  next(limit: number): QueuedTelemetry[] {
    return this.nextStmt.all(limit);
  }

  remove(id: number): void {
    this.deleteStmt.run(id);
  }

  count(): number {
    return this.countStmt.get()?.n ?? 0;
  }
}
