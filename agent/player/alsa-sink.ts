import { spawn as nodeSpawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink, PlayRequest, PlayResult, StreamGap } from '../../shared/player.js';
import { checkAlsaDevice } from './alsa-devices.js';
import { startChild, type ChildExit, type SpawnFn } from './child-run.js';
import { StreamReader, type StreamReadResult } from './stream-reader.js';

export interface AlsaSinkOptions {
  /** ALSA PCM from the hardware profile (audio.device), e.g. default, hw:1,0, plughw:CARD=Device. */
  device: string;
  clock: Clock;
  log: Logger;
  /** Default child_process.spawn. */
  spawn?: SpawnFn;
  /** Default 'ffmpeg' (found on PATH). */
  ffmpegPath?: string;
  /** Replaces `-f alsa <device>`, e.g. ['-f', 'wav', '-y', '/tmp/out.wav'] to check the pipeline with sox. */
  output?: readonly string[];
  /** Inserted before the output (e.g. ['-ar', '48000', '-ac', '2'] for a picky card). */
  extraOutputArgs?: readonly string[];
  /** Inserted before `-i` (e.g. a format for raw streams: ['-f', 's16le', '-ar', '8000', '-ac', '1']). */
  extraInputArgs?: readonly string[];
  /** SIGKILL follows SIGTERM after this long. Default 2000 ms. */
  killGraceMs?: number;
  /**
   * ffmpeg still running this long after the item should have ended (a wedged ALSA device) is stopped and the
   * play fails, so amplifiers are not left on forever. Default 30000 ms.
   */
  overrunMs?: number;
  /** Default checkAlsaDevice. */
  checkDevice?: (device: string) => Promise<void>;
  /** Reads stream items (default: a StreamReader on the same clock). */
  streamReader?: StreamReader;
}

export interface FfmpegArgsInput {
  /** A file path, or null to read stdin. */
  input: string | null;
  offsetMs: number;
  volume: number;
  output: readonly string[];
  extraInputArgs?: readonly string[];
  extraOutputArgs?: readonly string[];
}

/** The ffmpeg command line for one play. */
export function buildFfmpegArgs(a: FfmpegArgsInput): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (a.input !== null && a.offsetMs > 0) args.push('-ss', (a.offsetMs / 1000).toFixed(3));
  args.push(...(a.extraInputArgs ?? []), '-i', a.input ?? 'pipe:0');
  args.push('-af', `volume=${(Math.min(100, Math.max(0, a.volume)) / 100).toFixed(2)}`);
  args.push(...(a.extraOutputArgs ?? []), ...a.output);
  return args;
}

const INSTALL_HINT = 'Install it with "apt-get install ffmpeg" (or "npm run setup:system"), or set the ffmpeg path.';

/**
 * The real player (DESIGN §4): one ffmpeg per play, decoding to ALSA. Streams are read in Node by the
 * StreamReader and fed to ffmpeg's stdin, so drop-outs are seen and bridged here. Abort sends SIGTERM, then
 * SIGKILL after a grace period; the child is always reaped before `play` resolves.
 */
export class AlsaSink implements AudioSink {
  readonly kind = 'alsa';
  onGap?: (key: string, gap: StreamGap) => void;
  private readonly o: AlsaSinkOptions;

  constructor(options: AlsaSinkOptions) {
    this.o = options;
  }

  private get ffmpegPath(): string {
    return this.o.ffmpegPath ?? 'ffmpeg';
  }

  /** Checks the ALSA device (unless the output is overridden) and that ffmpeg starts. */
  async check(): Promise<void> {
    if (!this.o.output) await (this.o.checkDevice ?? checkAlsaDevice)(this.o.device);
    const run = startChild({
      spawn: this.o.spawn ?? nodeSpawn,
      clock: this.o.clock,
      log: this.o.log,
      command: this.ffmpegPath,
      args: ['-hide_banner', '-version'],
      stdin: 'ignore',
      killGraceMs: this.o.killGraceMs ?? 2000,
    });
    const exit = await run.done;
    if (exit.spawnError) throw this.spawnError(exit.spawnError);
    if (exit.code !== 0) throw this.exitError(exit);
  }

