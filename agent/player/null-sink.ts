import type { Clock } from '../../shared/clock.js';
import type { AudioSink, PlayRequest, PlayResult } from '../../shared/player.js';

export interface NullSinkOptions {
  clock: Clock;
}

/** For receivers without audio (a display-only board): each play waits its length on the clock and records nothing. */
export class NullSink implements AudioSink {
  readonly kind = 'none';
  private readonly o: NullSinkOptions;

  constructor(options: NullSinkOptions) {
    this.o = options;
  }

  check(): Promise<void> {
    return Promise.resolve();
  }

  async play(req: PlayRequest, signal: AbortSignal): Promise<PlayResult> {
    const { clock } = this.o;
    const startedAt = clock.now();
    const lengthMs = Math.max(0, req.source.durationMs - Math.max(0, req.offsetMs));
    try {
      await clock.sleep(lengthMs, signal);
      return { status: 'completed', playedMs: lengthMs };
    } catch {
      return { status: 'aborted', playedMs: Math.min(lengthMs, Math.max(0, clock.now() - startedAt)) };
    }
  }
}
