import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import { MediaLibrary, type MediaLibraryOptions } from '../../../controller/media/library.js';
import { DEVICE_FORMAT } from '../../../controller/media/transcode.js';
import { isLoaError, type ErrorCode } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { ebur128, ffprobe, filesUnder, makeFixtures, sha256File, uploadOf, type Fixtures } from './fixtures.js';

let fx: Fixtures;
const dirs: string[] = [];
/** One library for the tests that must all be refused: its folder has to stay empty throughout. */
let rejecting: ReturnType<typeof library>;
before(async () => {
  fx = makeFixtures();
  rejecting = library();
  await rejecting.lib.init();
});
after(() => {
  fx.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function library(options: Partial<MediaLibraryOptions> = {}): { lib: MediaLibrary; dir: string; tmp: string } {
  const root = mkdtempSync(join(tmpdir(), 'loa-media-lib-'));
  dirs.push(root);
  const dir = join(root, 'media');
  const lib = new MediaLibrary({ dir, maxUploadBytes: 8 * 1024 * 1024, log: createLogger('test', { level: 'silent' }), ...options });
  return { lib, dir, tmp: options.tmpDir ?? join(dir, '.tmp') };
}

const hasCode = (code: ErrorCode) => (e: unknown): boolean => {
  assert.ok(isLoaError(e), `expected a LoaError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

for (const [name, pick, inputLufs, normalization] of [
  // espeak-ng peaks at 0 dBFS: +1.5 dB would clip, so it needs the true-peak limiter.
  ['Vietnamese speech from espeak-ng', (f: Fixtures) => f.speech, [-19, -16], 'limited'],
  // Downmixed to mono: -26 dBFS peaks, -26.7 LUFS; -14.6 LUFS → -1.2 dBFS peaks, so plain gain suffices.
  ['a quiet stereo tone', (f: Fixtures) => f.quiet, [-28, -25], 'linear'],
  ['a loud stereo tone', (f: Fixtures) => f.loud, [-3, 0], 'linear'],
] as const) {
  test(`turns ${name} into Ogg Opus, mono, 48 kHz, at -16 LUFS ± 1 LU, keeping its duration`, async () => {
    const input = pick(fx);
    const { lib } = library();
    const r = await lib.ingest(uploadOf(input), { originalName: 'ban-tin.wav' });

    assert.equal(r.mime, 'audio/ogg');
    assert.equal(r.sourceMime, 'audio/wav');
    assert.equal(r.sourceSha256, sha256File(input));
    assert.equal(r.sourceSize, statSync(input).size);
    const stored = lib.path(r.sha256);
    assert.equal(sha256File(stored), r.sha256, 'the file is named by its own sha256');
    assert.equal(statSync(stored).size, r.size);

    const out = ffprobe(stored);
    assert.equal(out.formatName, 'ogg');
    assert.equal(out.streams.length, 1);
    assert.deepEqual([out.streams[0]?.codec_name, out.streams[0]?.channels, out.streams[0]?.sample_rate], ['opus', 1, '48000']);
    assert.ok(Math.abs(out.durationMs - ffprobe(input).durationMs) <= 100, `duration ${out.durationMs} ms vs ${ffprobe(input).durationMs} ms`);
    assert.ok(Math.abs(r.durationMs - out.durationMs) <= 1);

    const measured = ebur128(stored);
    assert.ok(Math.abs(measured.integrated - -16) <= 1, `measured ${measured.integrated} LUFS`);
    assert.ok(Math.abs(r.loudnessLufs - measured.integrated) <= 0.2, `reported ${r.loudnessLufs}, measured ${measured.integrated}`);
    assert.ok(measured.truePeak <= -1.5 + 0.5, `true peak ${measured.truePeak} dBTP`);
    assert.ok(r.inputLoudnessLufs >= inputLufs[0] && r.inputLoudnessLufs <= inputLufs[1], `input measured ${r.inputLoudnessLufs} LUFS`);
    assert.equal(r.normalization, normalization);
  });
}

test('accepts mp3, m4a and webm by their content whatever the client calls them, and strips their tags', async () => {
  const { lib } = library();
  for (const [path, mime] of [[fx.mp3, 'audio/mpeg'], [fx.m4a, 'audio/x-m4a'], [fx.webm, 'video/webm']] as const) {
    const r = await lib.ingest(uploadOf(path), { originalName: 'ghi âm.txt' });
    assert.equal(r.sourceMime, mime);
    assert.equal(r.originalName, 'ghi âm.txt');
    const out = ffprobe(lib.path(r.sha256));
    assert.equal(out.streams[0]?.codec_name, 'opus');
    assert.ok(!('title' in out.tags) && !('TITLE' in out.tags), JSON.stringify(out.tags));
    assert.ok(Math.abs(ebur128(lib.path(r.sha256)).integrated - -16) <= 1);
  }
});

test('keeps only the sound of a video that has one', async () => {
  const { lib } = library();
  const r = await lib.ingest(uploadOf(fx.videoWithAudio), { originalName: 'clip.mp4' });
  const out = ffprobe(lib.path(r.sha256));
  assert.deepEqual(out.streams.map((s) => s.codec_type), ['audio']);
  assert.equal(r.sourceMime, 'video/mp4');
});

for (const [name, pick, originalName] of [
  ['a PNG image', (f: Fixtures) => f.png, 'anh.png'],
  ['a text file', (f: Fixtures) => f.text, 'thong-bao.txt'],
  ['a text file renamed "x.mp3"', (f: Fixtures) => f.text, 'x.mp3'],
  ['random bytes', (f: Fixtures) => f.random, 'data.wav'],
  ['random bytes behind an MP3 frame header', (f: Fixtures) => f.fakeMp3, 'song.mp3'],
  ['an executable', () => '/bin/true', 'setup.mp3'],
  ['a video without sound', (f: Fixtures) => f.videoOnly, 'video.mp4'],
] as const) {
  test(`rejects ${name} with LOA_ERR_MEDIA_NOT_AUDIO and leaves no files`, async () => {
    const { lib, dir } = rejecting;
    const source = uploadOf(pick(fx));
    await assert.rejects(lib.ingest(source, { originalName }), hasCode('LOA_ERR_MEDIA_NOT_AUDIO'));
    assert.ok(source.destroyed, 'the upload stream is destroyed');
    assert.deepEqual(filesUnder(dir), []);
  });
}

test('rejects digital silence with LOA_ERR_MEDIA_SILENT and leaves no files', async () => {
  const { lib, dir } = rejecting;
  await assert.rejects(lib.ingest(uploadOf(fx.silence)), hasCode('LOA_ERR_MEDIA_SILENT'));
  assert.deepEqual(filesUnder(dir), []);
});

/** An endless upload: a real WAV header, then zeros forever. Counts what was pulled from it. */
function endless(head: Buffer): { source: Readable; pulled: () => number } {
  let pulled = 0;
  const chunk = Buffer.alloc(64 * 1024);
  const source = new Readable({
    read(): void {
      const next = pulled === 0 ? head : chunk;
      pulled += next.length;
      this.push(next);
    },
  });
  return { source, pulled: () => pulled };
}

test('stops an upload as soon as it passes the cap, with LOA_ERR_INPUT_TOO_LARGE, and leaves no files', async () => {
  const cap = 256 * 1024;
  const { lib, dir } = library({ maxUploadBytes: cap });
  const { source, pulled } = endless(readFileSync(fx.quiet).subarray(0, 44));
  await assert.rejects(lib.ingest(source, { originalName: 'dai.wav' }), hasCode('LOA_ERR_INPUT_TOO_LARGE'));
  assert.ok(pulled() < cap + 4 * 64 * 1024, `read ${pulled()} bytes of an endless upload`);
  assert.ok(source.destroyed);
  assert.deepEqual(filesUnder(dir), []);
});

test('refuses a PNG after its first bytes, without reading the rest of the upload', async () => {
  const { lib, dir } = library({ maxUploadBytes: 1024 * 1024 * 1024 });
  const { source, pulled } = endless(readFileSync(fx.png));
  await assert.rejects(lib.ingest(source), hasCode('LOA_ERR_MEDIA_NOT_AUDIO'));
  assert.ok(pulled() < 512 * 1024, `read ${pulled()} bytes`);
  assert.deepEqual(filesUnder(dir), []);
});

test('treats an upload that multipart cut at its own size limit (truncated) as too large', async () => {
  const { lib, dir } = rejecting;
  const source = Object.assign(uploadOf(fx.quiet), { truncated: true });
  await assert.rejects(lib.ingest(source), hasCode('LOA_ERR_INPUT_TOO_LARGE'));
  assert.deepEqual(filesUnder(dir), []);
});

test('gives the same sha256 for the same audio uploaded twice, stores it once, and keeps each upload\'s name', async () => {
  const { lib, dir } = library();
  const a = await lib.ingest(uploadOf(fx.quiet), { originalName: 'a.wav' });
  const b = await lib.ingest(uploadOf(fx.quiet), { originalName: '  Thông báo  Ủy ban.wav '.normalize('NFD') });
  assert.equal(b.originalName, 'Thông báo Ủy ban.wav', 'the name is kept, in NFC, spaces collapsed');
  assert.equal(b.sha256, a.sha256);
  assert.equal(a.deduplicated, false);
  assert.equal(b.deduplicated, true);
  assert.deepEqual(filesUnder(dir), [a.sha256]);
  assert.deepEqual(await lib.list(), [a.sha256]);
});

test('rejects original names that try path traversal with LOA_ERR_NAME_INVALID before reading the upload', async () => {
  const { lib, dir } = rejecting;
  for (const originalName of ['../../etc/passwd', 'a/b.mp3', 'a\\b.mp3', '..', 'x\u0000.mp3', 'tab\tname.mp3', 'bad\u202Egnp.mp3']) {
    const source = uploadOf(fx.speech);
    await assert.rejects(lib.ingest(source, { originalName }), hasCode('LOA_ERR_NAME_INVALID'), originalName);
    assert.ok(source.destroyed);
  }
  assert.deepEqual(filesUnder(dir), []);
});

test('removes every temp file when an ingest is aborted in the middle of transcoding', async () => {
  const ac = new AbortController();
  const sink = new Writable({
    write(line: Buffer, _enc, cb): void {
      if (line.toString().includes('media encoded')) ac.abort(new Error('operator cancelled'));
      cb();
    },
  });
  const root = mkdtempSync(join(tmpdir(), 'loa-media-lib-'));
  dirs.push(root);
  const dir = join(root, 'media');
  const lib = new MediaLibrary({ dir, maxUploadBytes: 8 * 1024 * 1024, log: pino({ level: 'debug' }, sink) });
  await assert.rejects(lib.ingest(uploadOf(fx.loud), {}, { signal: ac.signal }), /operator cancelled/);
  assert.ok(ac.signal.aborted, 'the abort came from inside the transcode');
  assert.deepEqual(filesUnder(dir), []);
});

test('init removes what a crash left in its temp folder, and nothing else there', async () => {
  const root = mkdtempSync(join(tmpdir(), 'loa-media-lib-'));
  dirs.push(root);
  const tmpDir = join(root, 'shared-tmp');
  const { lib, dir } = library({ tmpDir });
  mkdirSync(tmpDir, { recursive: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(tmpDir, 'loa-ingest-0123.src'), 'half an upload');
  writeFileSync(join(tmpDir, 'loa-ingest-0123.ogg'), 'half a transcode');
  writeFileSync(join(tmpDir, 'someone-else.txt'), 'not ours');
  writeFileSync(join(dir, '.incoming-4567'), 'half a copy');
  await lib.init();
  assert.deepEqual(filesUnder(tmpDir), ['someone-else.txt']);
  assert.deepEqual(filesUnder(dir), []);
  const r = await lib.ingest(uploadOf(fx.quiet));
  assert.deepEqual(filesUnder(tmpDir), ['someone-else.txt']);
  assert.deepEqual(filesUnder(dir), [r.sha256]);
});

test('path accepts only a sha256; has, stat, list, openRange and remove work on the stored file', async () => {
  const { lib, dir } = library();
  for (const bad of ['../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}/x`, '']) {
    assert.throws(() => lib.path(bad), hasCode('LOA_ERR_MEDIA_NOT_FOUND'));
    assert.equal(lib.has(bad), false);
    assert.equal(await lib.stat(bad), undefined);
  }
  const r = await lib.ingest(uploadOf(fx.quiet));
  assert.equal(lib.path(r.sha256), join(dir, r.sha256));
  assert.ok(lib.has(r.sha256));
  assert.deepEqual(await lib.stat(r.sha256), { sha256: r.sha256, path: join(dir, r.sha256), size: r.size, mtimeMs: statSync(join(dir, r.sha256)).mtimeMs });

  const part = await lib.openRange(r.sha256, { method: 'GET', headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.ETag, `"${r.sha256}"`);
  assert.equal(part.headers['Content-Type'], DEVICE_FORMAT.mime);
  const chunks: Buffer[] = [];
  for await (const c of part.stream ?? []) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), readFileSync(join(dir, r.sha256)).subarray(10, 20));

  assert.equal(await lib.remove(r.sha256), true);
  assert.equal(await lib.remove(r.sha256), false);
  assert.equal(lib.has(r.sha256), false);
  assert.ok(!existsSync(join(dir, r.sha256)));
  await assert.rejects(lib.openRange(r.sha256, { headers: {} }), hasCode('LOA_ERR_MEDIA_NOT_FOUND'));
});

test('reports a missing ffmpeg as LOA_ERR_TOOL_MISSING, saying how to install it, and reads no upload', async () => {
  const { lib, dir } = library({ tools: { ffmpeg: '/nonexistent/ffmpeg' } });
  await assert.rejects(lib.init(), (e) => hasCode('LOA_ERR_TOOL_MISSING')(e) && /sudo apt-get install ffmpeg/.test((e as Error).message));
  const source = uploadOf(fx.quiet);
  await assert.rejects(lib.ingest(source), hasCode('LOA_ERR_TOOL_MISSING'));
  assert.ok(source.destroyed);
  assert.deepEqual(filesUnder(dir), []);
});
