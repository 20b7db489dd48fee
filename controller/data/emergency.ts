import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import type { EmergencyAck, EmergencyContent } from '../../shared/schemas/emergency.js';
import { inSubtrees } from './ids.js';

export type EmergencyStatus = 'pending_approval' | 'active' | 'cancelled' | 'expired';
export type AckState = EmergencyAck['state'];

/** One step in an order's life, kept on the order (the audit log has the same, with addresses). */
export interface EmergencyHistoryEntry {
  action: 'create' | 'send' | 'approve' | 'cancel';
  by: string;
  at: number;
  /** Of the signed order this step published (start or cancel). */
  seq?: number;
  /** Devices it was published to. */
  devices?: number;
}

/** The CAP alert an order was made from (POST /api/v1/cap or a CAP feed). */
export interface CapOrigin {
  identifier: string;
  sender: string;
  /** The alert's <sent>, as written (ISO 8601 with its offset). */
  sent: string;
  /** The alert's <expires> (ms), when it has one: an approval never signs the order past it. */
  expiresAt: number | null;
}

export interface EmergencyOrderRecord {
  id: string;
  /** The closest zone that holds every target: RBAC and lists. */
  zoneId: string;
  title: string;
  /** Target zones and explicit devices, exactly as signed. */
  zones: string[];
  devices: string[];
  /** The content as signed (audio by sha256; TTS keeps its text). */
  content: EmergencyContent;
  /** The media record behind the audio (a TTS rendering is stored as one). */
  mediaId: string | null;
  repeat: number;
  volume: number | null;
  startAt: number | null;
  ttlMs: number;
  /** Of the signed start order; null while it waits for approval. */
  seq: number | null;
  cancelSeq: number | null;
  issuedAt: number | null;
  expiresAt: number;
  status: EmergencyStatus;
  /** Devices the start order was published to (resolved when it was signed). */
  targeted: number;
  createdBy: string;
  approvedBy: string | null;
  cancelledBy: string | null;
  createdAt: number;
  updatedAt: number;
  cancelledAt: number | null;
  history: EmergencyHistoryEntry[];
  /** The CAP alert behind the order; null for an order written by an operator. */
  cap: CapOrigin | null;
}

export interface NewEmergencyOrder {
  id: string;
  zoneId: string;
  title: string;
  zones: readonly string[];
  devices: readonly string[];
  content: EmergencyContent;
  mediaId: string | null;
  repeat: number;
  volume: number | null;
  startAt: number | null;
  ttlMs: number;
  expiresAt: number;
  createdBy: string;
  cap?: CapOrigin | null;
}

/** A signed order, as stored and published. */
export interface SignedOrderText {
  seq: number;
  issuedAt: number;
  expiresAt: number;
  body: string;
}

/** A target device when the order is signed: its zone path (key scope) and whether it is online. */
export interface TargetDevice {
  id: string;
  path: string;
  online: boolean;
}

/**
 * Progress of an order over its targeted devices. Each device counts once, by its furthest ack
 * (rejected < received < started < finished/failed/cancelled, the latest of those); a device with no ack yet is `offline`
 * when its device state is offline, else `pending`. The buckets add up to `targeted`.
 */
export interface EmergencyProgress {
  targeted: number;
  /** Devices that answered at all (targeted − offline − pending). */
  acknowledged: number;
  received: number;
  started: number;
  finished: number;
  failed: number;
  rejected: number;
  cancelled: number;
  offline: number;
  pending: number;
}

export interface EmergencyDeviceRow {
  deviceId: string;
  name: string;
  zoneId: string;
  online: boolean;
  lastSeen: number | null;
  /** The device's bucket in the progress counts. */
  state: AckState | 'offline' | 'pending';
  /** Device time (ms) of the latest ack of each state. */
  acks: Partial<Record<AckState, number>>;
  code: string | null;
  reason: string | null;
  /** The latest refusal (a replay, an expired copy …), also when the device counts as finished. */
  rejection: { code: string | null; reason: string | null; at: number } | null;
}

