import { LoaError } from '../../shared/errors.js';
import type { Manifest, PriorityLevel, ScheduleEntry } from '../../shared/schemas/manifest.js';
import type { Occurrence } from '../../shared/timeline.js';
import { modelAgentPlays, type ModelDecision, type ModelOutcome, type SkipReason, type WinRule } from './agent-model.js';
import { DAY_MS, formatLocalTime, MINUTE_MS, type LocalClock } from './expand.js';
import { findNightPlays, nightKind, quietWindow, type NightCheck, type NightKind, type QuietHours } from './night.js';
import { ExpansionCache, maxReachMs, windowOccurrences, type EntryProblem } from './occurrences.js';

/**
 * A device's day as its agent will play it: every occurrence of the local date, what becomes of it (on time,
 * late, interrupted, skipped) and why (conflicts, with the winner and the rule that made it win), plus plays in
 * the quiet hours. The decisions come from agent-model.ts, a replay of the agent's scheduler.
 */

/** A compiled manifest, or just the parts of one that the preview needs (as the manifest compiler builds them). */
export type ManifestLike = Manifest | (Pick<Manifest, 'media' | 'programs' | 'schedule'> & Partial<Pick<Manifest, 'deviceId' | 'version' | 'expiresAt'>>);

export interface PreviewOptions {
  quietHours?: QuietHours;
  /** Night examples kept per device (default 5). */
  maxNightExamples?: number;
  /** As the agent's staleGraceMs (default 30 days): past expiry plus this, only emergencies play. */
  staleGraceMs?: number;
  /** Extra time replayed before and after the day so plays that spill over midnight are accounted for (default: twice the longest duration + delay, at most 2 days). */
  marginMs?: number;
  /** Share expansions between calls for the same date (previewZone makes one). */
  cache?: ExpansionCache;
}

export type PlayStatus = 'on_time' | 'delayed' | 'interrupted' | 'cut_short' | 'skipped';

export interface PlannedOccurrence {
  key: string;
  entryId: string;
  programId: string;
  priority: PriorityLevel;
  volume: number;
  durationMs: number;
  maxDelayMs: number;
  onPreempt: ScheduleEntry['onPreempt'];
  outputs: readonly string[];
  /** Scheduled start (UTC ISO) and local `HH:mm` start and end as scheduled. */
  start: string;
  localStart: string;
  localEnd: string;
  endsNextDay: boolean;
  status: PlayStatus;
  /** How late its audio first started (ms), or null if it never plays. */
  lateMs: number | null;
  /** Stretches of audio as the agent will play them. */
  plays: { localFrom: string; localTo: string; offsetMs: number; ended: 'completed' | 'preempted' }[];
  skipReason: SkipReason | null;
  preemptedBy: string[];
  waitedFor: string[];
  /** Whether it starts in or runs into the quiet hours (as played, delays included). */
  night: NightKind | null;
}

export interface ConflictSide {
  key: string;
  entryId: string;
  programId: string;
  priority: PriorityLevel;
  localStart: string;
}

export interface PlanConflict {
  kind: 'preemption' | 'wait';
  localAt: string;
  winner: ConflictSide;
  loser: ConflictSide;
  rule: WinRule;
  /** What became of the loser. */
  result: 'delayed' | 'resumed' | 'restarted' | 'skipped';
  /** delayed: how late it started; resumed/restarted: how long it was held. */
  delayMs: number | null;
  message: string;
}

export interface DayPlan {
  deviceId: string;
  date: string;
  manifestVersion: number | null;
  /** The manifest has expired by the end of the day: the agent plays it flagged stale. */
  stale: boolean;
  /** Expired beyond the grace period during the day: only emergencies play. */
  emergencyOnly: boolean;
  occurrences: PlannedOccurrence[];
  conflicts: PlanConflict[];
  night: NightCheck;
  /** Entries left out because their rule is unsafe or unreadable. */
  problems: EntryProblem[];
}

/** Local midnight of `YYYY-MM-DD` as floating ms. */
export function parseLocalDate(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date) throw new LoaError('LOA_ERR_SCHEMA', `date must be a real local date like 2026-11-23; got ${JSON.stringify(date)}`);
  return t;
}

/** The day's [from, to) in UTC ms. */
export function dayBounds(date: string, clock: LocalClock): { from: number; to: number } {
  const midnight = parseLocalDate(date);
  return { from: clock.toUtc(midnight), to: clock.toUtc(midnight + DAY_MS) };
}

const mins = (ms: number): string => (ms % MINUTE_MS === 0 ? `${ms / MINUTE_MS} min` : `${Math.round(ms / 1000)} s`);

