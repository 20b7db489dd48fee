/**
 * Text to speech behind one interface. espeak-ng (offline, Vietnamese voice `vi`) is the default; the HTTP
 * adapter serves any external engine (a province's own Vietnamese TTS server, or a commercial cloud behind a
 * small proxy). Providers return audio bytes in any format ffmpeg reads; the TTS service then transcodes and
 * loudness-normalises them like any upload.
 */
export interface TtsRequest {
  /** Already normalised text (numbers, dates, units, abbreviations as words). */
  text: string;
  /** Provider-specific voice name. */
  voice: string;
  signal?: AbortSignal;
}

export interface TtsProvider {
  /** Stable name, part of the cache key: change it when the engine or its settings change what it says. */
  readonly id: string;
  readonly defaultVoice: string;
  /** Audio bytes (WAV, MP3, Ogg …). Rejects with LOA_ERR_TTS_FAILED or LOA_ERR_TOOL_MISSING. */
  synthesize(req: TtsRequest): Promise<Buffer>;
}

/** Longest text one request may speak (about ten minutes of speech). */
export const MAX_TTS_CHARS = 5000;
/** Largest audio a provider may return. */
export const MAX_TTS_AUDIO_BYTES = 64 * 1024 * 1024;