export type AckFold = 'stored' | 'unknown_order' | 'not_targeted';

interface Row {
  id: string; zone_id: string; title: string; zones: string; devices: string; content: string; media_id: string | null; repeat: number; volume: number | null;
  start_at: number | null; ttl_ms: number; seq: number | null; cancel_seq: number | null; issued_at: number | null; expires_at: number; status: EmergencyStatus;
  targeted: number; created_by: string; approved_by: string | null; cancelled_by: string | null; created_at: number; updated_at: number; cancelled_at: number | null; history: string;
  cap_identifier: string | null; cap_sender: string | null; cap_sent: string | null; cap_expires_at: number | null;
}
interface ProgressRow { targeted: number; received: number | null; started: number | null; finished: number | null; failed: number | null; rejected: number | null; cancelled: number | null; offline: number | null; pending: number | null }
interface DeviceAckRow { device_id: string; name: string; zone_id: string; online: number; last_seen: number | null; state: AckState | null; at: number | null; code: string | null; reason: string | null }

// Every column but the signed bodies (read on their own, by signedBodies()).
const COL_LIST = ['id', 'zone_id', 'title', 'zones', 'devices', 'content', 'media_id', 'repeat', 'volume', 'start_at', 'ttl_ms', 'seq', 'cancel_seq', 'issued_at',
  'expires_at', 'status', 'targeted', 'created_by', 'approved_by', 'cancelled_by', 'created_at', 'updated_at', 'cancelled_at', 'history',
  'cap_identifier', 'cap_sender', 'cap_sent', 'cap_expires_at'];
const COLS = COL_LIST.join(', ');
const O_COLS = COL_LIST.map((c) => `o.${c}`).join(', ');

const toOrder = (r: Row): EmergencyOrderRecord => ({
  id: r.id, zoneId: r.zone_id, title: r.title, zones: JSON.parse(r.zones) as string[], devices: JSON.parse(r.devices) as string[],
  content: JSON.parse(r.content) as EmergencyContent, mediaId: r.media_id, repeat: r.repeat, volume: r.volume, startAt: r.start_at, ttlMs: r.ttl_ms,
  seq: r.seq, cancelSeq: r.cancel_seq, issuedAt: r.issued_at, expiresAt: r.expires_at, status: r.status, targeted: r.targeted, createdBy: r.created_by,
  approvedBy: r.approved_by, cancelledBy: r.cancelled_by, createdAt: r.created_at, updatedAt: r.updated_at, cancelledAt: r.cancelled_at,
  history: JSON.parse(r.history) as EmergencyHistoryEntry[],
  cap: r.cap_identifier !== null && r.cap_sender !== null ? { identifier: r.cap_identifier, sender: r.cap_sender, sent: r.cap_sent ?? '', expiresAt: r.cap_expires_at } : null,
});

/** received < started < the end states: a device's furthest ack gives its bucket (SQL below says the same). */
// A refusal ranks lowest: a device that played an order and later refused a replay of it still counts as
// finished (the refusal is kept in its row as `rejection`); one that only ever refused it counts as rejected.
const RANK: Record<AckState, number> = { rejected: 1, received: 2, started: 3, finished: 4, failed: 4, cancelled: 4 };
const RANK_SQL = "CASE a.state WHEN 'rejected' THEN 1 WHEN 'received' THEN 2 WHEN 'started' THEN 3 ELSE 4 END";

/**
 * Emergency orders (issue 6): the orders with their history and signed bodies, the devices each reached
 * (resolved when it was signed), the devices' acks (the latest per state), the seq counter, and the
 * confirmation codes of the preview. Fan-out paths are single statements over JSON arrays (json_each), so
 * 10,000 targets cost one statement, not 10,000.
 */
