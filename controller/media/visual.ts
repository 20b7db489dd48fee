import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastLines, runTool } from './exec.js';
import { inputArgs } from './probe.js';
import type { MediaTools } from './tools.js';
import { probeVisual, type VisualProbe } from './visual-probe.js';

/**
 * Pictures and videos for board slides (issue 8). Every one is decoded and re-encoded by ffmpeg, never stored
 * as uploaded: the decode proves the file is whole, the encode drops EXIF/XMP (a phone photo's GPS position),
 * applies the EXIF rotation that would otherwise be lost with it, and bounds the resolution, so a 48-megapixel
 * photo does not cost a kiosk's memory for a 1080p screen.
 */

/** Images keep their format (PNG stays lossless for posters with text; JPEG at q 2 is visually lossless). */
export const IMAGE_FORMATS: Readonly<Record<string, { demuxer: string; codec: string; mime: string; encode: readonly string[] }>> = Object.freeze({
  png: { demuxer: 'png_pipe', codec: 'png', mime: 'image/png', encode: ['-c:v', 'png'] },
  jpg: { demuxer: 'jpeg_pipe', codec: 'mjpeg', mime: 'image/jpeg', encode: ['-c:v', 'mjpeg', '-q:v', '2'] },
  webp: { demuxer: 'webp_pipe', codec: 'webp', mime: 'image/webp', encode: ['-c:v', 'libwebp', '-quality', '90'] },
});

/** Video containers accepted for board videos, by file-type's `ext`, with the one demuxer allowed to open each. */
export const VIDEO_CONTAINERS: Readonly<Record<string, string>> = Object.freeze({
  mp4: 'mov', m4v: 'mov', mov: 'mov', '3gp': 'mov', '3g2': 'mov',
  webm: 'matroska', mkv: 'matroska',
});

/**
 * The one video format boards play: VP9 in WebM, no sound. Debian's Chromium decodes it without proprietary
 * codecs. No audio track: a board's sound goes through the agent's player (relays, volume, emergency
 * pre-emption); a soundtrack played by the kiosk browser would bypass all of that. Put an audio item next to
 * the video slide in the program instead.
 */
export const VIDEO_FORMAT = Object.freeze({
  mime: 'video/webm', container: 'webm', demuxer: 'matroska', codec: 'vp9', encoder: 'libvpx-vp9',
  /** Longest side, px (1080p; a 4K source is scaled down). */
  maxSide: 1920,
  maxFps: 30,
  /** Constrained quality: CRF 33, at most 2 Mb/s on average. */
  crf: 33,
  maxBitrate: 2_000_000,
} as const);

export interface VisualLimits {
  /** Longest side of a stored picture, px. Default 3840 (4K UHD). */
  maxImageSide: number;
  /** A picture with more pixels than this (before scaling) is refused: a decompression bomb. Default 100 MP. */
  maxImagePixels: number;
  /** Upload cap for pictures, bytes. Default 30 MiB. */
  maxImageBytes: number;
  /** Longest video, ms. Default 30 minutes. */
  maxVideoDurationMs: number;
}

export const DEFAULT_VISUAL_LIMITS: Readonly<VisualLimits> = Object.freeze({
  maxImageSide: 3840, maxImagePixels: 100_000_000, maxImageBytes: 30 * 1024 * 1024, maxVideoDurationMs: 30 * 60_000,
});

