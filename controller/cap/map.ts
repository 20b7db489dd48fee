import type { CapAlert, CapArea, CapInfo } from './parse.js';

/** A zone as CAP mapping sees it: its administrative code and, when known, a reference point. */
export interface CapZone {
  id: string;
  /** Administrative code (mã đơn vị hành chính), matched against geocodes. */
  code: string;
  name: string;
  lat?: number;
  lon?: number;
}

export interface CapPolicy {
  /** geocode valueNames whose values are administrative codes (default: VN-ADMIN, MA_DVHC, ISO3166-2). */
  geocodeNames?: readonly string[];
  /** Severities started at once, without an operator (default: Extreme, with urgency Immediate). */
  autoStartSeverities?: readonly CapInfo['severity'][];
  autoStartUrgencies?: readonly CapInfo['urgency'][];
  /** Languages preferred for the spoken text, best first (default vi, then any). */
  languages?: readonly string[];
}

export type CapDecision =
  | { action: 'ignore'; reason: string }
  | { action: 'cancel'; references: string[] }
  | { action: 'auto' | 'pending'; info: CapInfo; zoneIds: string[]; matchedBy: Record<string, 'geocode' | 'polygon' | 'circle'>; text: string; title: string; expiresAt?: string };

const DEFAULT_GEOCODES = ['VN-ADMIN', 'MA_DVHC', 'ISO3166-2'];
const EARTH_KM = 6371;

/** Ray casting in the lat/lon plane: fine at commune scale, away from the poles and the antimeridian. */
export function pointInPolygon(lat: number, lon: number, poly: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [yi, xi] = poly[i]!;
    const [yj, xj] = poly[j]!;
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function distanceKm(a: readonly [number, number], b: readonly [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Zones an area reaches: by administrative geocode, or by the zone's point inside a polygon or circle. */
export function zonesOfArea(area: CapArea, zones: readonly CapZone[], geocodeNames: readonly string[]): Map<string, 'geocode' | 'polygon' | 'circle'> {
  const out = new Map<string, 'geocode' | 'polygon' | 'circle'>();
  const names = new Set(geocodeNames.map((n) => n.toUpperCase()));
  const codes = new Set(area.geocodes.filter((g) => names.has(g.valueName.toUpperCase())).map((g) => g.value.trim()));
  for (const z of zones) {
    if (codes.has(z.code)) out.set(z.id, 'geocode');
    else if (z.lat !== undefined && z.lon !== undefined) {
      const p: [number, number] = [z.lat, z.lon];
      if (area.polygons.some((poly) => pointInPolygon(p[0], p[1], poly))) out.set(z.id, 'polygon');
      else if (area.circles.some((c) => distanceKm(c.center, p) <= c.radiusKm)) out.set(z.id, 'circle');
    }
  }
  return out;
}

/** What to say: headline, description and instruction, each once, as sentences. */
export function capText(info: CapInfo): string {
  const parts = [info.headline, info.description, info.instruction].filter((x): x is string => !!x?.trim()).map((x) => x.trim().replace(/\s+/g, ' '));
  const text = [...new Set(parts)].map((x) => (/[.!?…]$/.test(x) ? x : `${x}.`)).join(' ');
  return text.length > 4000 ? `${text.slice(0, 3990).replace(/\s+\S*$/, '')}…` : text;
}

/**
 * Decides what a CAP alert means for this province: ignored (not Actual, not public, past, or no zone of ours in
 * its areas), a cancel of earlier alerts, or an emergency for the matched zones, started at once for the
 * configured severities and urgencies, otherwise left pending for an operator to approve.
 */
export function capDecision(alert: CapAlert, zones: readonly CapZone[], policy: CapPolicy = {}): CapDecision {
  if (alert.status !== 'Actual') return { action: 'ignore', reason: `status ${alert.status}` };
  if (alert.scope !== 'Public') return { action: 'ignore', reason: `scope ${alert.scope}` };
  if (alert.msgType === 'Cancel') {
    return { action: 'cancel', references: (alert.references ?? '').split(/\s+/).filter(Boolean).map((r) => r.split(',')[1] ?? r) };
  }
  if (alert.msgType === 'Ack' || alert.msgType === 'Error') return { action: 'ignore', reason: `msgType ${alert.msgType}` };
  const langs = policy.languages ?? ['vi'];
  const infos = [...alert.infos].sort((a, b) => rank(a.language, langs) - rank(b.language, langs));
  const info = infos[0];
  if (!info) return { action: 'ignore', reason: 'no info block' };
  if (info.urgency === 'Past') return { action: 'ignore', reason: 'urgency Past' };
  const matchedBy: Record<string, 'geocode' | 'polygon' | 'circle'> = {};
  for (const i of alert.infos) {
    for (const area of i.areas) for (const [id, how] of zonesOfArea(area, zones, policy.geocodeNames ?? DEFAULT_GEOCODES)) matchedBy[id] ??= how;
  }
  const zoneIds = Object.keys(matchedBy).sort();
  if (!zoneIds.length) return { action: 'ignore', reason: 'no zone of this province in the alert areas' };
  const auto = (policy.autoStartSeverities ?? ['Extreme']).includes(info.severity) && (policy.autoStartUrgencies ?? ['Immediate']).includes(info.urgency);
  return {
    action: auto ? 'auto' : 'pending', info, zoneIds, matchedBy, text: capText(info), title: (info.headline ?? info.event).slice(0, 200),
    ...(info.expires ? { expiresAt: new Date(Date.parse(info.expires)).toISOString() } : {}),
  };
}

function rank(lang: string, prefs: readonly string[]): number {
  const i = prefs.findIndex((p) => lang.toLowerCase().startsWith(p.toLowerCase()));
  return i < 0 ? prefs.length : i;
}
