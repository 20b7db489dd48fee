import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoaError } from '../../shared/errors.js';
import { lastLines, runTool } from '../media/exec.js';
import { MAX_TTS_AUDIO_BYTES, type TtsProvider, type TtsRequest } from './provider.js';

export interface EspeakOptions {
  /** Command or absolute path. Default `espeak-ng`. */
  command?: string;
  /** Words per minute. Default 140: announcements are read slowly. */
  speed?: number;
  /** Default `vi`. */
  voice?: string;
  timeoutMs?: number;
}

const HINT = 'install it with `sudo apt-get install espeak-ng` (or `npm run setup:system`)';

/** espeak-ng, offline. The text goes through a file (`-f`), never the command line. */
export class EspeakProvider implements TtsProvider {
  readonly id: string;
  readonly defaultVoice: string;

  constructor(private readonly o: EspeakOptions = {}) {
    this.defaultVoice = o.voice ?? 'vi';
    this.id = `espeak-ng@${o.speed ?? 140}`;
  }

  async synthesize(req: TtsRequest): Promise<Buffer> {
    if (!/^[A-Za-z0-9+_-]{1,40}$/.test(req.voice)) throw new LoaError('LOA_ERR_TTS_FAILED', `not an espeak-ng voice name: ${req.voice.slice(0, 40)}`);
    const dir = await mkdtemp(join(tmpdir(), 'loa-tts-'));
    try {
      const textFile = join(dir, 'text.txt');
      const wav = join(dir, 'speech.wav');
      await writeFile(textFile, req.text, 'utf8');
      const command = this.o.command ?? 'espeak-ng';
      const r = await runTool(command, ['-v', req.voice, '-s', String(this.o.speed ?? 140), '-b', '1', '-f', textFile, '-w', wav], {
        timeoutMs: this.o.timeoutMs ?? 120_000, timeoutCode: 'LOA_ERR_TTS_FAILED', ...(req.signal ? { signal: req.signal } : {}),
      }).catch((e: unknown) => {
        if (e instanceof LoaError && e.code === 'LOA_ERR_TOOL_MISSING') throw new LoaError('LOA_ERR_TOOL_MISSING', `espeak-ng is not installed: ${HINT}`, { cause: e, details: { tool: command } });
        throw e;
      });
      if (r.code !== 0) throw new LoaError('LOA_ERR_TTS_FAILED', `espeak-ng failed (${lastLines(r.stderr)})`, { details: { voice: req.voice } });
      const audio = await readFile(wav);
      if (audio.length > MAX_TTS_AUDIO_BYTES) throw new LoaError('LOA_ERR_INPUT_TOO_LARGE', 'the spoken text is too long');
      return audio;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
