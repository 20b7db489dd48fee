import { LoaError, type ErrorCode } from '../../shared/errors.js';
import { lastLines, runTool } from './exec.js';
import type { MediaTools } from './tools.js';

/** What ffprobe says about a picture or a video: its first real video stream (cover art is not one). */
export interface VisualProbe {
  /** ffprobe's format_name; its first name is the demuxer (`png_pipe`, `mov`, `matroska`…). */
  formatName: string;
  demuxer: string;
  codec: string;
  width: number;
  height: number;
  /** Rounded ms; NaN for a still picture or when nothing states it. */
  durationMs: number;
  /** Frames per second (r_frame_rate); NaN when unknown. */
  fps: number;
  hasAudio: boolean;
}

interface FfprobeJson {
  format?: { format_name?: unknown; duration?: unknown };
  streams?: Array<{ codec_type?: unknown; codec_name?: unknown; width?: unknown; height?: unknown; duration?: unknown; r_frame_rate?: unknown; disposition?: { attached_pic?: unknown } }>;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
function rate(v: unknown): number {
  const [a, b] = str(v).split('/').map(Number);
  return a !== undefined && b !== undefined && b > 0 ? a / b : NaN;
}

export interface VisualProbeOptions {
  /** Force this demuxer (the one the magic bytes named). */
  demuxer: string;
  /** Code when ffprobe cannot read the file. */
  errorCode: ErrorCode;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Dimensions, codec, duration and frame rate of an image or video, from `ffprobe -of json`, with the demuxer forced. */
export async function probeVisual(tools: MediaTools, path: string, o: VisualProbeOptions): Promise<VisualProbe> {
  const r = await runTool(tools.ffprobe, [
    '-v', 'error', '-hide_banner', '-protocol_whitelist', 'file', '-f', o.demuxer,
    '-show_format', '-show_streams', '-of', 'json', `file:${path}`,
  ], { ...(o.signal ? { signal: o.signal } : {}), timeoutMs: o.timeoutMs ?? 60_000, timeoutCode: o.errorCode });
  if (r.code !== 0) throw new LoaError(o.errorCode, `ffprobe could not read the file: ${lastLines(r.stderr) || `exit ${r.code}`}`, { details: { exit: r.code } });
  let json: FfprobeJson;
  try {
    json = JSON.parse(r.stdout) as FfprobeJson;
  } catch (e) {
    throw new LoaError(o.errorCode, 'ffprobe printed something that is not JSON', { cause: e });
  }
  const streams = Array.isArray(json.streams) ? json.streams : [];
  const v = streams.find((s) => s.codec_type === 'video' && num(s.disposition?.attached_pic) !== 1);
  const formatName = str(json.format?.format_name);
  let seconds = num(json.format?.duration);
  if (!Number.isFinite(seconds)) seconds = num(v?.duration);
  return {
    formatName,
    demuxer: formatName.split(',')[0] ?? '',
    codec: str(v?.codec_name),
    width: v ? num(v.width) || 0 : 0,
    height: v ? num(v.height) || 0 : 0,
    durationMs: Number.isFinite(seconds) ? Math.round(seconds * 1000) : NaN,
    fps: rate(v?.r_frame_rate),
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
  };
}
