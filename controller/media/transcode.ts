import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastLines, runTool } from './exec.js';
import {
  DEFAULT_LOUDNESS, SILENCE_LUFS, loudnormTarget, measureEbur128, measureLoudnorm,
  type LoudnessReading, type LoudnessTarget, type LoudnormMeasurement,
} from './loudness.js';
import { inputArgs } from './probe.js';
import type { MediaTools } from './tools.js';

/** The one format every device plays: Ogg Opus, 48 kHz, mono, 64 kb/s. */
export const DEVICE_FORMAT = Object.freeze({
  mime: 'audio/ogg',
  container: 'ogg',
  codec: 'opus',
  encoder: 'libopus',
  sampleRate: 48_000,
  channels: 1,
  bitrate: 64_000,
} as const);

/** Headroom (dB) the limiter leaves below the true-peak target, for the overshoot lossy encoding adds. */
export const LIMITER_HEADROOM_DB = 0.5;

export interface TranscodeOptions {
  tools: MediaTools;
  /** The sniffed upload. */
  input: string;
  /** The demuxer the sniff settled on; forced, so ffmpeg never guesses again. */
  demuxer: string;
  /** Where the Ogg Opus goes (overwritten). */
  output: string;
  loudness?: Partial<LoudnessTarget>;
  /** Encodes at most this many times to land within the tolerance. Default 3. */
  maxAttempts?: number;
  /** Per ffmpeg run. Default 15 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface TranscodeResult {
  /** Pass 1 (loudnorm, on the mono downmix of the input). */
  input: LoudnormMeasurement;
  /** ebur128 on the encoded file. */
  output: LoudnessReading;
  /**
   * `linear`: loudnorm's linear second pass (a constant gain). `limited`: the gain would push the true peak past
   * the target, so a constant gain plus an oversampled true-peak limiter is used instead of loudnorm's dynamic
   * mode, which misses the target by 1–17 LU on clips of a few seconds (ffmpeg 5.1).
   */
  normalization: 'linear' | 'limited';
  /** Total gain applied, dB. */
  gainDb: number;
  attempts: number;
}

/** Downmix to mono in floating point (no clipping) before measuring, so pass 1 measures what is encoded. */
const PRE_FILTERS = ['aformat=sample_fmts=dbl:channel_layouts=mono'] as const;
const OUT_FORMAT = `aformat=sample_fmts=flt:sample_rates=${DEVICE_FORMAT.sampleRate}:channel_layouts=mono`;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const f2 = (v: number): string => v.toFixed(2);

/** loudnorm's own rule for linear mode (af_loudnorm.c), on the same rounded numbers it will be given. */
function linearFits(m: LoudnormMeasurement, t: LoudnessTarget, extraDb: number): boolean {
  const i = Number(f2(clamp(m.inputI, -99, 0)));
  const tp = Number(f2(clamp(m.inputTp, -99, 99)));
  return tp + (t.integratedLufs - i) + Math.max(0, extraDb) <= t.truePeakDbtp;
}

function filterChain(m: LoudnormMeasurement, t: LoudnessTarget, mode: TranscodeResult['normalization'], correctionDb: number): string {
  if (mode === 'linear') {
    const loudnorm = `loudnorm=${loudnormTarget(t)}` +
      `:measured_I=${f2(clamp(m.inputI, -99, 0))}:measured_TP=${f2(clamp(m.inputTp, -99, 99))}` +
      `:measured_LRA=${f2(clamp(m.inputLra, 0, 99))}:measured_thresh=${f2(clamp(m.inputThresh, -99, 0))}` +
      `:offset=${f2(clamp(Number.isFinite(m.targetOffset) ? m.targetOffset : 0, -99, 99))}:linear=true:print_format=summary`;
    const correction = correctionDb === 0 ? [] : [`volume=${f2(correctionDb)}dB`];
    return [...PRE_FILTERS, loudnorm, `aresample=${DEVICE_FORMAT.sampleRate}`, ...correction, OUT_FORMAT].join(',');
  }
  const gain = t.integratedLufs - m.inputI + correctionDb;
  const ceiling = clamp(10 ** ((t.truePeakDbtp - LIMITER_HEADROOM_DB) / 20), 0.0625, 1);
  return [
    ...PRE_FILTERS,
    `volume=${f2(gain)}dB`,
    // 4× oversampling makes the sample-peak limiter a true-peak limiter.
    `aresample=${DEVICE_FORMAT.sampleRate * 4}`,
    `alimiter=limit=${ceiling.toFixed(4)}:level=0:attack=5:release=50`,
    `aresample=${DEVICE_FORMAT.sampleRate}`,
    OUT_FORMAT,
  ].join(',');
}

