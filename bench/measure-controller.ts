import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../controller/config.js';
import { Controller } from '../controller/controller.js';
import { canonicalize } from '../shared/crypto.js';
import { createLogger } from '../shared/log.js';
import { ApiClient } from '../scripts/lib/api-client.js';
import { createAdmin } from '../scripts/cli/controller-actions.js';
import { initKeys } from '../scripts/cli/keys.js';
import type { Resources } from './proc.js';
import { median, percentile } from './stats.js';

export interface ControllerBenchResult {
  devices: number;
  compile: { ms: number; changed: number; schedules: number; baselineSignMs: number };
  list: { pageP99Ms: number; pageP50Ms: number; fullP99Ms: number; fullP50Ms: number; healthzP99Ms: number; requests: number };
}

const COMMUNES = 100, CLUSTERS_PER_COMMUNE = 4, DEVICES = 10_000;

/**
 * Seeds a province with 10,000 devices (100 communes × 4 clusters), 20 media, 10 approved programs and 30
 * approved schedules (province-, commune- and cluster-wide), then measures (1) one full compile-and-sign of
 * every device manifest, against a baseline of signing 10,000 pre-built manifests of the same size, and (2)
 * the device-list API latency over real HTTP, against GET /healthz on the same server.
 */
export async function measureController(res: Resources): Promise<ControllerBenchResult> {
  const dir = res.tempDir('controller');
  initKeys(join(dir, 'keys'), 1, 1, 1);
  await createAdmin(join(dir, 'data'), { username: 'admin', password: 'bench-admin-pw', provinceId: 'T01' });
  const config = loadConfig(undefined, {}, { dataDir: join(dir, 'data'), keysDir: join(dir, 'keys'), logLevel: 'silent', http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, manifests: { debounceMs: 60_000 } });
  const controller = new Controller({ config, log: createLogger('bench', { level: 'silent' }) });
  await controller.start();
  try {
    const d = controller.data;
    const now = Date.now();
    const media: string[] = [];
    const programs: string[] = [];
    d.tx(() => {
      for (let c = 0; c < COMMUNES; c++) {
        const cid = `X${String(c).padStart(3, '0')}`;
        d.zones.create({ id: cid, parentId: 'T01', level: 'commune', code: cid, name: `Xã ${c}` }, now);
        for (let k = 0; k < CLUSTERS_PER_COMMUNE; k++) d.zones.create({ id: `${cid}-C${k}`, parentId: cid, level: 'cluster', code: `C${k}`, name: `Cụm ${k}` }, now);
      }
      for (let i = 0; i < DEVICES; i++) {
        const c = i % COMMUNES, k = Math.floor(i / COMMUNES) % CLUSTERS_PER_COMMUNE;
        d.devices.create({ id: `dev-${String(i).padStart(5, '0')}`, zoneId: `X${String(c).padStart(3, '0')}-C${k}`, name: `Loa ${i}`, kind: 'speaker' }, now);
      }
      for (let i = 0; i < 20; i++) media.push(d.media.create({ id: `med-${i}`, sha256: (i.toString(16).padStart(2, '0')).repeat(32), size: 100_000 + i, durationMs: 60_000, mime: 'audio/ogg', title: `Bản tin ${i}`, originalName: null, sourceSha256: null, loudnessLufs: -16, zoneId: 'T01', createdBy: 'bench' }, now).id);
      for (let i = 0; i < 10; i++) {
        programs.push(d.programs.create({ id: `prg-${i}`, zoneId: 'T01', title: `Chương trình ${i}`, items: [0, 1, 2].map((j) => ({ kind: 'media' as const, mediaId: media[(i + j) % media.length]! })), createdBy: 'bench' }, now).id);
        d.programs.setStatus(`prg-${i}`, 'approved', 'bench', now);
      }
      for (let i = 0; i < 30; i++) {
        const zones = i < 5 ? ['T01'] : i < 20 ? [`X${String(i * 5).padStart(3, '0')}`] : [`X${String(i).padStart(3, '0')}-C1`];
        d.schedules.create({
          id: `sch-${i}`, zoneId: 'T01', programId: programs[i % programs.length]!, title: `Lịch ${i}`, dtstart: '2026-12-01T06:00:00', rrule: `FREQ=DAILY;BYHOUR=${6 + (i % 12)};BYMINUTE=${(i * 7) % 60};COUNT=90`,
          validFrom: null, validUntil: null, priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000, nightConfirmed: false, createdBy: 'bench', targets: { zones, devices: [] },
        }, now);
        d.schedules.setStatus(`sch-${i}`, 'approved', 'bench', now);
      }
    });

    // (1) compile + sign everything, once (the incremental path does the same work for the dirty subset).
    const r = await controller.manifestCompiler.compile();
    // Baseline: Ed25519 over the same canonical bytes, with the key parsed once; no SQL, no manifest building.
    const bodies = d.db.prepare<[], { body: string }>('SELECT body FROM manifests').all().map((x) => canonicalize((JSON.parse(x.body) as { signed: unknown }).signed));
    const key = createPrivateKey(readFileSync(join(dir, 'keys', 'schedule.key'), 'utf8'));
    const b0 = performance.now();
    for (const b of bodies) sign(null, Buffer.from(b), key);
    const baselineSignMs = performance.now() - b0;

    // (2) the device list over real HTTP: pages of 100 at random offsets, the full 10,000 list, and /healthz.
    const api = new ApiClient(controller.httpUrl);
    await api.login('admin', 'bench-admin-pw');
    const time = async (path: string): Promise<number> => {
      const t0 = performance.now();
      const resp = await fetch(new URL(path, controller.httpUrl), { headers: { authorization: `Bearer ${api.token!}` } });
      await resp.arrayBuffer();
      if (!resp.ok) throw new Error(`${path} → ${resp.status}`);
      return performance.now() - t0;
    };
    for (let i = 0; i < 20; i++) await time('/api/v1/devices?limit=100');
    const page: number[] = [], full: number[] = [], health: number[] = [];
    for (let i = 0; i < 300; i++) {
      page.push(await time(`/api/v1/devices?limit=100&after=dev-${String(Math.floor(Math.random() * DEVICES)).padStart(5, '0')}`));
      health.push(await time('/healthz'));
    }
    for (let i = 0; i < 30; i++) full.push(await time('/api/v1/devices?limit=10000'));
    return {
      devices: DEVICES,
      compile: { ms: r.ms, changed: r.changed, schedules: 30, baselineSignMs },
      list: { pageP99Ms: percentile(page, 99), pageP50Ms: median(page), fullP99Ms: percentile(full, 99), fullP50Ms: median(full), healthzP99Ms: percentile(health, 99), requests: page.length + full.length + health.length },
    };
  } finally {
    await controller.stop();
  }
}