export class EmergencyRepo {
  private readonly getStmt;
  private readonly seqStmt;
  private readonly resolveStmt;
  private readonly setTargetsStmt;
  private readonly targetIdsStmt;
  private readonly isTargetStmt;
  private readonly orderExistsStmt;
  private readonly ackStmt;
  private readonly progressStmt;
  private readonly rowsStmt;
  private readonly mayFetchStmt;
  private readonly expireStmt;
  private readonly historyStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], Row>(`SELECT ${COLS} FROM emergency_orders WHERE id = ?`);
    // Never below the Unix time in seconds: after a database restore, seqs devices have seen are not reused.
    this.seqStmt = db.prepare<[number], { value: number }>('UPDATE emergency_seq SET value = max(value + 1, ?) WHERE id = 1 RETURNING value');
    this.resolveStmt = db.prepare<[string, string], { id: string; path: string; online: number }>(`SELECT d.id, z.path, coalesce(s.online, 0) AS online
      FROM devices d JOIN zones z ON z.id = d.zone_id LEFT JOIN device_state s ON s.device_id = d.id
      WHERE d.revoked_at IS NULL AND d.decommissioned_at IS NULL
        AND (EXISTS (SELECT 1 FROM json_each(?) p WHERE substr(z.path, 1, length(p.value)) = p.value) OR d.id IN (SELECT value FROM json_each(?)))
      ORDER BY d.id`);
    this.setTargetsStmt = db.prepare('INSERT OR IGNORE INTO emergency_targets (order_id, device_id) SELECT ?, value FROM json_each(?)');
    this.targetIdsStmt = db.prepare<[string], string>('SELECT device_id FROM emergency_targets WHERE order_id = ? ORDER BY device_id').pluck();
    this.isTargetStmt = db.prepare<[string, string], number>('SELECT 1 FROM emergency_targets WHERE order_id = ? AND device_id = ?').pluck();
    this.orderExistsStmt = db.prepare<[string], number>('SELECT 1 FROM emergency_orders WHERE id = ?').pluck();
    this.ackStmt = db.prepare(`INSERT INTO emergency_acks (order_id, device_id, state, seq, at, code, reason, received_at)
      VALUES (@orderId, @deviceId, @state, @seq, @at, @code, @reason, @receivedAt)
      ON CONFLICT (order_id, device_id, state) DO UPDATE SET seq = excluded.seq, at = excluded.at, code = excluded.code, reason = excluded.reason,
        received_at = excluded.received_at WHERE excluded.at >= emergency_acks.at`);
    // One pass: per device, max() over (rank, device time) picks the deciding ack, and SQLite takes the bare
    // column `state` from that row (documented for a lone max()/min() aggregate). Any ISO time is < 10^15 ms in
    // magnitude, so the rank always decides first.
    this.progressStmt = db.prepare<[string], ProgressRow>(`WITH per AS (
        SELECT coalesce(s.online, 0) AS online, max(${RANK_SQL} * 1000000000000000 + a.at) AS k, a.state AS state
        FROM emergency_targets t LEFT JOIN device_state s ON s.device_id = t.device_id
          LEFT JOIN emergency_acks a ON a.order_id = t.order_id AND a.device_id = t.device_id
        WHERE t.order_id = ? GROUP BY t.device_id)
      SELECT count(*) AS targeted, sum(state = 'received') AS received, sum(state = 'started') AS started, sum(state = 'finished') AS finished,
        sum(state = 'failed') AS failed, sum(state = 'rejected') AS rejected, sum(state = 'cancelled') AS cancelled,
        sum(state IS NULL AND online = 0) AS offline, sum(state IS NULL AND online = 1) AS pending
      FROM per`);
    this.rowsStmt = db.prepare<[string, string, string, number], DeviceAckRow>(`SELECT t.device_id, d.name, d.zone_id, coalesce(s.online, 0) AS online, s.last_seen,
        a.state, a.at, a.code, a.reason
      FROM emergency_targets t JOIN devices d ON d.id = t.device_id LEFT JOIN device_state s ON s.device_id = t.device_id
        LEFT JOIN emergency_acks a ON a.order_id = t.order_id AND a.device_id = t.device_id
      WHERE t.order_id = ? AND t.device_id IN (SELECT device_id FROM emergency_targets WHERE order_id = ? AND device_id > ? ORDER BY device_id LIMIT ?)
      ORDER BY t.device_id`);
    this.mayFetchStmt = db.prepare<[string, string, number], number>(`SELECT 1 FROM emergency_targets t JOIN emergency_orders o ON o.id = t.order_id
      WHERE t.device_id = ? AND json_extract(o.content, '$.sha256') = ? AND o.status = 'active' AND o.expires_at > ? LIMIT 1`).pluck();
    this.expireStmt = db.prepare("UPDATE emergency_orders SET status = 'expired', updated_at = ? WHERE status IN ('pending_approval', 'active') AND expires_at <= ?");
    this.historyStmt = db.prepare("UPDATE emergency_orders SET history = json_insert(history, '$[#]', json(?)) WHERE id = ?");
  }

  get(id: string): EmergencyOrderRecord | null {
    const r = this.getStmt.get(id);
    return r ? toOrder(r) : null;
  }

  require(id: string): EmergencyOrderRecord {
    const o = this.get(id);
    if (!o) throw new LoaError('LOA_ERR_NOT_FOUND', `emergency order ${id} does not exist`, { details: { orderId: id } });
    return o;
  }

  /** Orders whose owning zone lies in one of the subtrees, newest first. */
  list(within: readonly string[], limit: number, status?: EmergencyStatus): EmergencyOrderRecord[] {
    if (within.length === 0) return [];
    const sub = inSubtrees('z.path', within);
    return this.db.prepare<unknown[], Row>(`SELECT ${O_COLS} FROM emergency_orders o JOIN zones z ON z.id = o.zone_id
      WHERE ${sub.sql} AND (? IS NULL OR o.status = ?) ORDER BY o.created_at DESC, o.id LIMIT ?`)
      .all(...sub.args, status ?? null, status ?? null, limit).map(toOrder);
  }

  /** The next seq, for a start or a cancel; call inside the transaction that stores the signed order. */
  nextSeq(now: number): number {
    return this.seqStmt.get(Math.floor(now / 1000))!.value;
  }

  /** Live devices (not revoked or decommissioned) in the zone subtrees (paths) or among the explicit ids. */
  resolveTargets(zonePaths: readonly string[], deviceIds: readonly string[]): TargetDevice[] {
    return this.resolveStmt.all(JSON.stringify(zonePaths), JSON.stringify(deviceIds)).map((r) => ({ id: r.id, path: r.path, online: r.online === 1 }));
  }

  /** Stores a new order: pending approval, or active with its signed start order and the devices it goes to. */
  create(o: NewEmergencyOrder, now: number, sent?: { signed: SignedOrderText; deviceIds: readonly string[] }): EmergencyOrderRecord {
    const history: EmergencyHistoryEntry[] = [{ action: 'create', by: o.createdBy, at: now }];
    if (sent) history.push({ action: 'send', by: o.createdBy, at: now, seq: sent.signed.seq, devices: sent.deviceIds.length });
    this.db.prepare(`INSERT INTO emergency_orders (id, zone_id, title, zones, devices, content, media_id, repeat, volume, start_at, ttl_ms, seq, issued_at, expires_at,
        status, targeted, created_by, created_at, updated_at, history, signed_body, cap_identifier, cap_sender, cap_sent, cap_expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(o.id, o.zoneId, o.title, JSON.stringify(o.zones), JSON.stringify(o.devices), JSON.stringify(o.content), o.mediaId, o.repeat, o.volume, o.startAt, o.ttlMs,
        sent?.signed.seq ?? null, sent?.signed.issuedAt ?? null, sent?.signed.expiresAt ?? o.expiresAt, sent ? 'active' : 'pending_approval', sent?.deviceIds.length ?? 0,
        o.createdBy, now, now, JSON.stringify(history), sent?.signed.body ?? null,
        o.cap?.identifier ?? null, o.cap?.sender ?? null, o.cap?.sent ?? null, o.cap?.expiresAt ?? null);
    if (sent) this.setTargetsStmt.run(o.id, JSON.stringify(sent.deviceIds));
    return this.require(o.id);
  }

  /** Every order made from the CAP alert `sender`/`identifier`, oldest first. */
  capOrders(sender: string, identifier: string): EmergencyOrderRecord[] {
    return this.db.prepare<[string, string], Row>(`SELECT ${COLS} FROM emergency_orders WHERE cap_sender = ? AND cap_identifier = ? ORDER BY created_at, id`)
      .all(sender, identifier).map(toOrder);
  }

  /**
   * Where the live receivers (not revoked or decommissioned) with known coordinates stand, by zone: CAP polygons
   * and circles reach a cluster through its devices.
   */
  devicePlaces(): { zoneId: string; lat: number; lon: number }[] {
    return this.db.prepare<[], { zone_id: string; lat: number; lon: number }>(`SELECT DISTINCT zone_id, lat, lon FROM devices
      WHERE lat IS NOT NULL AND lon IS NOT NULL AND revoked_at IS NULL AND decommissioned_at IS NULL`).all().map((r) => ({ zoneId: r.zone_id, lat: r.lat, lon: r.lon }));
  }

  /** A pending order approved by a second user: signed now, active, sent to `deviceIds`. */
  approve(id: string, by: string, signed: SignedOrderText, deviceIds: readonly string[], now: number): EmergencyOrderRecord {
    const n = this.db.prepare(`UPDATE emergency_orders SET status = 'active', approved_by = ?, seq = ?, issued_at = ?, expires_at = ?, signed_body = ?, targeted = ?, updated_at = ?
      WHERE id = ? AND status = 'pending_approval'`).run(by, signed.seq, signed.issuedAt, signed.expiresAt, signed.body, deviceIds.length, now, id).changes;
    if (n === 0) throw new LoaError('LOA_ERR_EMERGENCY_STATE', `emergency order ${id} is no longer pending approval`);
    this.setTargetsStmt.run(id, JSON.stringify(deviceIds));
    this.addHistory(id, { action: 'approve', by, at: now, seq: signed.seq, devices: deviceIds.length });
    return this.require(id);
  }

  /** Ends an order: with its signed cancel order when it had been sent, or just marked when it was pending. */
  cancel(id: string, by: string, now: number, signed?: SignedOrderText): EmergencyOrderRecord {
    const n = this.db.prepare(`UPDATE emergency_orders SET status = 'cancelled', cancelled_by = ?, cancelled_at = ?, cancel_seq = ?, cancel_body = ?, updated_at = ?
      WHERE id = ? AND status IN ('pending_approval', 'active')`).run(by, now, signed?.seq ?? null, signed?.body ?? null, now, id).changes;
    if (n === 0) throw new LoaError('LOA_ERR_EMERGENCY_STATE', `emergency order ${id} is no longer pending or active`);
    this.addHistory(id, { action: 'cancel', by, at: now, ...(signed ? { seq: signed.seq, devices: this.targetIds(id).length } : {}) });
    return this.require(id);
  }

  private addHistory(id: string, e: EmergencyHistoryEntry): void {
    this.historyStmt.run(JSON.stringify(e), id);
  }

  /** Marks orders past their expiry (active, or still waiting for approval) as expired. */
  expireDue(now: number): number {
    return this.expireStmt.run(now, now).changes;
  }

  /** The devices the order was published to. */
  targetIds(orderId: string): string[] {
    return this.targetIdsStmt.all(orderId);
  }

  /** The signed start and cancel orders as published (canonical JSON). */
  signedBodies(orderId: string): { start: string | null; cancel: string | null } {
    const r = this.db.prepare<[string], { signed_body: string | null; cancel_body: string | null }>('SELECT signed_body, cancel_body FROM emergency_orders WHERE id = ?').get(orderId);
    return { start: r?.signed_body ?? null, cancel: r?.cancel_body ?? null };
  }

  progress(orderId: string): EmergencyProgress {
    const r = this.progressStmt.get(orderId)!;
    const n = (v: number | null): number => v ?? 0;
    return {
      targeted: r.targeted, acknowledged: r.targeted - n(r.offline) - n(r.pending), received: n(r.received), started: n(r.started), finished: n(r.finished),
      failed: n(r.failed), rejected: n(r.rejected), cancelled: n(r.cancelled), offline: n(r.offline), pending: n(r.pending),
    };
  }

  /** Per-device progress, by device id, `limit` devices after `after`. */
  deviceRows(orderId: string, limit: number, after = ''): EmergencyDeviceRow[] {
    const out = new Map<string, EmergencyDeviceRow & { rank: number; endAt: number }>();
    for (const r of this.rowsStmt.all(orderId, orderId, after, limit)) {
      let row = out.get(r.device_id);
      if (!row) {
        row = { deviceId: r.device_id, name: r.name, zoneId: r.zone_id, online: r.online === 1, lastSeen: r.last_seen, state: r.online === 1 ? 'pending' : 'offline', acks: {}, code: null, reason: null, rejection: null, rank: 0, endAt: -1 };
        out.set(r.device_id, row);
      }
      if (!r.state || r.at === null) continue;
      row.acks[r.state] = r.at;
      if (r.state === 'rejected' && (!row.rejection || r.at >= row.rejection.at)) row.rejection = { code: r.code, reason: r.reason, at: r.at };
      const rank = RANK[r.state];
      if (rank > row.rank || (rank === row.rank && r.at >= row.endAt)) {
        row.rank = rank;
        row.endAt = r.at;
        row.state = r.state;
        row.code = r.code;
        row.reason = r.reason;
      }
    }
    return [...out.values()].map(({ rank: _r, endAt: _e, ...row }) => row);
  }

  /**
   * Folds one device ack (already schema-checked) into the acks, keeping the latest per state. Acks for an
   * order that does not exist, or from a device the order did not target, are not stored.
   */
  foldAck(deviceId: string, ack: EmergencyAck, receivedAt: number): AckFold {
    if (this.isTargetStmt.get(ack.orderId, deviceId) === undefined) return this.orderExistsStmt.get(ack.orderId) === undefined ? 'unknown_order' : 'not_targeted';
    this.ackStmt.run({ orderId: ack.orderId, deviceId, state: ack.state, seq: ack.seq, at: Date.parse(ack.at), code: ack.code ?? null, reason: ack.reason ?? null, receivedAt });
    return 'stored';
  }

  /** May this device download this audio? Only while an active order that targets it plays it. */
  deviceMayFetch(deviceId: string, sha256: string, now: number): boolean {
    return this.mayFetchStmt.get(deviceId, sha256, now) !== undefined;
  }

  // ── confirmation codes of the preview (only their hash is stored) ──

  /** Replaces the user's code for this target set. */
  putConfirmation(userId: string, targetHash: string, codeHash: string, expiresAt: number, now: number): void {
    this.db.prepare('DELETE FROM emergency_confirmations WHERE expires_at <= ?').run(now);
    this.db.prepare('INSERT OR REPLACE INTO emergency_confirmations (user_id, target_hash, code_hash, expires_at) VALUES (?, ?, ?, ?)').run(userId, targetHash, codeHash, expiresAt);
  }

  /** True when the user holds this unexpired code for this target set. */
  hasConfirmation(userId: string, targetHash: string, codeHash: string, now: number): boolean {
    return this.db.prepare<[string, string, string, number], number>('SELECT 1 FROM emergency_confirmations WHERE user_id = ? AND target_hash = ? AND code_hash = ? AND expires_at > ?')
      .pluck().get(userId, targetHash, codeHash, now) !== undefined;
  }

  /** Uses the code up (with the order it confirmed). */
  dropConfirmation(userId: string, targetHash: string): void {
    this.db.prepare('DELETE FROM emergency_confirmations WHERE user_id = ? AND target_hash = ?').run(userId, targetHash);
  }
}