async function encode(o: TranscodeOptions, chain: string): Promise<void> {
  const r = await runTool(o.tools.ffmpeg, [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y',
    ...inputArgs(o.input, o.demuxer),
    '-map', '0:a:0', '-vn', '-sn', '-dn',
    '-af', chain,
    '-c:a', DEVICE_FORMAT.encoder, '-b:a', String(DEVICE_FORMAT.bitrate),
    '-ac', String(DEVICE_FORMAT.channels), '-ar', String(DEVICE_FORMAT.sampleRate),
    // No tags, chapters, encoder versions or random stream serials: same input, same bytes, same sha256.
    '-map_metadata', '-1', '-map_chapters', '-1', '-fflags', '+bitexact', '-flags:a', '+bitexact',
    '-f', DEVICE_FORMAT.container, `file:${o.output}`,
  ], { ...(o.signal ? { signal: o.signal } : {}), timeoutMs: o.timeoutMs ?? 15 * 60_000 });
  if (r.code !== 0) {
    throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', `ffmpeg could not convert the audio: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code, signal: r.signal } });
  }
}

/**
 * Converts any sniffed audio to DEVICE_FORMAT with EBU R128 loudness normalisation: pass 1 measures the input
 * with loudnorm (`print_format=json`); pass 2 is loudnorm's linear mode with the measured values (or gain plus
 * true-peak limiter when linear would clip, see `normalization`); the encoded file is then measured with ebur128
 * and, if it is more than `toleranceLu` off, encoded again with the residual gain. Metadata is stripped.
 * Silence is LOA_ERR_MEDIA_SILENT; ffmpeg failures and timeouts are LOA_ERR_MEDIA_TRANSCODE; an abort kills
 * ffmpeg and rejects with the signal's reason.
 */
export async function transcodeToDeviceFormat(o: TranscodeOptions): Promise<TranscodeResult> {
  const t: LoudnessTarget = { ...DEFAULT_LOUDNESS, ...o.loudness };
  const run = { ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) };
  const input = await measureLoudnorm(o.tools, o.input, t, { demuxer: o.demuxer, preFilters: PRE_FILTERS, ...run });
  if (!(input.inputI > SILENCE_LUFS)) {
    throw new LoaError('LOA_ERR_MEDIA_SILENT', 'The audio is silent (below the -70 LUFS gate)', { details: { inputLufs: input.inputI } });
  }
  const maxAttempts = Math.max(1, o.maxAttempts ?? 3);
  let correction = 0;
  let last: { output: LoudnessReading; mode: TranscodeResult['normalization']; correction: number; attempt: number } | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const mode = linearFits(input, t, correction) ? 'linear' : 'limited';
    await encode(o, filterChain(input, t, mode, correction));
    const output = await measureEbur128(o.tools, o.output, { demuxer: DEVICE_FORMAT.container, ...run });
    const error = t.integratedLufs - output.integratedLufs;
    o.log?.debug({ attempt, mode, correctionDb: correction, outputLufs: output.integratedLufs, truePeak: output.truePeakDbtp }, 'media encoded');
    last = { output, mode, correction, attempt };
    if (!Number.isFinite(error) || Math.abs(error) <= t.toleranceLu || attempt === maxAttempts) break;
    correction += error;
  }
  if (!last) throw new LoaError('LOA_ERR_INTERNAL', 'transcode made no attempt');
  const gainDb = t.integratedLufs - input.inputI + last.correction;
  return { input, output: last.output, normalization: last.mode, gainDb: Number(f2(gainDb)), attempts: last.attempt };
}
