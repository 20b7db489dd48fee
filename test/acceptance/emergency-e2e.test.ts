import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PlayRecord } from '../../agent/player/file-sink.js';
import { loaOkAsync, SIM_PROFILE, startAgentProcess, startControllerProcess, startLoa, stopAll } from '../support/loa-cli.js';
import { eventually } from '../support/wait.js';

const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19);
const DEVICES = ['loa-em-1', 'loa-em-2', 'loa-em-3'];
const loaAsync = loaOkAsync;
const start = startLoa;
const PROFILE = SIM_PROFILE;

const playsOf = (agentDir: string): PlayRecord[] => {
  const f = join(agentDir, 'sink', 'plays.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlayRecord) : [];
};

test('emergency end to end with three real agents: a TTS order preempts the scheduled program, plays, the program resumes at its offset, and the acks show in the API', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-e2e-'));
  const children: ChildProcess[] = [];
  try {
    const ctl = await startControllerProcess(dir, 'e2e-admin-password');
    children.push(ctl.child);
    const { api } = ctl;
    // Three receivers, enrolled with one-time tokens, each a separate `loa agent run` process with a file sink.
    const agentDirs: string[] = [];
    for (const id of DEVICES) {
      children.push(await startAgentProcess(api, ctl.http, join(dir, id), id, 'X01-C1'));
      agentDirs.push(join(dir, id));
    }
    await eventually(async () => (await api.get<{ devices: { online: boolean }[] }>('/api/v1/devices?zoneId=X01')).devices.filter((d) => d.online).length === 3, 20_000, 'three agents online');

    // A 40-second program scheduled for all three, 15 s from now.
    const tone = join(dir, 'ban-tin.wav');
    assert.equal(spawnSync('sox', ['-n', '-r', '48000', '-c', '1', tone, 'synth', '40', 'sine', '440', 'vol', '0.5']).status, 0, 'sox works');
    const { media } = await api.upload(tone, { zoneId: 'X01', title: 'Bản tin dài' });
    const { program } = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: 'X01', title: 'Bản tin', items: [{ kind: 'media', mediaId: media.id }] });
    await api.post(`/api/v1/programs/${program.id}/submit`);
    await api.post(`/api/v1/programs/${program.id}/approve`);
    const at = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
    const { schedule } = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', {
      zoneId: 'X01', programId: program.id, title: 'Bản tin sáng', dtstart: localStamp(at), rrule: 'FREQ=DAILY;COUNT=1', priority: 'normal', volume: 70,
      targets: { zones: ['X01-C1'], devices: [] }, confirmNightHours: true,
    });
    await api.post(`/api/v1/schedules/${schedule.id}/submit`);
    await api.post(`/api/v1/schedules/${schedule.id}/approve`);
    await eventually(async () => {
      const list = (await api.get<{ devices: { appliedVersion: number; manifestVersion: number }[] }>('/api/v1/devices?zoneId=X01')).devices;
      return list.length === 3 && list.every((d) => d.appliedVersion > 0 && d.appliedVersion === d.manifestVersion);
    }, 15_000, 'the three agents apply the manifest');

    // 8 s into the program, a district operator sends a spoken warning to the cluster (confirmed by retyping its name).
    await new Promise((r) => setTimeout(r, Math.max(0, at + 8000 - Date.now())));
    const sentAt = Date.now();
    const sent = await api.post<{ order: { id: string }; published: number }>('/api/v1/emergency', {
      title: 'Cảnh báo lũ', zones: ['X01-C1'], content: { kind: 'tts', text: 'Khẩn cấp: lũ đang lên nhanh, đề nghị bà con di chuyển lên vùng cao ngay.' },
      repeat: 1, ttlMinutes: 30, confirm: 'cụm loa thôn đông',
    });
    assert.equal(sent.published, 3);
    let progress: Record<string, number> = {};
    await eventually(async () => {
      progress = (await api.get<{ progress: Record<string, number> }>(`/api/v1/emergency/${sent.order.id}`)).progress;
      return progress.finished === 3;
    }, 60_000, 'three finished acks');
    assert.equal(progress.targeted, 3);
    const rows = (await api.get<{ devices: { deviceId: string; state: string }[] }>(`/api/v1/emergency/${sent.order.id}?devices=1`)).devices;
    assert.deepEqual(rows.map((r) => [r.deviceId, r.state]).sort(), DEVICES.map((d) => [d, 'finished']));

    // Each sink: the program cut at ~8 s, the warning played in full, then the program again from where it stopped.
    await eventually(() => agentDirs.every((d) => playsOf(d).filter((p) => p.sha256 === media.sha256 && p.status === 'completed').length === 1), 60_000, 'the program resumes and completes');
    for (const d of agentDirs) {
      const plays = playsOf(d);
      const [cut, warning, resumed] = plays;
      assert.equal(plays.length, 3, JSON.stringify(plays));
      assert.equal(cut!.sha256, media.sha256);
      assert.equal(cut!.status, 'aborted');
      assert.ok(cut!.startedAt - at < 1500 && cut!.playedMs > 6000 && cut!.playedMs < 11_000, `program played ${cut!.playedMs} ms before the warning`);
      assert.notEqual(warning!.sha256, media.sha256);
      assert.equal(warning!.status, 'completed');
      assert.equal(warning!.volume, 100);
      // TTS rendering, fan-out, verification, download and a 0.5 s emergency warm-up, all within a few seconds.
      const latency = warning!.startedAt - sentAt;
      assert.ok(latency > 0 && latency < 8000, `warning started ${latency} ms after the API call`);
      t.diagnostic(`${d.split('/').pop()}: API call → warning playing in ${latency} ms`);
      assert.equal(resumed!.sha256, media.sha256);
      assert.equal(resumed!.status, 'completed');
      assert.ok(Math.abs(resumed!.offsetMs - cut!.playedMs) <= 1000, `resumed at ${resumed!.offsetMs} ms after ${cut!.playedMs} ms played`);
    }
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a replayed order (same bytes, same nonce) and an expired order reach a real agent and are rejected and reported through the API', { timeout: 120_000 }, async () => {
  const { startTestController } = await import('../support/controller.js');
  const { signEnvelope } = await import('../../shared/crypto.js');
  const { topics } = await import('../../shared/topics.js');
  const t = await startTestController();
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-replay-'));
  try {
    const api = t.admin;
    await api.post('/api/v1/zones', { id: 'X02', parentId: 'T01', level: 'commune', code: '19756', name: 'Phường Thuận An' });
    await api.post('/api/v1/zones', { id: 'X02-C1', parentId: 'X02', level: 'cluster', code: 'C1', name: 'Cụm chợ' });
    await api.post('/api/v1/devices', { id: 'loa-rp-1', zoneId: 'X02-C1', name: 'Loa chợ' });
    const { token } = await api.post<{ token: string }>('/api/v1/devices/loa-rp-1/enrollment-token');
    await loaAsync(['agent', 'enroll', '--data-dir', dir, '--controller', t.controller.httpUrl, '--token', token]);
    const agent = await start(['agent', 'run', '--data-dir', dir, '--profile', PROFILE]);
    children.push(agent.child);
    await eventually(async () => {
      const d = (await api.get<{ device: { online: boolean; appliedVersion: number } }>('/api/v1/devices/loa-rp-1')).device;
      return d.online && d.appliedVersion > 0;
    }, 20_000, 'the agent is online with its manifest');

    const tone = join(dir, 'coi.wav');
    assert.equal(spawnSync('sox', ['-n', '-r', '48000', '-c', '1', tone, 'synth', '2', 'sine', '880', 'vol', '0.5']).status, 0, 'sox works');
    const { media } = await api.upload(tone, { zoneId: 'X02', title: 'Còi báo động' });
    const sent = await api.post<{ order: { id: string } }>('/api/v1/emergency', { title: 'Còi', zones: ['X02-C1'], content: { kind: 'media', mediaId: media.id }, repeat: 1, ttlMinutes: 30, confirm: 'Cụm chợ' });
    const id = sent.order.id;
    type Row = { deviceId: string; state: string; acks: Record<string, number>; rejection: { code: string | null } | null };
    const row = async (): Promise<Row> => (await api.get<{ devices: Row[] }>(`/api/v1/emergency/${id}?devices=1`)).devices[0]!;
    await eventually(async () => (await row()).state === 'finished', 30_000, 'the order plays');

    // 1. The same signed bytes again: a replay.
    const body = t.controller.data.emergency.signedBodies(id).start!;
    await t.controller.messageBus.publish(topics.down('loa-rp-1', 'emergency'), body, { qos: 1 });
    await eventually(async () => (await row()).rejection?.code === 'LOA_ERR_EMERGENCY_REPLAY', 15_000, 'the replay is reported');
    // 2. The same order re-signed with the real emergency key, fresh nonce and seq, but expired.
    const original = (JSON.parse(body) as { signed: Record<string, unknown> }).signed;
    const expired = { ...original, seq: Number(original.seq) + 1000, nonce: 'Zm9yLWFuLWV4cGlyZWQtb3JkZXItMTIz', issuedAt: new Date(Date.now() - 7_200_000).toISOString(), expiresAt: new Date(Date.now() - 3_600_000).toISOString() };
    const key = readFileSync(join(t.dir, 'keys', 'emergency.key'), 'utf8');
    await t.controller.messageBus.publish(topics.down('loa-rp-1', 'emergency'), JSON.stringify(signEnvelope(expired, [key])), { qos: 1 });
    await eventually(async () => (await row()).rejection?.code === 'LOA_ERR_EMERGENCY_EXPIRED', 15_000, 'the expired order is reported');
    const r = await row();
    assert.equal(r.state, 'finished', 'the device still counts as finished: refusals never undo what it played');
    assert.ok(r.acks.rejected! > 0);
    // It played once and only once.
    assert.equal(playsOf(dir).filter((p) => p.sha256 === media.sha256).length, 1);
  } finally {
    await stopAll(children);
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
