import type { Clock } from '../../shared/clock.js';
import { AbortError } from '../../shared/clock.js';
import type { AudioSink, PlayRequest, PlayResult } from '../../shared/player.js';
import type { SchedulerOutputs } from '../../agent/scheduler/scheduler.js';

export interface RecordedPlay {
  key: string;
  ref: string;
  offsetMs: number;
  volume: number;
  startedAt: number;
  endedAt?: number;
  status?: PlayResult['status'];
}

/** An in-memory audio sink for scheduler unit tests: plays take clock time and are recorded. */
export class RecordingSink implements AudioSink {
  readonly kind = 'recording';
  readonly plays: RecordedPlay[] = [];
  constructor(private readonly clock: Clock, private readonly failRefs: ReadonlySet<string> = new Set()) {}
  check(): Promise<void> {
    return Promise.resolve();
  }
  async play(req: PlayRequest, signal: AbortSignal): Promise<PlayResult> {
    const ref = req.source.kind === 'file' ? req.source.sha256 : req.source.url;
    const rec: RecordedPlay = { key: req.key, ref, offsetMs: req.offsetMs, volume: req.volume, startedAt: this.clock.now() };
    this.plays.push(rec);
    const mono = this.clock.monotonic();
    if (this.failRefs.has(ref)) {
      rec.status = 'failed';
      rec.endedAt = this.clock.now();
      return { status: 'failed', playedMs: 0 };
    }
    try {
      await this.clock.sleep(req.source.durationMs - req.offsetMs, signal);
      rec.status = 'completed';
    } catch (e) {
      if (!(e instanceof AbortError)) throw e;
      rec.status = 'aborted';
    }
    rec.endedAt = this.clock.now();
    return { status: rec.status, playedMs: this.clock.monotonic() - mono };
  }
}

/** Records engage/release with times; warm-up per zone. */
export class RecordingOutputs implements SchedulerOutputs {
  readonly log: { at: number; op: 'engage' | 'release'; zones: readonly string[] }[] = [];
  constructor(private readonly clock: Clock, private readonly warm = 2000, private readonly emergencyWarm = 500) {}
  warmupMs(_zones: readonly string[], emergency: boolean): number {
    return emergency ? this.emergencyWarm : this.warm;
  }
  engage(zones: readonly string[]): Promise<void> {
    this.log.push({ at: this.clock.now(), op: 'engage', zones });
    return Promise.resolve();
  }
  release(zones: readonly string[]): void {
    this.log.push({ at: this.clock.now(), op: 'release', zones });
  }
}
