import { LoaError, type ErrorCode } from '../../shared/errors.js';
import { lastLines, runTool } from './exec.js';
import type { MediaTools } from './tools.js';

/** What ffprobe says about a file. */
export interface ProbeResult {
  /** ffprobe's format_name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  formatName: string;
  /** The demuxer to force on later runs: the first name of formatName (`mov`, `matroska`, `ogg`…). */
  demuxer: string;
  /** 0–100: how sure libavformat is of the format (100 when it was forced). */
  probeScore: number;
  /** Rounded ms; NaN when neither the container nor the audio stream states a duration. */
  durationMs: number;
  /** The first audio stream, if there is one. */
  audio?: { codec: string; channels: number; sampleRate: number };
  hasVideo: boolean;
}

export interface ProbeOptions {
  /** Only these demuxers may be auto-detected (ffmpeg `format_whitelist`). */
  formatWhitelist?: readonly string[];
  /** Force this demuxer instead of probing. */
  demuxer?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Code of the error when ffprobe cannot read the file. Default LOA_ERR_MEDIA_NOT_AUDIO. */
  errorCode?: ErrorCode;
}

interface FfprobeJson {
  format?: { format_name?: unknown; duration?: unknown; probe_score?: unknown };
  streams?: Array<{ codec_type?: unknown; codec_name?: unknown; channels?: unknown; sample_rate?: unknown; duration?: unknown; disposition?: { attached_pic?: unknown } }>;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Arguments that keep ffmpeg/ffprobe to the one local file: no other protocols (no http, no concat of /etc/…). */
export function inputArgs(path: string, demuxer?: string): string[] {
  return ['-protocol_whitelist', 'file', ...(demuxer ? ['-f', demuxer] : []), '-i', `file:${path}`];
}

/** Duration (ms), codec, channels and sample rate of a file, from `ffprobe -of json`. */
export async function probeMedia(tools: MediaTools, path: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const code = options.errorCode ?? 'LOA_ERR_MEDIA_NOT_AUDIO';
  const args = [
    '-v', 'error', '-hide_banner',
    '-protocol_whitelist', 'file',
    ...(options.formatWhitelist ? ['-format_whitelist', options.formatWhitelist.join(',')] : []),
    ...(options.demuxer ? ['-f', options.demuxer] : []),
    '-show_format', '-show_streams', '-of', 'json',
    `file:${path}`,
  ];
  const r = await runTool(tools.ffprobe, args, {
    ...(options.signal ? { signal: options.signal } : {}),
    timeoutMs: options.timeoutMs ?? 60_000,
    timeoutCode: code,
  });
  if (r.code !== 0) {
    throw new LoaError(code, `ffprobe could not read the file: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code } });
  }
  let json: FfprobeJson;
  try {
    json = JSON.parse(r.stdout) as FfprobeJson;
  } catch (e) {
    throw new LoaError(code, 'ffprobe printed something that is not JSON', { cause: e });
  }
  const streams = Array.isArray(json.streams) ? json.streams : [];
  const a = streams.find((s) => s.codec_type === 'audio');
  const hasVideo = streams.some((s) => s.codec_type === 'video' && num(s.disposition?.attached_pic) !== 1);
  const formatName = str(json.format?.format_name);
  let seconds = num(json.format?.duration);
  if (!Number.isFinite(seconds)) seconds = num(a?.duration);
  const channels = num(a?.channels);
  const sampleRate = num(a?.sample_rate);
  return {
    formatName,
    demuxer: formatName.split(',')[0] ?? '',
    probeScore: num(json.format?.probe_score),
    durationMs: Number.isFinite(seconds) ? Math.round(seconds * 1000) : NaN,
    ...(a ? { audio: { codec: str(a.codec_name), channels: Number.isFinite(channels) ? channels : 0, sampleRate: Number.isFinite(sampleRate) ? sampleRate : 0 } } : {}),
    hasVideo,
  };
}
