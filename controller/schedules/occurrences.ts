import { isSlide, slideMedia } from '../../shared/schemas/slides.js';
import { LoaError, toLoaError, type ErrorCode } from '../../shared/errors.js';
import { PRIORITY_RANK, type Manifest, type ScheduleEntry } from '../../shared/schemas/manifest.js';
import { compareOccurrences, occurrenceKey, type Occurrence, type TimelineItem } from '../../shared/timeline.js';
import { compileRule, iterateFloating, LocalClock, parseLocalDateTime } from './expand.js';
import { parseRuleText, type RuleText } from './rule-text.js';

/**
 * A manifest's occurrences in a time window, exactly as the agent's `Timeline.between` gives them
 * (shared/timeline.ts: same floating-time evaluation, 3 h widening, validity filter, keys and order), but with
 * every RRULE first checked so that it cannot hang rrule.js, and with expansions shared between devices: in a
 * zone most devices carry the same entries, and rrule.js always iterates from dtstart (about 4 ms per entry
 * per year of history), so a zone preview expands each distinct rule once.
 */

/** An entry left out of the preview because the agent would misread it or could stall on it. */
export interface EntryProblem {
  entryId: string;
  code: ErrorCode;
  message: string;
}

/** Expansions shared across devices for one window. Make one per preview; it is not global. */
export class ExpansionCache {
  readonly rules = new Map<string, RuleText | LoaError>();
  readonly starts = new Map<string, readonly { floating: number; utc: number }[]>();
  readonly clock: LocalClock;
  constructor(readonly zone: string = 'Asia/Ho_Chi_Minh') {
    this.clock = new LocalClock(zone);
  }
}

export interface WindowOccurrences {
  occurrences: Occurrence[];
  problems: EntryProblem[];
}

function itemsOf(manifest: Pick<Manifest, 'media' | 'programs'>): (programId: string) => TimelineItem[] {
  const media = new Map(manifest.media.map((m) => [m.sha256, m]));
  const programs = new Map(manifest.programs.map((p) => [p.id, p]));
  return (programId) => (programs.get(programId)?.items ?? []).map((it): TimelineItem =>
    it.kind === 'media'
      ? { kind: 'media', ref: it.sha256, durationMs: media.get(it.sha256)?.durationMs ?? 0 }
      : isSlide(it) ? { kind: 'slide', ref: slideMedia(it) ?? it.kind, durationMs: it.durationMs, slide: it }
        : { kind: 'stream', ref: it.url, durationMs: it.durationMs });
}

/** As Timeline.maxReachMs: the longest duration + maxDelayMs among the manifest's entries. */
export function maxReachMs(manifest: Pick<Manifest, 'media' | 'programs' | 'schedule'>): number {
  const items = itemsOf(manifest);
  return manifest.schedule.reduce((m, e) => Math.max(m, items(e.programId).reduce((s, i) => s + i.durationMs, 0) + e.maxDelayMs), 0);
}

/** The floating starts (and their UTC instants) of one entry's rule within [fFrom, fTo], cached. */
function startsOf(entry: ScheduleEntry, dtstart: number, fFrom: number, fTo: number, cache: ExpansionCache): readonly { floating: number; utc: number }[] {
  const ruleKey = `${entry.dtstart}|${entry.rrule ?? ''}`;
  let rule = cache.rules.get(ruleKey);
  if (!rule) {
    try {
      rule = parseRuleText(entry.rrule!.replace(/^RRULE:/, ''), dtstart, { strict: false });
    } catch (e) {
      rule = toLoaError(e, 'LOA_ERR_RRULE_INVALID');
    }
    cache.rules.set(ruleKey, rule);
  }
  if (rule instanceof LoaError) throw rule;
  const key = `${ruleKey}|${fFrom}|${fTo}`;
  let starts = cache.starts.get(key);
  if (!starts) {
    const out: { floating: number; utc: number }[] = [];
    iterateFloating(compileRule(rule, dtstart), fTo, (f) => {
      if (f >= fFrom) out.push({ floating: f, utc: cache.clock.toUtc(f) });
      return true;
    });
    starts = out;
    cache.starts.set(key, starts);
  }
  return starts;
}

/** Occurrences whose start is in [from, to) (UTC ms), sorted as the Timeline sorts them. */
export function windowOccurrences(manifest: Pick<Manifest, 'media' | 'programs' | 'schedule'>, from: number, to: number, cache: ExpansionCache): WindowOccurrences {
  const items = itemsOf(manifest);
  const clock = cache.clock;
  const fFrom = clock.toLocal(from) - 3 * 3_600_000;
  const fTo = clock.toLocal(to) + 3 * 3_600_000;
  const occurrences: Occurrence[] = [];
  const problems: EntryProblem[] = [];
  for (const e of manifest.schedule) {
    const its = items(e.programId);
    const durationMs = its.reduce((s, i) => s + i.durationMs, 0);
    let starts: readonly { floating: number; utc: number }[];
    try {
      const dtstart = parseLocalDateTime(e.dtstart);
      starts = e.rrule ? startsOf(e, dtstart, fFrom, fTo, cache) : [{ floating: dtstart, utc: clock.toUtc(dtstart) }];
    } catch (err) {
      const le = toLoaError(err, 'LOA_ERR_RRULE_INVALID');
      problems.push({ entryId: e.id, code: le.code, message: le.message });
      continue;
    }
    const validFrom = e.validFrom ? Date.parse(e.validFrom) : -Infinity;
    const validUntil = e.validUntil ? Date.parse(e.validUntil) : Infinity;
    for (const { utc: start } of starts) {
      if (start < from || start >= to || start < validFrom || start >= validUntil) continue;
      occurrences.push({
        key: occurrenceKey(e.id, start), entryId: e.id, programId: e.programId, start, durationMs,
        priority: e.priority, rank: PRIORITY_RANK[e.priority], volume: e.volume, outputs: e.outputs,
        onPreempt: e.onPreempt, maxDelayMs: e.maxDelayMs, items: its,
      });
    }
  }
  return { occurrences: occurrences.sort(compareOccurrences), problems };
}
