import type { DeviceEvent, EventType } from '../../shared/schemas/events.js';
import type { Db } from './db.js';
import { dataDirOf, readSeqReservation, writeSeqReservation } from './snapshots.js';

/** Seqs reserved per write of the reservation file: one small fsynced write per this many events. */
export const SEQ_BLOCK = 1000;

interface Row {
  seq: number;
  dedupe: string;
  type: string;
  at: number;
  data: string;
  sent_at: number | null;
}

/**
 * The durable outbox (DESIGN §3/§4). Every event that matters is written here in a committed transaction
 * before anything else happens; sync drains it in order. The idempotency key makes a second write of the
 * same fact a no-op, so a crash between "did it" and "wrote it" can be retried without duplicates.
 */
export class Outbox {
  private readonly insertStmt;
  private readonly byKey;
  private readonly pendingStmt;
  private readonly markStmt;
  private readonly markRangeStmt;
  private readonly prevStmt;
  private readonly lastSeqStmt;
  private readonly seqDir: string | null;
  private reserved = -1;

  constructor(private readonly options: { db: Db; deviceId: () => string }) {
    const db = options.db;
    this.seqDir = dataDirOf(db);
    this.lastSeqStmt = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO outbox (dedupe, type, at, data) VALUES (?, ?, ?, ?)');
    this.byKey = db.prepare<[string], Row>('SELECT * FROM outbox WHERE dedupe = ?');
    this.pendingStmt = db.prepare<[number, number], Row>('SELECT * FROM outbox WHERE sent_at IS NULL AND seq > ? ORDER BY seq LIMIT ?');
    this.markStmt = db.prepare('UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL');
    this.prevStmt = db.prepare<[number], { seq: number; sent_at: number | null }>('SELECT seq, sent_at FROM outbox WHERE seq < ? ORDER BY seq DESC LIMIT 1');
    this.markRangeStmt = db.prepare('UPDATE outbox SET sent_at = ? WHERE seq BETWEEN ? AND ? AND sent_at IS NULL');
  }

  /**
   * Appends an event. `dedupe` names the fact (e.g. `end:<occurrence>:<attempt>`): when an event with this
   * name exists already, nothing is written and the existing event is returned. The event's idempotency key
   * towards the controller is deviceId + seq.
   */
  add(type: EventType, dedupe: string, at: number, data: Record<string, unknown>): DeviceEvent {
    this.reserveNext();
    this.insertStmt.run(dedupe, type, at, JSON.stringify(data));
    return this.toEvent(this.byKey.get(dedupe)!);
  }

  /**
   * The controller drops an event whose (deviceId, seq) it has seen, so a seq must never be handed out twice,
   * even after the database was lost and rebuilt (store/recover.ts). Before a seq beyond the reservation in
   * `<dataDir>/outbox-seq.json` is used, the reservation is moved SEQ_BLOCK further, durably: every seq ever
   * committed is at most the reservation, and a rebuilt store starts above it.
   */
  private reserveNext(): void {
    if (!this.seqDir) return;
    const next = (this.lastSeqStmt.get()?.seq ?? 0) + 1;
    if (this.reserved < 0) this.reserved = readSeqReservation(this.seqDir);
    if (next <= this.reserved) return;
    // Another process on the same data dir (loa agent import) may have moved it: never move it back.
    const onFile = readSeqReservation(this.seqDir);
    this.reserved = next <= onFile ? onFile : next + SEQ_BLOCK - 1;
    if (this.reserved > onFile) writeSeqReservation(this.seqDir, this.reserved);
  }

  get(dedupe: string): DeviceEvent | undefined {
    const r = this.byKey.get(dedupe);
    return r ? this.toEvent(r) : undefined;
  }

  /** Unsent events in order, after `afterSeq`. */
  pending(limit = 100, afterSeq = 0): DeviceEvent[] {
    return this.pendingStmt.all(afterSeq, limit).map((r) => this.toEvent(r));
  }

  markSent(seqs: readonly number[], at: number): void {
    this.options.db.transaction(() => {
      for (const s of seqs) this.markStmt.run(at, s);
    })();
  }

  /**
   * Marks the events in the inclusive ranges as delivered (the controller's end-to-end ack; `sent_at` means
   * "committed by the controller", not merely "left the device"). Returns how many were pending.
   */
  markSentRanges(ranges: readonly (readonly [number, number])[], at: number): number {
    let n = 0;
    this.options.db.transaction(() => {
      for (const [from, to] of ranges) n += this.markRangeStmt.run(at, from, to).changes;
    })();
    return n;
  }

  /** The seq of the event before `seq` when the controller has not acknowledged it yet; null otherwise. */
  unackedBefore(seq: number): number | null {
    const r = this.prevStmt.get(seq);
    return r && r.sent_at === null ? r.seq : null;
  }

  /** All events of some types, in order (reports, tests, the local UI). */
  list(types?: readonly EventType[]): DeviceEvent[] {
    const rows = this.options.db.prepare<[], Row>('SELECT * FROM outbox ORDER BY seq').all();
    const all = rows.map((r) => this.toEvent(r));
    return types ? all.filter((e) => types.includes(e.type)) : all;
  }

  private toEvent(r: Row): DeviceEvent {
    const deviceId = this.options.deviceId();
    return { deviceId, seq: r.seq, key: `${deviceId}:${r.seq}`, type: r.type as EventType, at: r.at, data: JSON.parse(r.data) as Record<string, unknown> };
  }
}
