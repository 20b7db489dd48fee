import type { Db } from '../../agent/store/db.js';
import type { CommandAck, CommandType } from '../../shared/schemas/command.js';

export type CommandState = 'sent' | 'received' | 'done' | 'failed' | 'expired';
/** What became of one `command.ack` in ingest. */
export type CommandAckFold = 'stored' | 'unknown_command' | 'wrong_device' | 'stale';

/** A command as the API shows it (contract B; times are ms here, ISO strings on the wire). */
export interface CommandRecord {
  id: string;
  deviceId: string;
  zoneId: string;
  type: CommandType;
  params: Record<string, unknown>;
  seq: number;
  state: CommandState;
  expiresAt: number;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

export interface NewCommand {
  id: string;
  deviceId: string;
  zoneId: string;
  type: CommandType;
  params: Record<string, unknown>;
  seq: number;
  expiresAt: number;
  createdBy: string;
  signedBody: string;
}

interface Row {
  id: string; device_id: string; zone_id: string; type: CommandType; params: string; seq: number; state: CommandState; expires_at: number;
  created_by: string; created_at: number; updated_at: number; result: string | null; error_code: string | null; error_message: string | null;
}
const COLS = 'id, device_id, zone_id, type, params, seq, state, expires_at, created_by, created_at, updated_at, result, error_code, error_message';
const toRecord = (r: Row): CommandRecord => ({
  id: r.id, deviceId: r.device_id, zoneId: r.zone_id, type: r.type, params: JSON.parse(r.params) as Record<string, unknown>, seq: r.seq, state: r.state,
  expiresAt: r.expires_at, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
  result: r.result ? JSON.parse(r.result) as Record<string, unknown> : null,
  error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
});

/**
 * Signed device commands (controller migration 6): what was sent to which device, by whom, and what the device
 * answered. States: sent → received → done | failed; `expired` when no final ack came by the command's expiry
 * (a late final ack still records what the device really did). A `rejected` ack (the device refused it) is
 * `failed` with the device's code.
 */
export class CommandsRepo {
  private readonly seqStmt;
  private readonly getStmt;
  private readonly ackStmt;

  constructor(private readonly db: Db) {
    // Never below the Unix time in seconds: after a database restore, seqs devices have seen are not reused.
    this.seqStmt = db.prepare<[number], { value: number }>('UPDATE command_seq SET value = max(value + 1, ?) WHERE id = 1 RETURNING value');
    this.getStmt = db.prepare<[string], Row>(`SELECT ${COLS} FROM device_commands WHERE id = ?`);
    this.ackStmt = db.prepare(`UPDATE device_commands SET state = @state, updated_at = @now, result = coalesce(@result, result), error_code = @code, error_message = @message
      WHERE id = @id`);
  }

  /** The next seq; call inside the transaction that stores the signed command. */
  nextSeq(now: number): number {
    return this.seqStmt.get(Math.floor(now / 1000))!.value;
  }

  create(c: NewCommand, now: number): CommandRecord {
    this.db.prepare(`INSERT INTO device_commands (id, device_id, zone_id, type, params, seq, state, expires_at, created_by, created_at, updated_at, signed_body)
      VALUES (?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, ?)`).run(c.id, c.deviceId, c.zoneId, c.type, JSON.stringify(c.params), c.seq, c.expiresAt, c.createdBy, now, now, c.signedBody);
    return this.get(c.id)!;
  }

  get(id: string): CommandRecord | null {
    const r = this.getStmt.get(id);
    return r ? toRecord(r) : null;
  }

  /** A device's commands, newest first. */
  list(deviceId: string, limit: number): CommandRecord[] {
    return this.db.prepare<[string, number], Row>(`SELECT ${COLS} FROM device_commands WHERE device_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?`)
      .all(deviceId, limit).map(toRecord);
  }

  /** A command of this type still running on this device (sent or received, not expired). */
  running(deviceId: string, type: CommandType, now: number): CommandRecord | null {
    const r = this.db.prepare<[string, string, number], Row>(`SELECT ${COLS} FROM device_commands WHERE device_id = ? AND type = ? AND state IN ('sent', 'received') AND expires_at > ? LIMIT 1`)
      .get(deviceId, type, now);
    return r ? toRecord(r) : null;
  }

  /** Commands past their expiry with no final ack become `expired`; returns them (for the audit log). */
  expireDue(now: number): CommandRecord[] {
    return this.db.prepare<[number, number], Row>(`UPDATE device_commands SET state = 'expired', updated_at = ?, error_code = 'LOA_ERR_COMMAND_EXPIRED',
      error_message = 'no final answer from the device before the command expired' WHERE state IN ('sent', 'received') AND expires_at <= ? RETURNING ${COLS}`)
      .all(now, now).map(toRecord);
  }

  signedBody(id: string): string | null {
    return this.db.prepare<[string], { signed_body: string }>('SELECT signed_body FROM device_commands WHERE id = ?').get(id)?.signed_body ?? null;
  }

  /**
   * Folds one device ack (already schema-checked). `received` moves a sent command on; `done`, `failed` and
   * `rejected` are final (a rejection is `failed` with the device's code) and win over `expired`, since they say
   * what the device really did. Acks from another device than the command's, or for unknown commands, are dropped.
   */
  foldAck(deviceId: string, ack: CommandAck, receivedAt: number): CommandAckFold {
    const cur = this.getStmt.get(ack.commandId);
    if (!cur) return 'unknown_command';
    if (cur.device_id !== deviceId) return 'wrong_device';
    const final = cur.state === 'done' || cur.state === 'failed';
    if (final) return 'stale';
    if (ack.state === 'received') {
      if (cur.state !== 'sent') return 'stale';
      this.ackStmt.run({ id: cur.id, state: 'received', now: receivedAt, result: null, code: null, message: null });
      return 'stored';
    }
    const state: CommandState = ack.state === 'done' ? 'done' : 'failed';
    this.ackStmt.run({
      id: cur.id, state, now: receivedAt, result: ack.result ? JSON.stringify(ack.result) : null,
      code: state === 'failed' ? ack.code ?? 'LOA_ERR_INTERNAL' : null, message: state === 'failed' ? ack.reason ?? ack.state : null,
    });
    return 'stored';
  }
}