function statusOf(occ: Occurrence, o: ModelOutcome): PlayStatus {
  if (o.spans.length === 0) return 'skipped';
  if (o.skipped) return 'cut_short';
  if (o.spans.length > 1) return 'interrupted';
  return o.spans[0]!.from > occ.start ? 'delayed' : 'on_time';
}

function conflictOf(d: ModelDecision, outcomes: Map<string, ModelOutcome>, clock: LocalClock): PlanConflict {
  const local = (utc: number): string => formatLocalTime(clock.toLocal(utc));
  const side = (o: Occurrence): ConflictSide => ({ key: o.key, entryId: o.entryId, programId: o.programId, priority: o.priority, localStart: local(o.start) });
  const label = (o: Occurrence): string => `"${o.entryId}" (${o.priority}, ${local(o.start)})`;
  const out = outcomes.get(d.loser.key)!;
  const wasPlaying = out.spans.some((s) => s.from < d.at);
  const nextSpan = out.spans.find((s) => s.from >= d.at);
  let result: PlanConflict['result'];
  let delayMs: number | null = null;
  let what: string;
  if (out.skipped && out.skipped.at >= d.at) {
    result = 'skipped';
    what = out.skipped.reason === 'after_preempted' ? 'it is dropped (its entry says onPreempt: skip)'
      : `it is skipped: it could not ${wasPlaying ? 'resume' : 'start'} within its maximum delay of ${mins(d.loser.maxDelayMs)}`;
  } else if (wasPlaying || d.kind === 'preemption') {
    result = d.loser.onPreempt === 'restart' ? 'restarted' : 'resumed';
    delayMs = nextSpan ? nextSpan.from - d.at : null;
    what = `it ${result === 'restarted' ? 'starts again from the beginning' : 'resumes where it stopped'} at ${nextSpan ? local(nextSpan.from) : '?'}`;
  } else {
    result = 'delayed';
    delayMs = nextSpan ? nextSpan.from - d.loser.start : null;
    what = `it starts ${delayMs === null ? 'late' : `${mins(delayMs)} late`} at ${nextSpan ? local(nextSpan.from) : '?'}`;
  }
  const why: Record<WinRule, string> = {
    higher_priority: 'which has a higher priority',
    already_playing: 'which is already playing (equal priorities never interrupt each other)',
    earlier_start: 'which was scheduled earlier',
    entry_id: 'which starts at the same time and comes first by entry id',
  };
  const message = d.kind === 'preemption'
    ? `${label(d.winner)} interrupts ${label(d.loser)} at ${local(d.at)} (higher priority); ${what}.`
    : `${label(d.loser)} waits for ${label(d.winner)}, ${why[d.rule]}; ${what}.`;
  return { kind: d.kind, localAt: local(d.at), winner: side(d.winner), loser: side(d.loser), rule: d.rule, result, delayMs, message };
}

/** The plan of one device for one local date (`YYYY-MM-DD`, Asia/Ho_Chi_Minh). */
export function previewDay(manifest: ManifestLike, date: string, options: PreviewOptions = {}): DayPlan {
  const cache = options.cache ?? new ExpansionCache();
  const clock = cache.clock;
  const { from, to } = dayBounds(date, clock);
  const margin = options.marginMs ?? Math.min(2 * maxReachMs(manifest) + MINUTE_MS, 2 * DAY_MS);
  const { occurrences: all, problems } = windowOccurrences(manifest, from - margin, to + margin, cache);
  const expiresAt = manifest.expiresAt ? Date.parse(manifest.expiresAt) : Infinity;
  const staleGraceMs = options.staleGraceMs ?? 30 * DAY_MS;
  const { outcomes, decisions } = modelAgentPlays(all, { expiresAt, staleGraceMs });
  const inDay = (o: Occurrence): boolean => o.start >= from && o.start < to;
  const day = all.filter(inDay);
  const local = (utc: number): number => clock.toLocal(utc);
  const localMidnight = parseLocalDate(date);
  const quiet = quietWindow(options.quietHours);
  /** How long the occurrence keeps the loudspeakers busy: as scheduled, or until its last audio if later. */
  const busyMs = (occ: Occurrence, o: ModelOutcome): number => Math.max(occ.durationMs, (o.spans[o.spans.length - 1]?.to ?? occ.start) - occ.start);
  const occurrences = day.map((occ): PlannedOccurrence => {
    const o = outcomes.get(occ.key)!;
    const end = local(occ.start + occ.durationMs);
    return {
      key: occ.key, entryId: occ.entryId, programId: occ.programId, priority: occ.priority, volume: occ.volume,
      durationMs: occ.durationMs, maxDelayMs: occ.maxDelayMs, onPreempt: occ.onPreempt, outputs: occ.outputs,
      start: new Date(occ.start).toISOString(), localStart: formatLocalTime(local(occ.start)), localEnd: formatLocalTime(end),
      endsNextDay: end >= localMidnight + DAY_MS, status: statusOf(occ, o),
      lateMs: o.spans[0] ? o.spans[0].from - occ.start : null,
      plays: o.spans.map((s) => ({ localFrom: formatLocalTime(local(s.from)), localTo: formatLocalTime(local(s.to)), offsetMs: s.offsetMs, ended: s.ended })),
      skipReason: o.skipped?.reason ?? null, preemptedBy: o.preemptedBy, waitedFor: o.waitedFor,
      night: nightKind(local(occ.start), busyMs(occ, o), quiet),
    };
  });
  const conflicts = decisions.filter((d) => inDay(d.winner) || inDay(d.loser)).map((d) => conflictOf(d, outcomes, clock));
  const night = findNightPlays(day.map((occ) => ({ start: occ.start, durationMs: busyMs(occ, outcomes.get(occ.key)!), entryId: occ.entryId })), {
    ...(options.quietHours ? { quietHours: options.quietHours } : {}),
    ...(options.maxNightExamples === undefined ? {} : { maxExamples: options.maxNightExamples }),
    zone: clock.zone,
  });
  return {
    deviceId: manifest.deviceId ?? '', date, manifestVersion: manifest.version ?? null,
    stale: expiresAt < to, emergencyOnly: expiresAt + staleGraceMs < to,
    occurrences, conflicts, night, problems,
  };
}

