import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../controller/config.js';
import { Controller } from '../../controller/controller.js';
import { toneWav } from '../../shared/wav.js';
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.js';
import { ApiClient } from '../lib/api-client.js';
import { createAdmin } from './controller-actions.js';
import { initKeys } from './keys.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LOA = join(ROOT, 'bin/loa.js');
const PROFILE = join(ROOT, 'hardware-profiles/sim-file-sink.json');

export const DEMO_USERS = [
  { username: 'admin', password: 'demo-admin-2026', role: 'admin' as const, zone: 'T01', displayName: 'Quản trị tỉnh' },
  { username: 'bientap', password: 'demo-bientap-2026', role: 'operator' as const, zone: 'X001', displayName: 'Biên tập viên xã Tân Lập', canApprove: true },
  { username: 'kythuat', password: 'demo-kythuat-2026', role: 'technician' as const, zone: 'X001', displayName: 'Kỹ thuật viên xã Tân Lập' },
  { username: 'xem', password: 'demo-xem-2026', role: 'viewer' as const, zone: 'T01', displayName: 'Người xem' },
];

const ZONES_CSV = `id,parent_id,level,code,name
X001,T01,commune,X001,Xã Tân Lập
X002,T01,commune,X002,Phường Hòa Bình
X001-C1,X001,cluster,C1,Cụm loa thôn Đông
X001-C2,X001,cluster,C2,Cụm loa thôn Tây
X002-C1,X002,cluster,C1,Cụm loa tổ dân phố 3
`;

const DEVICES = [
  { id: 'loa-x001-c1', zoneId: 'X001-C1', name: 'Loa thôn Đông' },
  { id: 'loa-x001-c2', zoneId: 'X001-C2', name: 'Loa thôn Tây' },
  { id: 'loa-x002-c1', zoneId: 'X002-C1', name: 'Loa tổ dân phố 3' },
];

const ANNOUNCEMENTS = [
  { file: 'ban-tin-sang.wav', title: 'Bản tin sáng', text: 'Kính thưa bà con. Sau đây là bản tin sáng của Ủy ban nhân dân xã Tân Lập.' },
  { file: 'lich-tiem-chung.wav', title: 'Thông báo lịch tiêm chủng', text: 'Trạm y tế xã thông báo lịch tiêm chủng mở rộng vào sáng thứ bảy tuần này.' },
  { file: 'phong-chong-bao.wav', title: 'Nhắc nhở phòng chống bão', text: 'Bà con chú ý gia cố nhà cửa, chủ động phòng chống bão lũ.' },
];

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** Local wall time in Asia/Ho_Chi_Minh (UTC+7, no DST), `YYYY-MM-DDTHH:mm:ss`. */
const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

function speak(dir: string, a: (typeof ANNOUNCEMENTS)[number], say: (s: string) => void): string {
  const out = join(dir, a.file);
  if (existsSync(out)) return out;
  const r = spawnSync('espeak-ng', ['-v', 'vi', '-s', '150', '-w', out, a.text], { stdio: 'ignore' });
  if (r.status !== 0) {
    say(`espeak-ng is not available (sudo apt-get install espeak-ng, or npm run setup:system): using a tone for "${a.title}"`);
    writeFileSync(out, toneWav({ seconds: 3, hz: 440 + 110 * ANNOUNCEMENTS.indexOf(a) }));
  }
  return out;
}

/**
 * The `npm start` demo: the controller (HTTP on :8080, embedded MQTT broker, SQLite) and three real agent
 * processes with file sinks, each in its own data folder, on a seeded demo province. State lives in `dir`;
 * a second run reuses it.
 */
