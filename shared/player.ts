import type { LoaError } from './errors.js';

/** What one play asks of the audio sink. */
export interface PlayRequest {
  /** Occurrence key (entry id + scheduled start), for logs and play logs. */
  key: string;
  source:
    | { kind: 'file'; path: string; sha256: string; durationMs: number }
    | { kind: 'stream'; url: string; durationMs: number };
  /** Start this far into the item (resume after preemption or restart). */
  offsetMs: number;
  /** 0–100. */
  volume: number;
}

export interface StreamGap {
  /** Wall-clock ms when the stream dropped and when it came back (or the window ended). */
  from: number;
  to: number;
  reason: string;
}

export interface PlayResult {
  status: 'completed' | 'aborted' | 'failed';
  /** How much of the item played, ms (from offsetMs). */
  playedMs: number;
  error?: LoaError;
  /** For streams: drop-outs that were bridged by reconnecting. */
  gaps?: StreamGap[];
}

/**
 * The audio sink (DESIGN §4 player). `play` resolves when the item ends, fails, or the signal aborts
 * (preemption or shutdown); it never rejects. Sinks take their clock by injection.
 */
export interface AudioSink {
  readonly kind: string;
  /** Checks the output exists (e.g. the ALSA device). Rejects with LOA_ERR_AUDIO_DEVICE_NOT_FOUND. */
  check(): Promise<void>;
  play(req: PlayRequest, signal: AbortSignal): Promise<PlayResult>;
  /** Optional hook: called with each gap as it is bridged, so it can be reported at once. */
  onGap?: (key: string, gap: StreamGap) => void;
}
