import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import type { EventType } from '../../shared/schemas/events.js';
import type { DeviceTelemetry } from '../../shared/schemas/telemetry.js';

/**
 * Telemetry, device events, proof-of-play and live device state: every SQL statement of the telemetry side
 * (ingest writes, retention deletes, the queries behind the telemetry and report routes). Times are ms since
 * the epoch; `at` is the device's clock, `receivedAt` the controller's. Ranges are half-open: [from, to).
 */

export type PlayStatus = 'playing' | 'completed' | 'preempted' | 'interrupted' | 'failed' | 'stopped' | 'cancelled' | 'skipped';

export interface DeviceState {
  deviceId: string;
  online: boolean;
  /** Controller time of the last message of any kind. */
  lastSeen: number | null;
  /** Device time of the status message in force. */
  statusAt: number | null;
  appliedVersion: number;
  stale: boolean;
  telemetry: DeviceTelemetry | null;
  telemetryAt: number | null;
}

export interface Play {
  deviceId: string;
  occurrence: string;
  entryId: string | null;
  programId: string | null;
  scheduledAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  status: PlayStatus;
  attempts: number;
  playedMs: number;
  reason: string | null;
  updatedAt: number | null;
}

export interface StoredEvent {
  deviceId: string;
  seq: number;
  type: EventType;
  at: number;
  receivedAt: number;
  data: Record<string, unknown>;
}

export interface TelemetrySample {
  deviceId: string;
  at: number;
  receivedAt: number;
  body: DeviceTelemetry;
}

/** One play event, ready to fold into its occurrence's row. The highest `seq` decides status and end time. */
export interface PlayFold {
  deviceId: string;
  occurrence: string;
  seq: number;
  entryId: string | null;
  programId: string | null;
  scheduledAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  status: PlayStatus;
  attempt: number;
  playedMs: number;
  reason: string | null;
  receivedAt: number;
}

/** What one flush learned about a device's live state, merged into device_state in one statement. */
export interface StateMerge {
  lastSeen: number;
  appliedVersion: number;
  telemetry: { json: string; at: number; stale: boolean } | null;
}

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; null at the end. */
  nextCursor: string | null;
}

interface StateRow { device_id: string; online: number | null; last_seen: number | null; status_at: number | null; applied_version: number | null; stale: number | null; telemetry: string | null; telemetry_at: number | null }
interface PlayRow { device_id: string; occurrence: string; entry_id: string | null; program_id: string | null; scheduled_at: number | null; started_at: number | null; ended_at: number | null; status: PlayStatus; attempts: number; played_ms: number; reason: string | null; updated_at: number | null }
interface EventRow { device_id: string; seq: number; type: EventType; at: number; received_at: number; data: string }
interface TelemetryRow { device_id: string; at: number; received_at: number; body: string }

const toState = (r: StateRow): DeviceState => ({
  deviceId: r.device_id, online: r.online === 1, lastSeen: r.last_seen, statusAt: r.status_at, appliedVersion: r.applied_version ?? 0,
  stale: r.stale === 1, telemetry: r.telemetry ? (JSON.parse(r.telemetry) as DeviceTelemetry) : null, telemetryAt: r.telemetry_at,
});
const toPlay = (r: PlayRow): Play => ({
  deviceId: r.device_id, occurrence: r.occurrence, entryId: r.entry_id, programId: r.program_id, scheduledAt: r.scheduled_at, startedAt: r.started_at,
  endedAt: r.ended_at, status: r.status, attempts: r.attempts, playedMs: r.played_ms, reason: r.reason, updatedAt: r.updated_at,
});
const toEvent = (r: EventRow): StoredEvent => ({ deviceId: r.device_id, seq: r.seq, type: r.type, at: r.at, receivedAt: r.received_at, data: JSON.parse(r.data) as Record<string, unknown> });
const toSample = (r: TelemetryRow): TelemetrySample => ({ deviceId: r.device_id, at: r.at, receivedAt: r.received_at, body: JSON.parse(r.body) as DeviceTelemetry });

const MAX_PAGE = 1000;
const clampLimit = (n: number, max = MAX_PAGE): number => Math.max(1, Math.min(max, Math.floor(Number.isFinite(n) ? n : max)));

