import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, appendFile, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink, PlayRequest, PlayResult, StreamGap } from '../../shared/player.js';
import { StreamReader } from './stream-reader.js';

export interface FileSinkOptions {
  /** Where `plays.jsonl` and `audio/` go. */
  dir: string;
  clock: Clock;
  log: Logger;
  /** Reads stream items (default: a StreamReader on the same clock and logger). */
  streamReader?: StreamReader;
}

/** One line of `plays.jsonl`. */
export interface PlayRecord {
  key: string;
  kind: 'file' | 'stream';
  /** File items: sha256 of the bytes that were copied (what "played"). */
  sha256?: string;
  /** Set when the request's sha256 differs from the bytes played. */
  expectedSha256?: string;
  url?: string;
  /** Recorded copy, relative to `dir`. */
  file?: string;
  offsetMs: number;
  volume: number;
  startedAt: number;
  endedAt: number;
  status: PlayResult['status'];
  playedMs: number;
  error?: { code: string; message: string };
  gaps?: StreamGap[];
  /** Stream items: bytes recorded. */
  bytes?: number;
}

/**
 * A sink for tests and demos (DESIGN §4 player): it records what was played and when instead of making sound.
 * A file item is copied byte for byte into `audio/<seq>-<sha256 prefix>.<ext>` and "plays" for
 * durationMs − offsetMs on the clock, so it runs under a VirtualClock over simulated days. A stream item is
 * recorded into `audio/<seq>-stream.<ext>` for its window through the StreamReader. Every play, whatever its
 * outcome, appends one JSON line to `plays.jsonl`.
 */
export class FileSink implements AudioSink {
  readonly kind = 'file';
  onGap?: (key: string, gap: StreamGap) => void;
  private readonly o: FileSinkOptions;
  private seq: number | null = null;
  private journal: Promise<void> = Promise.resolve();

  constructor(options: FileSinkOptions) {
    this.o = options;
  }

  get playsFile(): string {
    return join(this.o.dir, 'plays.jsonl');
  }

  get audioDir(): string {
    return join(this.o.dir, 'audio');
  }

