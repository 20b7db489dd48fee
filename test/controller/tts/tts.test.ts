import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaLibrary } from '../../../controller/media/library.js';
import { EspeakProvider } from '../../../controller/tts/espeak.js';
import { HttpTtsProvider } from '../../../controller/tts/http.js';
import type { TtsProvider } from '../../../controller/tts/provider.js';
import { TtsService } from '../../../controller/tts/service.js';
import { isLoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { ebur128, ffprobe } from '../media/fixtures.js';

const log = createLogger('test', { level: 'silent' });
let dir: string;
let server: Server;
let engineUrl: string;
const heard: { text: string; voice: string; auth?: string }[] = [];

/** A stand-in external engine over real HTTP: it runs espeak-ng itself and answers audio/wav. */
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loa-tts-'));
  const espeak = new EspeakProvider();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string; voice: string };
      heard.push({ ...body, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      if (body.text.includes('HTTP500')) { res.writeHead(500).end(); return; }
      if (body.text.includes('HTML')) { res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>'); return; }
      espeak.synthesize({ text: body.text, voice: 'vi' }).then((wav) => res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav), () => res.writeHead(500).end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  engineUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tts`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same contract for every provider: Vietnamese speech that ffmpeg reads, of a plausible length. */
function contract(name: string, make: () => TtsProvider): void {
  test(`${name}: speaks Vietnamese text as audio ffmpeg can read`, async () => {
    const p = make();
    const audio = await p.synthesize({ text: 'Thông báo của Ủy ban nhân dân xã về phòng chống bão', voice: p.defaultVoice });
    const f = join(dir, `${name}.wav`);
    (await import('node:fs')).writeFileSync(f, audio);
    const probed = ffprobe(f);
    assert.ok(probed.durationMs > 1500 && probed.durationMs < 15_000, `duration ${probed.durationMs} ms`);
    // Not silence: sox's RMS amplitude of speech is well above the noise floor.
    const stat = spawnSync('sox', [f, '-n', 'stat'], { encoding: 'utf8' });
    const rms = Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(stat.stderr)?.[1]);
    assert.ok(rms > 0.01, `RMS ${rms}`);
  });
}

contract('espeak-ng', () => new EspeakProvider());
contract('http', () => new HttpTtsProvider({ url: engineUrl, token: 'secret-token-123' }));

test('the HTTP adapter sends the bearer token and gives coded errors for a failing or wrong engine', async () => {
  const p = new HttpTtsProvider({ url: engineUrl, token: 'secret-token-123' });
  await p.synthesize({ text: 'xin chào', voice: 'vi' });
  assert.equal(heard.at(-1)?.auth, 'Bearer secret-token-123');
  for (const [text, re] of [['HTTP500', /HTTP 500/], ['HTML', /text\/html, not audio/]] as const) {
    await assert.rejects(p.synthesize({ text, voice: 'vi' }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_TTS_FAILED' && re.test(e.message) && !e.message.includes('secret-token'));
  }
  const down = new HttpTtsProvider({ url: 'http://127.0.0.1:9/tts', timeoutMs: 2000 });
  await assert.rejects(down.synthesize({ text: 'x', voice: 'vi' }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_TTS_FAILED' && /cannot be reached/.test(e.message));
});

test('espeak-ng missing is LOA_ERR_TOOL_MISSING with the install command', async () => {
  const p = new EspeakProvider({ command: 'espeak-ng-not-installed' });
  await assert.rejects(p.synthesize({ text: 'xin chào', voice: 'vi' }), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_TOOL_MISSING' && /apt-get install espeak-ng/.test(e.message));
});

test('the service normalises, stores loudness-normalised Opus in the library, and caches by text and voice', async () => {
  const media = new MediaLibrary({ dir: join(dir, 'media'), maxUploadBytes: 64 * 1024 * 1024, log });
  let calls = 0;
  const espeak = new EspeakProvider();
  const counting: TtsProvider = { id: espeak.id, defaultVoice: 'vi', synthesize: (r) => { calls++; return espeak.synthesize(r); } };
  const tts = new TtsService({ provider: counting, media, cacheDir: join(dir, 'tts-cache'), log });
  const text = 'UBND xã thông báo: lúc 7h30 ngày 23/11, gió 60 km/h';
  const [a, b] = await Promise.all([tts.speak(text), tts.speak(text)]);
  assert.equal(calls, 1, 'two requests at once share one synthesis');
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.spokenText, 'Ủy ban nhân dân xã thông báo: lúc bảy giờ ba mươi phút ngày hai mươi ba tháng mười một, gió sáu mươi ki lô mét trên giờ');
  const probed = ffprobe(media.path(a.sha256));
  assert.equal(probed.streams[0]?.codec_name, 'opus');
  const loud = ebur128(media.path(a.sha256));
  assert.ok(Math.abs(loud.integrated - -16) <= 1.5, `integrated ${loud.integrated} LUFS`);
  const again = await tts.speak(text);
  assert.equal(again.cached, true);
  assert.equal(again.sha256, a.sha256);
  assert.equal(calls, 1);
  // Another voice is another key.
  assert.notEqual(tts.key(a.spokenText, 'vi'), tts.key(a.spokenText, 'vi+f3'));
  // The cache index points at the media file, and a removed file means a new synthesis.
  assert.match(readFileSync(join(dir, 'tts-cache', `${tts.key(a.spokenText, 'vi')}.json`), 'utf8'), new RegExp(a.sha256));
  await media.remove(a.sha256);
  const re = await tts.speak(text);
  assert.equal(re.cached, false);
  assert.equal(calls, 2);
});

test('empty or over-long text is refused before any synthesis', async () => {
  const media = new MediaLibrary({ dir: join(dir, 'media2'), maxUploadBytes: 1024 * 1024, log });
  const tts = new TtsService({ provider: new EspeakProvider(), media, cacheDir: join(dir, 'c2'), log });
  await assert.rejects(tts.speak('   '), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_TTS_TEXT');
  await assert.rejects(tts.speak('a '.repeat(3000)), (e: unknown) => isLoaError(e) && e.code === 'LOA_ERR_TTS_TEXT' && /too long/.test(e.message));
});
