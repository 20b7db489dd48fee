import type { Db } from '../../agent/store/db.js';
import { likePrefix } from './ids.js';
import type { ApprovalState } from './workflow.js';

export interface StoredManifest {
  deviceId: string;
  version: number;
  etag: string;
  contentHash: string;
  body: string;
  compiledAt: number;
  expiresAt: number;
}

/** Everything the compiler reads, loaded once per batch. */
export interface CompileSnapshot {
  devices: Map<string, { zonePath: string; revoked: boolean }>;
  schedules: SnapshotSchedule[];
  programs: Map<string, { id: string; title: string; items: string; status: ApprovalState }>;
  media: Map<string, { id: string; sha256: string; size: number; durationMs: number; mime: string }>;
}

export interface SnapshotSchedule {
  id: string; programId: string; dtstart: string; rrule: string | null; validFrom: number | null; validUntil: number | null; priority: 'normal' | 'priority' | 'emergency';
  volume: number; outputs: string; onPreempt: 'resume' | 'restart' | 'skip'; maxDelayMs: number; zones: string[]; devices: string[];
}

interface Row { device_id: string; version: number; etag: string; content_hash: string; body: string; compiled_at: number; expires_at: number }

/** Signed manifests per device (the last one only; versions only grow) and the compiler's read model. */
export class ManifestsRepo {
  private readonly getStmt;
  private readonly upsertStmt;
  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM manifests WHERE device_id = ?');
    this.upsertStmt = db.prepare(`INSERT INTO manifests (device_id, version, etag, content_hash, body, compiled_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET version = excluded.version, etag = excluded.etag, content_hash = excluded.content_hash, body = excluded.body,
      compiled_at = excluded.compiled_at, expires_at = excluded.expires_at`);
  }

  get(deviceId: string): StoredManifest | null {
    const r = this.getStmt.get(deviceId);
    return r ? { deviceId: r.device_id, version: r.version, etag: r.etag, contentHash: r.content_hash, body: r.body, compiledAt: r.compiled_at, expiresAt: r.expires_at } : null;
  }

  put(m: StoredManifest): void {
    this.upsertStmt.run(m.deviceId, m.version, m.etag, m.contentHash, m.body, m.compiledAt, m.expiresAt);
  }

  /** Many puts in one transaction. */
  putAll(ms: readonly StoredManifest[]): void {
    this.db.transaction(() => { for (const m of ms) this.put(m); })();
  }

  expiringBefore(t: number): string[] {
    return this.db.prepare<[number], { device_id: string }>('SELECT device_id FROM manifests WHERE expires_at < ?').all(t).map((r) => r.device_id);
  }

  /** Loads the approved content and the devices in scope. `deviceIds` undefined = every device. */
  snapshot(deviceIds?: readonly string[]): CompileSnapshot {
    const devices = new Map<string, { zonePath: string; revoked: boolean }>();
    const devRows = this.db.prepare<[], { id: string; path: string; revoked_at: number | null }>('SELECT d.id, z.path, d.revoked_at FROM devices d JOIN zones z ON z.id = d.zone_id').all();
    const wanted = deviceIds ? new Set(deviceIds) : null;
    for (const r of devRows) if (!wanted || wanted.has(r.id)) devices.set(r.id, { zonePath: r.path, revoked: r.revoked_at !== null });
    const targets = this.db.prepare<[], { schedule_id: string; target_type: 'zone' | 'device'; target_id: string }>("SELECT t.* FROM schedule_targets t JOIN schedules s ON s.id = t.schedule_id WHERE s.status = 'approved'").all();
    const byId = new Map<string, SnapshotSchedule>();
    const rows = this.db.prepare<[], { id: string; program_id: string; dtstart: string; rrule: string | null; valid_from: number | null; valid_until: number | null; priority: SnapshotSchedule['priority']; volume: number; outputs: string; on_preempt: SnapshotSchedule['onPreempt']; max_delay_ms: number }>(
      "SELECT s.* FROM schedules s JOIN programs p ON p.id = s.program_id WHERE s.status = 'approved' AND p.status = 'approved' ORDER BY s.id").all();
    for (const s of rows) {
      byId.set(s.id, { id: s.id, programId: s.program_id, dtstart: s.dtstart, rrule: s.rrule, validFrom: s.valid_from, validUntil: s.valid_until, priority: s.priority, volume: s.volume, outputs: s.outputs, onPreempt: s.on_preempt, maxDelayMs: s.max_delay_ms, zones: [], devices: [] });
    }
    for (const t of targets) {
      const s = byId.get(t.schedule_id);
      if (s) (t.target_type === 'zone' ? s.zones : s.devices).push(t.target_id);
    }
    const programs = new Map(this.db.prepare<[], { id: string; title: string; items: string; status: ApprovalState }>("SELECT id, title, items, status FROM programs WHERE status = 'approved'").all().map((p) => [p.id, p]));
    const media = new Map(this.db.prepare<[], { id: string; sha256: string; size: number; duration_ms: number; mime: string }>('SELECT id, sha256, size, duration_ms, mime FROM media').all()
      .map((m) => [m.id, { id: m.id, sha256: m.sha256, size: m.size, durationMs: m.duration_ms, mime: m.mime }]));
    return { devices, schedules: [...byId.values()], programs, media };
  }

  /** Devices a schedule reaches: its device targets plus every device under its zone targets. */
  devicesOfTargets(zones: readonly string[], devices: readonly string[]): string[] {
    const out = new Set(devices);
    const stmt = this.db.prepare<[string], { id: string }>("SELECT d.id FROM devices d JOIN zones z ON z.id = d.zone_id WHERE z.path LIKE ? ESCAPE '\\'");
    const pathOf = this.db.prepare<[string], { path: string }>('SELECT path FROM zones WHERE id = ?');
    for (const z of zones) {
      const p = pathOf.get(z)?.path;
      if (p) for (const r of stmt.all(likePrefix(p))) out.add(r.id);
    }
    return [...out];
  }
}
