import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectMediaTools, type MediaTools } from '../../../controller/media/tools.js';
import { DEVICE_FORMAT, transcodeToDeviceFormat } from '../../../controller/media/transcode.js';
import { sniffAudio, sniffHead, SNIFF_HEAD_BYTES } from '../../../controller/media/sniff.js';
import { isLoaError } from '../../../shared/errors.js';
import { childProcesses, ebur128, ffprobe, makeFixtures, type Fixtures } from './fixtures.js';

let fx: Fixtures;
let tools: MediaTools;
let out: string;
before(async () => {
  fx = makeFixtures();
  tools = await detectMediaTools();
  out = join(mkdtempSync(join(tmpdir(), 'loa-media-tc-')), 'out.ogg');
});
after(() => {
  fx.cleanup();
  rmSync(join(out, '..'), { recursive: true, force: true });
});

const head = (path: string): Buffer => readFileSync(path).subarray(0, SNIFF_HEAD_BYTES);

test('the device format is Ogg Opus, 48 kHz, mono, 64 kb/s, served as audio/ogg', () => {
  assert.deepEqual({ ...DEVICE_FORMAT }, { mime: 'audio/ogg', container: 'ogg', codec: 'opus', encoder: 'libopus', sampleRate: 48000, channels: 1, bitrate: 64000 });
});

test('finds ffmpeg and ffprobe, and names the apt-get command when one is missing', async () => {
  assert.match(tools.ffmpegVersion, /^ffmpeg version/);
  for (const missing of [{ ffmpeg: '/nonexistent/ffmpeg' }, { ffprobe: '/nonexistent/ffprobe' }]) {
    await assert.rejects(detectMediaTools(missing), (e) => isLoaError(e) && e.code === 'LOA_ERR_TOOL_MISSING' && e.message.includes('sudo apt-get install ffmpeg') && e.message.includes('npm run setup:system'));
  }
});

test('sniffs by content: a WAV is audio, a PNG, an ELF executable and text are not', async () => {
  assert.equal((await sniffHead(head(fx.speech))).demuxer, 'wav');
  for (const [path, detected] of [[fx.png, 'image/png'], ['/bin/true', 'application/x-elf'], [fx.text, undefined]] as const) {
    await assert.rejects(sniffHead(head(path)), (e) => isLoaError(e) && e.code === 'LOA_ERR_MEDIA_NOT_AUDIO' && e.details?.detected === detected);
  }
  const s = await sniffAudio(tools, fx.m4a, head(fx.m4a));
  assert.deepEqual([s.container.ext, s.container.demuxer, s.probe.audio.codec, s.probe.audio.channels], ['m4a', 'mov', 'aac', 1]);
});

test('normalises to another loudness target when asked', async () => {
  const r = await transcodeToDeviceFormat({ tools, input: fx.quiet, demuxer: 'wav', output: out, loudness: { integratedLufs: -23 } });
  const m = ebur128(out);
  assert.ok(Math.abs(m.integrated - -23) <= 1, `measured ${m.integrated}`);
  assert.ok(Math.abs(r.output.integratedLufs - m.integrated) <= 0.2);
  assert.ok(Math.abs(r.input.inputI - -26.75) <= 1);
  assert.equal(ffprobe(out).streams[0]?.codec_name, 'opus');
});

test('kills ffmpeg and rejects with the reason when the transcode is aborted', async () => {
  const ac = new AbortController();
  const running = transcodeToDeviceFormat({ tools, input: fx.loud, demuxer: 'wav', output: out, signal: ac.signal });
  assert.equal(childProcesses('ffmpeg').length, 1, 'ffmpeg is running');
  ac.abort(new Error('cancelled by the operator'));
  await assert.rejects(running, /cancelled by the operator/);
  assert.deepEqual(childProcesses('ffmpeg'), [], 'no ffmpeg is left behind');
});

test('stops ffmpeg after its timeout with LOA_ERR_MEDIA_TRANSCODE', async () => {
  rmSync(out, { force: true });
  await assert.rejects(
    transcodeToDeviceFormat({ tools, input: fx.loud, demuxer: 'wav', output: out, timeoutMs: 1 }),
    (e) => isLoaError(e) && e.code === 'LOA_ERR_MEDIA_TRANSCODE' && e.details?.timeoutMs === 1,
  );
  assert.deepEqual(childProcesses('ffmpeg'), []);
  assert.ok(!existsSync(out));
});
