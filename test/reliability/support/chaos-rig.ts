/**
 * The chaos rig (issue 10): a real `loa controller run` (embedded aedes, or an external real mosquitto), a real
 * `loa agent run` with the file sink, and a schedule of short programs (a 3 s tone every `spacingMs`, from
 * several FREQ=MINUTELY rules offset from each other), each part a process that can be killed with SIGKILL and
 * started again on the same ports and files. Optionally the agent reaches the controller only through two
 * FaultProxy instances (HTTP and MQTT).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toneWav } from '../../../shared/wav.js';
import { ApiClient } from '../../../scripts/lib/api-client.js';
import { loaOkAsync, SIM_PROFILE } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { ChaosProcess, freePort, loaProcess } from './chaos-procs.js';
import { FaultProxy } from './fault-proxy.js';

export const DEVICE = 'loa-chaos-1';
const PASSWORD = 'chaos-admin-password-1';
/** Asia/Ho_Chi_Minh local time of an instant, as schedules take it. */
export const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

export interface ChaosRigOptions {
  prefix: string;
  broker: 'embedded' | 'mosquitto';
  /** The agent talks to the controller only through fault proxies. */
  proxy?: boolean;
  /** One program every spacingMs (60 s must be a multiple). Default 6000. */
  spacingMs?: number;
  /** Program length (ms). Default 3000. */
  programMs?: number;
  /** Extra environment for the agent process (e.g. LOA_TEST_CLOCK_OFFSET_FILE). */
  agentEnv?: Record<string, string>;
  /** Leave the schedule out (tests that make their own). */
  noSchedule?: boolean;
  /**
   * How many schedule rules (one program each spacingMs, for rules × spacingMs, repeating every 5 minutes once
   * rules reach 300 s / spacingMs). Default: the full 5-minute cycle. Fewer rules set the rig up faster.
   */
  rules?: number;
  /** The first program starts this long after the schedules are made (default 20 s). */
  leadMs?: number;
}

export interface ChaosRig {
  dir: string;
  agentDir: string;
  controllerDb: string;
  api: ApiClient;
  /** The controller's own HTTP URL (not through the proxy). */
  http: string;
  controller: ChaosProcess;
  agent: ChaosProcess;
  broker: ChaosProcess | null;
  proxies: { http: FaultProxy; mqtt: FaultProxy } | null;
  mediaId: string;
  programId: string;
  /** When the first scheduled program starts (wall ms), and the spacing. */
  firstAt: number;
  spacingMs: number;
  programMs: number;
  /** Every scheduled entry's maxDelayMs (= programMs). */
  maxDelayMs: number;
  /** Signs in again (after a controller restart the session still holds; this is for safety). */
  close(): Promise<void>;
}

