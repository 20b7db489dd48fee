import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Agent } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { initIdentity } from '../../agent/identity.js';
import { ManifestManager } from '../../agent/manifest/manager.js';
import { MediaStore } from '../../agent/media/store.js';
import { openDb } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { sha256Hex } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import { startTestController } from '../support/controller.js';
import { CHROMIUM, SHOT_DIR, sample } from '../support/display-page.js';
import { eventually } from '../support/wait.js';

const log = createLogger('board-media', { level: process.env.LOA_TEST_LOG ?? 'silent' });
/** Local wall time (Asia/Ho_Chi_Minh, no offset) of a UTC instant, to the second: a schedule dtstart. */
const localWall = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

interface Media { id: string; sha256: string; size: number; durationMs: number; kind: string; width: number | null; height: number | null }
type Dom = { document: { querySelector(s: string): (Record<string, unknown> & { naturalWidth?: number; currentTime?: number; paused?: boolean; videoWidth?: number; complete?: boolean }) | null } };

/** The <img> or <video> of the layer on screen (not a hidden `.next` one). */
function onScreen(page: Page, tag: 'img' | 'video'): Promise<{ naturalWidth?: number; complete?: boolean; currentTime?: number; paused?: boolean; videoWidth?: number } | null> {
  return page.evaluate((t) => {
    const el = (globalThis as unknown as Dom).document.querySelector(`#stage .layer:not(.next) ${t}`);
    return el ? { naturalWidth: el.naturalWidth, complete: el.complete as boolean, currentTime: el.currentTime, paused: el.paused, videoWidth: el.videoWidth } : null;
  }, tag);
}

