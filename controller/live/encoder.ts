import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../shared/log.js';

export type LiveCodec = 'opus' | 'mp3';

/** The MIME type and file extension of a live stream. */
export const CODEC_FORMAT: Record<LiveCodec, { mime: string; ext: string }> = {
  opus: { mime: 'audio/ogg', ext: 'ogg' },
  mp3: { mime: 'audio/mpeg', ext: 'mp3' },
};

/**
 * ffmpeg arguments: raw s16le PCM on stdin (no probing, so it starts at once), Ogg Opus (20 ms frames, one page per frame) or MP3 (no bit
 * reservoir, so each frame stands alone) on stdout, every packet flushed at once.
 */
export function encoderArgs(codec: LiveCodec, sampleRate: number, channels: number): string[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-probesize', '32', '-analyzeduration', '0', '-fflags', '+nobuffer', '-f', 's16le', '-ar', String(sampleRate), '-ac', String(channels), '-i', 'pipe:0'];
  const output = codec === 'opus'
    ? ['-c:a', 'libopus', '-b:a', '32k', '-application', 'lowdelay', '-frame_duration', '20', '-ac', '1', '-page_duration', '20000', '-f', 'ogg']
    : ['-c:a', 'libmp3lame', '-b:a', '64k', '-reservoir', '0', '-ar', '48000', '-ac', '1', '-write_xing', '0', '-id3v2_version', '0', '-f', 'mp3'];
  return [...input, ...output, '-flush_packets', '1', 'pipe:1'];
}

export interface EncoderOptions {
  codec: LiveCodec;
  sampleRate: number;
  channels: number;
  log: Logger;
  onData: (chunk: Buffer) => void;
  /** Called once when ffmpeg exits (or cannot start), with the reason; not after stop(). */
  onExit: (reason: string) => void;
  ffmpeg?: string;
  /** PCM waiting in ffmpeg's stdin beyond this is dropped (the encoder is stuck). Default 1 MiB. */
  maxPendingBytes?: number;
}

/** One ffmpeg process encoding PCM for a live session. stop() always ends it (SIGKILL after 2 s). */
export class Encoder {
  private readonly o: EncoderOptions;
  private child: ChildProcess | null = null;
  private stopped = false;
  private stderr = '';
  droppedBytes = 0;

  constructor(options: EncoderOptions) {
    this.o = options;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const child = spawn(this.o.ffmpeg ?? 'ffmpeg', encoderArgs(this.o.codec, this.o.sampleRate, this.o.channels), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (b: Buffer) => this.o.onData(b));
    child.stderr.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString('utf8')).slice(-2000);
    });
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => this.exited(`ffmpeg could not start: ${err.message}`));
    child.once('exit', (code, signal) => this.exited(`ffmpeg exited (${signal ?? code ?? '?'})${this.stderr ? `: ${this.stderr.trim().slice(-300)}` : ''}`));
  }

  write(pcm: Buffer): void {
    const stdin = this.child?.stdin;
    if (!stdin || this.stopped || stdin.destroyed) return;
    if (stdin.writableLength > (this.o.maxPendingBytes ?? 1024 * 1024)) {
      this.droppedBytes += pcm.length;
      return;
    }
    stdin.write(pcm);
  }

  /** Ends ffmpeg: closes its input, then kills it if it has not exited within 2 s. Resolves when it is gone. */
  stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin?.end();
    });
  }

  private exited(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.o.log.error({ code: 'LOA_ERR_LIVE_ENCODER', reason }, 'live encoder stopped');
    this.o.onExit(reason);
  }
}
