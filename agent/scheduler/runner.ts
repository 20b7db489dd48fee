import { LoaError } from '../../shared/errors.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink, PlayRequest, PlayResult } from '../../shared/player.js';
import type { Occurrence, TimelineItem } from '../../shared/timeline.js';

export interface MediaLookup {
  pathOf(sha256: string): string;
  has(sha256: string): boolean;
}

/** What the runner needs of a board's display (agent/display DisplaySurface implements it). */
export interface SlideDisplay {
  /** Shows slide `index` of the occurrence from `offsetMs` into it; resolves like an audio play (never rejects). */
  show(req: { occ: Occurrence; index: number; item: TimelineItem; offsetMs: number }, signal: AbortSignal): Promise<PlayResult>;
}

export interface ProgramResult {
  /** completed: reached the end; aborted: stopped from outside; failed: no item could play. */
  status: 'completed' | 'aborted' | 'failed';
  /** Position in the program when it ended (ms from its start). */
  positionMs: number;
  /** ms actually played in this attempt. */
  playedMs: number;
  failures: { index: number; code: string; message: string }[];
}

/**
 * Plays one occurrence's program from `offsetMs`, item after item, through the audio sink. Tracks the
 * position so that a preemption or a crash can resume where it left off. A missing or failing item is
 * reported and skipped: the rest of the program still plays.
 */
export class ProgramRunner {
  private itemStartedMono = 0;
  private itemStartPos = 0;
  private playing = false;

  constructor(private readonly options: {
    sink: AudioSink; media: MediaLookup; clock: Clock; log: Logger; volumeOf?: (occ: Occurrence) => number; display?: SlideDisplay | null;
    onItemFault?: (occ: Occurrence, index: number, err: LoaError) => void;
  }) {}

  /** Current position in the program, ms (for checkpoints). */
  position(): number {
    return this.playing ? this.itemStartPos + (this.options.clock.monotonic() - this.itemStartedMono) : this.itemStartPos;
  }

  async run(occ: Occurrence, offsetMs: number, signal: AbortSignal): Promise<ProgramResult> {
    const failures: ProgramResult['failures'] = [];
    let itemStart = 0;
    let played = 0;
    let anyPlayed = false;
    this.itemStartPos = offsetMs;
    for (let i = 0; i < occ.items.length; i++) {
      const item = occ.items[i]!;
      const itemEnd = itemStart + item.durationMs;
      if (itemEnd <= offsetMs) {
        itemStart = itemEnd;
        continue;
      }
      if (signal.aborted) return { status: 'aborted', positionMs: Math.max(itemStart, offsetMs), playedMs: played, failures };
      const inner = Math.max(0, offsetMs - itemStart);
      const volume = this.options.volumeOf?.(occ) ?? occ.volume;
      let req: PlayRequest | null = null;
      if (item.kind === 'slide') {
        // Slides are for boards: a receiver without a display role passes over them without using time.
        if (!this.options.display) {
          itemStart = itemEnd;
          continue;
        }
      } else if (item.kind === 'media') {
        if (!this.options.media.has(item.ref)) {
          const err = new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `media ${item.ref.slice(0, 12)}… of program ${occ.programId} is missing or corrupt`);
          failures.push({ index: i, code: err.code, message: err.message });
          this.options.onItemFault?.(occ, i, err);
          itemStart = itemEnd;
          continue;
        }
        req = { key: occ.key, source: { kind: 'file', path: this.options.media.pathOf(item.ref), sha256: item.ref, durationMs: item.durationMs }, offsetMs: inner, volume };
      } else {
        req = { key: occ.key, source: { kind: 'stream', url: item.ref, durationMs: item.durationMs }, offsetMs: inner, volume };
      }
      this.itemStartPos = itemStart + inner;
      this.itemStartedMono = this.options.clock.monotonic();
      this.playing = true;
      let res: PlayResult;
      try {
        res = req ? await this.options.sink.play(req, signal) : await this.options.display!.show({ occ, index: i, item, offsetMs: inner }, signal);
      } finally {
        this.playing = false;
      }
      played += res.playedMs;
      this.itemStartPos = itemStart + inner + res.playedMs;
      if (res.status === 'aborted') return { status: 'aborted', positionMs: this.itemStartPos, playedMs: played, failures };
      if (res.status === 'failed') {
        const err = res.error ?? new LoaError('LOA_ERR_PLAYER_FAILED');
        failures.push({ index: i, code: err.code, message: err.message });
        this.options.onItemFault?.(occ, i, err);
      } else {
        anyPlayed = true;
      }
      itemStart = itemEnd;
      this.itemStartPos = itemStart;
    }
    return { status: anyPlayed || failures.length === 0 ? 'completed' : 'failed', positionMs: itemStart, playedMs: played, failures };
  }
}