export async function runControllerDemo(dirArg: string, httpPort: number, mqttPort: number): Promise<void> {
  const dir = resolve(dirArg);
  const say = (s: string): void => console.log(`[demo] ${s}`);
  const fresh = !existsSync(join(dir, 'controller', 'controller.db'));
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'keys', 'root.json'))) initKeys(join(dir, 'keys'), 3, 2, 2, (s) => say(s));
  if (fresh) {
    const admin = DEMO_USERS[0]!;
    await createAdmin(join(dir, 'controller'), { username: admin.username, password: admin.password, displayName: admin.displayName, provinceId: 'T01', provinceName: 'Tỉnh Minh Họa' });
  }
  const config = loadConfig(undefined, process.env, {
    dataDir: join(dir, 'controller'), keysDir: join(dir, 'keys'), logLevel: process.env.LOA_LOG_LEVEL ?? 'warn',
    http: { host: '0.0.0.0', port: httpPort, publicUrl: `http://127.0.0.1:${httpPort}` }, mqtt: { host: '127.0.0.1', port: mqttPort },
  });
  const controller = new Controller({ config });
  await controller.start();
  say(`controller on ${controller.httpUrl}, MQTT broker on ${controller.mqttUrl}`);
  const api = new ApiClient(controller.httpUrl);
  await api.login(DEMO_USERS[0]!.username, DEMO_USERS[0]!.password);

  const agentsDir = join(dir, 'agents');
  if (fresh) {
    say('seeding the demo province: zones, users, announcements (espeak-ng), programs, schedules, devices');
    await api.request('POST', '/api/v1/zones/import', ZONES_CSV, { 'content-type': 'text/csv' });
    for (const u of DEMO_USERS.slice(1)) {
      await api.post('/api/v1/users', { username: u.username, displayName: u.displayName, password: u.password, roles: [{ role: u.role, zoneId: u.zone, canApprove: u.canApprove ?? false }] });
    }
    const audio = join(dir, 'audio');
    mkdirSync(audio, { recursive: true });
    const media: string[] = [];
    for (const a of ANNOUNCEMENTS) {
      const r = await api.upload(speak(audio, a, say), { zoneId: 'T01', title: a.title });
      media.push(r.media.id);
      say(`uploaded "${a.title}" (${(r.media.durationMs / 1000).toFixed(1)} s, loudness-normalised)`);
    }
    const morning = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'T01', title: 'Bản tin sáng', items: [{ kind: 'media', mediaId: media[0] }, { kind: 'media', mediaId: media[2] }] });
    const notice = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'T01', title: 'Thông báo của UBND xã', items: [{ kind: 'media', mediaId: media[1] }] });
    for (const p of [morning.program.id, notice.program.id]) {
      await api.post(`/api/v1/programs/${p}/submit`);
      await api.post(`/api/v1/programs/${p}/approve`);
    }
    const now = Date.now();
    const schedules = [
      { zoneId: 'T01', programId: morning.program.id, title: 'Bản tin sáng và chiều', dtstart: `${localStamp(now).slice(0, 10)}T06:00:00`, rrule: 'FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0', validUntil: new Date(now + 90 * 86_400_000).toISOString(), priority: 'normal', volume: 80, targets: { zones: ['T01'], devices: [] } },
      // So that the demo plays something within a minute or two: then every 30 minutes for 12 hours (night hours confirmed).
      { zoneId: 'X001', programId: notice.program.id, title: 'Thông báo (demo, 30 phút một lần)', dtstart: localStamp(Math.ceil((now + 90_000) / 60_000) * 60_000), rrule: 'FREQ=MINUTELY;INTERVAL=30;COUNT=24', priority: 'priority', volume: 90, targets: { zones: ['X001'], devices: [] }, confirmNightHours: true },
    ];
    for (const s of schedules) {
      const r = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', s);
      await api.post(`/api/v1/schedules/${r.schedule.id}/submit`);
      await api.post(`/api/v1/schedules/${r.schedule.id}/approve`);
    }
    for (const d of DEVICES) {
      await api.post('/api/v1/devices', { ...d, kind: 'speaker' });
      const t = await api.post<{ token: string }>(`/api/v1/devices/${d.id}/enrollment-token`);
      const data = join(agentsDir, d.id);
      mkdirSync(data, { recursive: true });
      // Not spawnSync: the controller answering the enrollment runs in this very process.
      const r = await run(process.execPath, [LOA, 'agent', 'enroll', '--data-dir', data, '--controller', controller.httpUrl, '--token', t.token, '--profile', 'sim-file-sink']);
      if (r.code !== 0) throw new Error(`enrollment of ${d.id} failed: ${r.stderr}`);
      say(`enrolled ${d.id} (${d.name})`);
    }
  }
  const children: ChildProcess[] = DEVICES.map((d) => {
    const data = join(agentsDir, d.id);
    const log = createWriteStream(join(data, 'agent.log'), { flags: 'a' });
    const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, LOA, 'agent', 'run', '--data-dir', data, '--profile', PROFILE], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_LOG_LEVEL: 'info' } });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    return child;
  });
  say(`${children.length} agents running (file sinks; plays are recorded under ${agentsDir}/<device>/sink)`);
  console.log('');
  console.log(`  Dashboard:  http://localhost:${httpPort}/`);
  console.log(`  API docs:   http://localhost:${httpPort}/docs`);
  for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(10)}  ${u.username} / ${u.password}`);
  console.log('');
  say('Ctrl+C to stop');
  const stop = async (): Promise<void> => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await controller.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
