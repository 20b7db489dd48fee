import { LoaError } from '../../shared/errors.js';
import { lastLines, runTool } from './exec.js';
import { inputArgs } from './probe.js';
import type { MediaTools } from './tools.js';

/** EBU R128 targets. */
export interface LoudnessTarget {
  /** Integrated loudness, LUFS. Default -16. */
  integratedLufs: number;
  /** Maximum true peak, dBTP. Default -1.5. */
  truePeakDbtp: number;
  /** Loudness range, LU (loudnorm's LRA). Default 11. */
  lra: number;
  /** How far (LU) the encoded output may land from the target before it is corrected. Default 0.5. */
  toleranceLu: number;
}

export const DEFAULT_LOUDNESS: Readonly<LoudnessTarget> = Object.freeze({ integratedLufs: -16, truePeakDbtp: -1.5, lra: 11, toleranceLu: 0.5 });

/** The first loudnorm pass (`print_format=json`), with numbers; -Infinity for silence. */
export interface LoudnormMeasurement {
  inputI: number;
  inputTp: number;
  inputLra: number;
  inputThresh: number;
  targetOffset: number;
  normalizationType: string;
}

/** An ebur128 reading of a file: integrated loudness (LUFS) and true peak (dBTP). */
export interface LoudnessReading {
  integratedLufs: number;
  truePeakDbtp: number;
}

/** Below this, R128's absolute gate leaves nothing to measure: the audio is silent. */
export const SILENCE_LUFS = -70;

const parseNum = (v: unknown): number => {
  if (typeof v !== 'string' && typeof v !== 'number') return NaN;
  const s = String(v).trim();
  if (s === '-inf') return -Infinity;
  if (s === 'inf' || s === '+inf') return Infinity;
  return s === '' ? NaN : Number(s);
};

/** Reads the JSON block loudnorm prints at the end of stderr. */
export function parseLoudnormJson(stderr: string): LoudnormMeasurement {
  const start = stderr.lastIndexOf('{');
  const end = stderr.lastIndexOf('}');
  if (start < 0 || end < start) throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', `loudnorm printed no measurement: ${lastLines(stderr)}`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(stderr.slice(start, end + 1)) as Record<string, unknown>;
  } catch (e) {
    throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', 'loudnorm printed a measurement that is not JSON', { cause: e });
  }
  const m: LoudnormMeasurement = {
    inputI: parseNum(j.input_i),
    inputTp: parseNum(j.input_tp),
    inputLra: parseNum(j.input_lra),
    inputThresh: parseNum(j.input_thresh),
    targetOffset: parseNum(j.target_offset),
    normalizationType: typeof j.normalization_type === 'string' ? j.normalization_type : '',
  };
  if ([m.inputI, m.inputTp, m.inputLra, m.inputThresh].some(Number.isNaN)) {
    throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', 'loudnorm printed an incomplete measurement', { details: { loudnorm: j } });
  }
  return m;
}

/** Reads the "Summary:" ebur128 prints at the end of stderr. */
export function parseEbur128Summary(stderr: string): LoudnessReading {
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const i = /Integrated loudness:\s*I:\s*(-?inf|-?\d+(?:\.\d+)?)\s*LUFS/.exec(summary);
  const p = /True peak:\s*Peak:\s*(-?inf|-?\d+(?:\.\d+)?)\s*dBFS/.exec(summary);
  if (!i?.[1] || !p?.[1]) throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', `ebur128 printed no summary: ${lastLines(stderr)}`);
  return { integratedLufs: parseNum(i[1]), truePeakDbtp: parseNum(p[1]) };
}

/** `I=..:TP=..:LRA=..`, the target part of a loudnorm filter. */
export function loudnormTarget(t: LoudnessTarget): string {
  return `I=${t.integratedLufs}:TP=${t.truePeakDbtp}:LRA=${t.lra}`;
}

interface MeasureOptions {
  /** Force this demuxer (from the sniff). */
  demuxer?: string;
  /** Filters applied before the meter (the mono downmix, so the measure matches what is encoded). */
  preFilters?: readonly string[];
  signal?: AbortSignal;
  timeoutMs?: number;
}

async function analyse(tools: MediaTools, path: string, filter: string, options: MeasureOptions): Promise<string> {
  const chain = [...(options.preFilters ?? []), filter].join(',');
  const r = await runTool(tools.ffmpeg, [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    ...inputArgs(path, options.demuxer),
    '-map', '0:a:0', '-vn', '-sn', '-dn', '-af', chain, '-f', 'null', '-',
  ], { ...(options.signal ? { signal: options.signal } : {}), timeoutMs: options.timeoutMs ?? 10 * 60_000 });
  if (r.code !== 0) {
    throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', `ffmpeg could not decode the audio: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code, signal: r.signal } });
  }
  return r.stderr;
}

/** The loudnorm measure pass (pass 1): input loudness, true peak, LRA and threshold. */
export async function measureLoudnorm(tools: MediaTools, path: string, target: LoudnessTarget, options: MeasureOptions = {}): Promise<LoudnormMeasurement> {
  return parseLoudnormJson(await analyse(tools, path, `loudnorm=${loudnormTarget(target)}:print_format=json`, options));
}

/** Integrated loudness and true peak from ffmpeg's EBU R128 meter (`ebur128=peak=true`). */
export async function measureEbur128(tools: MediaTools, path: string, options: MeasureOptions = {}): Promise<LoudnessReading> {
  return parseEbur128Summary(await analyse(tools, path, 'ebur128=framelog=verbose:peak=true', options));
}
