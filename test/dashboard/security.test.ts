import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { ADMIN, startTestController, type TestController } from '../support/controller.js';
import { hasChromium, launch, ready, screenshot, signIn } from './browser.js';

const XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"\'&';

/** The session cookie and CSRF token of a browser-style sign-in (cookie, no bearer header). */
async function cookieSession(base: string): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
  assert.equal(r.status, 200);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('loa_session='))!;
  const page = await (await fetch(`${base}/devices`, { headers: { cookie } })).text();
  const csrf = /"csrf":"([^"]+)"/.exec(page)![1]!;
  return { cookie, csrf };
}

describe('dashboard security: CSRF and XSS', () => {
  let t: TestController;
  let base: string;
  before(async () => {
    t = await startTestController();
    base = t.controller.httpUrl;
    const d = t.controller.data;
    d.zones.create({ id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' }, Date.now());
    d.zones.create({ id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm Một' }, Date.now());
  });
  after(async () => t.close());

  it('refuses a cookie-authenticated change without the page token or a same-origin Origin, and accepts it with either', async () => {
    const { cookie, csrf } = await cookieSession(base);
    const zone = (id: string, headers: Record<string, string>): Promise<Response> =>
      fetch(`${base}/api/v1/zones`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ id, parentId: 'X1', level: 'cluster', code: 'C', name: 'Cụm mới' }) });
    const bare = await zone('CS-1', {});
    assert.equal(bare.status, 403);
    assert.equal(((await bare.json()) as { error: { code: string } }).error.code, 'LOA_ERR_CSRF');
    assert.equal((await zone('CS-2', { 'x-csrf-token': 'A'.repeat(43) })).status, 403, 'a wrong token');
    assert.equal((await zone('CS-3', { origin: 'http://127.0.0.1:1', 'x-csrf-token': csrf })).status, 403, 'a foreign origin, even with the token');
    assert.equal(t.controller.data.zones.get('CS-1') ?? t.controller.data.zones.get('CS-2') ?? t.controller.data.zones.get('CS-3'), null, 'nothing was created');
    assert.equal((await zone('CS-4', { 'x-csrf-token': csrf })).status, 201, 'the page token');
    assert.equal((await zone('CS-5', { origin: base })).status, 201, 'a same-origin fetch (the live and pairing pages)');
    const logout = await fetch(`${base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, origin: 'http://evil.example' } });
    assert.equal(logout.status, 403, 'a cross-site logout is refused');
    assert.equal((await fetch(`${base}/api/v1/auth/me`, { headers: { cookie } })).status, 200, 'and the session lives on');
  });

  it('leaves bearer-token clients alone: no token, no Origin needed', async () => {
    const r = await t.admin.post<{ zone: { id: string } }>('/api/v1/zones', { id: 'CS-B', parentId: 'X1', level: 'cluster', code: 'C', name: 'Cụm token' });
    assert.equal(r.zone.id, 'CS-B');
  });

  it('refuses a cross-origin page in the same browser (same site, other port) that posts with the victim\'s cookie', async (tc) => {
    if (!hasChromium()) { tc.skip('no Chromium'); return; }
    // The attacker's page: a different origin on the same host (same site, so SameSite=Strict cookies do go along).
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="post" action="${base}/api/v1/zones/import" enctype="text/plain"><input name="id,parent_id,level,code,name&#10;EVIL,X1,cluster,E,Evil" value=""></form>
<script>fetch('${base}/api/v1/auth/logout', {method: 'POST', mode: 'no-cors', credentials: 'include'}).finally(() => document.getElementById('f').submit());</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const browser: Browser = await launch();
    try {
      const page = await browser.newPage();
      await signIn(page, base, ADMIN.username, ADMIN.password);
      const audits = t.controller.data.audit.list({ limit: 1000 }).length;
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      await page.waitForURL(/zones\/import/, { timeout: 10_000 });
      assert.match(await page.textContent('body') ?? '', /LOA_ERR_CSRF/);
      assert.equal(t.controller.data.zones.get('EVIL'), null, 'the forged import created nothing');
      assert.equal(t.controller.data.audit.list({ limit: 1000 }).length, audits, 'and changed nothing');
      await page.goto(`${base}/devices`);
      await ready(page);
      assert.equal(new URL(page.url()).pathname, '/devices', 'the session survived the forged logout');
    } finally {
      await browser.close();
      evil.close();
    }
  });

  it('shows a script stored in a media title, a device name and a zone name as inert text, under a strict CSP', async (tc) => {
    if (!hasChromium()) { tc.skip('no Chromium'); return; }
    const d = t.controller.data;
    const now = Date.now();
    // Stored straight in the database (the API refuses such names): what the pages must survive is data that got in anyway.
    d.db.prepare('UPDATE zones SET name = ? WHERE id = ?').run(`Cụm ${XSS}`, 'X1-C1');
    d.media.create({ id: 'med-xss', sha256: 'a'.repeat(64), size: 10, durationMs: 1000, mime: 'audio/ogg', title: XSS, originalName: null, sourceSha256: null, loudnessLufs: null, zoneId: 'X1', createdBy: 'x' }, now);
    d.devices.create({ id: 'dev-xss', zoneId: 'X1-C1', name: XSS, kind: 'speaker' }, now);
    const res = await fetch(`${base}/library`, { headers: { cookie: (await cookieSession(base)).cookie } });
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const tags = (await res.text()).match(/<script[^>]*>/g) ?? [];
    assert.ok(tags.length >= 2 && tags.every((tag) => /\ssrc="\/assets\//.test(tag) || /type="application\/json"/.test(tag)), `only module files and a JSON block: ${tags.join(' ')}`);

    const browser = await launch();
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (dl) => { dialogs.push(dl.message()); void dl.dismiss(); });
      await signIn(page, base, ADMIN.username, ADMIN.password);
      for (const [path, sel] of [['/library', '#media td.media-title'], ['/devices', '#devices tbody tr[data-id="dev-xss"] td:nth-child(2)'], ['/devices/dev-xss', '#facts']] as const) {
        await page.goto(`${base}${path}`);
        await ready(page);
        const text = await page.textContent(sel);
        assert.ok(text?.includes(XSS), `${path} shows the title as text: ${text}`);
        assert.equal(await page.locator('#app img[src="x"], #app script').count(), 0, `${path} made no element of it`);
        assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined, `${path} ran none of it`);
        await screenshot(page, `xss${path.replace(/\//g, '_')}`);
      }
      await page.goto(`${base}/devices`);
      await ready(page);
      assert.ok((await page.textContent('.tree'))?.includes(XSS), 'the zone tree shows the zone name as text');
      assert.deepEqual(dialogs, []);
    } finally {
      await browser.close();
    }
  });
});
