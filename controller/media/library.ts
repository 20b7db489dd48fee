import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LoaError, isLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { LoudnessTarget } from './loudness.js';
import { sanitizeFileName } from './names.js';
import { probeMedia } from './probe.js';
import { Semaphore } from './semaphore.js';
import { openFileRange, type FileRangeResponse } from './serve.js';
import { classifyHead, type HeadClass, type WantedKind } from './classify.js';
import { sniffAudio } from './sniff.js';
import { detectMediaTools, type DetectMediaToolsOptions, type MediaTools } from './tools.js';
import { DEVICE_FORMAT, transcodeToDeviceFormat, type TranscodeResult } from './transcode.js';
import { receiveUpload, type ReceivedUpload } from './upload.js';
import { DEFAULT_VISUAL_LIMITS, transcodeImage, transcodeVideo, type VisualLimits, type VisualResult } from './visual.js';
import { probeVisual } from './visual-probe.js';

export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Temp files of this library start with this, so init() never touches anyone else's files in a shared tmp. */
const TMP_PREFIX = 'loa-ingest-';
/** Cross-device fallback copies land in `dir` under this prefix before their rename. */
const INCOMING_PREFIX = '.incoming-';

export interface MediaLibraryOptions {
  /** Where media lives, one file per sha256. */
  dir: string;
  /** Uploads and transcodes in progress. Default `<dir>/.tmp` (same filesystem, so the final rename is atomic). */
  tmpDir?: string;
  /** Upload cap in bytes (LOA_ERR_INPUT_TOO_LARGE). */
  maxUploadBytes: number;
  log: Logger;
  /** EBU R128 target. Default I = -16 LUFS, TP = -1.5 dBTP, LRA = 11 LU, tolerance 0.5 LU. */
  loudness?: Partial<LoudnessTarget>;
  /** Longer audio is LOA_ERR_INPUT_TOO_LARGE. Default 3 hours. */
  maxDurationMs?: number;
  /** Transcodes at once; the rest queue. Default 1 (a 2-core controller also has to answer HTTP). */
  maxConcurrentTranscodes?: number;
  /** Per ffmpeg/ffprobe run. Default 15 minutes. */
  toolTimeoutMs?: number;
  /** ffmpeg/ffprobe commands. Default `ffmpeg`/`ffprobe` on PATH. */
  tools?: Omit<DetectMediaToolsOptions, 'signal'>;
  /** Pictures and videos for boards (issue 8). Defaults: DEFAULT_VISUAL_LIMITS. */
  visual?: Partial<VisualLimits>;
}

export interface IngestMeta {
  /** The client's file name: a label only, checked with sanitizeFileName. */
  originalName?: string;
}

export interface IngestResult {
  kind: 'audio';
  /** sha256 of the stored (transcoded) file: its name on disk and its ETag. */
  sha256: string;
  /** Bytes of the stored file. */
  size: number;
  durationMs: number;
  /** Always DEVICE_FORMAT.mime (`audio/ogg`). */
  mime: string;
  /** sha256 of the bytes uploaded. */
  sourceSha256: string;
  sourceSize: number;
  /** What the upload's bytes are, by content sniffing (e.g. `audio/mpeg`). */
  sourceMime: string;
  /** Integrated loudness of the stored file (ebur128), LUFS. */
  loudnessLufs: number;
  /** True peak of the stored file, dBTP. */
  truePeakDbtp: number;
  /** Integrated loudness of the upload's mono downmix (loudnorm pass 1), LUFS. */
  inputLoudnessLufs: number;
  normalization: TranscodeResult['normalization'];
  /** The sanitised original name, when one was given. */
  originalName?: string;
  /** True when this exact file was already in the library. */
  deduplicated: boolean;
}

/** A picture or a video for board slides (issue 8), as stored. */
export interface VisualIngestResult {
  kind: 'image' | 'video';
  sha256: string;
  size: number;
  /** 0 for a picture. */
  durationMs: number;
  /** image/png, image/jpeg, image/webp or video/webm. */
  mime: string;
  width: number;
  height: number;
  sourceSha256: string;
  sourceSize: number;
  sourceMime: string;
  originalName?: string;
  deduplicated: boolean;
}