  /** Ensures the directory exists and is writable. Rejects with LOA_ERR_AUDIO_DEVICE_NOT_FOUND otherwise. */
  async check(): Promise<void> {
    const probe = join(this.audioDir, `.probe-${process.pid}`);
    try {
      await mkdir(this.audioDir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (err) {
      throw new LoaError('LOA_ERR_AUDIO_DEVICE_NOT_FOUND', `The file sink directory ${this.o.dir} is not writable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  play(req: PlayRequest, signal: AbortSignal): Promise<PlayResult> {
    return req.source.kind === 'file'
      ? this.playFile(req, req.source, signal)
      : this.playStream(req, req.source, signal);
  }

  private async playFile(
    req: PlayRequest,
    source: { path: string; sha256: string; durationMs: number },
    signal: AbortSignal,
  ): Promise<PlayResult> {
    const { clock } = this.o;
    // The clock is read and the sleep registered before any I/O, so a VirtualClock times the play exactly.
    const startedAt = clock.now();
    const lengthMs = Math.max(0, source.durationMs - Math.max(0, req.offsetMs));
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    if (signal.aborted) stop.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const slept = clock.sleep(lengthMs, stop.signal).then(
      () => true,
      () => false,
    );

    let copy: { sha256: string; file: string } | undefined;
    let error: LoaError | undefined;
    try {
      copy = await this.copy(source.path);
    } catch (err) {
      error = err instanceof LoaError ? err : toLoaError(err, 'LOA_ERR_PLAYER_FAILED');
      stop.abort();
    }
    const finished = await slept;
    signal.removeEventListener('abort', onAbort);
    const endedAt = clock.now();

    let result: PlayResult;
    if (error) result = { status: 'failed', playedMs: 0, error };
    else if (finished) result = { status: 'completed', playedMs: lengthMs };
    else result = { status: 'aborted', playedMs: Math.min(lengthMs, Math.max(0, endedAt - startedAt)) };

    await this.record({
      key: req.key,
      kind: 'file',
      ...(copy ? { sha256: copy.sha256, file: copy.file } : {}),
      ...(copy && copy.sha256 !== source.sha256 ? { expectedSha256: source.sha256 } : {}),
      offsetMs: req.offsetMs,
      volume: req.volume,
      startedAt,
      endedAt,
      status: result.status,
      playedMs: result.playedMs,
      ...(result.error ? { error: { code: result.error.code, message: result.error.message } } : {}),
    });
    return result;
  }

  private async playStream(req: PlayRequest, source: { url: string; durationMs: number }, signal: AbortSignal): Promise<PlayResult> {
    const { clock, log } = this.o;
    const startedAt = clock.now();
    const seq = await this.nextSeq();
    const file = join('audio', `${seq}-stream${streamExt(source.url)}`);
    const out = createWriteStream(join(this.o.dir, file));
    let writeError: Error | undefined;
    const onError = (err: Error): void => {
      writeError ??= err;
    };
    out.on('error', onError);
    const reader = this.o.streamReader ?? new StreamReader({ clock, log });
    const result = await reader.read(
      {
        url: source.url,
        durationMs: Math.max(0, source.durationMs - Math.max(0, req.offsetMs)),
        consumer: out,
        onGap: (gap) => this.onGap?.(req.key, gap),
      },
      signal,
    );
    // The reader ended the file; wait until it is flushed (or failed) before recording the play.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', resolve));
    out.off('error', onError);
    const endedAt = clock.now();
    let final: PlayResult = { status: result.status, playedMs: result.playedMs, gaps: result.gaps };
    if (result.error) final.error = result.error;
    if (writeError && result.status !== 'failed') {
      final = { ...final, status: 'failed', error: toLoaError(writeError, 'LOA_ERR_PLAYER_FAILED') };
    }
    await this.record({
      key: req.key,
      kind: 'stream',
      url: source.url,
      file,
      offsetMs: req.offsetMs,
      volume: req.volume,
      startedAt,
      endedAt,
      status: final.status,
      playedMs: final.playedMs,
      gaps: result.gaps,
      bytes: result.bytes,
      ...(final.error ? { error: { code: final.error.code, message: final.error.message } } : {}),
    });
    return final;
  }

  /** Copies the file into audio/ and hashes the bytes copied. */
  private async copy(path: string): Promise<{ sha256: string; file: string }> {
    try {
      await access(path);
    } catch (err) {
      throw new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `The media file ${path} was not found`, { cause: err });
    }
    const seq = await this.nextSeq();
    const tmp = join(this.audioDir, `.${seq}.partial`);
    await copyFile(path, tmp);
    const sha256 = await hashFile(tmp);
    const file = join('audio', `${seq}-${sha256.slice(0, 12)}${extname(path) || '.bin'}`);
    await rename(tmp, join(this.o.dir, file));
    return { sha256, file };
  }

  /** Sequence numbers continue after what is already in audio/, so a restarted sink never overwrites. */
  private async nextSeq(): Promise<number> {
    if (this.seq === null) {
      await mkdir(this.audioDir, { recursive: true });
      let max = 0;
      for (const name of await readdir(this.audioDir)) {
        const n = Number.parseInt(name, 10);
        if (Number.isFinite(n) && n > max) max = n;
      }
      this.seq ??= max;
    }
    this.seq += 1;
    return this.seq;
  }

  /** Appends one line; appends are serialised so concurrent plays never interleave. */
  private record(line: PlayRecord): Promise<void> {
    const next = this.journal.then(async () => {
      await mkdir(this.o.dir, { recursive: true });
      await appendFile(this.playsFile, `${JSON.stringify(line)}\n`);
    });
    this.journal = next.catch((err: unknown) => {
      this.o.log.error({ err }, 'could not append to plays.jsonl');
    });
    return this.journal;
  }
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const s = createReadStream(path);
    s.on('data', (c) => h.update(c));
    s.on('error', reject);
    s.on('end', () => resolve(h.digest('hex')));
  });
}

function streamExt(url: string): string {
  try {
    const ext = extname(new URL(url).pathname);
    return /^\.[A-Za-z0-9]{1,5}$/.test(ext) ? ext : '.bin';
  } catch {
    return '.bin';
  }
}
