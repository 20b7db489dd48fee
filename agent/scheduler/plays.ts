import type { PlayEndStatus } from '../../shared/schemas/events.js';
import type { Db } from '../store/db.js';
import type { Outbox } from '../store/outbox.js';
import type { Occurrence } from '../../shared/timeline.js';

export type PlayState = 'playing' | 'paused' | 'done' | 'skipped';

export interface PlayRow {
  occurrence: string;
  entry_id: string;
  scheduled_at: number;
  state: PlayState;
  offset_ms: number;
  attempts: number;
  updated_at: number;
}

/**
 * Durable per-occurrence play state, always written in the same transaction as the proof-of-play event it
 * implies. That pairing is what makes `kill -9` at any point lose and duplicate nothing: either both the
 * state change and its event are on disk, or neither is.
 */
export class PlaysRepo {
  private readonly getStmt;
  private readonly upsertStmt;
  private readonly rangeStmt;
  private readonly playingStmt;
  private readonly checkpointStmt;

  constructor(private readonly options: { db: Db; outbox: Outbox }) {
    const db = options.db;
    this.getStmt = db.prepare<[string], PlayRow>('SELECT * FROM plays WHERE occurrence = ?');
    this.upsertStmt = db.prepare(`INSERT INTO plays (occurrence, entry_id, scheduled_at, state, offset_ms, attempts, updated_at)
      VALUES (@occurrence, @entry_id, @scheduled_at, @state, @offset_ms, @attempts, @updated_at)
      ON CONFLICT(occurrence) DO UPDATE SET state = excluded.state, offset_ms = excluded.offset_ms, attempts = excluded.attempts, updated_at = excluded.updated_at`);
    this.rangeStmt = db.prepare<[number, number], PlayRow>('SELECT * FROM plays WHERE scheduled_at >= ? AND scheduled_at < ?');
    this.playingStmt = db.prepare<[], PlayRow>("SELECT * FROM plays WHERE state = 'playing'");
    this.checkpointStmt = db.prepare("UPDATE plays SET offset_ms = ?, updated_at = ? WHERE occurrence = ? AND state = 'playing'");
  }

  get(key: string): PlayRow | undefined {
    return this.getStmt.get(key);
  }

  range(from: number, to: number): PlayRow[] {
    return this.rangeStmt.all(from, to);
  }

  playing(): PlayRow[] {
    return this.playingStmt.all();
  }

  private put(occ: Pick<Occurrence, 'key' | 'entryId' | 'start'>, state: PlayState, offset: number, attempts: number, now: number): void {
    this.upsertStmt.run({ occurrence: occ.key, entry_id: occ.entryId, scheduled_at: occ.start, state, offset_ms: Math.max(0, Math.round(offset)), attempts, updated_at: now });
  }

  /** A play begins: state `playing` and a `play.start` event, atomically. */
  begin(occ: Occurrence, attempt: number, offsetMs: number, now: number, extra: Record<string, unknown>): void {
    this.options.db.transaction(() => {
      this.put(occ, 'playing', offsetMs, attempt, now);
      this.options.outbox.add('play.start', `start:${occ.key}:${attempt}`, now, {
        occurrence: occ.key, entryId: occ.entryId, programId: occ.programId, scheduledAt: occ.start, attempt,
        offsetMs: Math.round(offsetMs), lateMs: Math.max(0, now - occ.start - offsetMs), volume: occ.volume, priority: occ.priority, ...extra,
      });
    })();
  }

  /** Records how far a play has got, so a crash resumes near where it stopped. */
  checkpoint(key: string, offsetMs: number, now: number): void {
    this.checkpointStmt.run(Math.round(offsetMs), now, key);
  }

  /**
   * A play attempt ends. `next` is the occurrence's new state: `done` after completion or failure, `paused`
   * (with the offset to resume from) after preemption, stop or crash, `skipped` when it will not resume.
   */
  end(occ: Pick<Occurrence, 'key' | 'entryId' | 'start'>, attempt: number, status: PlayEndStatus, next: { state: PlayState; offsetMs: number }, playedMs: number, now: number, extra: Record<string, unknown> = {}): void {
    this.options.db.transaction(() => {
      this.put(occ, next.state, next.offsetMs, attempt, now);
      this.options.outbox.add('play.end', `end:${occ.key}:${attempt}`, now, { occurrence: occ.key, entryId: occ.entryId, attempt, status, playedMs: Math.round(playedMs), ...extra });
      if (next.state === 'skipped') this.options.outbox.add('play.skip', `skip:${occ.key}`, now, { occurrence: occ.key, entryId: occ.entryId, reason: `after_${status}` });
    })();
  }

  /** An occurrence that never started and never will. */
  skip(occ: Pick<Occurrence, 'key' | 'entryId' | 'start'>, reason: string, now: number, attempts = 0): void {
    this.options.db.transaction(() => {
      this.put(occ, 'skipped', 0, attempts, now);
      this.options.outbox.add('play.skip', `skip:${occ.key}`, now, { occurrence: occ.key, entryId: occ.entryId, scheduledAt: occ.start, reason });
    })();
  }
}
