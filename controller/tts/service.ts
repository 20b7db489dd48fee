import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { normalizeVietnamese } from '../../shared/tts/normalize-vi.js';
import type { MediaLibrary } from '../media/library.js';
import { MAX_TTS_CHARS, type TtsProvider } from './provider.js';

export interface SpeakResult {
  /** The stored media (Ogg Opus, loudness-normalised like every upload). */
  sha256: string;
  size: number;
  durationMs: number;
  /** What was actually spoken. */
  spokenText: string;
  provider: string;
  voice: string;
  /** True when the same text and voice had been spoken before and the file is still in the library. */
  cached: boolean;
}

export interface TtsServiceOptions {
  provider: TtsProvider;
  media: MediaLibrary;
  /** Where the cache index lives (one small JSON file per key). */
  cacheDir: string;
  log: Logger;
}

type CacheEntry = Omit<SpeakResult, 'cached'>;

/**
 * Text → normalised Vietnamese → provider audio → the media library (transcoded, EBU R128 −16 LUFS), cached by
 * the hash of provider, voice and normalised text, so a warning repeated every hour is synthesised once.
 */
export class TtsService {
  private readonly inflight = new Map<string, Promise<SpeakResult>>();

  constructor(private readonly o: TtsServiceOptions) {
    mkdirSync(o.cacheDir, { recursive: true });
  }

  get providerId(): string {
    return this.o.provider.id;
  }

  /** The cache key of a text, as the service would compute it. */
  key(spokenText: string, voice: string): string {
    return createHash('sha256').update(`${this.o.provider.id}\n${voice}\n${spokenText}`).digest('hex');
  }

  async speak(text: string, opts: { voice?: string; signal?: AbortSignal } = {}): Promise<SpeakResult> {
    const spokenText = normalizeVietnamese(text);
    if (!spokenText) throw new LoaError('LOA_ERR_TTS_TEXT', 'there is no text to speak');
    if (spokenText.length > MAX_TTS_CHARS) throw new LoaError('LOA_ERR_TTS_TEXT', `the text is too long to speak at once (${spokenText.length} characters after normalisation, at most ${MAX_TTS_CHARS})`);
    const voice = opts.voice ?? this.o.provider.defaultVoice;
    const key = this.key(spokenText, voice);
    const cached = this.lookup(key);
    if (cached) return { ...cached, cached: true };
    // Two requests for the same text at once share one synthesis.
    let p = this.inflight.get(key);
    if (!p) {
      p = this.synthesize(key, spokenText, voice, opts.signal).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private lookup(key: string): CacheEntry | null {
    try {
      const e = JSON.parse(readFileSync(join(this.o.cacheDir, `${key}.json`), 'utf8')) as CacheEntry;
      return typeof e.sha256 === 'string' && this.o.media.has(e.sha256) ? e : null;
    } catch {
      return null;
    }
  }

  private async synthesize(key: string, spokenText: string, voice: string, signal?: AbortSignal): Promise<SpeakResult> {
    const t0 = Date.now();
    const audio = await this.o.provider.synthesize({ text: spokenText, voice, ...(signal ? { signal } : {}) });
    const r = await this.o.media.ingest(Readable.from([audio]), { originalName: 'tts.wav' }, signal ? { signal } : {});
    const entry: CacheEntry = { sha256: r.sha256, size: r.size, durationMs: r.durationMs, spokenText, provider: this.o.provider.id, voice };
    const p = join(this.o.cacheDir, `${key}.json`);
    writeFileSync(`${p}.tmp`, JSON.stringify(entry));
    renameSync(`${p}.tmp`, p);
    this.o.log.info({ provider: entry.provider, voice, sha256: r.sha256, durationMs: r.durationMs, chars: spokenText.length, ms: Date.now() - t0 }, 'text spoken');
    return { ...entry, cached: false };
  }
}