  async play(req: PlayRequest, signal: AbortSignal): Promise<PlayResult> {
    const { clock, log } = this.o;
    if (signal.aborted) return { status: 'aborted', playedMs: 0 };
    const { source } = req;
    const isStream = source.kind === 'stream';
    if (source.kind === 'file') {
      try {
        await access(source.path);
      } catch (err) {
        return { status: 'failed', playedMs: 0, error: new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `The media file ${source.path} was not found`, { cause: err }) };
      }
    }
    if (signal.aborted) return { status: 'aborted', playedMs: 0 }; // aborted while the file was checked
    const lengthMs = Math.max(0, source.durationMs - Math.max(0, req.offsetMs));
    const args = buildFfmpegArgs({
      input: source.kind === 'file' ? source.path : null,
      offsetMs: req.offsetMs,
      volume: req.volume,
      output: this.o.output ?? ['-f', 'alsa', this.o.device],
      extraInputArgs: this.o.extraInputArgs,
      extraOutputArgs: this.o.extraOutputArgs,
    });
    const startedAt = clock.now();
    const run = startChild({
      spawn: this.o.spawn ?? nodeSpawn,
      clock,
      log,
      command: this.ffmpegPath,
      args,
      stdin: isStream ? 'pipe' : 'ignore',
      killGraceMs: this.o.killGraceMs ?? 2000,
    });
    log.debug({ key: req.key, pid: run.pid, args }, 'ffmpeg started');
    let abortedAt: number | undefined;
    const onAbort = (): void => {
      abortedAt = clock.now();
      run.stop();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const overrunMs = this.o.overrunMs ?? 30_000;
    const guard = new AbortController();
    let overran = false;
    clock.sleep(lengthMs + overrunMs, guard.signal).then(
      () => {
        overran = true;
        log.error({ key: req.key, pid: run.pid, overrunMs }, 'ffmpeg overran the item, stopping it');
        run.stop();
      },
      () => undefined,
    );

    // The reader stops when the play is aborted or when ffmpeg exits (its stdin closes).
    let reading: Promise<StreamReadResult> | undefined;
    const readerStop = new AbortController();
    const onAbortReader = (): void => readerStop.abort();
    if (source.kind === 'stream' && run.stdin) {
      signal.addEventListener('abort', onAbortReader, { once: true });
      const reader = this.o.streamReader ?? new StreamReader({ clock, log });
      reading = reader.read(
        { url: source.url, durationMs: lengthMs, consumer: run.stdin, onGap: (gap) => this.onGap?.(req.key, gap) },
        readerStop.signal,
      );
    }
    const exit = await run.done;
    guard.abort();
    readerStop.abort();
    const streamed = reading ? await reading : undefined;
    signal.removeEventListener('abort', onAbort);
    signal.removeEventListener('abort', onAbortReader);
    // Sound stops at the abort, not when the child is finally reaped.
    const elapsed = Math.min(lengthMs, Math.max(0, (abortedAt ?? clock.now()) - startedAt));
    const gaps = streamed ? { gaps: streamed.gaps } : {};
    log.debug({ key: req.key, code: exit.code, signal: exit.signal, killed: exit.killed }, 'ffmpeg exited');

    if (exit.spawnError) return { status: 'failed', playedMs: 0, error: this.spawnError(exit.spawnError) };
    if (signal.aborted) return { status: 'aborted', playedMs: streamed ? streamed.playedMs : elapsed, ...gaps };
    if (streamed?.error?.code === 'LOA_ERR_STREAM_UNREACHABLE') return { status: 'failed', playedMs: 0, error: streamed.error, ...gaps };
    if (overran) {
      const error = new LoaError('LOA_ERR_PLAYER_FAILED', `ffmpeg was still running ${overrunMs} ms after the item should have ended and was stopped`, {
        details: { code: exit.code, signal: exit.signal, stderr: exit.stderr },
      });
      return { status: 'failed', playedMs: streamed ? streamed.playedMs : lengthMs, error, ...gaps };
    }
    if (exit.code !== 0) return { status: 'failed', playedMs: streamed ? streamed.playedMs : elapsed, error: this.exitError(exit), ...gaps };
    if (streamed) return { status: 'completed', playedMs: streamed.playedMs, ...gaps };
    return { status: 'completed', playedMs: lengthMs };
  }

  private spawnError(err: Error): LoaError {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'was not found' : `could not be started (${err.message})`;
    return new LoaError('LOA_ERR_PLAYER_SPAWN', `ffmpeg (${this.ffmpegPath}) ${what}. ${INSTALL_HINT}`, {
      cause: err,
      details: { ffmpegPath: this.ffmpegPath },
    });
  }

  private exitError(exit: ChildExit): LoaError {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const said = exit.stderr.length ? `: ${exit.stderr.join(' | ')}` : '';
    return new LoaError('LOA_ERR_PLAYER_FAILED', `ffmpeg ${how}${said}`, {
      details: { code: exit.code, signal: exit.signal, stderr: exit.stderr },
    });
  }
}
