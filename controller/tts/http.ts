import { LoaError } from '../../shared/errors.js';
import { redactUrl } from '../../shared/redact-url.js';
import { MAX_TTS_AUDIO_BYTES, type TtsProvider, type TtsRequest } from './provider.js';

export interface HttpTtsOptions {
  /** POST endpoint. It receives `{"text", "voice", "language": "vi"}` as JSON and answers with audio bytes. */
  url: string;
  /** Sent as `Authorization: Bearer …` when set. Never logged. */
  token?: string;
  voice?: string;
  /** Part of the cache key; default `http:<host>`. */
  id?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Adapter for an external TTS engine over HTTP: the contract is one POST with JSON in and audio out
 * (`audio/*` or `application/octet-stream`). Errors name the engine's host, never its token.
 */
export class HttpTtsProvider implements TtsProvider {
  readonly id: string;
  readonly defaultVoice: string;

  constructor(private readonly o: HttpTtsOptions) {
    const u = new URL(o.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LoaError('LOA_ERR_CONFIG_INVALID', `the TTS URL must be http(s): ${redactUrl(o.url)}`);
    this.id = o.id ?? `http:${u.host}`;
    this.defaultVoice = o.voice ?? 'vi';
  }

  async synthesize(req: TtsRequest): Promise<Buffer> {
    const where = redactUrl(this.o.url);
    const signal = req.signal ? AbortSignal.any([req.signal, AbortSignal.timeout(this.o.timeoutMs ?? 60_000)]) : AbortSignal.timeout(this.o.timeoutMs ?? 60_000);
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(this.o.url, {
        method: 'POST', signal,
        headers: { 'content-type': 'application/json', accept: 'audio/*', ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}) },
        body: JSON.stringify({ text: req.text, voice: req.voice, language: 'vi' }),
      });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason as Error;
      throw new LoaError('LOA_ERR_TTS_FAILED', `the TTS engine at ${where} cannot be reached: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new LoaError('LOA_ERR_TTS_FAILED', `the TTS engine at ${where} answered HTTP ${res.status}`, { details: { status: res.status } });
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!type.startsWith('audio/') && type !== 'application/octet-stream') {
      await res.body?.cancel();
      throw new LoaError('LOA_ERR_TTS_FAILED', `the TTS engine at ${where} answered ${type || 'no content type'}, not audio`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += c.length;
      if (size > MAX_TTS_AUDIO_BYTES) {
        await res.body?.cancel().catch(() => undefined);
        throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', `the TTS engine at ${where} sent more than ${MAX_TTS_AUDIO_BYTES} bytes`);
      }
      chunks.push(Buffer.from(c));
    }
    if (size === 0) throw new LoaError('LOA_ERR_TTS_FAILED', `the TTS engine at ${where} sent no audio`);
    return Buffer.concat(chunks);
  }
}
