import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SignedManifest } from '../../../shared/schemas/manifest.js';
import { toneWav } from '../../../shared/wav.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { outcome } from '../../support/outcome.js';

interface Media { id: string; sha256: string; size: number; durationMs: number; mime: string; kind: string; width: number | null; height: number | null }

describe('pictures and videos on boards through the media library and the program API (issue 8)', () => {
  let t: TestController;
  let dir: string;
  const f = (name: string): string => join(dir, name);
  const upload = async (file: string, fields: Record<string, string> = {}): Promise<Media> =>
    ((await t.admin.upload(f(file), { zoneId: 'X1', title: file, ...fields })) as unknown as { media: Media }).media;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loa-board-media-'));
    const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] }); };
    ff('-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', f('poster.png'));
    ff('-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', f('clip.mp4'));
    writeFileSync(f('tone.wav'), toneWav({ seconds: 1 }));
    const png = readFileSync(f('poster.png'));
    writeFileSync(f('broken.png'), png.subarray(0, 400));
    writeFileSync(f('logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    t = await startTestController();
    const now = Date.now();
    t.controller.data.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    t.controller.data.devices.create({ id: 'dev-lcd', zoneId: 'X1', name: 'Bảng LCD', kind: 'board' }, now);
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a PNG and an MP4 by their bytes, records kind and size, and serves them to users with their own content type and Range', async () => {
    const img = await upload('poster.png');
    assert.deepEqual([img.kind, img.mime, img.width, img.height, img.durationMs], ['image', 'image/png', 640, 360, 0]);
    const vid = await upload('clip.mp4');
    assert.deepEqual([vid.kind, vid.mime, vid.width, vid.height], ['video', 'video/webm', 640, 360]);
    assert.ok(Math.abs(vid.durationMs - 2000) <= 100, `${vid.durationMs} ms`);
    const got = await t.admin.get<{ media: Media }>(`/api/v1/media/${img.id}`);
    assert.deepEqual([got.media.kind, got.media.width], ['image', 640]);
    const listed = await t.admin.get<{ media: Media[] }>('/api/v1/media');
    assert.deepEqual(new Set(listed.media.map((m) => m.kind)), new Set(['image', 'video']));
    for (const m of [img, vid]) {
      const r = await fetch(new URL(`/media/${m.sha256}`, t.controller.httpUrl), { headers: { authorization: `Bearer ${t.admin.token!}`, range: 'bytes=0-99' } });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-type'), m.mime);
      assert.equal((await r.arrayBuffer()).byteLength, 100);
    }
  });

  it('refuses an SVG, a cut PNG, a picture asked as a video, and an unknown kind, with their codes', async () => {
    for (const [file, fields, status, code] of [
      ['logo.svg', {}, 415, 'LOA_ERR_MEDIA_NOT_IMAGE'],
      ['broken.png', {}, 422, 'LOA_ERR_MEDIA_CORRUPT'],
      ['poster.png', { kind: 'video' }, 415, 'LOA_ERR_MEDIA_NOT_VIDEO'],
      ['poster.png', { kind: 'sticker' }, 400, 'LOA_ERR_SCHEMA'],
    ] as const) {
      const r = await outcome(upload(file, fields));
      assert.deepEqual([r.status, r.code], [status, code], `${file} ${JSON.stringify(fields)}`);
    }
  });

  it('compiles image and video slides into the signed manifest with their media entries; a video slide lasts as long as its video by default', async () => {
    const img = await upload('poster.png', { title: 'Áp phích' });
    const vid = await upload('clip.mp4', { title: 'Phim ngắn', kind: 'video' });
    const items = [
      { kind: 'image', mediaId: img.id, fit: 'cover', durationMs: 8000, dayparts: [{ from: '06:00', to: '21:00' }] },
      { kind: 'video', mediaId: vid.id },
      { kind: 'video', mediaId: vid.id, durationMs: 30_000, muted: true },
    ];
    const { program } = await t.admin.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X1', title: 'Bảng tin ảnh', items });
    await t.admin.post(`/api/v1/programs/${program.id}/submit`);
    await t.admin.post(`/api/v1/programs/${program.id}/approve`);
    const { schedule } = await t.admin.post<{ schedule: { id: string } }>('/api/v1/schedules', {
      zoneId: 'X1', programId: program.id, title: 'Hằng ngày', dtstart: '2026-12-01T07:00', rrule: 'FREQ=DAILY;COUNT=10', targets: { zones: ['X1'], devices: [] },
    });
    await t.admin.post(`/api/v1/schedules/${schedule.id}/submit`);
    await t.admin.post(`/api/v1/schedules/${schedule.id}/approve`);
    await t.controller.manifestCompiler.flush();
    const env = JSON.parse(t.controller.data.manifests.get('dev-lcd')!.body) as SignedManifest;
    assert.deepEqual(env.signed.programs.find((p) => p.id === program.id)?.items, [
      { kind: 'image', sha256: img.sha256, fit: 'cover', durationMs: 8000, dayparts: [{ from: '06:00', to: '21:00' }] },
      { kind: 'video', sha256: vid.sha256, durationMs: vid.durationMs },
      { kind: 'video', sha256: vid.sha256, durationMs: 30_000, muted: true },
    ]);
    const entries = env.signed.media.filter((m) => m.sha256 === img.sha256 || m.sha256 === vid.sha256).sort((a, b) => a.mime!.localeCompare(b.mime!));
    assert.deepEqual(entries.map((m) => [m.mime, m.size, m.url]), [['image/png', img.size, `/media/${img.sha256}`], ['video/webm', vid.size, `/media/${vid.sha256}`]]);
    const used = await t.admin.get<{ usedBy: string[] }>(`/api/v1/media/${vid.id}`);
    assert.deepEqual(used.usedBy, [program.id], 'a slide keeps its media from deletion');
    const del = await outcome(t.admin.request('DELETE', `/api/v1/media/${img.id}`));
    assert.deepEqual([del.status, del.code], [409, 'LOA_ERR_MEDIA_IN_USE']);
  });

  it('refuses an audio item of a picture, an image slide of a video and a video slide of audio (LOA_ERR_MEDIA_KIND_MISMATCH), and a video slide of an unknown media', async () => {
    const img = await upload('poster.png');
    const vid = await upload('clip.mp4');
    const tone = await upload('tone.wav');
    assert.equal(tone.kind, 'audio');
    for (const item of [
      { kind: 'media', mediaId: img.id },
      { kind: 'image', mediaId: vid.id, durationMs: 5000 },
      { kind: 'video', mediaId: tone.id },
    ]) {
      const r = await outcome(t.admin.post('/api/v1/programs', { zoneId: 'X1', title: 'Sai loại', items: [item] }));
      assert.deepEqual([r.status, r.code], [422, 'LOA_ERR_MEDIA_KIND_MISMATCH'], JSON.stringify(item));
    }
    const missing = await outcome(t.admin.post('/api/v1/programs', { zoneId: 'X1', title: 'x', items: [{ kind: 'video', mediaId: 'med-none' }] }));
    assert.deepEqual([missing.status, missing.code], [404, 'LOA_ERR_NOT_FOUND']);
    const noDuration = await outcome(t.admin.post('/api/v1/programs', { zoneId: 'X1', title: 'x', items: [{ kind: 'image', mediaId: img.id }] }));
    assert.deepEqual([noDuration.status, noDuration.code], [400, 'LOA_ERR_SCHEMA'], 'an image slide needs its time on screen');
  });
});
