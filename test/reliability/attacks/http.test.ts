import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '../../../shared/crypto.js';
import { makeDeviceToken } from '../../../shared/device-token.js';
import { toneWav } from '../../../shared/wav.js';
import { ADMIN, startTestController, type TestController } from '../../support/controller.js';
import { ACCEPTED, AttackLog, httpRefusal } from '../support/attack-log.js';

/**
 * HTTP attacks on a real controller over real HTTP: session cookie and API token tampering, a revoked token, a
 * forged device token, CSRF on a cookie-authenticated change, login brute force, path traversal in upload names
 * and in route parameters that reach the file system, and oversized JSON and multipart bodies. The route × role ×
 * zone authorization matrix is test/controller/authz-matrix.test.ts, which records its counts as 'attacks' rows.
 */
const REPRODUCE = 'npm test -- test/reliability/attacks/http';
const MAX_UPLOAD = 200_000;

describe('HTTP attacks on a real controller', () => {
  let t: TestController;
  const log = new AttackLog({ family: 'HTTP', reproduce: REPRODUCE });
  const url = (p: string): URL => new URL(p, t.controller.httpUrl);
  const call = async (p: string, init: RequestInit = {}): Promise<string> => httpRefusal(await fetch(url(p), init));
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const flip = (s: string): string => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');

  before(async () => {
    t = await startTestController({ media: { maxUploadBytes: MAX_UPLOAD }, auth: { loginAttemptsPerMinute: 5 } });
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
  });
  after(async () => {
    await t.close();
    log.finish();
  });

  it('refuses tampered session cookies, tampered and revoked API tokens and forged device tokens (401)', async () => {
    const session = t.admin.token!;
    const cookie = (v: string): Record<string, string> => ({ cookie: `loa_session=${v}` });
    await log.attack('H0', 'control: the genuine session cookie reads /auth/me', 'GET /api/v1/auth/me', ACCEPTED, () => call('/api/v1/auth/me', { headers: cookie(session) }));
    await log.attack('H1', 'session cookie with its last character changed', 'GET /api/v1/auth/me', 'HTTP 401 LOA_ERR_UNAUTHENTICATED', () => call('/api/v1/auth/me', { headers: cookie(flip(session)) }));
    await log.attack('H2', 'a made-up session cookie of the right length', 'GET /api/v1/users', 'HTTP 401 LOA_ERR_UNAUTHENTICATED', () => call('/api/v1/users', { headers: cookie('A'.repeat(session.length)) }));
    const me = (await t.admin.get<{ user: { id: string } }>('/api/v1/auth/me')).user;
    const made = await t.admin.post<{ token: string; id: string }>(`/api/v1/users/${me.id}/tokens`, { name: 'node-red' });
    await log.attack('H3', 'API token (loat_…) with its last character changed', 'GET /api/v1/users', 'HTTP 401 LOA_ERR_API_TOKEN', () => call('/api/v1/users', { headers: bearer(flip(made.token)) }));
    await log.attack('H4', 'API token with a made-up secret after the genuine prefix', 'GET /api/v1/users', 'HTTP 401 LOA_ERR_API_TOKEN', () => call('/api/v1/users', { headers: bearer(`${made.token.slice(0, 12)}${'x'.repeat(made.token.length - 12)}`) }));
    await t.admin.request('DELETE', `/api/v1/users/${me.id}/tokens/${made.id}`);
    await log.attack('H5', 'a revoked API token', 'GET /api/v1/users', 'HTTP 401 LOA_ERR_API_TOKEN', () => call('/api/v1/users', { headers: bearer(made.token) }));
    await t.admin.post('/api/v1/devices', { id: 'dev-h', zoneId: 'X1', name: 'Loa H' });
    await log.attack('H6', 'a device token (loa1.…) for a device that has no key, signed by the attacker', 'GET /api/v1/devices/dev-h/manifest', 'HTTP 401 LOA_ERR_UNAUTHENTICATED', () => call('/api/v1/devices/dev-h/manifest', { headers: bearer(makeDeviceToken(generateKeyPair().privateKeyPem, 'dev-h', Date.now())) }));
  });

  it('refuses a cookie-authenticated change from a foreign page or without the CSRF token (403 LOA_ERR_CSRF)', async () => {
    const body = (id: string): string => JSON.stringify({ id, parentId: 'T01', level: 'commune', code: id, name: 'Xã Giả' });
    const headers = (extra: Record<string, string>): Record<string, string> => ({ cookie: `loa_session=${t.admin.token!}`, 'content-type': 'application/json', ...extra });
    await log.attack('H7', 'CSRF: a cross-site POST (Origin http://evil.example) riding the session cookie', 'POST /api/v1/zones', 'HTTP 403 LOA_ERR_CSRF', () => call('/api/v1/zones', { method: 'POST', headers: headers({ origin: 'http://evil.example' }), body: body('EVIL1') }));
    await log.attack('H8', 'CSRF: a cookie-only POST with neither Origin nor X-CSRF-Token', 'POST /api/v1/zones', 'HTTP 403 LOA_ERR_CSRF', () => call('/api/v1/zones', { method: 'POST', headers: headers({}), body: body('EVIL2') }));
    await log.attack('H9', 'CSRF: a forged X-CSRF-Token', 'DELETE /api/v1/zones/X1', 'HTTP 403 LOA_ERR_CSRF', () => call('/api/v1/zones/X1', { method: 'DELETE', headers: headers({ 'x-csrf-token': 'A'.repeat(43) }) }));
    assert.equal(t.controller.data.zones.get('EVIL1'), null);
  });

  it('refuses path traversal in route parameters that reach the file system (media, screenshots, static assets)', async () => {
    const auth = { headers: bearer(t.admin.token!) };
    const probes: [string, string, string][] = [
      ['P1', '/media/..%2F..%2F..%2Fetc%2Fpasswd', 'HTTP 400 LOA_ERR_SCHEMA'],
      ['P2', '/media/..%5C..%5Cetc%5Cpasswd', 'HTTP 400 LOA_ERR_SCHEMA'],
      ['P3', `/media/${'0'.repeat(64)}%00.json`, 'HTTP 400 LOA_ERR_SCHEMA'],
      ['P4', '/api/v1/devices/..%2F..%2Fetc%2Fpasswd/screenshot', 'HTTP 400 LOA_ERR_SCHEMA'],
      ['P5', '/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd', 'HTTP 404 LOA_ERR_NOT_FOUND'],
      ['P6', '/assets/%2Fetc%2Fpasswd', 'HTTP 404 LOA_ERR_NOT_FOUND'],
    ];
    for (const [id, path, expected] of probes) {
      await log.attack(id, `path traversal in a URL: ${decodeURIComponent(path.replace('%00', '\\0'))}`, `GET ${path.split('/').slice(0, 2).join('/')}/…`, expected, async () => {
        const res = await fetch(url(path), auth);
        const text = await res.clone().text();
        assert.ok(!text.includes('root:x:0:0'), `${path} leaked /etc/passwd`);
        return httpRefusal(res);
      });
    }
  });

  it('refuses upload file names with a directory part or NUL (400 LOA_ERR_NAME_INVALID), bounds a very long one, and writes nothing outside the media store', async () => {
    const wav = toneWav({ seconds: 0.5, hz: 440 });
    const mediaDir = join(t.dir, 'data', 'media');
    const outside = ['/etc/passwd.loa', join(t.dir, 'data', 'pwned.wav'), join(t.dir, 'pwned.wav')];
    const refused = 'HTTP 400 LOA_ERR_NAME_INVALID';
    const names: [string, string, string][] = [['U1', '../../../../etc/passwd', refused], ['U2', '..\\..\\..\\windows\\win.ini', refused], ['U3', '/etc/cron.d/loa', refused], ['U4', 'tone.wav\u0000.sh', refused], ['U5', `${'a'.repeat(5000)}.wav`, 'neutralised'], ['U6', '../pwned.wav', refused]];
    for (const [id, name, expected] of names) {
      await log.attack(id, `upload named ${JSON.stringify(name.length > 60 ? `${name.slice(0, 20)}…(${name.length} chars)` : name)}`, 'POST /api/v1/media (multipart filename)', expected, async () => {
        const form = new FormData();
        form.set('zoneId', 'X1');
        form.set('title', `Âm báo ${id}`);
        form.set('file', new Blob([wav], { type: 'audio/wav' }), name);
        const res = await fetch(url('/api/v1/media'), { method: 'POST', headers: bearer(t.admin.token!), body: form });
        const json = await res.json() as { media?: { originalName?: string | null }; error?: { code: string } };
        if (outside.some((p) => existsSync(p))) return ACCEPTED;
        if (!res.ok) return `HTTP ${res.status} ${json.error?.code ?? ''}`.trim();
        const stored = json.media?.originalName ?? '';
        // A stored name is only a label: it must hold no directory part, no NUL, and be bounded.
        return /[/\\\0]/.test(stored) || stored.includes('..') || stored.length > 255 ? `stored as ${JSON.stringify(stored.slice(0, 80))}` : 'neutralised';
      });
    }
    const files = readdirSync(mediaDir, { recursive: true }).map(String);
    assert.ok(files.every((f) => !f.includes('..')), files.join(', '));
  });

  it('refuses oversized JSON bodies and uploads past the cap, leaving nothing behind (413)', async () => {
    await log.attack('S1', 'a 2 MB JSON body (limit 1 MiB)', 'POST /api/v1/zones', 'HTTP 413 LOA_ERR_INPUT_TOO_LARGE', () => call('/api/v1/zones', { method: 'POST', headers: { ...bearer(t.admin.token!), 'content-type': 'application/json' }, body: JSON.stringify({ id: 'BIG', name: 'x'.repeat(2_000_000) }) }));
    await log.attack('S2', 'a 64 MB JSON body streamed', 'POST /api/v1/schedules', 'HTTP 413 LOA_ERR_INPUT_TOO_LARGE', () => call('/api/v1/schedules', { method: 'POST', headers: { ...bearer(t.admin.token!), 'content-type': 'application/json' }, body: Buffer.alloc(64 * 1024 * 1024, 0x20) }));
    const tmp = join(t.dir, 'data', 'media', '.tmp');
    const before = existsSync(tmp) ? readdirSync(tmp).length : 0;
    await log.attack('S3', `a real WAV file past media.maxUploadBytes (${MAX_UPLOAD} bytes)`, 'POST /api/v1/media', 'HTTP 413 LOA_ERR_INPUT_TOO_LARGE', async () => {
      const form = new FormData();
      form.set('zoneId', 'X1');
      form.set('title', 'Quá lớn');
      const big = toneWav({ seconds: 15, hz: 440 });
      assert.ok(big.length > MAX_UPLOAD, `${big.length} bytes`);
      form.set('file', new Blob([big], { type: 'audio/wav' }), 'big.wav');
      return call('/api/v1/media', { method: 'POST', headers: bearer(t.admin.token!), body: form });
    });
    if (existsSync(tmp)) assert.equal(readdirSync(tmp).length, before, 'no temporary file left');
    assert.ok(statSync(join(t.dir, 'data')).isDirectory());
  });

  it('limits login attempts: a brute force from one address is refused with 429 after the allowance, even with the right password', async () => {
    const login = (password: string): Promise<string> => call('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password }) });
    // The allowance is 5 per minute per address; the admin's own sign-in at start-up used one.
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await login(`guess-${i}`));
    assert.deepEqual(got, Array.from({ length: 4 }, () => 'HTTP 401 LOA_ERR_LOGIN_FAILED'));
    await log.attack('B1', 'login brute force: the 6th sign-in attempt (5th wrong password) within a minute from one address', 'POST /api/v1/auth/login', 'HTTP 429 LOA_ERR_RATE_LIMITED', () => login('guess-6'));
    await log.attack('B2', 'login brute force: the right password once the address is limited', 'POST /api/v1/auth/login', 'HTTP 429 LOA_ERR_RATE_LIMITED', () => login(ADMIN.password));
  });

  it('limits login attempts per account: guesses spread over many addresses are throttled, the right password included, and audited', async () => {
    const password = 'mat-khau-dung-1';
    await t.admin.post('/api/v1/users', { username: 'thu-ky', displayName: 'Thư ký', password, roles: [{ role: 'viewer', zoneId: 'X1' }] });
    // Each attempt comes from its own loopback address (127.0.0.10, .11, …), so the per-address limit never trips.
    let n = 10;
    const login = (pw: string): Promise<string> => new Promise((resolve, reject) => {
      const body = JSON.stringify({ username: 'thu-ky', password: pw });
      const req = request(url('/api/v1/auth/login'), { method: 'POST', localAddress: `127.0.0.${n++}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode === 200 ? ACCEPTED : `HTTP ${res.statusCode} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''}`;
          resolve(res.statusCode === 429 ? `${code} retry-after=${res.headers['retry-after'] !== undefined}` : code);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(await login(`doan-${i}`));
    assert.deepEqual(got, Array.from({ length: 5 }, () => 'HTTP 401 LOA_ERR_LOGIN_FAILED'), 'five free failures, each from a new address');
    await log.attack('B3', 'distributed login brute force: the 6th wrong password for one account, from a 6th address', 'POST /api/v1/auth/login', 'HTTP 429 LOA_ERR_LOGIN_THROTTLED retry-after=true', () => login('doan-6'));
    await log.attack('B4', 'distributed login brute force: the right password while the account must wait, from a fresh address', 'POST /api/v1/auth/login', 'HTTP 429 LOA_ERR_LOGIN_THROTTLED retry-after=true', () => login(password));
    const { entries } = await t.admin.get<{ entries: { action: string }[] }>('/api/v1/audit?limit=50');
    assert.ok(entries.some((e) => e.action === 'auth.login_throttled'), 'the throttling is in the audit log');
  });
});
