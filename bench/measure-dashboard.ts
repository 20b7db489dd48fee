import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../controller/config.js';
import { Controller } from '../controller/controller.js';
import { TelemetryRepo } from '../controller/data/telemetry.js';
import { generateKeyPair } from '../shared/crypto.js';
import { createLogger } from '../shared/log.js';
import { ApiClient } from '../scripts/lib/api-client.js';
import { createAdmin } from '../scripts/cli/controller-actions.js';
import { initKeys } from '../scripts/cli/keys.js';
import { Resources } from './proc.js';
import { fmtMs, median, percentile, renderTable, round } from './stats.js';

export interface PageFigures { coldMs: number; warmMedianMs: number; warmP90Ms: number; runs: number; htmlBytes: number }
export interface DashboardBenchResult {
  devices: number;
  online: number;
  /** Navigation start → the page module's content on screen (the device list's first page of 200 rows; the overview's figures). */
  deviceList: PageFigures;
  overview: PageFigures;
  /** The same rendered device list, saved as one static HTML file and served by a bare node:http server: navigation start → load event. */
  staticBaseline: PageFigures;
  api: { listP50Ms: number; listP99Ms: number; overviewP50Ms: number; overviewP99Ms: number; healthzP99Ms: number; requests: number };
}

const CHROMIUM = process.env.LOA_CHROMIUM ?? '/usr/bin/chromium';
const COMMUNES = 100, CLUSTERS = 4, DEVICES = 10_000, RUNS = 7;
export const DASHBOARD_TARGET_MS = 1000;

/** Loads `url` RUNS + 1 times in one browser tab (the first load is cold: no cached assets), reading `figure()` each time. */
async function loads(page: Page, url: string, figure: () => Promise<number>): Promise<PageFigures> {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    await page.goto(url);
    times.push(await figure());
  }
  const warm = times.slice(1);
  return { coldMs: round(times[0]!, 1), warmMedianMs: round(median(warm), 1), warmP90Ms: round(percentile(warm, 90), 1), runs: warm.length, htmlBytes: 0 };
}

/**
 * The dashboard with 10,000 devices (issue 7): a province of 100 communes × 4 clusters, 10,000 receivers
 * registered through POST /api/v1/devices/import, 70% of them online (status messages through the telemetry
 * repository, as ingest writes them). In headless Chromium: the device list and the overview, navigation start
 * to content rendered, cold and warm; as a baseline, a static page of the same size. And the two APIs behind
 * them over real HTTP, against GET /healthz.
 */
