/**
 * A real controller (in this process, on random ports) and one real `loa agent run` process enrolled with it,
 * for the storage-fault tests (issue 10): the helpers publish a tone on a schedule, read the agent's sink log,
 * and read what the controller stored (its own SQLite file, read-only).
 */
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlayRecord } from '../../../agent/player/file-sink.js';
import { toneWav } from '../../../shared/wav.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { loaOkAsync, SIM_PROFILE, startLoa } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';

export const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);

export interface StorageRig {
  ctl: TestController;
  deviceId: string;
  dataDir: string;
  media: { id: string; sha256: string };
  programId: string;
  startAgent(): Promise<ChildProcess>;
  /** Schedules the program once at each time (wall ms, whole seconds) and waits until the agent applied it. */
  scheduleAt(times: readonly number[]): Promise<number>;
  /** What the controller stored for this device, by seq. */
  controllerEvents(): { seq: number; type: string; data: Record<string, unknown> }[];
  close(): Promise<void>;
}

export function sinkPlays(dataDir: string): PlayRecord[] {
  const f = join(dataDir, 'sink', 'plays.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlayRecord) : [];
}

export async function startStorageRig(o: { dir: string; dataDir?: string; deviceId: string; toneSeconds?: number }): Promise<StorageRig> {
  const ctl = await startTestController();
  const api = ctl.admin;
  await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
  await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
  await api.post('/api/v1/devices', { id: o.deviceId, zoneId: 'X01-C1', name: 'Loa thử lưu trữ' });
  const dataDir = o.dataDir ?? join(o.dir, 'agent');
  mkdirSync(dataDir, { recursive: true });
  const { token } = await api.post<{ token: string }>(`/api/v1/devices/${o.deviceId}/enrollment-token`);
  await loaOkAsync(['agent', 'enroll', '--data-dir', dataDir, '--controller', ctl.controller.httpUrl, '--token', token]);
  const wav = join(o.dir, 'tone.wav');
  writeFileSync(wav, toneWav({ seconds: o.toneSeconds ?? 1, hz: 440 }));
  const { media } = await api.upload(wav, { zoneId: 'X01', title: 'Tiếng thử' });
  const { program } = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X01', title: 'Thử', items: [{ kind: 'media', mediaId: media.id }] });
  await api.post(`/api/v1/programs/${program.id}/submit`);
  await api.post(`/api/v1/programs/${program.id}/approve`);
  const dbPath = join(ctl.dir, 'data', 'controller.db');
  const device = async (): Promise<{ appliedVersion: number; manifestVersion: number; online: boolean }> =>
    (await api.get<{ device: { appliedVersion: number; manifestVersion: number; online: boolean } }>(`/api/v1/devices/${o.deviceId}`)).device;
  return {
    ctl, deviceId: o.deviceId, dataDir, media, programId: program.id,
    startAgent: async () => (await startLoa(['agent', 'run', '--data-dir', dataDir, '--profile', SIM_PROFILE])).child,
    async scheduleAt(times) {
      for (const at of times) {
        const { schedule } = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', {
          zoneId: 'X01', programId: program.id, title: `Phát lúc ${localStamp(at)}`, dtstart: localStamp(at), rrule: 'FREQ=DAILY;COUNT=1',
          priority: 'normal', volume: 80, targets: { zones: ['X01-C1'], devices: [] }, confirmNightHours: true,
        });
        await api.post(`/api/v1/schedules/${schedule.id}/submit`);
        await api.post(`/api/v1/schedules/${schedule.id}/approve`);
      }
      let applied = 0;
      await eventually(async () => {
        const d = await device();
        applied = d.appliedVersion;
        return d.manifestVersion > 0 && d.appliedVersion === d.manifestVersion;
      }, 20_000, 'the agent applies the new manifest');
      return applied;
    },
    controllerEvents() {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare<[string], { seq: number; type: string; data: string }>('SELECT seq, type, data FROM device_events WHERE device_id = ? ORDER BY seq').all(o.deviceId)
          .map((r) => ({ seq: r.seq, type: r.type, data: JSON.parse(r.data) as Record<string, unknown> }));
      } finally {
        db.close();
      }
    },
    close: () => ctl.close(),
  };
}
