import { fileTypeFromBuffer } from 'file-type';
import { LoaError } from '../../shared/errors.js';
import { probeMedia, type ProbeResult } from './probe.js';
import type { MediaTools } from './tools.js';

/** file-type's recommended sample: enough for every format it knows (it skips ID3 tags itself). */
export const SNIFF_HEAD_BYTES = 4100;

/**
 * The containers accepted for upload, by file-type's `ext`, with the only ffmpeg demuxer allowed to open each.
 * Video containers are listed because audio-only webm/mp4 look like video to a magic-number check; ffprobe then
 * has to find an audio stream in them (any video is dropped when transcoding).
 */
export const ACCEPTED_CONTAINERS: Readonly<Record<string, string>> = Object.freeze({
  wav: 'wav',
  mp3: 'mp3',
  ogg: 'ogg', oga: 'ogg', opus: 'ogg', spx: 'ogg', ogv: 'ogg',
  flac: 'flac',
  m4a: 'mov', m4b: 'mov', mp4: 'mov', mov: 'mov', '3gp': 'mov', '3g2': 'mov',
  webm: 'matroska', mkv: 'matroska',
  aac: 'aac',
  aif: 'aiff',
  amr: 'amr',
  asf: 'asf',
});

/** Every demuxer in the table: the only ones ffprobe may pick. */
export const ACCEPTED_DEMUXERS: readonly string[] = [...new Set(Object.values(ACCEPTED_CONTAINERS))];

export interface SniffedContainer {
  /** file-type's extension, e.g. `m4a`. */
  ext: string;
  /** file-type's MIME type, e.g. `audio/x-m4a` (from the bytes, never from the client). */
  mime: string;
  /** The ffmpeg demuxer for this container. */
  demuxer: string;
}

export interface SniffResult {
  container: SniffedContainer;
  probe: ProbeResult & { audio: NonNullable<ProbeResult['audio']> };
}

function notAudio(message: string, details?: Record<string, unknown>): LoaError {
  return new LoaError('LOA_ERR_MEDIA_NOT_AUDIO', message, details ? { details } : {});
}

/**
 * Checks the first bytes of an upload (at least SNIFF_HEAD_BYTES of them, or the whole file if it is shorter)
 * against the audio containers. Anything else (an image, text, an executable, a zip, unknown bytes) is
 * LOA_ERR_MEDIA_NOT_AUDIO. The client's file name and content type play no part.
 */
export async function sniffHead(head: Uint8Array): Promise<SniffedContainer> {
  const type = await fileTypeFromBuffer(head);
  if (!type) throw notAudio('The file is not a known audio format');
  const demuxer = ACCEPTED_CONTAINERS[type.ext];
  if (!demuxer) throw notAudio(`The file is ${type.mime}, not audio`, { detected: type.mime });
  return { ext: type.ext, mime: type.mime, demuxer };
}

/**
 * The full check of a file on disk: its first bytes name an accepted container, ffprobe (limited to the
 * accepted demuxers, auto-detecting) agrees on the container, and finds an audio stream. Rejects with
 * LOA_ERR_MEDIA_NOT_AUDIO. The demuxer in the result is the one to force on every later ffmpeg run.
 */
export async function sniffAudio(
  tools: MediaTools,
  path: string,
  head: Uint8Array,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<SniffResult> {
  const container = await sniffHead(head);
  // Auto-detection, not `-f`: a forced demuxer reads junk that merely starts with a frame sync as "audio".
  const probe = await probeMedia(tools, path, { ...options, formatWhitelist: ACCEPTED_DEMUXERS, errorCode: 'LOA_ERR_MEDIA_NOT_AUDIO' });
  if (probe.demuxer !== container.demuxer) {
    throw notAudio(`The file looks like ${container.mime} but decodes as ${probe.formatName || 'nothing'}`, { detected: container.mime, formatName: probe.formatName });
  }
  const { audio } = probe;
  if (!audio || !audio.codec) throw notAudio(probe.hasVideo ? 'The file is a video without sound' : 'The file has no audio stream', { detected: container.mime });
  if (!(audio.channels > 0 && audio.sampleRate > 0)) throw notAudio('The audio stream has no channels or no sample rate', { codec: audio.codec });
  return { container: { ...container, demuxer: probe.demuxer }, probe: { ...probe, audio } };
}
