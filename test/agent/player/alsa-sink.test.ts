import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlsaSink, buildFfmpegArgs, type AlsaSinkOptions } from '../../../agent/player/alsa-sink.js';
import { SystemClock } from '../../../shared/clock.js';
import { LoaError } from '../../../shared/errors.js';
import type { PlayRequest } from '../../../shared/player.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { isAlive, makeTone, within, quietLog, run, soxDuration, soxStat, T0, tempDir, waitFor } from './audio-tools.js';

void describe('AlsaSink', () => {
  let work: { path: string; remove: () => Promise<void> };
  let tone1s: string;
  let tone2s: string;
  let tone5s: string;
  let n = 0;

  before(async () => {
    work = await tempDir('alsa-sink');
    tone1s = join(work.path, 'tone1.wav');
    tone2s = join(work.path, 'tone2.wav');
    tone5s = join(work.path, 'tone5.wav');
    await Promise.all([makeTone(tone1s, { seconds: 1 }), makeTone(tone2s, { seconds: 2 }), makeTone(tone5s, { seconds: 5 })]);
  });
  after(async () => {
    await work.remove();
  });

  const fileReq = (path: string, durationMs: number, over: Partial<PlayRequest> = {}): PlayRequest => ({
    key: `k${++n}`,
    source: { kind: 'file', path, sha256: '0'.repeat(64), durationMs },
    offsetMs: 0,
    volume: 100,
    ...over,
  });
  /** A sink whose ffmpeg writes a WAV file instead of playing to ALSA. */
  const wavSink = (over: Partial<AlsaSinkOptions> = {}): { sink: AlsaSink; out: string } => {
    const out = join(work.path, `out-${++n}.wav`);
    const sink = new AlsaSink({ device: 'null', clock: new SystemClock(), log: quietLog(), output: ['-f', 'wav', '-y', out], ...over });
    return { sink, out };
  };
  const never = new AbortController().signal;

  void it('plays a 1 kHz tone at volume 50 at half the amplitude of volume 100, for the full second', async () => {
    const source = await soxStat(tone1s);
    const full = wavSink();
    const half = wavSink();
    assert.deepEqual(await full.sink.play(fileReq(tone1s, 1000, { volume: 100 }), never), { status: 'completed', playedMs: 1000 });
    assert.deepEqual(await half.sink.play(fileReq(tone1s, 1000, { volume: 50 }), never), { status: 'completed', playedMs: 1000 });
    const a = await soxStat(full.out);
    const b = await soxStat(half.out);
    assert.ok(Math.abs((await soxDuration(half.out)) - 1) < 0.03, `duration ${b.lengthS}`);
    assert.ok(Math.abs(a.rms / source.rms - 1) < 0.03, `volume 100 keeps the level: ${a.rms} vs ${source.rms}`);
    assert.ok(Math.abs(b.rms / a.rms - 0.5) < 0.03, `RMS ratio ${b.rms / a.rms}`);
    assert.ok(Math.abs(b.max / a.max - 0.5) < 0.03, `peak ratio ${b.max / a.max}`);
  });

  void it('starts offsetMs into the file, so the output is that much shorter', async () => {
    const { sink, out } = wavSink();
    const result = await sink.play(fileReq(tone2s, 2000, { offsetMs: 500 }), never);
    assert.deepEqual(result, { status: 'completed', playedMs: 1500 });
    const d = await soxDuration(out);
    assert.ok(Math.abs(d - 1.5) < 0.03, `duration ${d}`);
  });

  void it('kills ffmpeg quickly on abort and reports aborted', async () => {
    let child: ChildProcess | undefined;
    const spy = (cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess => (child = spawn(cmd, [...args], opts));
    // -re paces the read at real time, as ALSA would.
    const { sink } = wavSink({ spawn: spy, extraInputArgs: ['-re'] });
    const ac = new AbortController();
    const started = Date.now();
    const playing = sink.play(fileReq(tone5s, 5000), ac.signal);
    await new Promise((r) => setTimeout(r, 600));
    ac.abort();
    const abortedAt = Date.now();
    const result = await within(playing, 3000, 'the aborted play');
    const took = Date.now() - abortedAt;
    assert.equal(result.status, 'aborted');
    assert.ok(took < 1000, `play resolved ${took} ms after the abort`);
    assert.ok(result.playedMs >= 500 && result.playedMs <= abortedAt - started + 50, `playedMs ${result.playedMs}`);
    assert.ok(child?.pid);
    assert.equal(isAlive(child.pid), false, 'ffmpeg has exited and been reaped');
    assert.equal(child.listenerCount('close') + child.listenerCount('exit') + child.listenerCount('error'), 0, 'no listeners left');
  });

  void it('escalates to SIGKILL after the grace period when the player ignores SIGTERM', async () => {
    const mark = join(work.path, `ready-${++n}`);
    let pid: number | undefined;
    // Stands in for an ffmpeg stuck in a driver call: it ignores SIGTERM.
    const stubborn = (_cmd: string, _args: readonly string[], opts: SpawnOptions): ChildProcess => {
      const c = spawn('sh', ['-c', `trap '' TERM; : > "${mark}"; exec sleep 30`], opts);
      pid = c.pid;
      return c;
    };
    const clock = new VirtualClock({ start: T0 });
    const sink = new AlsaSink({ device: 'null', clock, log: quietLog(), spawn: stubborn, killGraceMs: 3000 });
    const ac = new AbortController();
    let settled = false;
    const playing = sink.play(fileReq(tone1s, 1000), ac.signal).finally(() => {
      settled = true;
    });
    await waitFor(() => access(mark).then(() => true, () => false), 5000, 'the stand-in to ignore SIGTERM');
    await clock.advanceBy(400);
    ac.abort();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(pid !== undefined && isAlive(pid), 'SIGTERM alone did not stop it');
    assert.equal(settled, false, 'play waits for the child to be gone');
    await clock.advanceBy(2999);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(isAlive(pid), true, 'no SIGKILL before the grace period ends');
    await clock.advanceBy(1);
    const result = await within(playing, 2000, 'the play after SIGKILL');
    assert.deepEqual(result, { status: 'aborted', playedMs: 400 });
    assert.equal(isAlive(pid), false);
  });

  void it('stops a player that is still running long after the item should have ended, and fails the play', async () => {
    const mark = join(work.path, `wedged-${++n}`);
    let pid: number | undefined;
    // Stands in for an ffmpeg wedged on an ALSA device that never drains.
    const wedged = (_cmd: string, _args: readonly string[], opts: SpawnOptions): ChildProcess => {
      const c = spawn('sh', ['-c', `: > "${mark}"; exec sleep 30`], opts);
      pid = c.pid;
      return c;
    };
    const clock = new VirtualClock({ start: T0 });
    const sink = new AlsaSink({ device: 'null', clock, log: quietLog(), spawn: wedged, overrunMs: 5000 });
    const playing = sink.play(fileReq(tone1s, 1000), never);
    await waitFor(() => access(mark).then(() => true, () => false), 5000, 'the stand-in to start');
    await clock.advanceBy(5999);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(pid !== undefined && isAlive(pid), 'left alone until the overrun limit');
    await clock.advanceBy(1);
    const result = await within(playing, 2000, 'the play after the overrun');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_PLAYER_FAILED');
    assert.match(result.error.message, /still running 5000 ms after/);
    assert.equal(isAlive(pid), false);
    assert.equal(clock.pending, 0);
  });

  void it('fails with LOA_ERR_PLAYER_FAILED and ffmpeg\'s own words for a corrupt file', async () => {
    const bad = join(work.path, 'corrupt.mp3');
    await writeFile(bad, Buffer.from('ID3 this is not an mp3 file at all '.repeat(20)));
    const { sink } = wavSink();
    const result = await sink.play(fileReq(bad, 1000), never);
    assert.equal(result.status, 'failed');
    assert.ok(result.error instanceof LoaError);
    assert.equal(result.error.code, 'LOA_ERR_PLAYER_FAILED');
    assert.match(result.error.message, /^ffmpeg exited with code [1-9]\d*: .*corrupt\.mp3/);
  });

  void it('fails with LOA_ERR_PLAYER_SPAWN and an install hint when ffmpeg is missing', async () => {
    const { sink } = wavSink({ ffmpegPath: '/nonexistent/bin/ffmpeg' });
    const result = await sink.play(fileReq(tone1s, 1000), never);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_PLAYER_SPAWN');
    assert.match(result.error.message, /\/nonexistent\/bin\/ffmpeg.*apt-get install ffmpeg.*npm run setup:system/);
    await assert.rejects(sink.check(), (err: unknown) => (err as LoaError).code === 'LOA_ERR_PLAYER_SPAWN');
  });

  void it('fails with LOA_ERR_MEDIA_NOT_FOUND without starting ffmpeg when the file is missing', async () => {
    let spawned = false;
    const { sink } = wavSink({
      spawn: (cmd, args, opts) => {
        spawned = true;
        return spawn(cmd, [...args], opts);
      },
    });
    const result = await sink.play(fileReq(join(work.path, 'gone.wav'), 1000), never);
    assert.equal(result.error?.code, 'LOA_ERR_MEDIA_NOT_FOUND');
    assert.equal(spawned, false);
  });

  void it('check() rejects a missing ALSA device with LOA_ERR_AUDIO_DEVICE_NOT_FOUND', async () => {
    const sink = new AlsaSink({ device: 'hw:9,0', clock: new SystemClock(), log: quietLog() });
    await assert.rejects(sink.check(), (err: unknown) => (err as LoaError).code === 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
    await new AlsaSink({ device: 'null', clock: new SystemClock(), log: quietLog() }).check();
  });

  void it('builds the ffmpeg command line with the seek, the volume and the ALSA device', () => {
    assert.deepEqual(buildFfmpegArgs({ input: '/m/a.mp3', offsetMs: 2500, volume: 35, output: ['-f', 'alsa', 'plughw:1,0'] }), [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-ss', '2.500', '-i', '/m/a.mp3', '-af', 'volume=0.35', '-f', 'alsa', 'plughw:1,0',
    ]);
    assert.deepEqual(buildFfmpegArgs({ input: null, offsetMs: 2500, volume: 140, output: ['-f', 'alsa', 'default'] }), [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-i', 'pipe:0', '-af', 'volume=1.00', '-f', 'alsa', 'default',
    ]);
  });

  void it('plays a tone to the real ALSA null device', async (t) => {
    try {
      await run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=duration=0.1', '-f', 'alsa', 'null']);
    } catch (err) {
      t.skip(`ALSA null PCM unavailable here: ${(err as Error).message.split('\n')[0] ?? ''}`);
      return;
    }
    const sink = new AlsaSink({ device: 'null', clock: new SystemClock(), log: quietLog() });
    await sink.check();
    assert.deepEqual(await sink.play(fileReq(tone1s, 1000, { volume: 70 }), never), { status: 'completed', playedMs: 1000 });
  });
});
