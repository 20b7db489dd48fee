import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import type { PriorityLevel } from '../../shared/schemas/manifest.js';
import { inSubtrees } from './ids.js';
import type { ApprovalState } from './workflow.js';

export interface ScheduleTargets {
  zones: string[];
  devices: string[];
}

export interface ScheduleRecord {
  id: string;
  zoneId: string;
  programId: string;
  title: string;
  dtstart: string;
  rrule: string | null;
  validFrom: number | null;
  validUntil: number | null;
  priority: Exclude<PriorityLevel, 'live'>;
  volume: number;
  outputs: string[];
  onPreempt: 'resume' | 'restart' | 'skip';
  maxDelayMs: number;
  nightConfirmed: boolean;
  status: ApprovalState;
  createdBy: string;
  approvedBy: string | null;
  createdAt: number;
  updatedAt: number;
  targets: ScheduleTargets;
}

export type ScheduleInput = Omit<ScheduleRecord, 'status' | 'approvedBy' | 'createdAt' | 'updatedAt'>;

interface Row {
  id: string; zone_id: string; program_id: string; title: string; dtstart: string; rrule: string | null; valid_from: number | null; valid_until: number | null;
  priority: ScheduleRecord['priority']; volume: number; outputs: string; on_preempt: ScheduleRecord['onPreempt']; max_delay_ms: number; night_confirmed: number;
  status: ApprovalState; created_by: string; approved_by: string | null; created_at: number; updated_at: number;
}

/** Schedules (an RRULE, targets, priority, validity, volume) under the approval workflow. */
export class SchedulesRepo {
  constructor(private readonly db: Db) {}

  private targetsOf(id: string): ScheduleTargets {
    const rows = this.db.prepare<[string], { target_type: 'zone' | 'device'; target_id: string }>('SELECT target_type, target_id FROM schedule_targets WHERE schedule_id = ? ORDER BY target_id').all(id);
    return { zones: rows.filter((r) => r.target_type === 'zone').map((r) => r.target_id), devices: rows.filter((r) => r.target_type === 'device').map((r) => r.target_id) };
  }

  private toRecord(r: Row): ScheduleRecord {
    return {
      id: r.id, zoneId: r.zone_id, programId: r.program_id, title: r.title, dtstart: r.dtstart, rrule: r.rrule, validFrom: r.valid_from, validUntil: r.valid_until,
      priority: r.priority, volume: r.volume, outputs: JSON.parse(r.outputs) as string[], onPreempt: r.on_preempt, maxDelayMs: r.max_delay_ms,
      nightConfirmed: r.night_confirmed === 1, status: r.status, createdBy: r.created_by, approvedBy: r.approved_by, createdAt: r.created_at,
      updatedAt: r.updated_at, targets: this.targetsOf(r.id),
    };
  }

  get(id: string): ScheduleRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM schedules WHERE id = ?').get(id);
    return r ? this.toRecord(r) : null;
  }

  require(id: string): ScheduleRecord {
    const s = this.get(id);
    if (!s) throw new LoaError('LOA_ERR_NOT_FOUND', `schedule ${id} does not exist`, { details: { scheduleId: id } });
    return s;
  }

  list(within: readonly string[] | undefined, status: ApprovalState | undefined, limit: number): ScheduleRecord[] {
    if (within && within.length === 0) return [];
    const sub = within ? inSubtrees('z.path', within) : null;
    const where = [...(sub ? [sub.sql] : []), ...(status ? ['s.status = ?'] : [])];
    return this.db.prepare<unknown[], Row>(`SELECT s.* FROM schedules s JOIN zones z ON z.id = s.zone_id ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.updated_at DESC LIMIT ?`)
      .all(...(sub?.args ?? []), ...(status ? [status] : []), limit).map((r) => this.toRecord(r));
  }

  private writeTargets(id: string, t: ScheduleTargets): void {
    this.db.prepare('DELETE FROM schedule_targets WHERE schedule_id = ?').run(id);
    const ins = this.db.prepare('INSERT OR IGNORE INTO schedule_targets (schedule_id, target_type, target_id) VALUES (?, ?, ?)');
    for (const z of t.zones) ins.run(id, 'zone', z);
    for (const d of t.devices) ins.run(id, 'device', d);
  }

  create(s: ScheduleInput, now: number): ScheduleRecord {
    this.db.prepare(`INSERT INTO schedules (id, zone_id, program_id, title, dtstart, rrule, valid_from, valid_until, priority, volume, outputs, on_preempt, max_delay_ms,
      night_confirmed, status, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?)`)
      .run(s.id, s.zoneId, s.programId, s.title, s.dtstart, s.rrule, s.validFrom, s.validUntil, s.priority, s.volume, JSON.stringify(s.outputs), s.onPreempt,
        s.maxDelayMs, s.nightConfirmed ? 1 : 0, s.createdBy, now, now);
    this.writeTargets(s.id, s.targets);
    return this.require(s.id);
  }

  update(id: string, s: ScheduleInput, now: number): ScheduleRecord {
    this.db.prepare(`UPDATE schedules SET program_id = ?, title = ?, dtstart = ?, rrule = ?, valid_from = ?, valid_until = ?, priority = ?, volume = ?, outputs = ?,
      on_preempt = ?, max_delay_ms = ?, night_confirmed = ?, updated_at = ? WHERE id = ?`)
      .run(s.programId, s.title, s.dtstart, s.rrule, s.validFrom, s.validUntil, s.priority, s.volume, JSON.stringify(s.outputs), s.onPreempt, s.maxDelayMs,
        s.nightConfirmed ? 1 : 0, now, id);
    this.writeTargets(id, s.targets);
    return this.require(id);
  }

  setStatus(id: string, status: ApprovalState, by: string | null, now: number): ScheduleRecord {
    this.db.prepare('UPDATE schedules SET status = ?, approved_by = ?, updated_at = ? WHERE id = ?').run(status, status === 'approved' ? by : null, now, id);
    return this.require(id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM schedules WHERE id = ?').run(id);
  }

  idsUsingProgram(programId: string): string[] {
    return this.db.prepare<[string], { id: string }>('SELECT id FROM schedules WHERE program_id = ?').all(programId).map((r) => r.id);
  }
}