function encodeCursor(scheduledAt: number, occurrence: string): string {
  return Buffer.from(JSON.stringify([scheduledAt, occurrence])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string') return [v[0] as number, v[1]];
  } catch {
    // fall through
  }
  throw new LoaError('LOA_ERR_SCHEMA', 'the page cursor is not valid', { details: { cursor: cursor.slice(0, 100) } });
}

export class TelemetryRepo {
  private readonly db: Db;
  private readonly knownStmt;
  private readonly insertTelemetryStmt;
  private readonly insertEventStmt;
  private readonly hasEventStmt;
  private readonly foldPlayStmt;
  private readonly statusStmt;
  private readonly statusLogStmt;
  private readonly mergeStmt;
  private readonly statesAllStmt;
  private readonly statesSomeStmt;
  private readonly historyStmt;
  private readonly historyAfterStmt;
  private readonly betweenStmt;
  private readonly eventsStmt;
  private readonly latestStmt;
  private readonly seriesStmt;
  private readonly delTelemetryStmt;
  private readonly delEventsStmt;
  private readonly delPlaysStmt;

  constructor(options: { db: Db }) {
    const db = (this.db = options.db);
    this.knownStmt = db.prepare<[string], { ok: number }>('SELECT 1 AS ok FROM devices WHERE id = ?').pluck();
    this.insertTelemetryStmt = db.prepare('INSERT INTO telemetry (device_id, at, received_at, body) VALUES (?, ?, ?, ?)');
    this.hasEventStmt = db.prepare<[string, number], number>('SELECT 1 FROM device_events WHERE device_id = ? AND seq = ?').pluck();
    this.insertEventStmt = db.prepare('INSERT OR IGNORE INTO device_events (device_id, seq, type, at, received_at, data) VALUES (?, ?, ?, ?, ?, ?)');
    this.foldPlayStmt = db.prepare(`INSERT INTO plays (device_id, occurrence, entry_id, program_id, scheduled_at, started_at, ended_at, status, attempts, played_ms, reason, last_seq, updated_at)
      VALUES (@deviceId, @occurrence, @entryId, @programId, @scheduledAt, @startedAt, @endedAt, @status, @attempt, @playedMs, @reason, @seq, @receivedAt)
      ON CONFLICT (device_id, occurrence) DO UPDATE SET
        entry_id = COALESCE(entry_id, excluded.entry_id),
        program_id = COALESCE(program_id, excluded.program_id),
        scheduled_at = COALESCE(scheduled_at, excluded.scheduled_at),
        started_at = CASE WHEN excluded.started_at IS NULL THEN started_at WHEN started_at IS NULL THEN excluded.started_at ELSE MIN(started_at, excluded.started_at) END,
        status = CASE WHEN excluded.last_seq > last_seq THEN excluded.status ELSE status END,
        ended_at = CASE WHEN excluded.last_seq > last_seq THEN excluded.ended_at ELSE ended_at END,
        reason = COALESCE(excluded.reason, reason),
        attempts = MAX(attempts, excluded.attempts),
        played_ms = played_ms + excluded.played_ms,
        last_seq = MAX(last_seq, excluded.last_seq),
        updated_at = excluded.updated_at`);
    this.statusLogStmt = db.prepare('INSERT INTO device_status_log (device_id, at, online) VALUES (?, ?, ?)');
    this.statusStmt = db.prepare(`INSERT INTO device_state (device_id, online, status_at, applied_version) VALUES (?, ?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, status_at = excluded.status_at, applied_version = MAX(applied_version, excluded.applied_version)`);
    // In an UPDATE, every expression sees the row as it was, so the telemetry_at tests all compare with the old value.
    this.mergeStmt = db.prepare(`INSERT INTO device_state (device_id, last_seen, applied_version, stale, telemetry, telemetry_at)
      VALUES (@deviceId, @lastSeen, @appliedVersion, @stale, @telemetry, @telemetryAt)
      ON CONFLICT (device_id) DO UPDATE SET
        last_seen = MAX(COALESCE(last_seen, 0), excluded.last_seen),
        applied_version = MAX(applied_version, excluded.applied_version),
        stale = CASE WHEN excluded.telemetry_at IS NOT NULL AND (telemetry_at IS NULL OR excluded.telemetry_at >= telemetry_at) THEN excluded.stale ELSE stale END,
        telemetry = CASE WHEN excluded.telemetry_at IS NOT NULL AND (telemetry_at IS NULL OR excluded.telemetry_at >= telemetry_at) THEN excluded.telemetry ELSE telemetry END,
        telemetry_at = CASE WHEN excluded.telemetry_at IS NOT NULL AND (telemetry_at IS NULL OR excluded.telemetry_at >= telemetry_at) THEN excluded.telemetry_at ELSE telemetry_at END`);
    const stateCols = 'd.id AS device_id, s.online, s.last_seen, s.status_at, s.applied_version, s.stale, s.telemetry, s.telemetry_at';
    this.statesAllStmt = db.prepare<[], StateRow>(`SELECT ${stateCols} FROM devices d LEFT JOIN device_state s ON s.device_id = d.id ORDER BY d.id`);
    this.statesSomeStmt = db.prepare<[string], StateRow>(`SELECT ${stateCols} FROM devices d LEFT JOIN device_state s ON s.device_id = d.id WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`);
    const playCols = 'device_id, occurrence, entry_id, program_id, scheduled_at, started_at, ended_at, status, attempts, played_ms, reason, updated_at';
    this.historyStmt = db.prepare<[string, number, number, number], PlayRow>(`SELECT ${playCols} FROM plays WHERE device_id = ? AND scheduled_at >= ? AND scheduled_at < ?
      ORDER BY scheduled_at DESC, occurrence DESC LIMIT ?`);
    this.historyAfterStmt = db.prepare<[string, number, number, number, number, string, number], PlayRow>(`SELECT ${playCols} FROM plays WHERE device_id = ? AND scheduled_at >= ? AND scheduled_at < ?
      AND (scheduled_at < ? OR (scheduled_at = ? AND occurrence < ?)) ORDER BY scheduled_at DESC, occurrence DESC LIMIT ?`);
    this.betweenStmt = db.prepare<[string, number, number], PlayRow>(`SELECT ${playCols} FROM plays WHERE device_id IN (SELECT value FROM json_each(?))
      AND scheduled_at >= ? AND scheduled_at < ? ORDER BY device_id, scheduled_at, occurrence`);
    this.eventsStmt = db.prepare<{ deviceId: string; types: string | null; from: number | null; to: number | null; limit: number }, EventRow>(`SELECT device_id, seq, type, at, received_at, data
      FROM device_events WHERE device_id = @deviceId AND (@types IS NULL OR type IN (SELECT value FROM json_each(@types)))
      AND (@from IS NULL OR at >= @from) AND (@to IS NULL OR at < @to) ORDER BY seq DESC LIMIT @limit`);
    this.latestStmt = db.prepare<[string], TelemetryRow>('SELECT device_id, at, received_at, body FROM telemetry WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT 1');
    this.seriesStmt = db.prepare<[string, number, number, number], TelemetryRow>('SELECT device_id, at, received_at, body FROM telemetry WHERE device_id = ? AND at >= ? AND at < ? ORDER BY at, id LIMIT ?');
    this.delTelemetryStmt = db.prepare('DELETE FROM telemetry WHERE id IN (SELECT id FROM telemetry WHERE received_at < ? LIMIT ?)');
    this.delEventsStmt = db.prepare('DELETE FROM device_events WHERE (device_id, seq) IN (SELECT device_id, seq FROM device_events WHERE received_at < ? LIMIT ?)');
    this.delPlaysStmt = db.prepare(`DELETE FROM plays WHERE (device_id, occurrence) IN (SELECT device_id, occurrence FROM plays
      WHERE scheduled_at < ? OR (scheduled_at IS NULL AND COALESCE(updated_at, 0) < ?) LIMIT ?)`);
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ── ingest writes ──

  /** Is there a device record with this id? */
  knownDevice(deviceId: string): boolean {
    return this.knownStmt.get(deviceId) !== undefined;
  }

  insertTelemetry(deviceId: string, at: number, receivedAt: number, bodyJson: string): void {
    this.insertTelemetryStmt.run(deviceId, at, receivedAt, bodyJson);
  }

  /** Stores an event once per (device, seq). False when it was there already (a resend). */
  /** Is event (deviceId, seq) stored? */
  hasEvent(deviceId: string, seq: number): boolean {
    return this.hasEventStmt.get(deviceId, seq) !== undefined;
  }

  insertEvent(deviceId: string, seq: number, type: EventType, at: number, receivedAt: number, dataJson: string): boolean {
    return this.insertEventStmt.run(deviceId, seq, type, at, receivedAt, dataJson).changes > 0;
  }

  /** Folds one play event into its occurrence: first start, summed play time, status from the highest seq. */
  foldPlay(f: PlayFold): void {
    this.foldPlayStmt.run(f);
  }

  /** A status message (or the last will): online/offline as received, applied version only grows. */
  /** `receivedAt` (controller time), when given, also logs the change for uptime reports (issue 7). */
  applyStatus(deviceId: string, online: boolean, statusAt: number, manifestVersion: number | null, receivedAt?: number): void {
    this.statusStmt.run(deviceId, online ? 1 : 0, statusAt, manifestVersion ?? 0);
    if (receivedAt !== undefined) this.statusLogStmt.run(deviceId, receivedAt, online ? 1 : 0);
  }

  /** last_seen and applied version only grow; the newest telemetry (by device time) wins. */
  mergeState(deviceId: string, m: StateMerge): void {
    this.mergeStmt.run({
      deviceId, lastSeen: m.lastSeen, appliedVersion: m.appliedVersion, stale: m.telemetry?.stale ? 1 : 0,
      telemetry: m.telemetry?.json ?? null, telemetryAt: m.telemetry?.at ?? null,
    });
  }

  // ── retention ──

  /** Deletes at most `limit` telemetry rows received before `cutoff`; returns how many. */
  deleteTelemetryBefore(cutoff: number, limit: number): number {
    return this.delTelemetryStmt.run(cutoff, limit).changes;
  }

  deleteEventsBefore(cutoff: number, limit: number): number {
    return this.delEventsStmt.run(cutoff, limit).changes;
  }

  /** Plays scheduled before `cutoff` (or, with no schedule time, last changed before it). */
  deletePlaysBefore(cutoff: number, limit: number): number {
    return this.delPlaysStmt.run(cutoff, cutoff, limit).changes;
  }

  // ── queries ──

  /** Live state of the given devices (all devices when omitted), defaults for devices never heard from. */
  deviceStates(deviceIds?: readonly string[]): DeviceState[] {
    const rows = deviceIds ? this.statesSomeStmt.all(JSON.stringify(deviceIds)) : this.statesAllStmt.all();
    return rows.map(toState);
  }

  /** A device's plays scheduled in [from, to), newest first, `limit` per page (≤ 1000). */
  playHistory(deviceId: string, from: number, to: number, limit = 100, cursor?: string | null): Page<Play> {
    const n = clampLimit(limit);
    const rows = cursor
      ? (() => {
        const [cs, co] = decodeCursor(cursor);
        return this.historyAfterStmt.all(deviceId, from, to, cs, cs, co, n + 1);
      })()
      : this.historyStmt.all(deviceId, from, to, n + 1);
    const items = rows.slice(0, n).map(toPlay);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > n && last ? encodeCursor(last.scheduledAt ?? 0, last.occurrence) : null };
  }

