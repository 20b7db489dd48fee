import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Agent } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { startDisplayServer } from '../../agent/display/server.js';
import { DisplaySurface } from '../../agent/display/surface.js';
import { initIdentity } from '../../agent/identity.js';
import { openDb } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { SystemClock } from '../../shared/clock.js';
import { sha256Hex } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { Occurrence } from '../../shared/timeline.js';
import { startTestController } from '../support/controller.js';
import { CHROMIUM, SHOT_DIR, fitReport, freePort } from '../support/display-page.js';
import { eventually } from '../support/wait.js';

const log = createLogger('board-fit', { level: 'silent' });
const LONG = 'Thực hiện Kế hoạch của Ủy ban nhân dân tỉnh về phòng, chống thiên tai và tìm kiếm cứu nạn năm 2026, Ủy ban nhân dân xã đề nghị '
  + 'các hộ gia đình ở ven sông, vùng trũng thấp khẩn trương gia cố nhà cửa, chằng chống mái tôn, cắt tỉa cành cây gần đường dây điện; chuẩn bị lương thực, '
  + 'nước uống, thuốc men, đèn pin cho ít nhất bảy ngày; theo dõi thường xuyên bản tin dự báo thời tiết trên hệ thống loa truyền thanh cơ sở và bảng tin điện tử; '
  + 'khi có lệnh sơ tán, nghiêm chỉnh chấp hành hướng dẫn của lực lượng xung kích, không ở lại nhà khi nước dâng cao. Mọi thông tin xin liên hệ Ban chỉ huy '
  + 'phòng chống thiên tai xã, số điện thoại đường dây nóng 0203 3826 555. Xin trân trọng thông báo! Những chữ có dấu chồng như Ỗ Ẫ Ệ Ặ Ữ Ự Ấ Ầ Ẩ phải hiện đầy đủ.';

const SIZES = [
  { name: 'led-192x96', width: 192, height: 96, kind: 'led' as const, minFontPx: 10 },
  { name: 'lcd-1920x1080', width: 1920, height: 1080, kind: 'lcd' as const, minFontPx: 24 },
  { name: 'portrait-1080x1920', width: 1080, height: 1920, kind: 'lcd' as const, minFontPx: 24 },
];