export interface EntryTotals {
  entryId: string;
  devices: number;
  occurrences: number;
  byStatus: Record<PlayStatus, number>;
  nightPlays: number;
}

export interface ZonePlan {
  date: string;
  /** One plan per device, sorted by device id. */
  devices: DayPlan[];
  totals: {
    devices: number;
    occurrences: number;
    conflicts: number;
    byStatus: Record<PlayStatus, number>;
    nightPlays: number;
    devicesWithConflicts: number;
    devicesWithNightPlays: number;
    devicesWithProblems: number;
  };
  /** Per schedule entry, across the zone's devices: where it plays, and how. */
  entries: EntryTotals[];
}

const noStatus = (): Record<PlayStatus, number> => ({ on_time: 0, delayed: 0, interrupted: 0, cut_short: 0, skipped: 0 });

/**
 * The plans of many devices for one date (a zone view), keyed by device id. Distinct rules are expanded once
 * for the whole zone; the replay itself is linear in each device's occurrences.
 */
export function previewZone(manifests: ReadonlyMap<string, ManifestLike>, date: string, options: Omit<PreviewOptions, 'cache'> = {}): ZonePlan {
  const cache = new ExpansionCache();
  let reach = 0;
  for (const m of manifests.values()) reach = Math.max(reach, maxReachMs(m));
  const marginMs = options.marginMs ?? Math.min(2 * reach + MINUTE_MS, 2 * DAY_MS);
  const devices = [...manifests.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([deviceId, m]) => ({ ...previewDay(m, date, { ...options, marginMs, cache }), deviceId }));
  const totals: ZonePlan['totals'] = { devices: devices.length, occurrences: 0, conflicts: 0, byStatus: noStatus(), nightPlays: 0, devicesWithConflicts: 0, devicesWithNightPlays: 0, devicesWithProblems: 0 };
  const entries = new Map<string, EntryTotals>();
  for (const plan of devices) {
    totals.occurrences += plan.occurrences.length;
    totals.conflicts += plan.conflicts.length;
    totals.nightPlays += plan.night.count;
    if (plan.conflicts.length) totals.devicesWithConflicts++;
    if (plan.night.count) totals.devicesWithNightPlays++;
    if (plan.problems.length) totals.devicesWithProblems++;
    const seen = new Set<string>();
    for (const o of plan.occurrences) {
      totals.byStatus[o.status]++;
      let e = entries.get(o.entryId);
      if (!e) entries.set(o.entryId, (e = { entryId: o.entryId, devices: 0, occurrences: 0, byStatus: noStatus(), nightPlays: 0 }));
      if (!seen.has(o.entryId)) e.devices++;
      seen.add(o.entryId);
      e.occurrences++;
      e.byStatus[o.status]++;
      if (o.night) e.nightPlays++;
    }
  }
  return { date, devices, totals, entries: [...entries.values()].sort((a, b) => (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0)) };
}
