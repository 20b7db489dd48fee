/**
 * Schedule validation and preview: pure functions, no I/O, no state kept between calls.
 *
 * Writing a schedule entry:
 *   const summary = checkRecurrence(entry);                   // throws LOA_ERR_RRULE_* / LOA_ERR_SCHEDULE_NEVER_PLAYS
 *   const night = checkEntryNight(entry, programDurationMs);  // night.warning → show it as LOA_WARN_NIGHT_HOURS
 *   requireNightConfirmation(night, body.confirmNightHours === true);
 *   store summary.rrule (the checked rule, without any RRULE: prefix).
 *
 * The checks also refuse what rrule.js 2.8, the receivers' RRULE engine, gets wrong: rules it loops on forever,
 * FREQ=MINUTELY with BYHOUR and a day filter (skips weeks), and time lists out of order (drops plays).
 *
 * Previewing: previewDay(manifest, '2026-11-23') for one device, previewZone(map, date) for many.
 */
export { checkRecurrence, expandRecurrence, DEFAULT_RECURRENCE_LIMITS } from './rules.js';
export type { RecurrenceInput, RecurrenceLimits, RecurrenceSummary, Expansion } from './rules.js';
export { parseRuleText, MAX_RULE_LENGTH } from './rule-text.js';
export type { RuleText, Freq, ParseRuleOptions } from './rule-text.js';
export { checkEntryNight, findNightPlays, requireNightConfirmation, nightKind, quietWindow, DEFAULT_QUIET_HOURS, NIGHT_WARNING_CODE } from './night.js';
export type { NightCheck, NightExample, NightKind, NightOptions, NightPlay, NightWarning, QuietHours } from './night.js';
export { previewDay, previewZone, parseLocalDate } from './preview.js';
export type { ConflictSide, DayPlan, EntryTotals, ManifestLike, PlanConflict, PlannedOccurrence, PlayStatus, PreviewOptions, ZonePlan } from './preview.js';
export { modelAgentPlays } from './agent-model.js';
export type { ModelDecision, ModelOptions, ModelOutcome, ModelResult, PlaySpan, SkipReason, WinRule } from './agent-model.js';
export { ExpansionCache } from './occurrences.js';
export type { EntryProblem } from './occurrences.js';
