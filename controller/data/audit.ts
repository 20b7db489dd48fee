import type { Db } from '../../agent/store/db.js';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  ip: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  zoneId: string | null;
  details: Record<string, unknown>;
}

export interface AuditInput {
  actor: string;
  ip?: string | null;
  action: string;
  targetType: string;
  targetId?: string | null;
  zoneId?: string | null;
  details?: Record<string, unknown>;
}

interface Row { id: number; at: number; actor: string; ip: string | null; action: string; target_type: string; target_id: string | null; zone_id: string | null; details: string }

/** The append-only audit log (triggers refuse UPDATE and DELETE): who did what, when, from where. */
export class AuditRepo {
  constructor(private readonly db: Db) {}

  add(e: AuditInput, now: number): void {
    this.db.prepare('INSERT INTO audit_log (at, actor, ip, action, target_type, target_id, zone_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(now, e.actor, e.ip ?? null, e.action, e.targetType, e.targetId ?? null, e.zoneId ?? null, JSON.stringify(e.details ?? {}));
  }

  list(opts: { limit: number; beforeId?: number; targetId?: string }): AuditEntry[] {
    const rows = this.db.prepare<[number, string | null, string | null, number], Row>(
      'SELECT * FROM audit_log WHERE id < ? AND (? IS NULL OR target_id = ?) ORDER BY id DESC LIMIT ?',
    ).all(opts.beforeId ?? Number.MAX_SAFE_INTEGER, opts.targetId ?? null, opts.targetId ?? null, opts.limit);
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, ip: r.ip, action: r.action, targetType: r.target_type, targetId: r.target_id, zoneId: r.zone_id, details: JSON.parse(r.details) as Record<string, unknown> }));
  }
}