export interface VisualOptions {
  tools: MediaTools;
  input: string;
  output: string;
  limits: VisualLimits;
  timeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface VisualResult {
  mime: string;
  width: number;
  height: number;
  /** 0 for a picture. */
  durationMs: number;
}

const run = (o: VisualOptions): { signal?: AbortSignal; timeoutMs: number } => ({ ...(o.signal ? { signal: o.signal } : {}), timeoutMs: o.timeoutMs });

/** A scale filter that only ever shrinks, keeping the aspect ratio. */
const shrink = (side: number, even: boolean): string =>
  `scale=w='min(${side},iw)':h='min(${side},ih)':force_original_aspect_ratio=decrease${even ? ':force_divisible_by=2' : ''}:flags=lanczos`;

/**
 * Decodes the one frame of a PNG, JPEG or WebP (ffmpeg `-xerror`: any decode error fails it) and writes it again
 * in the same format, without metadata, scaled down to `maxImageSide`. A truncated or damaged picture is
 * LOA_ERR_MEDIA_CORRUPT; too many pixels is LOA_ERR_INPUT_TOO_LARGE.
 */
export async function transcodeImage(o: VisualOptions & { ext: string }): Promise<VisualResult> {
  const f = IMAGE_FORMATS[o.ext];
  if (!f) throw new LoaError('LOA_ERR_MEDIA_NOT_IMAGE', `The file is ${o.ext}, not a PNG, JPEG or WebP image`, { details: { detected: o.ext } });
  const p = await probeVisual(o.tools, o.input, { demuxer: f.demuxer, errorCode: 'LOA_ERR_MEDIA_CORRUPT', ...run(o) });
  if (p.codec !== f.codec || !(p.width > 0 && p.height > 0)) {
    throw new LoaError('LOA_ERR_MEDIA_CORRUPT', `The ${o.ext.toUpperCase()} image has no readable picture`, { details: { codec: p.codec, width: p.width, height: p.height } });
  }
  if (p.width * p.height > o.limits.maxImagePixels || p.width > 65_535 || p.height > 65_535) {
    throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `The image has ${p.width}×${p.height} pixels; at most ${Math.round(o.limits.maxImagePixels / 1e6)} megapixels are accepted`, { details: { width: p.width, height: p.height, maxPixels: o.limits.maxImagePixels } });
  }
  const r = await runTool(o.tools.ffmpeg, [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', '-xerror', '-err_detect', 'explode',
    ...inputArgs(o.input, f.demuxer),
    '-map', '0:v:0', '-frames:v', '1', '-vf', shrink(o.limits.maxImageSide, false),
    ...f.encode,
    '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
    '-f', 'image2pipe', `file:${o.output}`,
  ], run(o));
  // ffmpeg reports some damage (a JPEG cut short: "overread") on stderr and still exits 0.
  if (r.code !== 0 || r.stderr.trim() !== '') {
    throw new LoaError('LOA_ERR_MEDIA_CORRUPT', `The image cannot be decoded: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code } });
  }
  const out = await probeVisual(o.tools, o.output, { demuxer: f.demuxer, errorCode: 'LOA_ERR_MEDIA_TRANSCODE', ...run(o) });
  if (out.codec !== f.codec || !(out.width > 0 && out.height > 0)) throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', 'The re-encoded image cannot be read back', { details: { codec: out.codec } });
  return { mime: f.mime, width: out.width, height: out.height, durationMs: 0 };
}

/**
 * Transcodes a video (MP4/MOV/WebM/MKV, any codec ffmpeg decodes) to VIDEO_FORMAT: VP9 WebM, no sound, at most
 * 1920 px on its longest side and 30 frames a second, rotated upright, metadata stripped. No video stream is
 * LOA_ERR_MEDIA_NOT_VIDEO; a file that does not decode, or decodes to much less than its stated duration (cut
 * short), is LOA_ERR_MEDIA_CORRUPT; longer than `maxVideoDurationMs` is LOA_ERR_INPUT_TOO_LARGE.
 */
export async function transcodeVideo(o: VisualOptions & { demuxer: string }): Promise<VisualResult & { source: VisualProbe }> {
  const p = await probeVisual(o.tools, o.input, { demuxer: o.demuxer, errorCode: 'LOA_ERR_MEDIA_CORRUPT', ...run(o) });
  if (!p.codec || !(p.width > 0 && p.height > 0)) {
    throw new LoaError('LOA_ERR_MEDIA_NOT_VIDEO', p.hasAudio ? 'The file has sound but no picture' : 'The file has no video stream', { details: { formatName: p.formatName } });
  }
  if (p.durationMs > o.limits.maxVideoDurationMs) {
    throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `The video is longer than ${Math.round(o.limits.maxVideoDurationMs / 60_000)} minutes`, { details: { durationMs: p.durationMs, maxDurationMs: o.limits.maxVideoDurationMs } });
  }
  const started = Date.now();
  const r = await runTool(o.tools.ffmpeg, [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y',
    ...inputArgs(o.input, o.demuxer),
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', `${shrink(VIDEO_FORMAT.maxSide, true)},format=yuv420p`, '-fpsmax', String(VIDEO_FORMAT.maxFps),
    '-c:v', VIDEO_FORMAT.encoder, '-crf', String(VIDEO_FORMAT.crf), '-b:v', String(VIDEO_FORMAT.maxBitrate),
    '-deadline', 'good', '-cpu-used', '4', '-row-mt', '1', '-threads', '2', '-g', '60',
    '-map_metadata', '-1', '-map_chapters', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
    '-f', VIDEO_FORMAT.container, `file:${o.output}`,
  ], run(o));
  if (r.code !== 0) {
    throw new LoaError('LOA_ERR_MEDIA_CORRUPT', `The video cannot be decoded: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code, signal: r.signal } });
  }
  const out = await probeVisual(o.tools, o.output, { demuxer: VIDEO_FORMAT.demuxer, errorCode: 'LOA_ERR_MEDIA_TRANSCODE', ...run(o) });
  if (out.codec !== VIDEO_FORMAT.codec || !(out.width > 0 && out.height > 0) || !(out.durationMs > 0)) {
    throw new LoaError('LOA_ERR_MEDIA_CORRUPT', 'The video has no picture that can be decoded', { details: { codec: out.codec, durationMs: out.durationMs } });
  }
  // A file cut short still announces its full length (the MP4 index is at the front): what decoded is less.
  if (Number.isFinite(p.durationMs) && out.durationMs < p.durationMs * 0.9 - 250) {
    throw new LoaError('LOA_ERR_MEDIA_CORRUPT', `The video is cut short: ${out.durationMs} ms of its ${p.durationMs} ms decode`, { details: { durationMs: p.durationMs, decodedMs: out.durationMs } });
  }
  o.log?.debug({ width: out.width, height: out.height, durationMs: out.durationMs, ms: Date.now() - started }, 'video transcoded');
  return { mime: VIDEO_FORMAT.mime, width: out.width, height: out.height, durationMs: out.durationMs, source: p };
}