export type UploadResult = IngestResult | VisualIngestResult;

export interface MediaStat {
  sha256: string;
  path: string;
  size: number;
  mtimeMs: number;
}

function notFound(sha256: string): LoaError {
  return new LoaError('LOA_ERR_MEDIA_NOT_FOUND', `not a media sha256: ${sha256.slice(0, 80)}`);
}

async function fsyncPath(path: string, flags: 'r' | 'r+' = 'r'): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path) as AsyncIterable<Buffer>) {
    size += c.length;
    hash.update(c);
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * The controller's content-addressed media library. An upload is streamed to a temp file (capped, hashed),
 * sniffed (only audio), transcoded to DEVICE_FORMAT with loudness normalisation, hashed again, fsynced and
 * renamed to `<dir>/<sha256>`. Files are named only by their hash; nothing the client says reaches a path.
 */
export class MediaLibrary {
  private readonly tmpDir: string;
  private readonly transcodes: Semaphore;
  private ready: Promise<MediaTools> | undefined;

  constructor(private readonly options: MediaLibraryOptions) {
    this.tmpDir = options.tmpDir ?? join(options.dir, '.tmp');
    this.transcodes = new Semaphore({ limit: options.maxConcurrentTranscodes ?? 1 });
  }

  /**
   * Creates the folders, removes temp files a crash left behind, and checks ffmpeg/ffprobe (LOA_ERR_TOOL_MISSING).
   * Runs once; ingest() awaits it too. Call it at startup so a missing tool is reported before the first upload.
   */
  init(): Promise<MediaTools> {
    this.ready ??= this.prepare().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async prepare(): Promise<MediaTools> {
    const { dir, log } = this.options;
    await mkdir(dir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    let removed = 0;
    for (const [folder, prefix] of [[this.tmpDir, TMP_PREFIX], [dir, INCOMING_PREFIX]] as const) {
      for (const name of await readdir(folder)) {
        if (!name.startsWith(prefix)) continue;
        await rm(join(folder, name), { force: true, recursive: true });
        removed++;
      }
    }
    if (removed) log.info({ removed }, 'media: removed temp files left by an earlier run');
    const tools = await detectMediaTools(this.options.tools ?? {});
    log.debug({ ffmpeg: tools.ffmpegVersion }, 'media: tools found');
    return tools;
  }

  /** `<dir>/<sha256>`. Anything but 64 lower-case hex digits is LOA_ERR_MEDIA_NOT_FOUND. */
  path(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw notFound(sha256);
    return join(this.options.dir, sha256);
  }

  /** Size and mtime of a stored file; undefined when it is absent or the hash is malformed. */
  async stat(sha256: string): Promise<MediaStat | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    try {
      const st = await stat(this.path(sha256));
      return st.isFile() ? { sha256, path: this.path(sha256), size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  /** True when a file with this hash is stored. Never throws (a malformed hash is simply absent). */
  has(sha256: string): boolean {
    if (!SHA256_HEX.test(sha256)) return false;
    try {
      return statSync(this.path(sha256)).isFile();
    } catch {
      return false;
    }
  }

  /** Deletes a stored file. True when there was one. (Whether a program still uses it is the caller's check.) */
  async remove(sha256: string): Promise<boolean> {
    const p = this.path(sha256);
    const existed = this.has(sha256);
    await rm(p, { force: true });
    if (existed) this.options.log.info({ sha256 }, 'media removed');
    return existed;
  }

  /** Every stored sha256, for reconciling with the database. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.options.dir)).filter((n) => SHA256_HEX.test(n)).sort();
    } catch {
      return [];
    }
  }

  /**
   * A Range-aware answer for `GET|HEAD /media/:sha256` (see openFileRange): ETag `"<sha256>"`, `audio/ogg`,
   * immutable caching. Rejects with LOA_ERR_MEDIA_NOT_FOUND for a malformed or unknown hash.
   */
  openRange(sha256: string, req: { method?: string | undefined; headers: IncomingHttpHeaders }, mime: string = DEVICE_FORMAT.mime): Promise<FileRangeResponse> {
    return openFileRange(this.path(sha256), req, { etag: sha256, mime });
  }

  /**
   * Stores an upload. Rejects with LOA_ERR_NAME_INVALID, LOA_ERR_INPUT_TOO_LARGE, LOA_ERR_MEDIA_NOT_AUDIO,
   * LOA_ERR_MEDIA_SILENT, LOA_ERR_MEDIA_TRANSCODE or LOA_ERR_TOOL_MISSING; with the signal's reason when
   * aborted. On every failure the source is destroyed and no file is left behind. The same audio uploaded twice
   * gives the same sha256 (the encode is bit-exact).
   */
  async ingest(source: Readable, meta: IngestMeta = {}, options: { signal?: AbortSignal } = {}): Promise<IngestResult> {
    const r = await this.ingestUpload(source, { ...meta, kind: 'audio' }, options);
    if (r.kind !== 'audio') throw new LoaError('LOA_ERR_INTERNAL', 'an audio ingest stored a picture');
    return r;
  }

  /**
   * Stores an upload of the wanted kind (`auto`: its bytes decide, see classifyHead): audio as ingest(); PNG,
   * JPEG and WebP pictures re-encoded in their own format, metadata stripped, at most `maxImageSide` px; videos
   * transcoded to VP9 WebM without sound (visual.ts). Rejects as ingest() does, and with LOA_ERR_MEDIA_NOT_IMAGE,
   * LOA_ERR_MEDIA_NOT_VIDEO or LOA_ERR_MEDIA_CORRUPT; nothing is left behind on any failure.
   */
  async ingestUpload(source: Readable, meta: IngestMeta & { kind?: WantedKind } = {}, options: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    const { signal } = options;
    const started = Date.now();
    const id = `${TMP_PREFIX}${randomBytes(8).toString('hex')}`;
    const srcPath = join(this.tmpDir, `${id}.src`);
    const outPath = join(this.tmpDir, `${id}.out`);
    const sig = signal ? { signal } : {};
    try {
      const originalName = meta.originalName === undefined ? undefined : sanitizeFileName(meta.originalName);
      const tools = await this.init();
      let cls: HeadClass | undefined;
      const up = await receiveUpload(source, srcPath, { maxBytes: this.options.maxUploadBytes, onHead: async (head) => { cls = await classifyHead(head, meta.kind ?? 'audio'); }, ...sig });
      if (!cls) throw new LoaError('LOA_ERR_INTERNAL', 'the upload was not classified');
      const timeoutMs = this.options.toolTimeoutMs ?? 15 * 60_000;
      if (cls.kind === 'audio-or-video') {
        const p = await probeVisual(tools, srcPath, { demuxer: cls.demuxer, errorCode: 'LOA_ERR_MEDIA_NOT_AUDIO', timeoutMs, ...sig });
        cls = p.codec && !p.hasAudio ? { ...cls, kind: 'video' } : { kind: 'audio' };
      }
      const named = originalName === undefined ? {} : { originalName };
      let result: UploadResult;
      if (cls.kind === 'audio') {
        result = { ...await this.storeAudio(tools, srcPath, outPath, up, timeoutMs, signal), ...named };
      } else {
        const limits: VisualLimits = { ...DEFAULT_VISUAL_LIMITS, ...this.options.visual };
        if (cls.kind === 'image' && up.size > limits.maxImageBytes) {
          throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `The image is larger than ${Math.round(limits.maxImageBytes / 1048576)} MiB`, { details: { size: up.size, maxBytes: limits.maxImageBytes } });
        }
        const o = { tools, input: srcPath, output: outPath, limits, timeoutMs, log: this.options.log, ...sig };
        const c = cls;
        const v: VisualResult = await this.transcoding(signal, () => (c.kind === 'image' ? transcodeImage({ ...o, ext: c.ext }) : transcodeVideo({ ...o, demuxer: c.demuxer })));
        const stored = await this.store(outPath);
        result = {
          kind: c.kind === 'image' ? 'image' : 'video', ...stored, durationMs: v.durationMs, mime: v.mime, width: v.width, height: v.height,
          sourceSha256: up.sha256, sourceSize: up.size, sourceMime: cls.mime, ...named,
        };
      }
      this.options.log.info({ ...result, ms: Date.now() - started }, 'media ingested');
      return result;
    } catch (e) {
      source.destroy();
      if (signal?.aborted) throw signal.reason as Error;
      const err = isLoaError(e) ? e : (e as { code?: unknown }).code === 'FST_REQ_FILE_TOO_LARGE'
        ? new LoaError('LOA_ERR_INPUT_TOO_LARGE', 'The upload is larger than the multipart file size limit', { cause: e })
        : new LoaError('LOA_ERR_INTERNAL', `The upload could not be stored: ${(e as Error).message}`, { cause: e });
      this.options.log.info({ code: err.code, err: err.message, ms: Date.now() - started }, 'media upload rejected');
      throw err;
    } finally {
      await Promise.all([rm(srcPath, { force: true }), rm(outPath, { force: true })]);
    }
  }

  /** Runs one transcode under the concurrency limit. */
  private async transcoding<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const release = await this.transcodes.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Hashes the finished file and moves it into place (unless the same bytes are already stored). */
  private async store(outPath: string): Promise<{ sha256: string; size: number; deduplicated: boolean }> {
    const { sha256, size } = await hashFile(outPath);
    const existing = await this.stat(sha256);
    const deduplicated = existing?.size === size;
    if (!deduplicated) await this.commit(outPath, this.path(sha256));
    return { sha256, size, deduplicated };
  }

  /** The audio path: sniff, duration cap, transcode to DEVICE_FORMAT with loudness normalisation, check, store. */
  private async storeAudio(tools: MediaTools, srcPath: string, outPath: string, up: ReceivedUpload, timeoutMs: number, signal: AbortSignal | undefined): Promise<IngestResult> {
    const sig = signal ? { signal } : {};
    const sniffed = await sniffAudio(tools, srcPath, up.head, { timeoutMs, ...sig });
    const maxDurationMs = this.options.maxDurationMs ?? 3 * 3600_000;
    if (sniffed.probe.durationMs > maxDurationMs) {
      throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `The audio is longer than ${Math.round(maxDurationMs / 60_000)} minutes`, { details: { durationMs: sniffed.probe.durationMs, maxDurationMs } });
    }
    const tr: TranscodeResult = await this.transcoding(signal, () => transcodeToDeviceFormat({
      tools, input: srcPath, demuxer: sniffed.container.demuxer, output: outPath, timeoutMs, log: this.options.log,
      ...(this.options.loudness ? { loudness: this.options.loudness } : {}), ...sig,
    }));
    const out = await probeMedia(tools, outPath, { demuxer: DEVICE_FORMAT.container, errorCode: 'LOA_ERR_MEDIA_TRANSCODE', timeoutMs, ...sig });
    if (out.audio?.codec !== DEVICE_FORMAT.codec || out.audio.channels !== DEVICE_FORMAT.channels || out.audio.sampleRate !== DEVICE_FORMAT.sampleRate || !(out.durationMs > 0)) {
      throw new LoaError('LOA_ERR_MEDIA_TRANSCODE', 'The converted file is not Ogg Opus 48 kHz mono', { details: { audio: out.audio, durationMs: out.durationMs } });
    }
    const stored = await this.store(outPath);
    this.options.log.debug({ gainDb: tr.gainDb, attempts: tr.attempts }, 'audio normalised');
    return {
      kind: 'audio', sha256: stored.sha256, size: stored.size, durationMs: out.durationMs, mime: DEVICE_FORMAT.mime,
      sourceSha256: up.sha256, sourceSize: up.size, sourceMime: sniffed.container.mime,
      loudnessLufs: tr.output.integratedLufs, truePeakDbtp: tr.output.truePeakDbtp, inputLoudnessLufs: tr.input.inputI,
      normalization: tr.normalization, deduplicated: stored.deduplicated,
    };
  }

  /** fsync the file, rename it into place atomically, fsync the folder. Copies first across filesystems. */
  private async commit(from: string, to: string): Promise<void> {
    await fsyncPath(from);
    try {
      await rename(from, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      const staging = join(this.options.dir, `${INCOMING_PREFIX}${randomBytes(8).toString('hex')}`);
      try {
        await copyFile(from, staging);
        await fsyncPath(staging);
        await rename(staging, to);
      } finally {
        await rm(staging, { force: true });
      }
    }
    await fsyncPath(this.options.dir);
  }
}
