import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { toneWav } from '../../shared/wav.js';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import { startAgentProcess, startControllerProcess, stopAll } from '../support/loa-cli.js';
import { eventually } from '../support/wait.js';
import { hasChromium, launch, ready, screenshot, signIn } from './browser.js';

const PASSWORD = 'dash-admin-password';
const DEVICE = 'loa-dash-1';
const PAGES = ['/', '/devices', `/devices/${DEVICE}`, '/map', '/library', '/schedules', '/emergency', '/reports', '/users', '/audit'];

/**
 * The dashboard against a real `loa controller run` process and a real `loa agent run` receiver, in headless
 * Chromium: sign in, every page (screenshots in test-output/screenshots), a schedule made through the form,
 * the device going offline when its agent stops, a test tone (contract B), and a CSV export checked against the
 * controller's SQLite file.
 */
describe('dashboard in a browser, with a real controller and receiver', { skip: hasChromium() ? false : 'no Chromium' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-dash-e2e-'));
  let controller: ChildProcess, agent: ChildProcess;
  let api: ApiClient, base: string, browser: Browser, page: Page;
  let agentStopped = false;
  let programId: string;

  before(async () => {
    const ctl = await startControllerProcess(dir, PASSWORD);
    ({ api, http: base } = ctl);
    controller = ctl.child;
    // A second commune with a cluster and no receiver (not covered), and station counts for the first.
    await api.post('/api/v1/zones', { id: 'X02', parentId: 'T01', level: 'commune', code: '19754', name: 'Xã Tân Hòa' });
    await api.post('/api/v1/zones', { id: 'X02-C1', parentId: 'X02', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Bắc' });
    await api.request('PATCH', '/api/v1/zones/X01', { legacyStations: 4, convertedStations: 1 });
    agent = await startAgentProcess(api, base, join(dir, DEVICE), DEVICE, 'X01-C1');
    await eventually(async () => (await api.get<{ device: { online: boolean } }>(`/api/v1/devices/${DEVICE}`)).device.online, 20_000, 'the agent online');
    const wav = join(dir, 'tone.wav');
    writeFileSync(wav, toneWav({ seconds: 2, hz: 440 }));
    const { media } = await api.upload(wav, { zoneId: 'X01', title: 'Bản tin thử nghiệm' });
    programId = (await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X01', title: 'Chương trình thử', items: [{ kind: 'media', mediaId: media.id }] })).program.id;
    await api.post(`/api/v1/programs/${programId}/submit`);
    await api.post(`/api/v1/programs/${programId}/approve`);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await stopAll([controller, ...(agentStopped ? [] : [agent])].filter(Boolean));
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in through the login page and shows every page, Vietnamese first (a screenshot of each)', async () => {
    await signIn(page, base, 'admin', PASSWORD, 'login');
    assert.equal(await page.getAttribute('html', 'lang'), 'vi');
    for (const p of PAGES) {
      await page.goto(`${base}${p}`);
      await ready(page);
      await screenshot(page, `page${p === '/' ? '_overview' : p.replace(/\//g, '_')}`);
      assert.equal(await page.locator('#flash.error, #flash[data-kind=error]').count(), 0, `${p} shows no error`);
    }
    await page.goto(`${base}/`);
    await ready(page);
    assert.equal((await page.textContent('#c-online .n'))?.trim(), '1', 'one device online on the overview');
    // The English option: a cookie, the same page in English.
    await page.click('#lang');
    await page.waitForSelector('html[lang=en]');
    await ready(page);
    assert.match(await page.textContent('h1') ?? '', /Overview/);
    await screenshot(page, 'page_overview_en');
    await page.click('#lang');
    await page.waitForSelector('html[lang=vi]');
  });

  it('creates a schedule through the form, and it shows in the list', async () => {
    await page.goto(`${base}/schedules`);
    await ready(page);
    await page.fill('#schedule-title', 'Lịch phát qua giao diện');
    await page.selectOption('#schedule-program', programId);
    await page.selectOption('#schedule-zone', 'X01');
    await page.selectOption('#schedule-target', 'X01-C1');
    await page.fill('#schedule-start-date', '02/01/2030');
    await page.fill('#schedule-start-time', '07:30');
    await page.selectOption('#schedule-repeat', 'daily');
    await page.fill('#schedule-until', '31/01/2030');
    await page.click('#new-schedule button[type=submit]');
    await page.waitForURL(/\/schedules\?created=/);
    await ready(page);
    const id = new URL(page.url()).searchParams.get('created')!;
    const { schedule } = await api.get<{ schedule: { title: string; dtstart: string; rrule: string; targets: { zones: string[] }; status: string } }>(`/api/v1/schedules/${id}`);
    assert.equal(schedule.title, 'Lịch phát qua giao diện');
    assert.equal(schedule.dtstart.slice(0, 16), '2030-01-02T07:30');
    assert.equal(schedule.rrule, 'FREQ=DAILY');
    assert.deepEqual(schedule.targets.zones, ['X01-C1']);
    assert.match(await page.textContent(`#schedules tr[data-id="${id}"]`) ?? '', /Lịch phát qua giao diện/);
    // Submitted and approved from its row.
    await page.click(`#schedules tr[data-id="${id}"] button[data-act=submit]`);
    await page.waitForSelector(`#schedules tr[data-id="${id}"] button[data-act=approve]`);
    await page.click(`#schedules tr[data-id="${id}"] button[data-act=approve]`);
    await page.waitForSelector(`#schedules tr[data-id="${id}"] td[data-status=approved]`);
    await screenshot(page, 'schedule_created');
  });

  it('adds and removes a user\'s zone roles and locks the account from the users page', async () => {
    const { user } = await api.post<{ user: { id: string } }>('/api/v1/users', { username: 'xemx01', displayName: 'Người xem X01', password: 'viewer-password-1', roles: [{ role: 'viewer', zoneId: 'X01' }] });
    type Shown = { id: string; roles: { role: string; zoneId: string; canApprove: boolean }[]; disabled: boolean };
    const shown = async (): Promise<Shown> => (await api.get<{ users: Shown[] }>('/api/v1/users')).users.find((u) => u.id === user.id)!;
    const row = `#users tr[data-id="${user.id}"]`;
    await page.goto(`${base}/users`);
    await ready(page);
    await page.selectOption(`${row} select[id^="g-role-"]`, 'operator');
    await page.selectOption(`${row} select[id^="g-zone-"]`, 'X02');
    await page.check(`${row} input[id^="g-approve-"]`);
    await page.click(`${row} form[data-action=add-grant] button[type=submit]`);
    await eventually(async () => (await shown()).roles.length === 2, 10_000, 'the grant added');
    await ready(page);
    await page.waitForSelector(`${row} li:nth-child(2)`);
    await page.click(`${row} li:first-child button[data-action=remove-grant]`);
    await eventually(async () => (await shown()).roles.length === 1, 10_000, 'the first grant removed');
    assert.deepEqual((await shown()).roles.map((r) => [r.role, r.zoneId, r.canApprove]), [['operator', 'X02', true]]);
    await ready(page);
    // The page reloads after the change: wait for that, or the next test's navigation races the reload.
    await Promise.all([page.waitForEvent('load'), page.click(`${row} button[data-action=toggle-disabled]`)]);
    await ready(page);
    await eventually(async () => (await shown()).disabled, 10_000, 'the account locked');
  });

  it('runs a test tone from the device page and waits for the command to be done (contract B)', async () => {
    await page.goto(`${base}/devices/${DEVICE}`);
    await ready(page);
    await page.click('#cmd-test-tone');
    await page.waitForSelector('#cmd-state[data-state=done]', { timeout: 30_000 });
    await screenshot(page, 'device_test_tone');
  });

  it('sends an emergency order from the console (preview, the zone name typed twice), shows its progress and cancels it', async () => {
    await page.goto(`${base}/emergency`);
    await ready(page);
    await page.selectOption('#em-zone', 'X01-C1');
    await page.fill('#em-text', 'Thông báo thử nghiệm hệ thống khẩn cấp');
    await page.click('#em-preview-btn');
    await page.waitForSelector('#em-confirm1:not([disabled])');
    assert.match(await page.textContent('#em-preview') ?? '', /1 thiết bị \(1 đang trực tuyến\)/);
    await page.fill('#em-confirm1', 'cụm loa thôn đông');
    await page.fill('#em-confirm2', 'Cụm loa thôn Tây');
    assert.ok(await page.isDisabled('#em-send'), 'two different entries keep the button locked');
    await page.fill('#em-confirm2', 'Cụm loa thôn Đông');
    assert.ok(!(await page.isDisabled('#em-send')), 'two matching entries unlock it');
    await page.click('#em-send');
    await page.waitForSelector('#em-progress [data-status=active]', { timeout: 30_000 });
    const { orders } = await api.get<{ orders: { id: string; status: string; zones: string[] }[] }>('/api/v1/emergency');
    assert.equal(orders[0]?.status, 'active');
    assert.deepEqual(orders[0]?.zones, ['X01-C1']);
    // The receiver's acks reach the page (received, playing or finished: the cards after "targeted").
    await eventually(async () => (await api.get<{ progress: { acknowledged: number } }>(`/api/v1/emergency/${orders[0]!.id}`)).progress.acknowledged > 0, 30_000, 'the receiver acks the order');
    await page.waitForSelector(['received', 'started', 'finished'].map((k) => `#em-progress .card[data-k=${k}]:not([data-n="0"])`).join(', '), { timeout: 10_000 });
    await screenshot(page, 'emergency_progress');
    await page.click('#em-cancel');
    await page.waitForSelector('#em-progress [data-status=cancelled]', { timeout: 15_000 });
    assert.equal((await api.get<{ order: { status: string } }>(`/api/v1/emergency/${orders[0].id}`)).order.status, 'cancelled');
  });

  it('shows the device turn offline on the device list when its agent process stops', async () => {
    await page.goto(`${base}/devices`);
    await ready(page);
    const cell = `#devices tr[data-id="${DEVICE}"] td[data-status]`;
    await page.waitForSelector(`${cell}[data-status=online]`);
    await screenshot(page, 'devices_online');
    await stopAll([agent]);
    agentStopped = true;
    await page.waitForSelector(`${cell}[data-status=offline]`, { timeout: 30_000 });
    await screenshot(page, 'devices_offline');
  });

  it('exports the KPI report as CSV from the reports page, with the numbers the database holds', async () => {
    await page.goto(`${base}/reports`);
    await ready(page);
    await page.selectOption('#r-zone', 'T01');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const file = join(dir, 'kpi.csv');
    await download.saveAs(file);
    await screenshot(page, 'reports');
    const rows: string[][] = parse(readFileSync(file, 'utf8'), { bom: true, relax_column_count: true, skip_empty_lines: true });
    const ind = new Map(rows.filter((r) => r.length === 5 && r[0] !== 'indicator').map((r) => [r[0], { n: Number(r[2]), d: Number(r[3]) }]));
    const communes = new Map(rows.filter((r) => r.length === 12 && r[0] !== 'commune_id').map((r) => [r[0], r]));

    // Independently, from the controller's SQLite file (read-only).
    const db = new Database(join(dir, 'controller', 'controller.db'), { readonly: true, fileMustExist: true });
    try {
      const communeIds = db.prepare("SELECT id FROM zones WHERE level = 'commune' AND path LIKE '/T01/%' ORDER BY id").all().map((r) => (r as { id: string }).id);
      assert.deepEqual([...communes.keys()].sort(), communeIds);
      const speakers = (z: string): number => (db.prepare("SELECT count(*) AS n FROM devices d JOIN zones z ON z.id = d.zone_id WHERE z.path LIKE ? AND d.kind = 'speaker' AND d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL").get(`%/${z}/%`) as { n: number }).n;
      for (const z of communeIds) assert.equal(Number(communes.get(z)![5]), speakers(z), `speakers of ${z}`);
      // A commune is covered when each of its clusters has a speaker that was online (status log) in the period.
      const covered = communeIds.filter((c) => {
        const clusters = db.prepare("SELECT id FROM zones WHERE parent_id = ? AND level = 'cluster'").all(c).map((r) => (r as { id: string }).id);
        return clusters.length > 0 && clusters.every((k) => (db.prepare(`SELECT count(*) AS n FROM devices d WHERE d.zone_id = ? AND d.kind = 'speaker' AND d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL
          AND EXISTS (SELECT 1 FROM device_status_log l WHERE l.device_id = d.id AND l.online = 1)`).get(k) as { n: number }).n > 0);
      });
      assert.deepEqual(ind.get('coverage'), { n: covered.length, d: communeIds.length });
      assert.deepEqual(covered, ['X01'], 'the commune with the running receiver, not the empty one');
      const st = db.prepare("SELECT sum(legacy_stations) AS l, sum(converted_stations) AS c FROM zones WHERE level = 'commune' AND legacy_stations IS NOT NULL").get() as { l: number; c: number };
      assert.deepEqual(ind.get('converted'), { n: st.c, d: st.l });
      assert.deepEqual(ind.get('converted'), { n: 1, d: 4 });
      const boards = (db.prepare("SELECT count(DISTINCT c.id) AS n FROM zones c JOIN zones z ON z.path LIKE c.path || '%' JOIN devices d ON d.zone_id = z.id WHERE c.level = 'commune' AND d.kind = 'board' AND d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL").get() as { n: number }).n;
      assert.deepEqual(ind.get('boards'), { n: boards, d: communeIds.length });
      const log = db.prepare('SELECT online FROM device_status_log WHERE device_id = ? ORDER BY at').all(DEVICE).map((r) => (r as { online: number }).online);
      assert.deepEqual([log[0], log.at(-1)], [1, 0], 'the status log holds the agent going online, then offline');
      const up = ind.get('uptime')!;
      assert.ok(up.n > 0 && up.n <= up.d, `uptime ${up.n} of ${up.d} s`);
    } finally {
      db.close();
    }
  });
});
