import type { Db } from '../../agent/store/db.js';
import { likePrefix } from './ids.js';

/**
 * The queries behind the dashboard's overview and the KPI reports (issue 7), each over one zone subtree (a
 * materialised path). Times are ms since the epoch; periods are half-open [from, to).
 */

export interface ReportZone { id: string; parentId: string | null; level: string; name: string; path: string; legacyStations: number | null; convertedStations: number | null }
export interface ReportDevice {
  id: string; zoneId: string; zonePath: string; kind: 'speaker' | 'board'; enrolledAt: number | null; lastSeen: number | null; online: boolean; stale: boolean;
}
export interface StatusChange { deviceId: string; at: number; online: boolean }
export interface OverviewCounts {
  devices: number; enrolled: number; online: number; offline: number; stale: number; neverSeen: number;
  plays: number; completed: number; failed: number; alarms: number; activeEmergencies: number;
}

export class ReportsRepo {
  constructor(private readonly db: Db) {}

  zones(path: string): ReportZone[] {
    return this.db.prepare<[string], { id: string; parent_id: string | null; level: string; name: string; path: string; legacy_stations: number | null; converted_stations: number | null }>(
      "SELECT id, parent_id, level, name, path, legacy_stations, converted_stations FROM zones WHERE path LIKE ? ESCAPE '\\' ORDER BY path",
    ).all(likePrefix(path)).map((r) => ({ id: r.id, parentId: r.parent_id, level: r.level, name: r.name, path: r.path, legacyStations: r.legacy_stations, convertedStations: r.converted_stations }));
  }

  /** Devices that count: enrolled, not revoked or decommissioned. */
  activeDevices(path: string): ReportDevice[] {
    return this.db.prepare<[string], { id: string; zone_id: string; path: string; kind: 'speaker' | 'board'; enrolled_at: number | null; last_seen: number | null; online: number | null; stale: number | null }>(
      `SELECT d.id, d.zone_id, z.path, d.kind, d.enrolled_at, s.last_seen, s.online, s.stale FROM devices d JOIN zones z ON z.id = d.zone_id
       LEFT JOIN device_state s ON s.device_id = d.id
       WHERE z.path LIKE ? ESCAPE '\\' AND d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL AND d.decommissioned_at IS NULL ORDER BY d.id`,
    ).all(likePrefix(path)).map((r) => ({ id: r.id, zoneId: r.zone_id, zonePath: r.path, kind: r.kind, enrolledAt: r.enrolled_at, lastSeen: r.last_seen, online: r.online === 1, stale: r.stale === 1 }));
  }

  /** Status changes of the subtree's devices in [from, to), plus each device's last change before `from` (its state then). */
  statusChanges(path: string, from: number, to: number): { before: Map<string, boolean>; changes: StatusChange[] } {
    const like = likePrefix(path);
    const before = new Map(this.db.prepare<[number, string], { device_id: string; online: number }>(
      `SELECT l.device_id, l.online FROM device_status_log l JOIN (
         SELECT g.device_id, MAX(g.rowid) AS r FROM device_status_log g JOIN devices d ON d.id = g.device_id JOIN zones z ON z.id = d.zone_id
         WHERE g.at < ? AND z.path LIKE ? ESCAPE '\\' GROUP BY g.device_id) m ON l.rowid = m.r`,
    ).all(from, like).map((r) => [r.device_id, r.online === 1]));
    const changes = this.db.prepare<[number, number, string], { device_id: string; at: number; online: number }>(
      `SELECT l.device_id, l.at, l.online FROM device_status_log l JOIN devices d ON d.id = l.device_id JOIN zones z ON z.id = d.zone_id
       WHERE l.at >= ? AND l.at < ? AND z.path LIKE ? ESCAPE '\\' ORDER BY l.device_id, l.at, l.rowid`,
    ).all(from, to, like).map((r) => ({ deviceId: r.device_id, at: r.at, online: r.online === 1 }));
    return { before, changes };
  }