test('a picture and a video uploaded to the controller reach a board agent through the signed manifest and show in its kiosk page', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-board-media-'));
  const c = await startTestController();
  let browser: Browser | null = null;
  let agent: Agent | null = null;
  try {
    const ff = (...args: string[]): void => { execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] }); };
    ff('-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', join(dir, 'poster.jpg'));
    ff('-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-t', '4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', join(dir, 'clip.mp4'));
    const d = c.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    const id = initIdentity(join(dir, 'dev'), 'dev-board');
    d.devices.create({ id: 'dev-board', zoneId: 'X1', name: 'Bảng tin xã', kind: 'board' }, now);
    d.devices.bindKey('dev-board', { publicKey: id.publicKey, keyid: id.keyid }, now);
    // Provisioning (loa agent init): the province's trust root in the agent's store.
    const db = openDb({ path: join(dir, 'dev', 'agent.db') });
    const media = new MediaStore({ dataDir: join(dir, 'dev'), db, log, now: Date.now });
    media.init();
    new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => 'dev-board' }), media, log, deviceId: 'dev-board', now: Date.now })
      .installRoot(JSON.parse(readFileSync(join(c.dir, 'keys', 'root.json'), 'utf8')));
    db.close();

    const upload = async (file: string, kind: string): Promise<Media> =>
      ((await c.admin.upload(join(dir, file), { zoneId: 'X1', title: file, kind })) as unknown as { media: Media }).media;
    const img = await upload('poster.jpg', 'image');
    const vid = await upload('clip.mp4', 'video');
    assert.deepEqual([img.kind, img.width, vid.kind, vid.width], ['image', 640, 'video', 640]);

    const profile = parseProfile(JSON.stringify({
      id: 'lcd-test', name: 'LCD', audio: { driver: 'none', device: 'default' }, relay: { type: 'none' }, outputs: [{ name: 'screen', channels: [], warmupMs: 0, cooldownMs: 0 }],
      display: { width: 640, height: 360, minFontPx: 12, name: 'Bảng tin xã Một' },
    }));
    agent = new Agent({
      dataDir: join(dir, 'dev'), profile, log, display: { port: 0 },
      sync: { config: { controllerUrl: c.controller.httpUrl, mqttUrl: c.controller.mqttUrl, zoneId: 'X1' }, manifestIntervalMs: 600_000, telemetryIntervalMs: 600_000 },
    });
    await agent.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
    const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
    await page.goto(agent.display!.url);
    await eventually(async () => (await sample(page)).kind === 'idle', 15_000, 'the idle screen');

    const { program } = await c.admin.post<{ program: { id: string } }>('/api/v1/programs', {
      zoneId: 'X1', title: 'Ảnh và phim', items: [{ kind: 'image', mediaId: img.id, durationMs: 8000 }, { kind: 'video', mediaId: vid.id, durationMs: 20_000 }],
    });
    await c.admin.post(`/api/v1/programs/${program.id}/submit`);
    await c.admin.post(`/api/v1/programs/${program.id}/approve`);
    const start = Math.ceil(Date.now() / 1000) * 1000 + 15_000;
    const { schedule } = await c.admin.post<{ schedule: { id: string } }>('/api/v1/schedules', {
      zoneId: 'X1', programId: program.id, title: 'Trình chiếu', dtstart: localWall(start), targets: { zones: ['X1'], devices: [] }, confirmNightHours: true, maxDelayMs: 60_000,
    });
    await c.admin.post(`/api/v1/schedules/${schedule.id}/submit`);
    await c.admin.post(`/api/v1/schedules/${schedule.id}/approve`);

    // The agent fetches the manifest on notify and downloads both files (sha256 and size checked).
    const store = join(dir, 'dev', 'media');
    await eventually(() => existsSync(join(store, img.sha256)) && existsSync(join(store, vid.sha256)), 20_000, 'both files in the agent store');
    assert.equal(sha256Hex(readFileSync(join(store, vid.sha256))), vid.sha256);
    assert.ok(Date.now() < start, 'the files arrived before the slide was due');

    await eventually(async () => (await sample(page)).kind === 'image', 20_000, 'the picture on screen');
    const pic = await onScreen(page, 'img');
    assert.equal(pic?.naturalWidth, 640, 'the <img> decoded');
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'media-image-640x360.png') });

    await eventually(async () => (await sample(page)).kind === 'video', 15_000, 'the video on screen');
    let first: number | undefined;
    await eventually(async () => {
      const v = await onScreen(page, 'video');
      if (!v || v.paused || v.videoWidth !== 640) return false;
      first ??= v.currentTime;
      return v.currentTime! > first! + 0.5;
    }, 10_000, 'the video playing (currentTime advancing)');
    await page.screenshot({ path: join(SHOT_DIR, 'media-video-640x360.png') });

    const shows = agent.events().filter((e) => e.type === 'display.show' && e.data.entryId === schedule.id).map((e) => [e.data.kind, e.data.sha256]);
    assert.deepEqual(shows, [['image', img.sha256], ['video', vid.sha256]], 'proof-of-display of both slides');
    assert.equal(agent.events().filter((e) => e.type === 'display.fault').length, 0, 'no display fault');
    t.diagnostic(`image ${img.size} B, video ${vid.size} B (${vid.durationMs} ms VP9 WebM)`);

    // The dashboard's library page shows each kind, and a thumbnail of the picture (the session cookie is the API token).
    const ctl = new URL(c.controller.httpUrl);
    const dash = await browser.newContext();
    await dash.addCookies([{ name: 'loa_session', value: c.admin.token!, domain: ctl.hostname, path: '/' }]);
    const lib = await dash.newPage();
    await lib.goto(new URL('/library', ctl).href);
    const thumb = lib.locator(`#media tr[data-id="${img.id}"] img.thumb`);
    await thumb.waitFor({ timeout: 15_000 });
    await lib.waitForFunction((sel) => {
      const el = (globalThis as unknown as Dom).document.querySelector(sel);
      return !!el && el.complete === true && (el.naturalWidth ?? 0) > 0;
    }, `#media tr[data-id="${img.id}"] img.thumb`, { timeout: 15_000 });
    assert.equal(await thumb.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth), 640);
    assert.match(await lib.locator(`#media tr[data-id="${vid.id}"] td.media-kind`).innerText(), /^Video 640×360/);
    assert.match(await lib.locator(`#media tr[data-id="${img.id}"] td.media-kind`).innerText(), /^Ảnh 640×360/);

    // The program form makes a picture a board slide and a video a video slide (not loudspeaker audio items).
    const sched = await dash.newPage();
    await sched.goto(new URL('/schedules', ctl).href);
    await sched.waitForSelector('#program-media');
    await sched.fill('#program-title', 'Ảnh qua giao diện');
    await sched.selectOption('#program-zone', 'X1');
    await sched.selectOption('#program-media', [img.id, vid.id]);
    await Promise.all([sched.waitForEvent('load'), sched.click('#new-program button[type=submit]')]);
    type Item = { kind: string; mediaId?: string; durationMs?: number };
    const made = (await c.admin.get<{ programs: { title: string; items: Item[] }[] }>('/api/v1/programs?limit=50')).programs.find((p) => p.title === 'Ảnh qua giao diện');
    assert.deepEqual(made?.items.map((i) => `${i.kind}:${i.mediaId}`).sort(), [`image:${img.id}`, `video:${vid.id}`]);
    await dash.close();
  } finally {
    await browser?.close();
    await agent?.stop();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
