import { Readable } from 'node:stream';
import { sha256Hex } from '../../shared/crypto.js';
import { PRIORITY_RANK } from '../../shared/schemas/manifest.js';
import type { Occurrence } from '../../shared/timeline.js';
import { toneWav } from '../../shared/wav.js';

export const COMMAND_PREFIX = 'command:';

/**
 * Where a test tone sits among the scheduler's ranks: above directive ("priority") programs, below live and
 * emergency. A technician standing under the horn wants to hear it now, so it interrupts the regular and
 * directive programme for a few seconds (which resumes by its own onPreempt); but it never interrupts (or
 * delays) a live or emergency broadcast, and an emergency arriving during the tone cuts it at once.
 */
export const TEST_TONE_RANK = PRIORITY_RANK.priority + 0.5;
/** A tone that cannot start within this long (an emergency holds the loudspeakers) is skipped and reported. */
export const TEST_TONE_MAX_DELAY_MS = 60_000;

/** The 1 kHz tone (48 kHz mono 16-bit WAV): the same bytes for the same length, so the media store keeps one copy. */
export function testToneMedia(durationS: number): { bytes: Buffer; sha256: string; size: number; durationMs: number; open(): Readable } {
  const bytes = toneWav({ seconds: durationS, hz: 1000, rate: 48_000, amplitude: 0.5 });
  return { bytes, sha256: sha256Hex(bytes), size: bytes.length, durationMs: durationS * 1000, open: () => Readable.from([bytes]) };
}

/** The tone as a one-off occurrence (Scheduler.addAdhoc), at full volume before the device volume, on every output. */
export function testToneOccurrence(commandId: string, media: { sha256: string; durationMs: number }, at: number): Occurrence {
  return {
    key: `${COMMAND_PREFIX}${commandId}@${new Date(at).toISOString()}`, entryId: `${COMMAND_PREFIX}${commandId}`, programId: `${COMMAND_PREFIX}test_tone`,
    start: at, durationMs: media.durationMs, priority: 'priority', rank: TEST_TONE_RANK, volume: 100, outputs: [],
    // A test interrupted by an emergency is not resumed: it is reported as failed, the technician runs it again.
    onPreempt: 'skip', maxDelayMs: TEST_TONE_MAX_DELAY_MS, items: [{ kind: 'media', ref: media.sha256, durationMs: media.durationMs }],
  };
}
