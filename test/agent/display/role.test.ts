import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisplayRole } from '../../../agent/display/role.js';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { SystemClock } from '../../../shared/clock.js';
import { createLogger } from '../../../shared/log.js';

const log = createLogger('test', { level: 'silent' });

test('a board page that cannot get its port is a coded display fault, not a failed agent start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-role-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const outbox = new Outbox({ db, deviceId: () => 'dev-1' });
  const media = { has: () => false, pathOf: () => '' };
  const first = new DisplayRole({ config: { width: 192, height: 96 }, clock: new SystemClock(), outbox, log, media, port: 0 });
  await first.start();
  const port = Number(new URL(first.url).port);
  const second = new DisplayRole({ config: { width: 192, height: 96 }, clock: new SystemClock(), outbox, log, media, port });
  try {
    await second.start();
    assert.equal(second.url, '', 'no page');
    const fault = outbox.list(['display.fault'])[0];
    assert.equal(fault?.data.code, 'LOA_ERR_DISPLAY_NO_PAGE');
    assert.match(String(fault?.data.message), new RegExp(`port ${port}`));
    const res = await fetch(new URL('/state', first.url));
    assert.equal(((await res.json()) as { view: { kind: string } }).view.kind, 'idle', 'the first page still answers');
  } finally {
    await second.stop();
    await first.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the board page refuses a report that breaks its schema (400) or is too large (413), and serves no file outside the media store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-role-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  const role = new DisplayRole({ config: { width: 192, height: 96 }, clock: new SystemClock(), outbox: new Outbox({ db, deviceId: () => 'dev-1' }), log, media: { has: () => false, pathOf: () => '/etc/passwd' }, port: 0 });
  await role.start();
  try {
    const post = (body: string): Promise<Response> => fetch(new URL('/report', role.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal((await post('{"viewId":1,"status":"shown"}')).status, 204);
    assert.equal((await post('{"viewId":1,"status":"maybe"}')).status, 400);
    assert.equal((await post('{"viewId":1,"status":"shown","extra":true}')).status, 400);
    assert.equal((await post('{not json')).status, 400);
    assert.equal((await post(JSON.stringify({ status: 'error', message: 'x'.repeat(5000) }))).status, 413);
    assert.equal((await fetch(new URL(`/media/${'a'.repeat(64)}`, role.url))).status, 404);
    assert.equal((await fetch(new URL('/media/..%2F..%2Fetc%2Fpasswd', role.url))).status, 404);
    const page = await fetch(role.url);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.match(await page.text(), /<html lang="vi">/);
  } finally {
    await role.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
