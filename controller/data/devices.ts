import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import { escapeLike, inSubtrees, likePrefix } from './ids.js';

export interface Device {
  id: string;
  zoneId: string;
  name: string;
  kind: 'speaker' | 'board';
  publicKey: string | null;
  keyid: string | null;
  hardwareProfile: string | null;
  agentVersion: string | null;
  lat: number | null;
  lon: number | null;
  enrolledAt: number | null;
  revokedAt: number | null;
  /** Retired for good (issue 5): revoked, never compiled again, its history kept. */
  decommissionedAt: number | null;
  /** Derived: registered (no key yet) → active (key bound) → revoked (key refused) → decommissioned. */
  state: DeviceLifecycle;
  createdAt: number;
}

export type DeviceLifecycle = 'registered' | 'active' | 'revoked' | 'decommissioned';

/** A device with its live state, as the device list shows it. */
export interface DeviceWithState extends Device {
  zonePath: string;
  online: boolean;
  lastSeen: number | null;
  appliedVersion: number;
  manifestVersion: number;
  stale: boolean;
}

interface Row {
  id: string; zone_id: string; name: string; kind: 'speaker' | 'board'; public_key: string | null; keyid: string | null; hardware_profile: string | null;
  agent_version: string | null; lat: number | null; lon: number | null; enrolled_at: number | null; revoked_at: number | null; created_at: number;
  decommissioned_at: number | null;
}
interface StateRow extends Row { path: string; online: number | null; last_seen: number | null; applied_version: number | null; stale: number | null; manifest_version: number | null }

const toDevice = (r: Row): Device => ({
  id: r.id, zoneId: r.zone_id, name: r.name, kind: r.kind, publicKey: r.public_key, keyid: r.keyid, hardwareProfile: r.hardware_profile,
  agentVersion: r.agent_version, lat: r.lat, lon: r.lon, enrolledAt: r.enrolled_at, revokedAt: r.revoked_at, createdAt: r.created_at,
  decommissionedAt: r.decommissioned_at,
  state: r.decommissioned_at !== null ? 'decommissioned' : r.revoked_at !== null ? 'revoked' : r.public_key ? 'active' : 'registered',
});

export interface DeviceListQuery {
  /** Subtree paths the caller may see; undefined = all. */
  within?: readonly string[];
  zonePath?: string;
  online?: boolean;
  q?: string;
  id?: string;
  limit: number;
  /** Keyset pagination: ids after this one. */
  after?: string;
}

