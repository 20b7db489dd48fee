/**
 * When an install step (unpack, switch, restart) may run (issue 11): inside one of the deployment's maintenance
 * windows (local time, Asia/Ho_Chi_Minh; none given: any time), and never while something plays — an emergency,
 * a live relay or a regular program — or while a scheduled broadcast is due within the margin. Emergency always
 * wins: the gate is asked again right before the switch and the restart.
 */
import type { MaintenanceWindow } from '../../shared/schemas/release.js';
import { utcToLocal } from '../../shared/timezone.js';

/** What the gate reads from the running agent (read-only: the scheduler's view). */
export interface BroadcastView {
  nowPlaying(): { entryId: string; priority: string } | null;
  /** The start (epoch ms) of the next broadcast that has not played yet, or null. */
  nextStart(): number | null;
}

export type GateVerdict = { ok: true } | { ok: false; why: string };

const DAY = 86_400_000;
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** True when `now` falls in one of the windows (end < start spans midnight; start = end is the whole day). */
export function inWindows(windows: readonly MaintenanceWindow[] | undefined, now: number, zone = 'Asia/Ho_Chi_Minh'): boolean {
  if (!windows || windows.length === 0) return true;
  const local = utcToLocal(zone, now);
  const m = Math.floor((((local % DAY) + DAY) % DAY) / 60_000);
  return windows.some((w) => {
    const s = minutes(w.start);
    const e = minutes(w.end);
    if (s === e) return true;
    return s < e ? m >= s && m < e : m >= s || m < e;
  });
}

export function installGate(o: { view: BroadcastView; windows?: readonly MaintenanceWindow[] | undefined; now: number; marginMs: number }): GateVerdict {
  if (!inWindows(o.windows, o.now)) return { ok: false, why: `outside the maintenance windows (${(o.windows ?? []).map((w) => `${w.start}–${w.end}`).join(', ')})` };
  const playing = o.view.nowPlaying();
  if (playing) return { ok: false, why: `a ${playing.priority} broadcast is playing (${playing.entryId})` };
  const next = o.view.nextStart();
  if (next !== null && next - o.now < o.marginMs) return { ok: false, why: `a broadcast is due at ${new Date(next).toISOString()}` };
  return { ok: true };
}