export async function startChaosRig(o: ChaosRigOptions): Promise<ChaosRig> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  const started: { stop(): Promise<void> }[] = [];
  try {
    return await build(o, dir, started);
  } catch (e) {
    for (const p of started.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function build(o: ChaosRigOptions, dir: string, started: { stop(): Promise<void> }[]): Promise<ChaosRig> {
  const spacingMs = o.spacingMs ?? 6000;
  const programMs = o.programMs ?? 3000;
  const httpPort = await freePort();
  const mqttPort = await freePort();
  let broker: ChaosProcess | null = null;
  if (o.broker === 'mosquitto') {
    const conf = join(dir, 'mosquitto.conf');
    mkdirSync(join(dir, 'mosquitto'), { recursive: true });
    // Persistence on every change, so a kill -9 loses as little of the broker's queues as mosquitto allows.
    writeFileSync(conf, [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${join(dir, 'mosquitto')}/`, 'autosave_on_changes true', 'autosave_interval 1', 'max_queued_messages 100000', ''].join('\n'));
    broker = new ChaosProcess({ name: 'mosquitto', command: 'mosquitto', args: ['-c', conf], readyPort: mqttPort });
    started.push(broker);
    await broker.start();
  }
  let proxies: ChaosRig['proxies'] = null;
  if (o.proxy) {
    proxies = { http: new FaultProxy({ targetPort: httpPort }), mqtt: new FaultProxy({ targetPort: mqttPort }) };
    started.push(proxies.http, proxies.mqtt);
    await proxies.http.start();
    await proxies.mqtt.start();
  }
  await loaOkAsync(['keys', 'init', '--out', join(dir, 'keys'), '--count', '1', '--threshold', '1', '--years', '1']);
  const config = join(dir, 'controller.json');
  writeFileSync(config, JSON.stringify({
    dataDir: join(dir, 'controller'), keysDir: join(dir, 'keys'),
    http: { host: '127.0.0.1', port: httpPort, ...(proxies ? { publicUrl: `http://127.0.0.1:${proxies.http.port}` } : {}) },
    mqtt: {
      ...(o.broker === 'mosquitto' ? { url: `mqtt://127.0.0.1:${mqttPort}` } : { host: '127.0.0.1', port: mqttPort }),
      ...(proxies ? { publicUrl: `mqtt://127.0.0.1:${proxies.mqtt.port}` } : {}),
    },
    manifests: { debounceMs: 50 },
  }));
  await loaOkAsync(['controller', 'admin', 'create', '--config', config, '--username', 'admin', '--province', 'T01', '--province-name', 'Tỉnh Thử'], { LOA_ADMIN_PASSWORD: PASSWORD });
  const controller = loaProcess('controller', ['controller', 'run', '--config', config]);
  started.push(controller);
  await controller.start();
  const http = `http://127.0.0.1:${httpPort}`;
  const api = new ApiClient(http);
  await api.login('admin', PASSWORD);
  await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
  await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
  await api.post('/api/v1/devices', { id: DEVICE, zoneId: 'X01-C1', name: 'Loa thử hỗn loạn' });
  const { token } = await api.post<{ token: string }>(`/api/v1/devices/${DEVICE}/enrollment-token`);
  const agentDir = join(dir, 'agent');
  mkdirSync(agentDir, { recursive: true });
  await loaOkAsync(['agent', 'enroll', '--data-dir', agentDir, '--controller', proxies ? `http://127.0.0.1:${proxies.http.port}` : http, '--token', token]);

  const wav = join(dir, 'tone.wav');
  writeFileSync(wav, toneWav({ seconds: programMs / 1000, hz: 440 }));
  const { media } = await api.upload(wav, { zoneId: 'X01', title: 'Bản tin thử' });
  const { program } = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X01', title: 'Bản tin', items: [{ kind: 'media', mediaId: media.id }] });
  await api.post(`/api/v1/programs/${program.id}/submit`);
  await api.post(`/api/v1/programs/${program.id}/approve`);
  const firstAt = Math.ceil((Date.now() + (o.noSchedule ? 0 : o.leadMs ?? 20_000)) / 1000) * 1000;
  if (!o.noSchedule) {
    // A rule may repeat at most every 5 minutes: 300 s / spacingMs rules, FREQ=MINUTELY;INTERVAL=5 each, offset
    // by spacingMs (40 plays each, the most a day allows is 48), make one program every spacingMs for 200 minutes.
    for (let i = 0; i < Math.min(o.rules ?? Infinity, Math.round(300_000 / spacingMs)); i++) {
      const { schedule } = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', {
        zoneId: 'X01', programId: program.id, title: `Nhịp ${i + 1}`, dtstart: localStamp(firstAt + i * spacingMs), rrule: 'FREQ=MINUTELY;INTERVAL=5;COUNT=40',
        priority: 'normal', volume: 80, onPreempt: 'resume', maxDelayMs: programMs, targets: { zones: ['X01-C1'], devices: [] }, confirmNightHours: true,
      });
      await api.post(`/api/v1/schedules/${schedule.id}/submit`);
      await api.post(`/api/v1/schedules/${schedule.id}/approve`);
    }
  }
  const agent = loaProcess('agent', ['agent', 'run', '--data-dir', agentDir, '--profile', SIM_PROFILE], o.agentEnv ?? {});
  started.push(agent);
  await agent.start();
  await eventually(async () => (await api.get<{ device: { appliedVersion: number; manifestVersion: number } }>(`/api/v1/devices/${DEVICE}`)).device.appliedVersion > 0, 30_000, 'the agent applies its first manifest');

  return {
    dir, agentDir, controllerDb: join(dir, 'controller', 'controller.db'), api, http, controller, agent, broker, proxies,
    mediaId: media.id, programId: program.id, firstAt, spacingMs, programMs, maxDelayMs: programMs,
    async close() {
      await agent.stop();
      await controller.stop();
      await broker?.stop();
      await proxies?.http.stop();
      await proxies?.mqtt.stop();
      if (!process.env.LOA_KEEP_CHAOS_DIR) rmSync(dir, { recursive: true, force: true });
    },
  };
}
