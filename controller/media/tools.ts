import { LoaError } from '../../shared/errors.js';
import { INSTALL_HINT, lastLines, runTool } from './exec.js';

/** The media tools, resolved and checked once. */
export interface MediaTools {
  ffmpeg: string;
  ffprobe: string;
  /** First line of `ffmpeg -version`, for logs and diagnostics. */
  ffmpegVersion: string;
}

export interface DetectMediaToolsOptions {
  /** Command or absolute path. Default `ffmpeg` (looked up on PATH). */
  ffmpeg?: string;
  /** Command or absolute path. Default `ffprobe`. */
  ffprobe?: string;
  signal?: AbortSignal;
}

/** What the pipeline needs from the ffmpeg build: the device codec and the loudness filters. */
const REQUIRED_ENCODERS = ['libopus'] as const;
const REQUIRED_FILTERS = ['loudnorm', 'ebur128', 'alimiter', 'aresample', 'aformat', 'volume'] as const;
const TIMEOUT_MS = 15_000;

async function version(command: string, signal: AbortSignal | undefined): Promise<string> {
  const r = await runTool(command, ['-hide_banner', '-version'], { timeoutMs: TIMEOUT_MS, timeoutCode: 'LOA_ERR_TOOL_MISSING', ...(signal ? { signal } : {}) });
  if (r.code !== 0) {
    throw new LoaError('LOA_ERR_TOOL_MISSING', `${command} -version failed (${lastLines(r.stderr)}): ${INSTALL_HINT}`, { details: { tool: command } });
  }
  return r.stdout.split('\n')[0]?.trim() ?? '';
}

/** Names listed by `ffmpeg -encoders` / `-filters` (second column of each row). */
async function listed(ffmpeg: string, what: '-encoders' | '-filters', signal: AbortSignal | undefined): Promise<Set<string>> {
  const r = await runTool(ffmpeg, ['-hide_banner', what], { timeoutMs: TIMEOUT_MS, timeoutCode: 'LOA_ERR_TOOL_MISSING', ...(signal ? { signal } : {}) });
  const names = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const name = line.trim().split(/\s+/)[1];
    if (name) names.add(name);
  }
  return names;
}

/**
 * Finds ffmpeg and ffprobe and checks that ffmpeg has libopus and the loudness filters. Rejects with
 * LOA_ERR_TOOL_MISSING, whose message says how to install them (`sudo apt-get install ffmpeg`).
 */
export async function detectMediaTools(options: DetectMediaToolsOptions = {}): Promise<MediaTools> {
  const ffmpeg = options.ffmpeg ?? 'ffmpeg';
  const ffprobe = options.ffprobe ?? 'ffprobe';
  const [ffmpegVersion, , encoders, filters] = await Promise.all([
    version(ffmpeg, options.signal),
    version(ffprobe, options.signal),
    listed(ffmpeg, '-encoders', options.signal),
    listed(ffmpeg, '-filters', options.signal),
  ]);
  const missing = [
    ...REQUIRED_ENCODERS.filter((e) => !encoders.has(e)).map((e) => `encoder ${e}`),
    ...REQUIRED_FILTERS.filter((f) => !filters.has(f)).map((f) => `filter ${f}`),
  ];
  if (missing.length) {
    throw new LoaError('LOA_ERR_TOOL_MISSING', `${ffmpeg} lacks ${missing.join(', ')}; use Debian's full build: ${INSTALL_HINT}`, { details: { tool: ffmpeg, missing } });
  }
  return { ffmpeg, ffprobe, ffmpegVersion };
}
