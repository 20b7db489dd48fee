// Pictures and videos for board slides (issue 8): real ffmpeg-made inputs through the real library.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaLibrary, type MediaLibraryOptions, type UploadResult } from '../../../controller/media/library.js';
import { isLoaError, type ErrorCode } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { filesUnder, uploadOf } from './fixtures.js';

let fx: string;
const dirs: string[] = [];
const p = (name: string): string => join(fx, name);
const ff = (...args: string[]): void => {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
};

/** A JPEG with an EXIF block (APP1) holding Orientation = 6 (turn 90° clockwise) and a GPS position. */
function withExif(jpeg: Buffer): Buffer {
  const le16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
  const le32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const entry = (tag: number, type: number, count: number, value: Buffer): Buffer => Buffer.concat([le16(tag), le16(type), le32(count), value]);
  // IFD0 at 8: Orientation (SHORT 6) and GPSInfo (LONG → GPS IFD at 38); GPS IFD: GPSLatitudeRef 'N'.
  const ifd0 = Buffer.concat([le16(2), entry(0x0112, 3, 1, Buffer.from([6, 0, 0, 0])), entry(0x8825, 4, 1, le32(38)), le32(0)]);
  const gps = Buffer.concat([le16(1), entry(0x0001, 2, 2, Buffer.from('N\0\0\0', 'latin1')), le32(0)]);
  const tiff = Buffer.concat([Buffer.from('II*\0', 'latin1'), le32(8), ifd0, gps, Buffer.from('GPS-SECRET-21.0285N', 'latin1')]);
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(exif.length + 2);
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xe1]), len, exif, jpeg.subarray(2)]);
}