  /** Every play of these devices scheduled in [from, to), by device then time: "scheduled vs played" reports. */
  playsBetween(deviceIds: readonly string[], from: number, to: number): Play[] {
    if (deviceIds.length === 0) return [];
    return this.betweenStmt.all(JSON.stringify(deviceIds), from, to).map(toPlay);
  }

  /** A device's events, newest (highest seq) first, optionally of some types and in [from, to) of device time. */
  eventsOf(deviceId: string, types?: readonly EventType[], from?: number, to?: number, limit = 100): StoredEvent[] {
    return this.eventsStmt.all({
      deviceId, types: types && types.length > 0 ? JSON.stringify(types) : null, from: from ?? null, to: to ?? null, limit: clampLimit(limit),
    }).map(toEvent);
  }

  /** The newest telemetry sample of a device (by device time), or null. */
  latestTelemetry(deviceId: string): TelemetrySample | null {
    const r = this.latestStmt.get(deviceId);
    return r ? toSample(r) : null;
  }

  /** A device's telemetry in [from, to) of device time, oldest first (at most `limit`, ≤ 100,000). */
  telemetrySeries(deviceId: string, from: number, to: number, limit = 10_000): TelemetrySample[] {
    return this.seriesStmt.all(deviceId, from, to, clampLimit(limit, 100_000)).map(toSample);
  }
}
