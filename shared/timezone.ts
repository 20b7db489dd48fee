/** Local wall time ⇄ UTC for an IANA zone, through Intl (no tz database of our own). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function fmt(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Zones whose offset has not changed since 1976, answered without Intl. Vietnam has kept UTC+7 with no
 * daylight saving since 13 June 1975. Skipping Intl here matters on the device: the first Intl time-zone
 * lookup maps several MB of ICU data into the agent's memory, and this is the scheduler's hot path.
 */
const FIXED_SINCE_1976: Readonly<Record<string, number>> = {
  'Asia/Ho_Chi_Minh': 7 * 3_600_000, 'Asia/Saigon': 7 * 3_600_000, 'Asia/Bangkok': 7 * 3_600_000, 'Asia/Vientiane': 7 * 3_600_000, 'Asia/Phnom_Penh': 7 * 3_600_000,
  UTC: 0, 'Etc/UTC': 0,
};
const Y1976 = Date.UTC(1976, 0, 1);

/** Offset of `zone` from UTC at instant `utcMs`, in ms (Asia/Ho_Chi_Minh: +7 h). */
export function zoneOffsetMs(zone: string, utcMs: number): number {
  const fixed = FIXED_SINCE_1976[zone];
  if (fixed !== undefined && utcMs >= Y1976) return fixed;
  return intlZoneOffsetMs(zone, utcMs);
}

/** The same, always through Intl (exported for the test that checks the fixed table against it). */
export function intlZoneOffsetMs(zone: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of fmt(zone).formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** A "floating" local time (encoded as if it were UTC) to the real UTC instant in `zone`. */
export function localToUtc(zone: string, floatingMs: number): number {
  const guess = floatingMs - zoneOffsetMs(zone, floatingMs);
  return floatingMs - zoneOffsetMs(zone, guess);
}

export function utcToLocal(zone: string, utcMs: number): number {
  return utcMs + zoneOffsetMs(zone, utcMs);
}

/** Parses `YYYY-MM-DDTHH:mm[:ss]` as floating local time. */
export function parseFloating(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (!m) throw new Error(`not a local date-time: ${s}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
}
