import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_RESTART_EXIT_CODE } from '../../agent/agent.js';
import type { PlayRecord } from '../../agent/player/file-sink.js';
import { ApiError } from '../../scripts/lib/api-client.js';
import { startEmulatedBoard } from '../support/board.js';
import { startTestController } from '../support/controller.js';
import { loaOkAsync, startLoa, stopAll } from '../support/loa-cli.js';
import { eventually } from '../support/wait.js';

interface Cmd { id: string; state: string; type: string; result?: Record<string, unknown>; error?: { code: string } }

const playsOf = (sink: string): PlayRecord[] => {
  const f = join(sink, 'plays.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PlayRecord) : [];
};

/** Length (s) and rough frequency (Hz) of a recorded WAV, by `sox … -n stat`. */
function soxStat(path: string): { lengthS: number; hz: number; rms: number } {
  const r = spawnSync('sox', ['-t', 'wav', path, '-n', 'stat'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const num = (label: string): number => Number(new RegExp(`^${label}:\\s+(-?[\\d.]+)`, 'm').exec(r.stderr)?.[1] ?? NaN);
  return { lengthS: num('Length \\(seconds\\)'), hz: num('Rough\\s+frequency'), rms: num('RMS\\s+amplitude') };
}

test('device commands end to end with a real controller, a real `loa agent run` and a Modbus relay board: volume, a 1 kHz test tone in the file sink, a relay check with read-back, and a reboot that restarts the agent', { timeout: 180_000 }, async (t) => {
  const ctl = await startTestController();
  const rig = await startEmulatedBoard('loa-cmd-e2e-', { protocol: 'modbus', channels: 2 });
  const children: ChildProcess[] = [];
  const switched: string[] = [];
  rig.board.onChange = (s) => switched.push(s.map((v) => (v ? '1' : '0')).join(''));
  try {
    const api = ctl.admin;
    await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
    await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
    await api.post('/api/v1/devices', { id: 'loa-cmd-1', zoneId: 'X01-C1', name: 'Loa chợ' });
    const data = join(rig.dir, 'agent');
    mkdirSync(data, { recursive: true });
    const { token } = await api.post<{ token: string }>('/api/v1/devices/loa-cmd-1/enrollment-token');
    await loaOkAsync(['agent', 'enroll', '--data-dir', data, '--controller', ctl.controller.httpUrl, '--token', token]);
    const profile = join(rig.dir, 'profile.json');
    const sink = join(data, 'sink');
    writeFileSync(profile, JSON.stringify({
      id: 'cmd-e2e', name: 'file sink + Modbus relays', audio: { driver: 'file', device: sink },
      relay: { type: 'modbus-rtu', port: rig.port, channels: 2 },
      outputs: [{ name: 'loa-chinh', channels: [0], warmupMs: 300, cooldownMs: 500 }, { name: 'loa-phu', channels: [1], warmupMs: 300, cooldownMs: 500 }],
    }));
    const runAgent = async (): Promise<ChildProcess> => (await startLoa(['agent', 'run', '--data-dir', data, '--profile', profile])).child;
    let agent = await runAgent();
    children.push(agent);
    await eventually(async () => (await api.get<{ device: { online: boolean } }>('/api/v1/devices/loa-cmd-1')).device.online, 20_000, 'the agent is online');

    const send = (body: Record<string, unknown>): Promise<{ command: Cmd }> => api.post('/api/v1/devices/loa-cmd-1/commands', body);
    const get = async (id: string): Promise<Cmd> => (await api.get<{ command: Cmd }>(`/api/v1/devices/loa-cmd-1/commands/${id}`)).command;
    const until = async (id: string, state: string, ms: number): Promise<Cmd> => {
      let c: Cmd | null = null;
      await eventually(async () => (c = await get(id)).state === state, ms, `command ${id} ${state}`);
      return c!;
    };

    // 1. Volume 40 with the CLI, which follows the command until it is done: stored on the device, applied to the next plays.
    const out = await loaOkAsync(['device', 'cmd', 'loa-cmd-1', 'volume', '--volume', '40', '--controller', ctl.controller.httpUrl, '--json'], { LOA_TOKEN: api.token! });
    const vol = JSON.parse(out) as { command: Cmd };
    assert.equal(vol.command.state, 'done');
    assert.deepEqual(vol.command.result, { volume: 40, previous: 100 });

    // 2. A 2-second test tone; a second one while it runs is refused.
    const t0 = Date.now();
    const tone = await send({ type: 'test_tone', durationS: 2 });
    await assert.rejects(send({ type: 'test_tone' }), (e: ApiError) => e.status === 409 && e.code === 'LOA_ERR_COMMAND_BUSY');
    const toneDone = await until(tone.command.id, 'done', 20_000);
    t.diagnostic(`test tone: API call → done in ${Date.now() - t0} ms`);
    assert.equal(toneDone.result?.hz, 1000);
    const play = playsOf(sink).find((p) => p.status === 'completed' && p.key.startsWith(`command:${tone.command.id}`));
    assert.ok(play, JSON.stringify(playsOf(sink)));
    assert.equal(play.volume, 40, 'played at the device volume');
    assert.ok(play.endedAt - play.startedAt >= 1900 && play.endedAt - play.startedAt < 3500, `played ${play.endedAt - play.startedAt} ms`);
    const st = soxStat(join(sink, play.file!));
    assert.ok(Math.abs(st.lengthS - 2) < 0.01, `the recording lasts ${st.lengthS} s`);
    assert.ok(Math.abs(st.hz - 1000) < 20, `the recording is a ${st.hz} Hz tone`);
    assert.ok(st.rms > 0.2, `the tone is audible (RMS ${st.rms})`);
    assert.ok(switched.includes('11'), `both amplifier relays were on for the tone: ${switched.join(' ')}`);
    await rig.board.waitForState([false, false], 5000);

    // 3. Relay check: each channel on then off, read back from the Modbus coils.
    switched.length = 0;
    const rc = await send({ type: 'relay_check' });
    const rcDone = await until(rc.command.id, 'done', 20_000);
    const rows = rcDone.result?.channels as { channel: number; status: string; readBack: boolean; outputs: string[] }[];
    assert.deepEqual(rows.map((r) => [r.channel, r.status, r.readBack, r.outputs]), [[0, 'ok', true, ['loa-chinh']], [1, 'ok', true, ['loa-phu']]]);
    assert.deepEqual(rcDone.result?.outputs, [{ name: 'loa-chinh', status: 'ok' }, { name: 'loa-phu', status: 'ok' }]);
    assert.ok(switched.includes('10') && switched.includes('01') && switched.at(-1) === '00', `each channel on alone, then all off: ${switched.join(' ')}`);

    // 4. Reboot: the agent exits with its restart status (systemd would start it again: here the test does).
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    const rb = await send({ type: 'reboot' });
    assert.equal(await exited, AGENT_RESTART_EXIT_CODE);
    children.splice(children.indexOf(agent), 1);
    // The agent is down now: a `received` state can only come from an ack it delivered before exiting.
    await until(rb.command.id, 'received', 5000);
    agent = await runAgent();
    children.push(agent);
    const rbDone = await until(rb.command.id, 'done', 20_000);
    assert.equal(rbDone.result?.restarted, true);

    // 5. The history, newest first, and every send in the audit log.
    const list = (await api.get<{ commands: Cmd[] }>('/api/v1/devices/loa-cmd-1/commands')).commands;
    assert.deepEqual(list.map((c) => [c.type, c.state]), [['reboot', 'done'], ['relay_check', 'done'], ['test_tone', 'done'], ['volume', 'done']]);
    const audit = (await api.get<{ entries: { action: string }[] }>('/api/v1/audit?limit=100')).entries.map((e) => e.action);
    assert.equal(audit.filter((a) => a === 'command.send').length, 4);
    assert.equal(audit.filter((a) => a === 'command.send_refused').length, 1);
  } finally {
    await stopAll(children);
    await rig.stop();
    await ctl.close();
  }
});