before(() => {
  fx = mkdtempSync(join(tmpdir(), 'loa-visual-fx-'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', p('poster.png'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', p('photo.jpg'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', '-c:v', 'libwebp', p('banner.webp'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=4000x1000', '-frames:v', '1', p('wide.png'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', p('clip.mp4'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-t', '2', '-c:v', 'libvpx', '-b:v', '300k', p('clip.webm'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=f=440', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', p('with-sound.mp4'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-t', '1', p('anim.gif'));
  writeFileSync(p('photo-exif.jpg'), withExif(readFileSync(p('photo.jpg'))));
  const png = readFileSync(p('poster.png'));
  writeFileSync(p('cut.png'), png.subarray(0, Math.floor(png.length / 3)));
  const jpg = readFileSync(p('photo.jpg'));
  writeFileSync(p('cut.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
  // A faststart MP4 cut in its media data: the index still says 2 s.
  ff('-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-t', '4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', p('long.mp4'));
  const mp4 = readFileSync(p('long.mp4'));
  writeFileSync(p('cut.mp4'), mp4.subarray(0, Math.floor(mp4.length * 0.4)));
  writeFileSync(p('drawing.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>\n');
});
after(() => {
  rmSync(fx, { recursive: true, force: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function library(options: Partial<MediaLibraryOptions> = {}): { lib: MediaLibrary; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'loa-visual-lib-'));
  dirs.push(root);
  const dir = join(root, 'media');
  return { lib: new MediaLibrary({ dir, maxUploadBytes: 16 * 1024 * 1024, log: createLogger('test', { level: 'silent' }), ...options }), dir };
}

const hasCode = (code: ErrorCode) => (e: unknown): boolean => {
  assert.ok(isLoaError(e), `expected a LoaError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

function probe(path: string): { format: string; streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>; durationMs: number } {
  const j = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path], { encoding: 'utf8' })) as {
    format: { format_name: string; duration?: string }; streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>;
  };
  return { format: j.format.format_name, streams: j.streams, durationMs: Math.round(Number(j.format.duration ?? 'NaN') * 1000) };
}

for (const [file, mime, codec] of [['poster.png', 'image/png', 'png'], ['photo.jpg', 'image/jpeg', 'mjpeg'], ['banner.webp', 'image/webp', 'webp']] as const) {
  test(`stores a ${mime} upload as a ${mime} picture of the same size, found by its bytes whatever the kind asked (auto or image)`, async () => {
    const { lib, dir } = library();
    for (const kind of ['auto', 'image'] as const) {
      const r: UploadResult = await lib.ingestUpload(uploadOf(p(file)), { originalName: `x-${file}`, kind });
      assert.equal(r.kind, 'image');
      assert.equal(r.mime, mime);
      assert.deepEqual([r.width, r.height, r.durationMs], [640, 360, 0]);
      const out = probe(join(dir, r.sha256));
      assert.deepEqual([out.streams[0]?.codec_name, out.streams[0]?.width, out.streams[0]?.height], [codec, 640, 360]);
    }
    assert.equal(filesUnder(dir).filter((f) => !f.startsWith('.tmp')).length, 1, 'the same picture twice is stored once');
  });
}

test('turns a phone photo upright by its EXIF orientation and drops the EXIF block with its GPS position', async () => {
  const { lib, dir } = library();
  const r = await lib.ingestUpload(uploadOf(p('photo-exif.jpg')), { kind: 'image' });
  assert.equal(r.kind, 'image');
  assert.deepEqual([r.width, r.height], [360, 640], 'rotated 90°');
  const stored = readFileSync(join(dir, r.sha256));
  assert.equal(stored.includes(Buffer.from('Exif\0\0', 'latin1')), false, 'no EXIF');
  assert.equal(stored.includes(Buffer.from('GPS-SECRET', 'latin1')), false, 'no GPS');
  assert.ok(readFileSync(p('photo-exif.jpg')).includes(Buffer.from('GPS-SECRET', 'latin1')), 'the input had them');
});

test('scales a picture wider than 3840 px down to 3840 px, keeping its aspect ratio', async () => {
  const { lib } = library();
  const r = await lib.ingestUpload(uploadOf(p('wide.png')), { kind: 'auto' });
  assert.equal(r.kind, 'image');
  assert.deepEqual([r.mime, r.width, r.height], ['image/png', 3840, 960]);
});

for (const [file, kind] of [['clip.mp4', 'auto'], ['clip.webm', 'video'], ['with-sound.mp4', 'video']] as const) {
  test(`transcodes ${file} (kind ${kind}) to VP9 WebM without sound, keeping its size and duration`, async () => {
    const { lib, dir } = library();
    const r = await lib.ingestUpload(uploadOf(p(file)), { kind });
    assert.ok(r.kind === 'video', r.kind);
    assert.equal(r.mime, 'video/webm');
    const out = probe(join(dir, r.sha256));
    assert.match(out.format, /webm/);
    assert.deepEqual(out.streams.map((s) => [s.codec_type, s.codec_name]), [['video', 'vp9']], 'one VP9 stream, no audio');
    const w = file === 'with-sound.mp4' ? 320 : 640;
    assert.deepEqual([r.width, r.height, out.streams[0]?.width], [w, w === 320 ? 240 : 360, w]);
    assert.ok(Math.abs(r.durationMs - 2000) <= 100, `duration ${r.durationMs} ms`);
    assert.ok(Math.abs(out.durationMs - r.durationMs) <= 50);
  });
}

test('keeps a video with sound as audio when the kind is auto (as before boards): only its sound is stored', async () => {
  const { lib } = library();
  const r = await lib.ingestUpload(uploadOf(p('with-sound.mp4')), { kind: 'auto' });
  assert.deepEqual([r.kind, r.mime], ['audio', 'audio/ogg']);
});

for (const [name, file, kind, code] of [
  ['an SVG drawing', 'drawing.svg', 'auto', 'LOA_ERR_MEDIA_NOT_IMAGE'],
  ['an SVG drawing asked as an image', 'drawing.svg', 'image', 'LOA_ERR_MEDIA_NOT_IMAGE'],
  ['an animated GIF', 'anim.gif', 'image', 'LOA_ERR_MEDIA_NOT_IMAGE'],
  ['a video asked as an image', 'clip.mp4', 'image', 'LOA_ERR_MEDIA_NOT_IMAGE'],
  ['a picture asked as a video', 'poster.png', 'video', 'LOA_ERR_MEDIA_NOT_VIDEO'],
  ['a picture asked as audio', 'poster.png', 'audio', 'LOA_ERR_MEDIA_NOT_AUDIO'],
  ['a PNG cut to a third', 'cut.png', 'auto', 'LOA_ERR_MEDIA_CORRUPT'],
  ['a JPEG cut in half', 'cut.jpg', 'image', 'LOA_ERR_MEDIA_CORRUPT'],
  ['an MP4 cut in its media data', 'cut.mp4', 'video', 'LOA_ERR_MEDIA_CORRUPT'],
] as const) {
  test(`refuses ${name} with ${code} and leaves no files`, async () => {
    const { lib, dir } = library();
    await assert.rejects(lib.ingestUpload(uploadOf(p(file)), { kind }), hasCode(code));
    assert.deepEqual(filesUnder(dir), []);
  });
}

test('refuses a picture over the image byte cap or pixel cap, and a video over the duration cap, with LOA_ERR_INPUT_TOO_LARGE', async () => {
  const png = readFileSync(p('poster.png')).length;
  for (const [visual, file] of [[{ maxImageBytes: png - 1 }, 'poster.png'], [{ maxImagePixels: 640 * 360 - 1 }, 'poster.png'], [{ maxVideoDurationMs: 1500 }, 'clip.mp4']] as const) {
    const { lib, dir } = library({ visual });
    await assert.rejects(lib.ingestUpload(uploadOf(p(file)), { kind: 'auto' }), hasCode('LOA_ERR_INPUT_TOO_LARGE'), JSON.stringify(visual));
    assert.deepEqual(filesUnder(dir), []);
  }
});
