import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toneWav } from '../../shared/wav.js';
import { startTestController, type TestController } from '../support/controller.js';

/** Issue 4 "bad input": each gets a 4xx with a coded error, and nothing is stored. */
describe('bad input at the HTTP boundary', () => {
  let t: TestController;
  let programId = '';
  const counts = (): Record<string, number> => Object.fromEntries(['zones', 'users', 'devices', 'media', 'programs', 'schedules'].map((tb) => [tb, (t.controller.data.db.prepare(`SELECT count(*) AS n FROM ${tb}`).get() as { n: number }).n]));
  const mediaFiles = (): string[] => readdirSync(join(t.dir, 'data', 'media')).filter((f) => !f.startsWith('.'));

  before(async () => {
    t = await startTestController({ media: { maxUploadBytes: 200_000 } });
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
    const { media } = await t.admin.upload(await writeTone(t.dir), { zoneId: 'X1', title: 'Âm báo' });
    const { program } = await t.admin.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X1', title: 'Chương trình', items: [{ kind: 'media', mediaId: media.id }] });
    programId = program.id;
  });
  after(async () => t.close());

  async function writeTone(dir: string): Promise<string> {
    const { writeFileSync } = await import('node:fs');
    const p = join(dir, 'tone.wav');
    writeFileSync(p, toneWav({ seconds: 1, hz: 440 }));
    return p;
  }

  async function send(method: string, path: string, body: string | FormData, contentType?: string): Promise<{ status: number; code: string; vi: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${t.admin.token!}` };
    if (contentType) headers['content-type'] = contentType;
    const res = await fetch(new URL(path, t.controller.httpUrl), { method, headers, body });
    const json = await res.json() as { error?: { code: string; vi: string } };
    return { status: res.status, code: json.error?.code ?? 'none', vi: json.error?.vi ?? '' };
  }
  async function refused(what: string, method: string, path: string, body: string | FormData, code: string | RegExp, contentType = 'application/json'): Promise<void> {
    const before = counts();
    const files = mediaFiles();
    const r = await send(method, path, body, body instanceof FormData ? undefined : contentType);
    assert.ok(r.status >= 400 && r.status < 500, `${what}: status ${r.status}`);
    if (typeof code === 'string') assert.equal(r.code, code, what);
    else assert.match(r.code, code, what);
    assert.ok(r.vi.length > 0, `${what}: a Vietnamese message`);
    assert.deepEqual(counts(), before, `${what}: nothing stored`);
    assert.deepEqual(mediaFiles(), files, `${what}: no media file left`);
  }
  const schedule = (over: Record<string, unknown>): string => JSON.stringify({ zoneId: 'X1', programId, title: 'Lịch', dtstart: '2026-12-01T06:00', rrule: 'FREQ=DAILY;COUNT=3', priority: 'normal', volume: 80, targets: { zones: ['X1'], devices: [] }, ...over });

  it('refuses malformed JSON and schema violations', async () => {
    await refused('malformed JSON', 'POST', '/api/v1/zones', '{"id": "X9", ', 'LOA_ERR_JSON_PARSE');
    await refused('unknown property', 'POST', '/api/v1/zones', JSON.stringify({ id: 'X9', parentId: 'T01', level: 'commune', code: 'X9', name: 'Xã', admin: true }), 'LOA_ERR_SCHEMA');
    await refused('wrong type', 'POST', '/api/v1/devices', JSON.stringify({ zoneId: 'X1', name: 42 }), 'LOA_ERR_SCHEMA');
    await refused('bad level', 'POST', '/api/v1/zones', JSON.stringify({ id: 'X9', parentId: 'T01', level: 'galaxy', code: 'X9', name: 'Xã' }), 'LOA_ERR_SCHEMA');
    await refused('volume out of range', 'POST', '/api/v1/schedules', schedule({ volume: 1000 }), 'LOA_ERR_SCHEMA');
    await refused('a body too large', 'POST', '/api/v1/zones', JSON.stringify({ id: 'X9', name: 'x'.repeat(2_000_000) }), 'LOA_ERR_INPUT_TOO_LARGE');
  });

  it('refuses an oversized upload and a file that is not audio, leaving no file behind', async () => {
    const big = new FormData();
    big.append('zoneId', 'X1'); big.append('title', 'To quá');
    big.append('file', new Blob([toneWav({ seconds: 30, hz: 300 })]), 'big.wav');
    await refused('oversized upload', 'POST', '/api/v1/media', big, 'LOA_ERR_INPUT_TOO_LARGE');
    const text = new FormData();
    text.append('zoneId', 'X1'); text.append('title', 'Không phải âm thanh');
    text.append('file', new Blob([Buffer.from('just text, called an mp3\n'.repeat(100))]), 'x.mp3');
    await refused('not audio', 'POST', '/api/v1/media', text, 'LOA_ERR_MEDIA_NOT_AUDIO');
  });

  it('refuses path traversal in names', async () => {
    const f = new FormData();
    f.append('zoneId', 'X1'); f.append('title', 'Hợp lệ');
    f.append('file', new Blob([toneWav({ seconds: 1 })]), '../../etc/passwd.wav');
    await refused('traversal in the file name', 'POST', '/api/v1/media', f, 'LOA_ERR_NAME_INVALID');
    const g = new FormData();
    g.append('zoneId', 'X1'); g.append('title', '../../../etc/cron.d/x');
    g.append('file', new Blob([toneWav({ seconds: 1 })]), 'ok.wav');
    await refused('traversal in the title', 'POST', '/api/v1/media', g, 'LOA_ERR_NAME_INVALID');
    await refused('traversal in a zone id', 'GET', '/api/v1/zones/..%2F..%2Fetc', '', /LOA_ERR_(SCHEMA|NOT_FOUND)/).catch(async () => {
      const r = await fetch(new URL('/api/v1/zones/..%2F..%2Fetc', t.controller.httpUrl), { headers: { authorization: `Bearer ${t.admin.token!}` } });
      assert.ok(r.status === 400 || r.status === 404);
    });
    await refused('traversal in a media hash', 'GET', '/media/..%2F..%2Fcontroller.db', '', /LOA_ERR_(SCHEMA|NOT_FOUND)/).catch(async () => {
      const r = await fetch(new URL('/media/..%2F..%2Fcontroller.db', t.controller.httpUrl), { headers: { authorization: `Bearer ${t.admin.token!}` } });
      assert.ok(r.status === 400 || r.status === 404);
    });
  });

  it('refuses SQL metacharacters in every text field', async () => {
    const evil = ["x'; DROP TABLE zones;--", 'a" OR "1"="1', 'x /* c */', 'a;b', 'Robert`); --'];
    for (const v of evil) {
      await refused(`zone name ${v}`, 'POST', '/api/v1/zones', JSON.stringify({ id: 'X9', parentId: 'T01', level: 'commune', code: 'X9', name: v }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`zone id ${v}`, 'POST', '/api/v1/zones', JSON.stringify({ id: v, parentId: 'T01', level: 'commune', code: 'X9', name: 'Xã' }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`device name ${v}`, 'POST', '/api/v1/devices', JSON.stringify({ zoneId: 'X1', name: v }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`program title ${v}`, 'POST', '/api/v1/programs', JSON.stringify({ zoneId: 'X1', title: v, items: [{ kind: 'stream', url: 'http://r.example/s', durationMs: 60000 }] }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`schedule title ${v}`, 'POST', '/api/v1/schedules', schedule({ title: v }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`rrule ${v}`, 'POST', '/api/v1/schedules', schedule({ rrule: `FREQ=DAILY;COUNT=3;X=${v}` }), /LOA_ERR_(RRULE_INVALID|SCHEMA|NAME_INVALID)/);
      await refused(`user name ${v}`, 'POST', '/api/v1/users', JSON.stringify({ username: v, displayName: 'A', password: 'long-enough-pw', roles: [{ role: 'viewer', zoneId: 'X1' }] }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`user display name ${v}`, 'POST', '/api/v1/users', JSON.stringify({ username: 'someone', displayName: v, password: 'long-enough-pw', roles: [{ role: 'viewer', zoneId: 'X1' }] }), /LOA_ERR_(NAME_INVALID|SCHEMA)/);
      await refused(`zone CSV ${v}`, 'POST', '/api/v1/zones/import', `id,parent_id,level,code,name\nX9,T01,commune,X9,"${v.replace(/"/g, '""')}"\n`, 'LOA_ERR_CSV_INVALID', 'text/csv');
    }
    assert.ok(t.controller.data.zones.get('T01'), 'the zones table is still there');
  });

  it('refuses an RRULE that never ends or fires every second', async () => {
    await refused('never ends', 'POST', '/api/v1/schedules', schedule({ rrule: 'FREQ=DAILY;BYHOUR=6;BYMINUTE=0' }), 'LOA_ERR_RRULE_UNBOUNDED');
    await refused('every second', 'POST', '/api/v1/schedules', schedule({ rrule: 'FREQ=SECONDLY;COUNT=100' }), 'LOA_ERR_RRULE_TOO_FREQUENT');
    await refused('every minute', 'POST', '/api/v1/schedules', schedule({ rrule: 'FREQ=MINUTELY;COUNT=100' }), 'LOA_ERR_RRULE_TOO_FREQUENT');
    await refused('03:15 unconfirmed', 'POST', '/api/v1/schedules', schedule({ dtstart: '2026-12-01T03:15' }), 'LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED');
  });
});
