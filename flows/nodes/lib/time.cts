import { badInput } from './client.cjs';

const HOUR = 3_600_000;

/** `YYYY-MM-DDTHH:MM` in Asia/Ho_Chi_Minh (UTC+7, no daylight saving) for the next `HH:MM` after `now`. */
export function nextLocal(hhmm: string, now: number): string {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw badInput(`the time must be HH:MM, not "${hhmm}"`, `Giờ phát phải có dạng HH:MM, không phải "${hhmm}"`);
  const local = new Date(now + 7 * HOUR);
  const at = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), Number(m[1]), Number(m[2]));
  const when = at > local.getTime() + 60_000 ? at : at + 24 * HOUR;
  return new Date(when).toISOString().slice(0, 16);
}