/** Device records, enrollment tokens and the key binding. */
export class DevicesRepo {
  private readonly getStmt;
  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM devices WHERE id = ?');
  }

  get(id: string): Device | null {
    const r = this.getStmt.get(id);
    return r ? toDevice(r) : null;
  }

  require(id: string): Device {
    const d = this.get(id);
    if (!d) throw new LoaError('LOA_ERR_NOT_FOUND', `device ${id} does not exist`, { details: { deviceId: id } });
    return d;
  }

  create(input: { id: string; zoneId: string; name: string; kind: 'speaker' | 'board'; lat?: number | null; lon?: number | null }, now: number): Device {
    if (this.get(input.id)) throw new LoaError('LOA_ERR_CONFLICT', `device ${input.id} exists already`);
    this.db.prepare('INSERT INTO devices (id, zone_id, name, kind, lat, lon, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(input.id, input.zoneId, input.name, input.kind, input.lat ?? null, input.lon ?? null, now, now);
    this.db.prepare('INSERT OR IGNORE INTO device_state (device_id) VALUES (?)').run(input.id);
    return this.require(input.id);
  }

  update(id: string, patch: { name?: string; zoneId?: string; lat?: number | null; lon?: number | null }, now: number): Device {
    const d = this.require(id);
    this.db.prepare('UPDATE devices SET name = ?, zone_id = ?, lat = ?, lon = ?, updated_at = ? WHERE id = ?')
      .run(patch.name ?? d.name, patch.zoneId ?? d.zoneId, patch.lat === undefined ? d.lat : patch.lat, patch.lon === undefined ? d.lon : patch.lon, now, id);
    return this.require(id);
  }

  list(q: DeviceListQuery): DeviceWithState[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.within) {
      if (q.within.length === 0) return [];
      const sub = inSubtrees('z.path', q.within);
      where.push(sub.sql);
      args.push(...sub.args);
    }
    if (q.zonePath) { where.push("z.path LIKE ? ESCAPE '\\'"); args.push(likePrefix(q.zonePath)); }
    if (q.online !== undefined) { where.push('coalesce(s.online, 0) = ?'); args.push(q.online ? 1 : 0); }
    if (q.q) { where.push("(d.id LIKE ? ESCAPE '\\' OR d.name LIKE ? ESCAPE '\\')"); const p = `%${escapeLike(q.q)}%`; args.push(p, p); }
    if (q.after) { where.push('d.id > ?'); args.push(q.after); }
    if (q.id) { where.push('d.id = ?'); args.push(q.id); }
    const sql = `SELECT d.*, z.path, s.online, s.last_seen, s.applied_version, s.stale, m.version AS manifest_version
      FROM devices d JOIN zones z ON z.id = d.zone_id LEFT JOIN device_state s ON s.device_id = d.id LEFT JOIN manifests m ON m.device_id = d.id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.id LIMIT ?`;
    return this.db.prepare<unknown[], StateRow>(sql).all(...args, q.limit).map((r) => ({
      ...toDevice(r), zonePath: r.path, online: r.online === 1, lastSeen: r.last_seen, appliedVersion: r.applied_version ?? 0,
      manifestVersion: r.manifest_version ?? 0, stale: r.stale === 1,
    }));
  }

  /** Ids of the live (enrolled, not revoked) devices in a zone's subtree. */
  idsInSubtree(zonePath: string): string[] {
    return this.db.prepare<[string], { id: string }>("SELECT d.id FROM devices d JOIN zones z ON z.id = d.zone_id WHERE z.path LIKE ? ESCAPE '\\' AND d.revoked_at IS NULL")
      .all(likePrefix(zonePath)).map((r) => r.id);
  }

  allLiveIds(): string[] {
    return this.db.prepare<[], { id: string }>('SELECT id FROM devices WHERE revoked_at IS NULL ORDER BY id').all().map((r) => r.id);
  }

  addEnrollmentToken(tokenHash: string, deviceId: string, createdBy: string, now: number, expiresAt: number): void {
    this.db.prepare('DELETE FROM enrollment_tokens WHERE device_id = ? AND used_at IS NULL').run(deviceId);
    this.db.prepare('INSERT INTO enrollment_tokens (token_hash, device_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(tokenHash, deviceId, createdBy, now, expiresAt);
  }

  /** Marks a one-time token used and returns its device id; null when unknown, used or expired. */
  consumeEnrollmentToken(tokenHash: string, now: number): string | null {
    const r = this.db.prepare<[number, string, number], { device_id: string }>('UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING device_id').get(now, tokenHash, now);
    return r?.device_id ?? null;
  }

  bindKey(id: string, b: { publicKey: string; keyid: string; hardwareProfile?: string | null; agentVersion?: string | null }, now: number): void {
    // A revoked, replaced or decommissioned key never comes back (issue 5), whichever way it is offered.
    if (this.isKeyRevoked(b.keyid)) throw new LoaError('LOA_ERR_PAIRING_KEY_REVOKED', 'this device key has been revoked; make a new key on the device');
    if (this.get(id)?.state === 'decommissioned') throw new LoaError('LOA_ERR_DEVICE_DECOMMISSIONED', `device ${id} has been decommissioned`);
    this.db.prepare('UPDATE devices SET public_key = ?, keyid = ?, hardware_profile = ?, agent_version = ?, enrolled_at = ?, revoked_at = NULL, updated_at = ? WHERE id = ?')
      .run(b.publicKey, b.keyid, b.hardwareProfile ?? null, b.agentVersion ?? null, now, now, id);
  }

  revoke(id: string, now: number): void {
    this.retireKey(id, 'revoke', now);
    this.db.prepare('UPDATE devices SET revoked_at = ?, updated_at = ? WHERE id = ?').run(now, now, id);
    this.db.prepare('UPDATE enrollment_tokens SET used_at = ? WHERE device_id = ? AND used_at IS NULL').run(now, id);
  }

  /** Puts the device's current key (if any) on the revoked-keys list: it never authenticates or pairs again. */
  retireKey(id: string, reason: 'revoke' | 'replace' | 'decommission', now: number): void {
    this.db.prepare('INSERT OR IGNORE INTO revoked_keys (keyid, device_id, reason, revoked_at) SELECT keyid, id, ?, ? FROM devices WHERE id = ? AND keyid IS NOT NULL').run(reason, now, id);
  }

  isKeyRevoked(keyid: string): boolean {
    return this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM revoked_keys WHERE keyid = ?').get(keyid)!.n > 0;
  }

  /** The key a device authenticates with (broker and HTTP): null when unknown or never enrolled. */
  keyOf(id: string): { publicKey: string; revoked: boolean } | null {
    const d = this.get(id);
    return d?.publicKey ? { publicKey: d.publicKey, revoked: d.revokedAt !== null } : null;
  }

  count(): number {
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM devices').get()!.n;
  }
}
