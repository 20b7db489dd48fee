import type { Daypart } from '../../shared/schemas/slides.js';
import { utcToLocal } from '../../shared/timezone.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Local minute of the day (0–1439) and ISO weekday (1 = Monday) in the manifest zone. */
export function localTimeOfDay(utcMs: number, zone = ZONE): { minute: number; weekday: number } {
  const d = new Date(utcToLocal(zone, utcMs));
  return { minute: d.getUTCHours() * 60 + d.getUTCMinutes(), weekday: ((d.getUTCDay() + 6) % 7) + 1 };
}

/**
 * True when `utcMs` falls in one of the windows (none = always). A window whose `to` is not after its `from`
 * wraps past midnight and belongs to the day it starts on (22:00–02:00 on Friday covers Saturday 01:00).
 */
export function inDayparts(parts: readonly Daypart[] | undefined, utcMs: number, zone = ZONE): boolean {
  if (!parts || parts.length === 0) return true;
  const { minute, weekday } = localTimeOfDay(utcMs, zone);
  const yesterday = weekday === 1 ? 7 : weekday - 1;
  return parts.some((p) => {
    const from = minutes(p.from);
    const to = minutes(p.to);
    const onDay = (d: number): boolean => !p.days || p.days.includes(d);
    if (from < to) return onDay(weekday) && minute >= from && minute < to;
    return (onDay(weekday) && minute >= from) || (onDay(yesterday) && minute < to);
  });
}

/** The level in force at `utcMs` in a "from HH:MM on, level" schedule (the day's last entry wraps past midnight). */
export function levelAt(schedule: readonly { from: string; level: number }[], utcMs: number, zone = ZONE): number | null {
  if (schedule.length === 0) return null;
  const sorted = [...schedule].sort((a, b) => minutes(a.from) - minutes(b.from));
  const { minute } = localTimeOfDay(utcMs, zone);
  let level = sorted[sorted.length - 1]!.level;
  for (const s of sorted) if (minutes(s.from) <= minute) level = s.level;
  return level;
}