  /** Emergency orders issued in the period whose zone is in the subtree, with their 'received' and 'started' ack delays. */
  emergencyDelivery(path: string, from: number, to: number): { id: string; title: string; issuedAt: number; targeted: number; received: number[]; started: number[]; finished: number }[] {
    const orders = this.db.prepare<[number, number, string], { id: string; title: string; issued_at: number; targeted: number }>(
      `SELECT o.id, o.title, o.issued_at, o.targeted FROM emergency_orders o JOIN zones z ON z.id = o.zone_id
       WHERE o.issued_at >= ? AND o.issued_at < ? AND z.path LIKE ? ESCAPE '\\' ORDER BY o.issued_at`,
    ).all(from, to, likePrefix(path));
    const acks = this.db.prepare<[string], { state: string; received_at: number }>('SELECT state, received_at FROM emergency_acks WHERE order_id = ?');
    return orders.map((o) => {
      const a = acks.all(o.id);
      const delays = (state: string): number[] => a.filter((x) => x.state === state).map((x) => x.received_at - o.issued_at).sort((p, q) => p - q);
      return { id: o.id, title: o.title, issuedAt: o.issued_at, targeted: o.targeted, received: delays('received'), started: delays('started'), finished: a.filter((x) => x.state === 'finished').length };
    });
  }

  /** The overview's figures for a set of subtrees; plays by their scheduled (or start) time in [from, to). */
  overview(paths: readonly string[], from: number, to: number, now: number): OverviewCounts {
    const sub = paths.map(() => "z.path LIKE ? ESCAPE '\\'").join(' OR ');
    const args = paths.map(likePrefix);
    const d = this.db.prepare<string[], { devices: number; enrolled: number; online: number; stale: number; never: number }>(
      `SELECT count(*) AS devices, count(d.enrolled_at) AS enrolled, coalesce(sum(s.online = 1), 0) AS online,
        coalesce(sum(s.stale = 1), 0) AS stale, coalesce(sum(d.enrolled_at IS NOT NULL AND s.last_seen IS NULL), 0) AS never
       FROM devices d JOIN zones z ON z.id = d.zone_id LEFT JOIN device_state s ON s.device_id = d.id
       WHERE (${sub}) AND d.revoked_at IS NULL AND d.decommissioned_at IS NULL`,
    ).get(...args)!;
    const p = this.db.prepare<unknown[], { plays: number; completed: number; failed: number }>(
      `SELECT count(*) AS plays, coalesce(sum(p.status = 'completed'), 0) AS completed, coalesce(sum(p.status = 'failed'), 0) AS failed
       FROM plays p JOIN devices d ON d.id = p.device_id JOIN zones z ON z.id = d.zone_id
       WHERE coalesce(p.scheduled_at, p.started_at) >= ? AND coalesce(p.scheduled_at, p.started_at) < ? AND (${sub})`,
    ).get(from, to, ...args)!;
    const alarms = this.db.prepare<unknown[], { n: number }>(
      `SELECT count(*) AS n FROM devices d JOIN zones z ON z.id = d.zone_id LEFT JOIN device_state s ON s.device_id = d.id
       WHERE (${sub}) AND d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL AND d.decommissioned_at IS NULL AND (
         (s.last_seen IS NOT NULL AND coalesce(s.online, 0) = 0) OR s.stale = 1
         OR EXISTS (SELECT 1 FROM plays p WHERE p.device_id = d.id AND p.status = 'failed' AND coalesce(p.scheduled_at, p.started_at) >= ? AND coalesce(p.scheduled_at, p.started_at) < ?))`,
    ).get(...args, from, to)!.n;
    const em = this.db.prepare<unknown[], { n: number }>(
      `SELECT count(*) AS n FROM emergency_orders o JOIN zones z ON z.id = o.zone_id WHERE o.status IN ('active', 'pending_approval') AND o.expires_at > ? AND (${sub})`,
    ).get(now, ...args)!.n;
    return {
      devices: d.devices, enrolled: d.enrolled, online: d.online, offline: d.enrolled - d.online - d.never, stale: d.stale, neverSeen: d.never,
      plays: p.plays, completed: p.completed, failed: p.failed, alarms, activeEmergencies: em,
    };
  }
}
