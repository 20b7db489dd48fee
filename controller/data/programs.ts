import type { Static } from '@sinclair/typebox';
import type { ClockSlide, Daypart, TextSlide, WidgetSlide } from '../../shared/schemas/slides.js';
import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import { inSubtrees } from './ids.js';
import type { ApprovalState } from './workflow.js';

export type ProgramItemInput =
  | { kind: 'media'; mediaId: string }
  | { kind: 'stream'; url: string; durationMs: number; title?: string }
  | Static<typeof TextSlide> | Static<typeof ClockSlide> | Static<typeof WidgetSlide>
  | ImageSlideInput | VideoSlideInput;

/** An image slide as the program API takes it (issue 8): a library picture by id; the manifest carries its sha256. */
export interface ImageSlideInput { kind: 'image'; mediaId: string; fit?: 'contain' | 'cover'; durationMs: number; dayparts?: Daypart[] }
/** A video slide by library id; without `durationMs` it stays on screen for the video's own duration. */
export interface VideoSlideInput { kind: 'video'; mediaId: string; muted?: boolean; durationMs?: number; dayparts?: Daypart[] }

/** A slide's time on screen: its own, or (a video without one) the video's duration within the slide limits (1 s – 1 h). */
export function slideDurationMs(it: ImageSlideInput | VideoSlideInput, mediaDurationMs: number): number {
  return it.durationMs ?? Math.min(3_600_000, Math.max(1000, Math.round(mediaDurationMs)));
}

export interface ProgramRecord {
  id: string;
  zoneId: string;
  title: string;
  items: ProgramItemInput[];
  status: ApprovalState;
  createdBy: string;
  approvedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

interface Row { id: string; zone_id: string; title: string; items: string; status: ApprovalState; created_by: string; approved_by: string | null; created_at: number; updated_at: number }
const toProgram = (r: Row): ProgramRecord => ({
  id: r.id, zoneId: r.zone_id, title: r.title, items: JSON.parse(r.items) as ProgramItemInput[], status: r.status, createdBy: r.created_by,
  approvedBy: r.approved_by, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** Programs: an ordered list of items, under the approval workflow. */
export class ProgramsRepo {
  constructor(private readonly db: Db) {}

  get(id: string): ProgramRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM programs WHERE id = ?').get(id);
    return r ? toProgram(r) : null;
  }

  require(id: string): ProgramRecord {
    const p = this.get(id);
    if (!p) throw new LoaError('LOA_ERR_NOT_FOUND', `program ${id} does not exist`, { details: { programId: id } });
    return p;
  }

  list(within: readonly string[] | undefined, status: ApprovalState | undefined, limit: number): ProgramRecord[] {
    if (within && within.length === 0) return [];
    const sub = within ? inSubtrees('z.path', within) : null;
    const where = [...(sub ? [sub.sql] : []), ...(status ? ['p.status = ?'] : [])];
    return this.db.prepare<unknown[], Row>(`SELECT p.* FROM programs p JOIN zones z ON z.id = p.zone_id ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.updated_at DESC LIMIT ?`)
      .all(...(sub?.args ?? []), ...(status ? [status] : []), limit).map(toProgram);
  }

  create(p: { id: string; zoneId: string; title: string; items: ProgramItemInput[]; createdBy: string }, now: number): ProgramRecord {
    this.db.prepare("INSERT INTO programs (id, zone_id, title, items, status, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'draft', ?, ?, ?)")
      .run(p.id, p.zoneId, p.title, JSON.stringify(p.items), p.createdBy, now, now);
    return this.require(p.id);
  }

  update(id: string, patch: { title?: string; items?: ProgramItemInput[] }, now: number): ProgramRecord {
    const p = this.require(id);
    this.db.prepare('UPDATE programs SET title = ?, items = ?, updated_at = ? WHERE id = ?').run(patch.title ?? p.title, JSON.stringify(patch.items ?? p.items), now, id);
    return this.require(id);
  }

  setStatus(id: string, status: ApprovalState, by: string | null, now: number): ProgramRecord {
    this.db.prepare('UPDATE programs SET status = ?, approved_by = ?, updated_at = ? WHERE id = ?').run(status, status === 'approved' ? by : null, now, id);
    return this.require(id);
  }

  delete(id: string): void {
    const n = this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM schedules WHERE program_id = ?').get(id)!.n;
    if (n) throw new LoaError('LOA_ERR_CONFLICT', `program ${id} is used by ${n} schedule(s); archive it instead`, { details: { schedules: n } });
    this.db.prepare('DELETE FROM programs WHERE id = ?').run(id);
  }
}
