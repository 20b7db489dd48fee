import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProfile } from '../../agent/config/profile.js';
import { formatSelftestTable, runSelftest, type SelftestResult } from '../../agent/provision/selftest.js';
import { createLogger } from '../../shared/log.js';
import { startEmulatedBoard, type EmulatedBoard } from '../support/board.js';
import { loa } from './cli.js';

const log = createLogger('test:selftest', { level: 'silent' });

/** Frequency of a mono 16-bit WAV from its zero crossings. */
export function toneFrequency(wav: Buffer): number {
  const rate = wav.readUInt32LE(24);
  const n = (wav.length - 44) / 2;
  let crossings = 0;
  let prev = wav.readInt16LE(44);
  for (let i = 1; i < n; i++) {
    const s = wav.readInt16LE(44 + i * 2);
    if ((prev < 0 && s >= 0) || (prev >= 0 && s < 0)) crossings++;
    prev = s;
  }
  return crossings / 2 / (n / rate);
}

function profileJson(o: { relay: Record<string, unknown>; outputs: { name: string; channels: number[] }[] }): string {
  return JSON.stringify({
    id: 'bench-board', name: 'bench board on a pty', audio: { driver: 'file', device: 'sink' }, relay: o.relay,
    outputs: o.outputs.map((z) => ({ ...z, warmupMs: 50, cooldownMs: 0 })),
  });
}

void describe('self-test against the relay emulator on a socat pty pair, with the file sink', () => {
  void describe('an LCUS board (no read-back)', () => {
    let rig: EmulatedBoard;
    let result: SelftestResult;
    before(async () => {
      rig = await startEmulatedBoard('loa-selftest-lcus-', { protocol: 'lcus', channels: 2 });
      const profile = parseProfile(profileJson({ relay: { type: 'lcus', port: rig.port, channels: 2 }, outputs: [{ name: 'loa-chinh', channels: [0, 1] }] }));
      result = await runSelftest({ profile, dataDir: join(rig.dir, 'data'), toneMs: 400, log });
    });
    after(async () => rig.stop());

    void it('switches each channel on and off on the board, one row per step, and says it cannot read back', () => {
      assert.equal(result.ok, true, formatSelftestTable(result));
      assert.deepEqual(result.rows.map((r) => [r.step, r.status]), [
        ['relay board', 'PASS'], ['relay ch0 on', 'PASS'], ['relay ch0 off', 'PASS'], ['relay ch1 on', 'PASS'], ['relay ch1 off', 'PASS'],
        ['audio output', 'PASS'], ['output loa-chinh tone', 'PASS'],
      ]);
      assert.match(result.rows[1]?.detail ?? '', /cannot be read back/);
      const sets = rig.board.received().filter((n) => n.startsWith('set'));
      assert.deepEqual(sets.slice(0, 6), ['set ch0 off', 'set ch1 off', 'set ch0 on', 'set ch0 off', 'set ch1 on', 'set ch1 off']);
      assert.deepEqual(rig.board.state, [false, false], 'everything off at the end');
    });

    void it('plays a 1 kHz tone with the zone\'s relays on, recorded by the file sink', () => {
      const row = result.rows.find((r) => r.output === 'loa-chinh')!;
      assert.ok(row.file && existsSync(row.file), `recorded file ${String(row.file)}`);
      const wav = readFileSync(row.file);
      const hz = toneFrequency(wav);
      assert.ok(Math.abs(hz - 1000) < 5, `zero crossings say ${hz.toFixed(1)} Hz`);
      assert.equal(wav.readUInt32LE(40) / 2 / wav.readUInt32LE(24), 0.4, '400 ms long');
      const sox = spawnSync('sox', [row.file, '-n', 'stat'], { encoding: 'utf8' });
      if (sox.status === 0) {
        const rough = Number(/Rough\s+frequency:\s+(\d+)/.exec(sox.stderr)?.[1]);
        assert.ok(Math.abs(rough - 1000) < 10, `sox stat says ${rough} Hz`);
      }
      const on = rig.board.received().indexOf('set ch0 on', 4);
      assert.ok(on > 0, 'the zone relays were switched on for the tone');
    });
  });

  void describe('a Modbus board whose channel 2 does not latch', () => {
    let rig: EmulatedBoard;
    let profilePath: string;
    before(async () => {
      rig = await startEmulatedBoard('loa-selftest-modbus-', { protocol: 'modbus', channels: 4, deadChannels: [2] });
      profilePath = join(rig.dir, 'profile.json');
      writeFileSync(profilePath, profileJson({ relay: { type: 'modbus-rtu', port: rig.port, channels: 4, timeoutMs: 300 }, outputs: [{ name: 'zone-a', channels: [0, 1] }, { name: 'zone-b', channels: [2, 3] }] }));
    });
    after(async () => rig.stop());

    void it('shows FAIL for channel 2 (read back off), FAIL for the zone it powers, and exits non-zero', async () => {
      const r = await loa(['selftest', '--profile', profilePath, '--data-dir', join(rig.dir, 'data'), '--tone-ms', '300', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /LOA_ERR_SELFTEST_FAILED: 2 step\(s\) failed: relay ch2 on \(LOA_ERR_RELAY_READBACK\); output zone-b tone/);
      assert.match(r.stderr, /Tự kiểm tra thất bại/);
      const out = JSON.parse(r.stdout) as SelftestResult;
      assert.equal(out.ok, false);
      const failed = out.failed.map((x) => [x.step, x.channel ?? x.output, x.code]);
      assert.deepEqual(failed, [['relay ch2 on', 2, 'LOA_ERR_RELAY_READBACK'], ['output zone-b tone', 'zone-b', 'LOA_ERR_RELAY_READBACK']]);
      assert.match(out.failed[0]?.detail ?? '', /relay channel 2 was switched on but ch2 reads off/);
      const passed = out.rows.filter((x) => x.status === 'PASS').map((x) => x.step);
      for (const s of ['relay ch0 on', 'relay ch0 off', 'relay ch1 on', 'relay ch3 on', 'relay ch3 off', 'output zone-a tone']) assert.ok(passed.includes(s), s);
      assert.match(out.rows.find((x) => x.step === 'relay ch3 on')?.detail ?? '', /read back: on/);
      assert.ok(rig.board.received().some((n) => n === 'set ch2 on (dead channel: ignored)'));
    });

    void it('prints a pass/fail table without --json', async () => {
      rig.board.deadChannels.clear();
      const r = await loa(['selftest', '--profile', profilePath, '--data-dir', join(rig.dir, 'data2'), '--tone-ms', '200']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, / # {2}step\s+result {2}detail/);
      assert.match(r.stdout, /relay ch2 on\s+PASS\s+read back: on/);
      assert.match(r.stdout, /PASS: 12 passed, 0 failed/);
    });
  });
});
