import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import { inSubtrees } from './ids.js';

export const ZONE_LEVELS = ['province', 'district', 'commune', 'cluster'] as const;
export type ZoneLevel = (typeof ZONE_LEVELS)[number];

/** Which parent level each level may sit under (the district level is optional since the 2025 reform). */
export const ALLOWED_PARENTS: Record<ZoneLevel, readonly (ZoneLevel | null)[]> = {
  province: [null],
  district: ['province'],
  commune: ['province', 'district'],
  cluster: ['commune'],
};

export interface Zone {
  id: string;
  parentId: string | null;
  level: ZoneLevel;
  code: string;
  name: string;
  path: string;
  /** Communes (issue 7): legacy wired/FM stations it had, and how many were converted; null when not recorded. */
  legacyStations: number | null;
  convertedStations: number | null;
  createdAt: number;
  updatedAt: number;
}

interface Row { id: string; parent_id: string | null; level: ZoneLevel; code: string; name: string; path: string; legacy_stations: number | null; converted_stations: number | null; created_at: number; updated_at: number }
const toZone = (r: Row): Zone => ({
  id: r.id, parentId: r.parent_id, level: r.level, code: r.code, name: r.name, path: r.path,
  legacyStations: r.legacy_stations, convertedStations: r.converted_stations, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** The zone tree: province › district (optional) › commune/ward › cluster, with materialised paths for subtree checks. */
export class ZonesRepo {
  constructor(private readonly db: Db) {}

  get(id: string): Zone | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM zones WHERE id = ?').get(id);
    return r ? toZone(r) : null;
  }

  require(id: string): Zone {
    const z = this.get(id);
    if (!z) throw new LoaError('LOA_ERR_NOT_FOUND', `zone ${id} does not exist`, { details: { zoneId: id } });
    return z;
  }

  /** Zones inside any of the given subtrees (paths), ordered by path; all zones when `within` is undefined. */
  list(within?: readonly string[]): Zone[] {
    if (within && within.length === 0) return [];
    const sub = within ? inSubtrees('path', within) : null;
    return this.db.prepare<unknown[], Row>(`SELECT * FROM zones ${sub ? `WHERE ${sub.sql}` : ''} ORDER BY path`).all(...(sub?.args ?? [])).map(toZone);
  }

  /** Ids of the zone and its ancestors, root first. */
  chain(id: string): string[] {
    const z = this.get(id);
    return z ? z.path.split('/').filter(Boolean) : [];
  }

  create(input: { id: string; parentId: string | null; level: ZoneLevel; code: string; name: string }, now: number): Zone {
    if (this.get(input.id)) throw new LoaError('LOA_ERR_CONFLICT', `zone ${input.id} exists already`, { details: { zoneId: input.id } });
    const parent = input.parentId ? this.require(input.parentId) : null;
    if (!ALLOWED_PARENTS[input.level].includes(parent?.level ?? null)) {
      throw new LoaError('LOA_ERR_ZONE_HIERARCHY', `a ${input.level} cannot sit under ${parent ? `the ${parent.level} ${parent.id}` : 'nothing'}; allowed: ${ALLOWED_PARENTS[input.level].map((l) => l ?? 'top level').join(', ')}`, { details: { level: input.level, parentLevel: parent?.level ?? null } });
    }
    const path = `${parent?.path ?? '/'}${input.id}/`;
    this.db.prepare('INSERT INTO zones (id, parent_id, level, code, name, path, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(input.id, input.parentId, input.level, input.code, input.name, path, now, now);
    return this.require(input.id);
  }

  rename(id: string, patch: { name?: string; code?: string; legacyStations?: number | null; convertedStations?: number | null }, now: number): Zone {
    const z = this.require(id);
    const legacy = patch.legacyStations === undefined ? z.legacyStations : patch.legacyStations;
    const converted = patch.convertedStations === undefined ? z.convertedStations : patch.convertedStations;
    if (legacy !== null && converted !== null && converted > legacy) {
      throw new LoaError('LOA_ERR_SCHEMA', `converted stations (${converted}) cannot exceed the legacy stations (${legacy})`, { details: { zoneId: id } });
    }
    this.db.prepare('UPDATE zones SET name = ?, code = ?, legacy_stations = ?, converted_stations = ?, updated_at = ? WHERE id = ?')
      .run(patch.name ?? z.name, patch.code ?? z.code, legacy, converted, now, id);
    return this.require(id);
  }

  /** Deletes an empty zone (no sub-zones, devices, media, programs or schedules). */
  delete(id: string): void {
    this.require(id);
    const used = this.db.prepare<[string, string, string, string, string], { n: number }>(`SELECT
      (SELECT count(*) FROM zones WHERE parent_id = ?) + (SELECT count(*) FROM devices WHERE zone_id = ?) +
      (SELECT count(*) FROM media WHERE zone_id = ?) + (SELECT count(*) FROM programs WHERE zone_id = ?) +
      (SELECT count(*) FROM schedules WHERE zone_id = ?) AS n`).get(id, id, id, id, id)!.n;
    if (used > 0) throw new LoaError('LOA_ERR_ZONE_NOT_EMPTY', `zone ${id} still holds ${used} sub-zones, devices or content items`, { details: { zoneId: id, items: used } });
    this.db.prepare("DELETE FROM schedule_targets WHERE target_type = 'zone' AND target_id = ?").run(id);
    this.db.prepare('DELETE FROM zones WHERE id = ?').run(id);
  }
}
