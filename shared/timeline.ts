import { RRule } from './rrule.js';
import { PRIORITY_RANK, type Manifest, type PriorityLevel, type ScheduleEntry } from './schemas/manifest.js';
import { isSlide, slideMedia, type SlideItem } from './schemas/slides.js';
import { localToUtc, parseFloating, utcToLocal } from './timezone.js';

export interface TimelineItem {
  kind: 'media' | 'stream' | 'slide';
  /** sha256 for media, URL for streams, the file (sha256) or the kind of a slide. */
  ref: string;
  durationMs: number;
  /** For slides: what the board shows. */
  slide?: SlideItem;
}

/** One planned play of a schedule entry. */
export interface Occurrence {
  /** Stable identity: entry id + scheduled start (ISO). Keys proof-of-play and de-duplication. */
  key: string;
  entryId: string;
  programId: string;
  start: number;
  durationMs: number;
  priority: PriorityLevel;
  rank: number;
  volume: number;
  outputs: readonly string[];
  onPreempt: ScheduleEntry['onPreempt'];
  maxDelayMs: number;
  items: readonly TimelineItem[];
  /** Emergency orders: what a board shows full screen while the order plays. */
  alert?: { title: string; text?: string };
}

export function occurrenceKey(entryId: string, start: number): string {
  return `${entryId}@${new Date(start).toISOString()}`;
}

/** Deterministic order: start, then higher rank first, then entry id. */
export function compareOccurrences(a: Occurrence, b: Occurrence): number {
  return a.start - b.start || b.rank - a.rank || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0);
}

interface CompiledEntry {
  entry: ScheduleEntry;
  rule: RRule | null;
  dtstartFloating: number;
  validFrom: number;
  validUntil: number;
  items: TimelineItem[];
  durationMs: number;
}

/**
 * Expands a manifest's RRULEs into occurrences. RRULEs are evaluated in "floating" local time (the manifest's
 * zone, Asia/Ho_Chi_Minh) and each result is converted to UTC, so "every day at 06:00" means 06:00 in Vietnam
 * whatever the device's TZ setting. Compile once per manifest, then call `between` as the horizon moves.
 */
export class Timeline {
  private readonly entries: CompiledEntry[];
  readonly maxDurationMs: number;
  /** How long after its start an occurrence may still play: duration plus allowed delay, the largest. */
  readonly maxReachMs: number;

  constructor(private readonly manifest: Manifest) {
    const media = new Map(manifest.media.map((m) => [m.sha256, m]));
    const programs = new Map(manifest.programs.map((p) => [p.id, p]));
    this.entries = manifest.schedule.map((entry) => {
      const program = programs.get(entry.programId);
      const items: TimelineItem[] = (program?.items ?? []).map((it) =>
        it.kind === 'media'
          ? { kind: 'media', ref: it.sha256, durationMs: media.get(it.sha256)?.durationMs ?? 0 }
          : isSlide(it) ? { kind: 'slide', ref: slideMedia(it) ?? it.kind, durationMs: it.durationMs, slide: it }
            : { kind: 'stream', ref: it.url, durationMs: it.durationMs });
      const dtstartFloating = parseFloating(entry.dtstart);
      let rule: RRule | null = null;
      if (entry.rrule) {
        const opts = RRule.parseString(entry.rrule.replace(/^RRULE:/, ''));
        rule = new RRule({ ...opts, dtstart: new Date(dtstartFloating), tzid: null });
      }
      return {
        entry, rule, dtstartFloating, items,
        durationMs: items.reduce((s, i) => s + i.durationMs, 0),
        validFrom: entry.validFrom ? Date.parse(entry.validFrom) : -Infinity,
        validUntil: entry.validUntil ? Date.parse(entry.validUntil) : Infinity,
      };
    });
    this.maxDurationMs = this.entries.reduce((m, e) => Math.max(m, e.durationMs), 0);
    this.maxReachMs = this.entries.reduce((m, e) => Math.max(m, e.durationMs + e.entry.maxDelayMs), 0);
  }

  get version(): number {
    return this.manifest.version;
  }

  /** Occurrences whose start is in [from, to), sorted deterministically. */
  between(from: number, to: number): Occurrence[] {
    const zone = this.manifest.timezone;
    const out: Occurrence[] = [];
    // Widen by 3 h in floating time so a DST shift never cuts an occurrence off; filter exactly afterwards.
    const fFrom = new Date(utcToLocal(zone, from) - 3 * 3_600_000);
    const fTo = new Date(utcToLocal(zone, to) + 3 * 3_600_000);
    for (const c of this.entries) {
      const starts = c.rule ? c.rule.between(fFrom, fTo, true).map((d) => d.getTime()) : [c.dtstartFloating];
      for (const floating of starts) {
        const start = localToUtc(zone, floating);
        if (start < from || start >= to || start < c.validFrom || start >= c.validUntil) continue;
        const e = c.entry;
        out.push({
          key: occurrenceKey(e.id, start), entryId: e.id, programId: e.programId, start, durationMs: c.durationMs,
          priority: e.priority, rank: PRIORITY_RANK[e.priority], volume: e.volume, outputs: e.outputs,
          onPreempt: e.onPreempt, maxDelayMs: e.maxDelayMs, items: c.items,
        });
      }
    }
    return out.sort(compareOccurrences);
  }
}