test('long Vietnamese text fits without overflow, above the font floor, on a 192×96 LED, a 1920×1080 LCD and a 1080×1920 portrait screen', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-fit-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const outbox = new Outbox({ db, deviceId: () => 'dev-fit' });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  mkdirSync(SHOT_DIR, { recursive: true });
  try {
    for (const size of SIZES) {
      const surface = new DisplaySurface({ clock: new SystemClock(), outbox, log, media: { has: () => false }, board: { ...size, name: 'Xã Thử' } });
      const server = await startDisplayServer({ surface, media: { has: () => false, pathOf: () => '' }, log, port: 0 });
      const page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
      const abort = new AbortController();
      try {
        await page.goto(server.url);
        const slide = { kind: 'text' as const, title: 'Thông báo phòng chống thiên tai', body: LONG, ticker: 'Bão số 9 đang vào Biển Đông', durationMs: 60_000 };
        const occ: Occurrence = {
          key: `fit@${size.name}`, entryId: 'fit', programId: 'fit', start: Date.now(), durationMs: 60_000, priority: 'normal', rank: 1, volume: 0, outputs: [],
          onPreempt: 'resume', maxDelayMs: 0, items: [{ kind: 'slide', ref: 'text', durationMs: 60_000, slide }],
        };
        const showing = surface.show({ occ, index: 0, item: occ.items[0]!, offsetMs: 0 }, abort.signal);
        await eventually(() => outbox.list(['display.show']).some((e) => e.data.occurrence === occ.key), 10_000, `the page confirms the slide (${size.name})`);
        const r = await fitReport(page);
        t.diagnostic(`${size.name}: ${JSON.stringify(r)}`);
        assert.equal(r.boxes.length, 1, 'one fitted text box');
        const b = r.boxes[0]!;
        assert.ok(b.scrollWidth <= b.clientWidth && b.scrollHeight <= b.clientHeight, `${size.name}: no overflow (${JSON.stringify(b)})`);
        assert.ok(b.fontPx >= size.minFontPx, `${size.name}: font ${b.fontPx}px ≥ floor ${size.minFontPx}px`);
        if (size.kind === 'lcd') assert.equal(r.pages, 1, `${size.name}: the whole bulletin on one screen`);
        else assert.ok(r.pages > 1, 'the LED board pages the bulletin');
        await page.screenshot({ path: join(SHOT_DIR, `fit-${size.name}.png`) });
        abort.abort();
        assert.equal((await showing).status, 'aborted');
      } finally {
        abort.abort();
        await page.close();
        await server.close();
      }
    }
  } finally {
    await browser.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a local video slide plays in the kiosk page (VP8 WebM from the media store) and is confirmed on screen', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-video-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const outbox = new Outbox({ db, deviceId: () => 'dev-video' });
  const file = join(dir, 'clip.webm');
  assert.equal(spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=96x48:d=2:r=10', '-c:v', 'libvpx', '-b:v', '100k', '-y', file]).status, 0, 'ffmpeg makes a WebM');
  const sha = sha256Hex(readFileSync(file));
  const media = { has: (s: string) => s === sha, pathOf: () => file };
  const surface = new DisplaySurface({ clock: new SystemClock(), outbox, log, media, board: { name: 'x', width: 320, height: 180, kind: 'lcd', minFontPx: 12 } });
  const server = await startDisplayServer({ surface, media, log, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  const abort = new AbortController();
  try {
    const page = await browser.newPage({ viewport: { width: 320, height: 180 } });
    await page.goto(server.url);
    const slide = { kind: 'video' as const, sha256: sha, durationMs: 30_000 };
    const occ: Occurrence = {
      key: 'video@1', entryId: 'video', programId: 'video', start: Date.now(), durationMs: 30_000, priority: 'normal', rank: 1, volume: 0, outputs: [],
      onPreempt: 'resume', maxDelayMs: 0, items: [{ kind: 'slide', ref: sha, durationMs: 30_000, slide }],
    };
    const showing = surface.show({ occ, index: 0, item: occ.items[0]!, offsetMs: 0 }, abort.signal);
    await eventually(() => outbox.list(['display.show']).some((e) => e.data.kind === 'video'), 15_000, 'the video confirmed on screen');
    const playing = await page.evaluate(() => {
      const v = (globalThis as unknown as { document: { querySelector(s: string): { paused: boolean; videoWidth: number } | null } }).document.querySelector('#stage .layer:not(.next) video');
      return v ? { paused: v.paused, width: v.videoWidth } : null;
    });
    assert.deepEqual(playing, { paused: false, width: 96 });
    abort.abort();
    assert.equal((await showing).status, 'aborted');
  } finally {
    abort.abort();
    await browser.close();
    await server.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a board agent sends low-resolution screenshots of its kiosk page to the controller, served to operators per device (contract D)', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-shot-'));
  const t = await startTestController();
  let browser: Browser | null = null;
  let agent: Agent | null = null;
  try {
    const d = t.controller.data;
    const now = Date.now();
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, now);
    const id = initIdentity(join(dir, 'dev'), 'dev-screen');
    d.devices.create({ id: 'dev-screen', zoneId: 'X1', name: 'Bảng tin xã', kind: 'board' }, now);
    d.devices.bindKey('dev-screen', { publicKey: id.publicKey, keyid: id.keyid }, now);
    const admin = t.admin;
    const missing = await fetch(new URL('/api/v1/devices/dev-screen/screenshot', t.controller.httpUrl), { headers: { authorization: `Bearer ${admin.token!}` } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'LOA_ERR_NOT_FOUND');

    const cdp = await freePort();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', `--remote-debugging-port=${cdp}`] });
    const profile = parseProfile(JSON.stringify({
      id: 'lcd-test', name: 'LCD', audio: { driver: 'none', device: 'default' }, relay: { type: 'none' }, outputs: [{ name: 'screen', channels: [], warmupMs: 0, cooldownMs: 0 }],
      display: { width: 1920, height: 1080, minFontPx: 24, name: 'Bảng tin xã Một', cdpUrl: `http://127.0.0.1:${cdp}`, screenshot: { intervalS: 10, maxWidth: 320, quality: 50 } },
    }));
    agent = new Agent({
      dataDir: join(dir, 'dev'), profile, log, display: { port: 0 },
      sync: { config: { controllerUrl: t.controller.httpUrl, mqttUrl: t.controller.mqttUrl, zoneId: 'X1' }, manifestIntervalMs: 600_000, telemetryIntervalMs: 600_000 },
    });
    await agent.start();
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(agent.display!.url);

    let shot: Response | null = null;
    await eventually(async () => {
      const r = await fetch(new URL('/api/v1/devices/dev-screen/screenshot', t.controller.httpUrl), { headers: { authorization: `Bearer ${admin.token!}` } });
      if (r.status !== 200) {
        await r.arrayBuffer();
        return false;
      }
      shot = r;
      return true;
    }, 30_000, 'the screenshot at the controller');
    const res = shot!;
    assert.equal(res.headers.get('content-type'), 'image/webp');
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.subarray(8, 12).toString('latin1'), 'WEBP');
    assert.ok(body.length < 64 * 1024, `low resolution: ${body.length} bytes`);
    // VP8/VP8L/VP8X header: the picture is scaled down to maxWidth.
    const width = await page.evaluate(async (b64) => {
      const g = globalThis as unknown as { createImageBitmap(b: unknown): Promise<{ width: number }>; Blob: new (p: unknown[], o: { type: string }) => unknown; atob(s: string): string; Uint8Array: typeof Uint8Array };
      const bin = g.atob(b64);
      const bytes = new g.Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return (await g.createImageBitmap(new g.Blob([bytes], { type: 'image/webp' }))).width;
    }, body.toString('base64'));
    assert.equal(width, 320, 'scaled to the profile maxWidth');
    assert.ok(Date.parse(res.headers.get('x-loa-taken-at') ?? '') > now - 60_000);

    // The dashboard's device page shows it to a signed-in operator (the session cookie is the API token).
    const ctl = new URL(t.controller.httpUrl);
    const dash = await browser.newContext();
    await dash.addCookies([{ name: 'loa_session', value: admin.token!, domain: ctl.hostname, path: '/' }]);
    const devicePage = await dash.newPage();
    await devicePage.goto(new URL('/devices/dev-screen', ctl).href);
    await devicePage.waitForFunction(() => {
      const img = (globalThis as unknown as { document: { getElementById(id: string): { complete: boolean; naturalWidth: number } | null } }).document.getElementById('screenshot');
      return img !== null && img.complete && img.naturalWidth > 0;
    }, undefined, { timeout: 15_000 });
    assert.equal(await devicePage.locator('#screenshot').evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth), 320);
    await dash.close();

    // Another device's token cannot post a screenshot for this one; a body that is not an image is refused.
    const put = (headers: Record<string, string>, b: Buffer): Promise<Response> => fetch(new URL('/api/v1/devices/dev-screen/screenshot', t.controller.httpUrl), { method: 'PUT', headers, body: new Uint8Array(b) });
    const asUser = await put({ authorization: `Bearer ${admin.token!}`, 'content-type': 'image/webp' }, body);
    assert.equal(asUser.status, 401, 'a user is not a device');
    const { deviceTokenSource } = await import('../../agent/identity.js');
    const token = deviceTokenSource(join(dir, 'dev'), 'dev-screen', Date.now)();
    const notImage = await put({ authorization: `Bearer ${token}`, 'content-type': 'image/webp' }, Buffer.from('RIFF0000JUNKnot really an image'));
    assert.equal(notImage.status, 415);
    assert.equal(((await notImage.json()) as { error: { code: string } }).error.code, 'LOA_ERR_SCREENSHOT_INVALID');
  } finally {
    await agent?.stop();
    await browser?.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
