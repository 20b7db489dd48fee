import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Agent } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { initIdentity } from '../../agent/identity.js';
import { sha256Hex, signEnvelope } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { EmergencyOrder } from '../../shared/schemas/emergency.js';
import type { Manifest } from '../../shared/schemas/manifest.js';
import { toneWav } from '../../shared/wav.js';
import { initKeys } from '../../scripts/cli/keys.js';
import { CHROMIUM, SHOT_DIR, sample, type ScreenSample } from '../support/display-page.js';
import { baseManifest } from '../support/trust.js';
import { eventually } from '../support/wait.js';

/** Local wall time (Asia/Ho_Chi_Minh, no offset) of a UTC instant, to the second: a manifest dtstart. */
const localWall = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

test('a board shows its scheduled slides at the right time, passes over a corrupt image without going blank, and an emergency takes over the screen until it ends', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-board-'));
  let browser: Browser | null = null;
  let agent: Agent | null = null;
  try {
    const keys = initKeys(join(dir, 'keys'), 1, 1, 1);
    const png = join(dir, 'poster.png');
    assert.equal(spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0x2060c0:s=96x48', '-frames:v', '1', '-c:v', 'png', '-y', png]).status, 0, 'ffmpeg makes a PNG');
    const files = {
      png: readFileSync(png),
      bad: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(200)]), // a PNG signature, then garbage
      wav: toneWav({ seconds: 0.5 }),
    };
    const sha = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256Hex(v)])) as Record<keyof typeof files, string>;
    mkdirSync(join(dir, 'bundle', 'media'), { recursive: true });
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, 'bundle', 'media', sha[k as keyof typeof files]), v);

    const start = Math.ceil(Date.now() / 1000) * 1000 + 7000;
    const m: Manifest = baseManifest({
      deviceId: 'dev-board', zones: ['T01', 'X1', 'X1-C1'],
      media: [
        { sha256: sha.png, size: files.png.length, durationMs: 1000, mime: 'image/png' },
        { sha256: sha.bad, size: files.bad.length, durationMs: 1000, mime: 'image/png' },
        { sha256: sha.wav, size: files.wav.length, durationMs: 3000, mime: 'audio/wav' },
      ],
      programs: [{
        id: 'bang-tin', title: 'Bản tin', items: [
          { kind: 'text', title: 'Bản tin sáng', body: 'Ủy ban nhân dân xã thông báo lịch tiêm chủng', durationMs: 4000 },
          { kind: 'image', sha256: sha.bad, durationMs: 4000 },
          { kind: 'image', sha256: sha.png, durationMs: 4000 },
          { kind: 'text', body: 'Bản tin thứ hai: đường liên thôn sửa xong', ticker: 'Chú ý phòng chống bão số 9', durationMs: 14_000 },
        ],
      }],
      schedule: [{ id: 'sang', programId: 'bang-tin', dtstart: localWall(start), priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 60_000 }],
    });
    writeFileSync(join(dir, 'bundle', 'manifest.json'), JSON.stringify(signEnvelope(m, [readFileSync(keys.schedule, 'utf8')])));
    initIdentity(join(dir, 'dev'), 'dev-board');
    const profile = parseProfile(JSON.stringify({
      id: 'led-test', name: 'LED', audio: { driver: 'none', device: 'default' }, relay: { type: 'none' }, outputs: [{ name: 'board', channels: [], warmupMs: 0, cooldownMs: 0 }],
      display: { width: 192, height: 96, kind: 'led', minFontPx: 10, name: 'Xã Thử' },
    }));
    agent = new Agent({ dataDir: join(dir, 'dev'), profile, log: createLogger('board', { level: process.env.LOA_TEST_LOG ?? 'silent' }), display: { port: 0 } });
    await agent.start();
    await agent.importRootThenBundle(join(keys.dir, 'root.json'), join(dir, 'bundle'));

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
    const page = await browser.newPage({ viewport: { width: 192, height: 96 } });
    await page.goto(agent.display!.url);
    await eventually(async () => (await sample(page)).kind === 'idle', 10_000, 'the idle screen before the schedule');
    assert.ok(Date.now() < start, 'the page was up before the slide was due');

    // Every 100 ms, what is on screen: it must never be blank.
    const samples: ScreenSample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await sample(page));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    let shownAt = 0;
    await eventually(async () => {
      const s = await sample(page);
      if (s.kind === 'text' && s.text.includes('Bản tin sáng')) shownAt ||= Date.now();
      return shownAt > 0;
    }, 20_000, 'the first slide');
    t.diagnostic(`slide due ${new Date(start).toISOString()}, on screen ${shownAt - start} ms later`);
    assert.ok(shownAt >= start - 20 && shownAt <= start + 2000, `the slide shows at its time (${shownAt - start} ms)`);

    // The corrupt image is refused by the page, reported with its code, and the good image follows at once.
    await eventually(() => agent!.events().some((e) => e.type === 'display.fault' && e.data.code === 'LOA_ERR_DISPLAY_MEDIA' && e.data.index === 1), 15_000, 'the corrupt image reported');
    await eventually(async () => (await sample(page)).kind === 'image', 10_000, 'the good image on screen');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { querySelector(s: string): { naturalWidth: number } | null } }).document.querySelector('#stage .layer:not(.next) img')?.naturalWidth), 96);
    const imgShownAt = agent.events().find((e) => e.type === 'display.show' && e.data.index === 2)!.at;
    assert.ok(imgShownAt - start < 4000 + 1500, `the good image took the corrupt one's turn (${imgShownAt - start} ms)`);

    // The emergency order (TTS) takes over the screen during the second text, then the text resumes.
    await eventually(async () => (await sample(page)).text.includes('thứ hai'), 15_000, 'the second text');
    const now = Date.now();
    const order: EmergencyOrder = {
      _type: 'emergency', schemaVersion: 1, orderId: 'em-lu', action: 'start', seq: 1, nonce: randomBytes(16).toString('base64url'),
      issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), target: { zones: ['X1'], devices: [] },
      title: 'Cảnh báo lũ khẩn cấp', content: { kind: 'tts', text: 'Nước sông đang lên nhanh, bà con di chuyển lên vùng cao', sha256: sha.wav, size: files.wav.length, durationMs: 3000 },
      repeat: 1, outputs: [],
    };
    assert.equal(await agent.emergencyOrders!.receive(signEnvelope(order, [readFileSync(keys.emergency, 'utf8')])), 'accepted');
    await eventually(async () => {
      const s = await sample(page);
      return s.alert && s.text.includes('Cảnh báo lũ khẩn cấp') && s.text.includes('Nước sông đang lên nhanh');
    }, 5000, 'the emergency alert full screen');
    t.diagnostic(`alert on screen ${Date.now() - now} ms after the order arrived`);
    mkdirSync(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, 'emergency-192x96.png') });
    await eventually(async () => {
      const s = await sample(page);
      return !s.alert && s.kind === 'text' && s.text.includes('thứ hai');
    }, 10_000, 'the schedule back on screen after the order');
    sampling = false;
    await sampler;

    const acks = agent.events().filter((e) => e.type === 'emergency.ack').map((e) => e.data.state);
    assert.deepEqual(acks, ['received', 'started', 'finished']);
    const shows = agent.events().filter((e) => e.type === 'display.show').map((e) => `${String(e.data.kind)}${e.data.index === undefined ? '' : `:${Number(e.data.index)}`}`);
    assert.deepEqual(shows, ['text:0', 'image:2', 'text:3', 'alert', 'text:3'], 'proof-of-display of every slide and of the alert');
    const started = samples.findIndex((s) => s.visibleLayers > 0);
    const blank = samples.slice(started).filter((s) => s.visibleLayers !== 1 && !s.alert);
    assert.equal(blank.length, 0, `the screen never went blank (${samples.length} samples)`);
  } finally {
    await browser?.close();
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
