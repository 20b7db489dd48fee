import { createHash } from 'node:crypto';
import { canonicalize } from '../../shared/crypto.js';
import { LoaError } from '../../shared/errors.js';
import { can, type Permission } from '../auth/policy.js';
import type { DataLayer } from '../data/index.js';
import type { Device } from '../data/devices.js';
import type { User } from '../data/users.js';
import type { Zone } from '../data/zones.js';

/** What an emergency order addresses, as the operator gave it: zones (their subtrees) and explicit devices. */
export interface TargetSet {
  /** Sorted, without duplicates: exactly what is signed. */
  zoneIds: string[];
  deviceIds: string[];
  zones: Zone[];
  devices: { device: Device; path: string }[];
  /** The closest zone that holds every target: the order's owning zone (RBAC, lists, the TTS media record). */
  owner: Zone;
  /** sha256 of the canonical target set: a confirmation code is bound to it. */
  hash: string;
}

const uniqSorted = (ids: readonly string[]): string[] => [...new Set(ids)].sort();

/** The zone whose path is the longest common prefix (by whole segments) of the paths. */
function commonZone(data: DataLayer, paths: readonly string[]): Zone {
  let common = paths[0]!.split('/').filter(Boolean);
  for (const p of paths.slice(1)) {
    const segs = p.split('/').filter(Boolean);
    let i = 0;
    while (i < common.length && i < segs.length && common[i] === segs[i]) i++;
    common = common.slice(0, i);
  }
  const id = common[common.length - 1];
  if (!id) throw new LoaError('LOA_ERR_SCHEMA', 'the targets lie under different top-level zones; send one order per province');
  return data.zones.require(id);
}

/**
 * Looks the targets up (LOA_ERR_NOT_FOUND for an unknown zone or device; LOA_ERR_SCHEMA when there is none).
 * With `tolerant`, for orders stored earlier, targets deleted since are left out instead.
 */
export function targetSetOf(data: DataLayer, zoneIds: readonly string[], deviceIds: readonly string[], tolerant = false): TargetSet {
  const zIds = uniqSorted(zoneIds);
  const dIds = uniqSorted(deviceIds);
  if (zIds.length + dIds.length === 0) throw new LoaError('LOA_ERR_SCHEMA', 'give at least one target zone or device');
  const zones = zIds.flatMap((id) => (tolerant ? [data.zones.get(id)].filter((z): z is Zone => z !== null) : [data.zones.require(id)]));
  const devices = dIds.flatMap((id) => {
    const device = tolerant ? data.devices.get(id) : data.devices.require(id);
    const zone = device && (tolerant ? data.zones.get(device.zoneId) : data.zones.require(device.zoneId));
    return device && zone ? [{ device, path: zone.path }] : [];
  });
  const paths = [...zones.map((z) => z.path), ...devices.map((d) => d.path)];
  if (paths.length === 0) throw new LoaError('LOA_ERR_NOT_FOUND', 'none of the order\'s targets exists any more');
  const hash = createHash('sha256').update(canonicalize({ zones: zIds, devices: dIds })).digest('hex');
  return { zoneIds: zIds, deviceIds: dIds, zones, devices, owner: commonZone(data, paths), hash };
}

/** The targets outside the user's `perm` scope (empty lists: every target is inside). */
export function outOfScope(user: User, perm: Permission, t: TargetSet): { zones: string[]; devices: string[] } {
  return {
    zones: t.zones.filter((z) => !can(user, perm, z.path)).map((z) => z.id),
    devices: t.devices.filter((d) => !can(user, perm, d.path)).map((d) => d.device.id),
  };
}

/** Does the order touch one of the configured approval subtrees (two-person rule)? Unknown zone ids are ignored. */
export function touchesApproval(data: DataLayer, approvalZones: readonly string[], t: TargetSet): boolean {
  const guarded = approvalZones.map((id) => data.zones.get(id)?.path).filter((p): p is string => p !== undefined);
  return guarded.some((g) => t.zones.some((z) => z.path.startsWith(g) || g.startsWith(z.path)) || t.devices.some((d) => d.path.startsWith(g)));
}

/** Zone names are compared as people type them: NFC, trimmed, case-insensitive (Vietnamese letters included). */
export const sameName = (a: string, b: string): boolean => a.normalize('NFC').trim().toLocaleLowerCase('vi') === b.normalize('NFC').trim().toLocaleLowerCase('vi');

/** The stored hash of a preview's confirmation code: bound to the user and the target set. */
export function confirmCodeHash(userId: string, targetHash: string, code: string): string {
  return createHash('sha256').update(`loa/v1/emergency-confirm\n${userId}\n${targetHash}\n${code}`).digest('hex');
}

/** Names of the zone's chain, province first: what the preview shows so that the operator sees where it goes. */
export function pathNames(data: DataLayer, zone: Zone): string[] {
  return zone.path.split('/').filter(Boolean).map((id) => data.zones.get(id)?.name ?? id);
}
