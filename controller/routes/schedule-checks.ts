import { slideDurationMs } from '../data/programs.js';
import type { AppContext } from '../http/context.js';
import { checkEntryNight, requireNightConfirmation, type NightWarning } from '../schedules/night.js';
import { checkRecurrence } from '../schedules/rules.js';

export interface ScheduleCheckInput {
  dtstart: string;
  rrule: string | null;
  validFrom: number | null;
  validUntil: number | null;
  programId: string;
  confirmNightHours: boolean;
}

/** How long a program plays: its media and stream items, in order. */
export function programDurationMs(ctx: AppContext, programId: string): number {
  return ctx.data.programs.require(programId).items.reduce((sum, it) => sum + (it.kind === 'media' ? ctx.data.media.get(it.mediaId)?.durationMs ?? 0
    : it.kind === 'image' || it.kind === 'video' ? slideDurationMs(it, ctx.data.media.get(it.mediaId)?.durationMs ?? 0) : it.durationMs), 0);
}

/**
 * The checks a schedule passes before it is stored or approved: the rule parses, ends, is not too frequent
 * (controller/schedules/rules.ts), and plays in the quiet hours 22:00–05:00 only when confirmed. Returns the
 * night warning (also when confirmed) so the UI can show it.
 */
export function checkSchedule(ctx: AppContext, s: ScheduleCheckInput): NightWarning[] {
  const input = { dtstart: s.dtstart, rrule: s.rrule, validFrom: s.validFrom, validUntil: s.validUntil };
  checkRecurrence(input);
  const night = checkEntryNight(input, programDurationMs(ctx, s.programId));
  requireNightConfirmation(night, s.confirmNightHours);
  return night.warning ? [night.warning] : [];
}