export async function measureDashboard(res: Resources): Promise<DashboardBenchResult> {
  const dir = res.tempDir('dashboard');
  initKeys(join(dir, 'keys'), 1, 1, 1);
  await createAdmin(join(dir, 'data'), { username: 'admin', password: 'bench-admin-pw', provinceId: 'T01' });
  const config = loadConfig(undefined, {}, { dataDir: join(dir, 'data'), keysDir: join(dir, 'keys'), logLevel: 'silent', http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, manifests: { debounceMs: 60_000 } });
  const controller = new Controller({ config, log: createLogger('bench', { level: 'silent' }) });
  await controller.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const baseline = createServer();
  try {
    const d = controller.data;
    const now = Date.now();
    d.tx(() => {
      for (let c = 0; c < COMMUNES; c++) {
        const cid = `X${String(c).padStart(3, '0')}`;
        d.zones.create({ id: cid, parentId: 'T01', level: 'commune', code: cid, name: `Xã ${c}` }, now);
        for (let k = 0; k < CLUSTERS; k++) d.zones.create({ id: `${cid}-C${k}`, parentId: cid, level: 'cluster', code: `C${k}`, name: `Cụm ${k}` }, now);
      }
    });
    const api = new ApiClient(controller.httpUrl);
    await api.login('admin', 'bench-admin-pw');
    const devices = Array.from({ length: DEVICES }, (_x, i) => ({
      id: `dev-${String(i).padStart(5, '0')}`, zoneId: `X${String(i % COMMUNES).padStart(3, '0')}-C${Math.floor(i / COMMUNES) % CLUSTERS}`,
      name: `Loa số ${i}`, kind: i % 50 === 0 ? 'board' : 'speaker', publicKey: generateKeyPair().publicKey,
    }));
    await api.post('/api/v1/devices/import', { devices });
    const online = Math.floor(DEVICES * 0.7);
    const repo = new TelemetryRepo({ db: d.db });
    d.tx(() => devices.slice(0, online).forEach((x) => repo.applyStatus(x.id, true, now, 0, now)));

    // The APIs behind the two pages, over real HTTP.
    const time = async (path: string): Promise<number> => {
      const t0 = performance.now();
      const r = await fetch(new URL(path, controller.httpUrl), { headers: { authorization: `Bearer ${api.token!}` } });
      await r.arrayBuffer();
      if (!r.ok) throw new Error(`${path} → ${r.status}`);
      return performance.now() - t0;
    };
    for (let i = 0; i < 10; i++) await time('/api/v1/devices?limit=200');
    const list: number[] = [], ov: number[] = [], health: number[] = [];
    for (let i = 0; i < 100; i++) {
      list.push(await time('/api/v1/devices?limit=200'));
      ov.push(await time('/api/v1/reports/overview'));
      health.push(await time('/healthz'));
    }

    // The pages in Chromium, signed in through the login page.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${controller.httpUrl}/login`);
    await page.fill('#username', 'admin');
    await page.fill('#password', 'bench-admin-pw');
    await Promise.all([page.waitForURL(`${controller.httpUrl}/`), page.click('#login button[type=submit]')]);
    const rendered = async (): Promise<number> => Number(await (await page.waitForSelector('#app[data-rendered]')).getAttribute('data-rendered'));
    const deviceList = await loads(page, `${controller.httpUrl}/devices`, rendered);
    const rows = await page.locator('#devices tbody tr').count();
    if (rows !== 200) throw new Error(`the device list shows ${rows} rows, expected a page of 200`);
    // (string expressions: this file is compiled without the DOM library)
    const snapshot = `<!doctype html>${(await page.evaluate<string>('document.documentElement.outerHTML')).replace(/<script[\s\S]*?<\/script>/g, '')}`;
    const overview = await loads(page, `${controller.httpUrl}/`, rendered);

    // Baseline: the rendered device list as one static page (its stylesheet inlined), from a bare HTTP server.
    const css = await (await fetch(await page.evaluate<string>('document.querySelector("link[rel=stylesheet]").href'))).text();
    const html = snapshot.replace(/<link rel="stylesheet"[^>]*>/, `<style>${css}</style>`);
    baseline.on('request', (_req, resp) => { resp.setHeader('content-type', 'text/html; charset=utf-8'); resp.end(html); });
    await new Promise<void>((r) => baseline.listen(0, '127.0.0.1', r));
    const staticBaseline = await loads(page, `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`, async () => {
      await page.waitForLoadState('load');
      return page.evaluate<number>('performance.getEntriesByType("navigation")[0].loadEventEnd');
    });
    const pageBytes = async (path: string): Promise<number> => (await (await fetch(new URL(path, controller.httpUrl), { headers: { cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ') } })).arrayBuffer()).byteLength;
    deviceList.htmlBytes = await pageBytes('/devices');
    overview.htmlBytes = await pageBytes('/');
    staticBaseline.htmlBytes = Buffer.byteLength(html);
    return {
      devices: DEVICES, online, deviceList, overview, staticBaseline,
      api: { listP50Ms: round(median(list), 2), listP99Ms: round(percentile(list, 99), 2), overviewP50Ms: round(median(ov), 2), overviewP99Ms: round(percentile(ov, 99), 2), healthzP99Ms: round(percentile(health, 99), 2), requests: list.length + ov.length + health.length },
    };
  } finally {
    baseline.close();
    await browser.close();
    await controller.stop();
  }
}

export function dashboardRows(v: DashboardBenchResult): [string, string, string, string, string, string][] {
  const n = v.devices.toLocaleString('en-US');
  const ok = (ms: number): string => (ms <= DASHBOARD_TARGET_MS ? 'pass' : 'FAIL');
  const base = `static page of the same size ${fmtMs(v.staticBaseline.warmMedianMs)}`;
  const r = (a: number, b: number): string => `${(a / b).toFixed(1)}×`;
  return [
    [`dashboard device list, ${n} devices: navigation → 200 rows rendered (median of ${v.deviceList.runs} warm)`, fmtMs(v.deviceList.warmMedianMs), base, r(v.deviceList.warmMedianMs, v.staticBaseline.warmMedianMs), '≤ 1 s', ok(v.deviceList.warmMedianMs)],
    [`dashboard device list, cold (no cached assets)`, fmtMs(v.deviceList.coldMs), `static page cold ${fmtMs(v.staticBaseline.coldMs)}`, r(v.deviceList.coldMs, v.staticBaseline.coldMs), '≤ 1 s', ok(v.deviceList.coldMs)],
    [`dashboard overview, ${n} devices: navigation → figures rendered (median of ${v.overview.runs} warm)`, fmtMs(v.overview.warmMedianMs), base, r(v.overview.warmMedianMs, v.staticBaseline.warmMedianMs), '≤ 1 s', ok(v.overview.warmMedianMs)],
    [`dashboard overview, cold`, fmtMs(v.overview.coldMs), `static page cold ${fmtMs(v.staticBaseline.coldMs)}`, r(v.overview.coldMs, v.staticBaseline.coldMs), '≤ 1 s', ok(v.overview.coldMs)],
    [`API GET /api/v1/devices?limit=200 p99 (p50 ${fmtMs(v.api.listP50Ms)})`, fmtMs(v.api.listP99Ms), `GET /healthz p99 ${fmtMs(v.api.healthzP99Ms)}`, r(v.api.listP99Ms, v.api.healthzP99Ms), '—', '—'],
    [`API GET /api/v1/reports/overview p99 (p50 ${fmtMs(v.api.overviewP50Ms)})`, fmtMs(v.api.overviewP99Ms), `GET /healthz p99 ${fmtMs(v.api.healthzP99Ms)}`, r(v.api.overviewP99Ms, v.api.healthzP99Ms), '—', '—'],
  ];
}

// Run alone: `node dist/bench/measure-dashboard.js` prints the table and writes bench/results/dashboard-<time>.json.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const res = new Resources();
  const startedAt = new Date();
  measureDashboard(res).then((v) => {
    console.log(renderTable(['measure', 'figure', 'baseline (same run)', 'ratio', 'target', 'ok?'], dashboardRows(v)));
    const out = join(fileURLToPath(new URL('../..', import.meta.url)), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `dashboard-${startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ kind: 'loaphuong-dashboard-bench', version: 1, startedAt: startedAt.toISOString(), machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model }, result: v }, null, 2) + '\n');
    console.error(`[bench] raw figures in ${file}`);
    res.cleanupSync();
  }, (e: unknown) => {
    console.error(e);
    res.cleanupSync();
    process.exitCode = 1;
  });
}
