import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loaOk, SIM_PROFILE, startControllerProcess, startLoa, stopAll } from '../support/loa-cli.js';
import { eventually } from '../support/wait.js';

const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);
const loa = loaOk;
const start = startLoa;
const PROFILE = SIM_PROFILE;

test('end to end with real processes: zone, enrollment, upload, schedule → manifest within 2 s, media downloaded, played on time, proof-of-play in the API', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-e2e-'));
  const children: ChildProcess[] = [];
  try {
    // 1. a controller process, signed in, with a commune X01 and its cluster X01-C1
    const ctl = await startControllerProcess(dir, 'e2e-admin-password');
    children.push(ctl.child);
    const { api } = ctl;
    // 2. enroll a device: a record, a one-time token, `loa agent enroll` on the receiver, then the agent runs
    await api.post('/api/v1/devices', { id: 'loa-e2e-1', zoneId: 'X01-C1', name: 'Loa thôn Đông' });
    const { token } = await api.post<{ token: string }>('/api/v1/devices/loa-e2e-1/enrollment-token');
    const agentDir = join(dir, 'agent');
    mkdirSync(agentDir);
    const enrolled = JSON.parse(loa(['agent', 'enroll', '--data-dir', agentDir, '--controller', ctl.http, '--token', token])) as { deviceId: string };
    assert.equal(enrolled.deviceId, 'loa-e2e-1');
    const agent = await start(['agent', 'run', '--data-dir', agentDir, '--profile', PROFILE]);
    children.push(agent.child);
    await eventually(async () => (await api.get<{ devices: { online: boolean }[] }>('/api/v1/devices')).devices[0]?.online === true, 15_000, 'the agent is online');
    const before = (await api.get<{ device: { appliedVersion: number } }>('/api/v1/devices/loa-e2e-1')).device.appliedVersion;

    // 3. upload Vietnamese speech (espeak-ng), transcoded and loudness-normalised by the controller
    const wav = join(dir, 'thong-bao.wav');
    assert.equal(spawnSync('espeak-ng', ['-v', 'vi', '-w', wav, 'Thông báo của Ủy ban nhân dân xã Tân Lập']).status, 0, 'espeak-ng works');
    const { media } = await api.upload(wav, { zoneId: 'X01', title: 'Thông báo UBND xã' });
    const { program } = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X01', title: 'Thông báo', items: [{ kind: 'media', mediaId: media.id }] });
    await api.post(`/api/v1/programs/${program.id}/submit`);
    await api.post(`/api/v1/programs/${program.id}/approve`);

    // 4. schedule it 20 s from now, once
    const at = Math.ceil((Date.now() + 20_000) / 1000) * 1000;
    const { schedule } = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', {
      zoneId: 'X01', programId: program.id, title: 'Phát thử', dtstart: localStamp(at), rrule: 'FREQ=DAILY;COUNT=1', priority: 'normal', volume: 80,
      targets: { zones: ['X01-C1'], devices: [] }, confirmNightHours: true,
    });
    await api.post(`/api/v1/schedules/${schedule.id}/submit`);
    const changed = Date.now();
    await api.post(`/api/v1/schedules/${schedule.id}/approve`);

    // The agent has the new manifest within 2 s of the change (notify → ETag fetch → verify → media download → ack).
    let applied = 0;
    await eventually(async () => {
      const d = (await api.get<{ device: { appliedVersion: number; manifestVersion: number } }>('/api/v1/devices/loa-e2e-1')).device;
      applied = d.appliedVersion;
      return d.appliedVersion > before && d.appliedVersion === d.manifestVersion;
    }, 10_000, 'the agent acks the new manifest');
    const took = Date.now() - changed;
    assert.ok(took <= 2000, `manifest applied ${took} ms after the change (limit 2000 ms)`);
    assert.ok(applied > 0);

    // It plays at the scheduled time, and its proof-of-play shows in the API.
    const from = new Date(at - 60_000).toISOString(), to = new Date(at + 120_000).toISOString();
    let plays: { status: string; startedAt: number | null; scheduledAt: number | null }[] = [];
    await eventually(async () => {
      plays = (await api.get<{ plays: typeof plays }>(`/api/v1/devices/loa-e2e-1/plays?from=${from}&to=${to}`)).plays;
      return plays.some((p) => p.status === 'completed');
    }, 60_000, 'proof-of-play arrives');
    const p = plays.find((x) => x.status === 'completed')!;
    assert.ok(p.startedAt !== null && Math.abs(p.startedAt - at) < 1500, `started ${String(p.startedAt !== null ? p.startedAt - at : null)} ms from the scheduled time`);
    const sinkLog = readFileSync(join(agentDir, 'sink', 'plays.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sha256?: string; status: string });
    assert.ok(sinkLog.some((l) => l.sha256 === media.sha256 && l.status === 'completed'), 'the sink played the transcoded file byte for byte');
    const report = await api.get<{ scheduled: number; completed: number }>(`/api/v1/reports/scheduled-vs-played?zoneId=X01&from=${from}&to=${to}`);
    assert.deepEqual([report.scheduled, report.completed], [1, 1]);
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});
