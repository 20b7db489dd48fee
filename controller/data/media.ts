import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import { inSubtrees } from './ids.js';

export type MediaKind = 'audio' | 'image' | 'video';

export interface MediaRecord {
  id: string;
  sha256: string;
  size: number;
  durationMs: number;
  mime: string;
  title: string;
  originalName: string | null;
  sourceSha256: string | null;
  loudnessLufs: number | null;
  /** audio (the loudspeakers' Ogg Opus), image or video (board slides, issue 8). */
  kind: MediaKind;
  /** Pixels, for images and videos; null for audio. */
  width: number | null;
  height: number | null;
  zoneId: string;
  createdBy: string;
  createdAt: number;
}

interface Row { id: string; sha256: string; size: number; duration_ms: number; mime: string; title: string; original_name: string | null; source_sha256: string | null; loudness_lufs: number | null; kind: MediaKind; width: number | null; height: number | null; zone_id: string; created_by: string; created_at: number }
const toMedia = (r: Row): MediaRecord => ({
  id: r.id, sha256: r.sha256, size: r.size, durationMs: r.duration_ms, mime: r.mime, title: r.title, originalName: r.original_name,
  sourceSha256: r.source_sha256, loudnessLufs: r.loudness_lufs, kind: r.kind, width: r.width, height: r.height, zoneId: r.zone_id, createdBy: r.created_by, createdAt: r.created_at,
});

/** Media records. The bytes live in the content-addressed store; several records may share one sha256. */
export class MediaRepo {
  constructor(private readonly db: Db) {}

  get(id: string): MediaRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM media WHERE id = ?').get(id);
    return r ? toMedia(r) : null;
  }

  require(id: string): MediaRecord {
    const m = this.get(id);
    if (!m) throw new LoaError('LOA_ERR_NOT_FOUND', `media ${id} does not exist`, { details: { mediaId: id } });
    return m;
  }

  bySha(sha256: string): MediaRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM media WHERE sha256 = ? LIMIT 1').get(sha256);
    return r ? toMedia(r) : null;
  }

  list(within: readonly string[] | undefined, limit: number): MediaRecord[] {
    if (within && within.length === 0) return [];
    const sub = within ? inSubtrees('z.path', within) : null;
    return this.db.prepare<unknown[], Row>(`SELECT m.* FROM media m JOIN zones z ON z.id = m.zone_id ${sub ? `WHERE ${sub.sql}` : ''} ORDER BY m.created_at DESC LIMIT ?`)
      .all(...(sub?.args ?? []), limit).map(toMedia);
  }

  /** `kind` defaults to audio (width and height to null): TTS and older callers store audio. */
  create(m: Omit<MediaRecord, 'createdAt' | 'kind' | 'width' | 'height'> & Partial<Pick<MediaRecord, 'kind' | 'width' | 'height'>>, now: number): MediaRecord {
    this.db.prepare(`INSERT INTO media (id, sha256, size, duration_ms, mime, title, original_name, source_sha256, loudness_lufs, kind, width, height, zone_id, created_by, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(m.id, m.sha256, m.size, m.durationMs, m.mime, m.title, m.originalName, m.sourceSha256, m.loudnessLufs,
      m.kind ?? 'audio', m.width ?? null, m.height ?? null, m.zoneId, m.createdBy, now, now);
    return this.require(m.id);
  }

  /** Program ids whose items reference this media record. */
  usedBy(id: string): string[] {
    return this.db.prepare<[string], { id: string }>("SELECT DISTINCT p.id FROM programs p, json_each(p.items) j WHERE json_extract(j.value, '$.mediaId') = ?").all(id).map((r) => r.id);
  }

  /** Emergency orders, waiting for approval or in force, whose audio is this media record. */
  usedByEmergencies(id: string, now: number): string[] {
    return this.db.prepare<[string, number], { id: string }>("SELECT id FROM emergency_orders WHERE media_id = ? AND status IN ('pending_approval', 'active') AND expires_at > ?").all(id, now).map((r) => r.id);
  }

  delete(id: string, now: number): { sha256: string; orphan: boolean } {
    const m = this.require(id);
    const users = this.usedBy(id);
    if (users.length) throw new LoaError('LOA_ERR_MEDIA_IN_USE', `media ${id} is used by ${users.length} program(s)`, { details: { programs: users } });
    // Receivers of an order in force may still be downloading its audio.
    const orders = this.usedByEmergencies(id, now);
    if (orders.length) throw new LoaError('LOA_ERR_MEDIA_IN_USE', `media ${id} is the audio of ${orders.length} emergency order(s) in force; cancel them or let them expire first`, { details: { emergencies: orders } });
    this.db.prepare('DELETE FROM media WHERE id = ?').run(id);
    return { sha256: m.sha256, orphan: !this.bySha(m.sha256) };
  }
}
