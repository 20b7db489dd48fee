import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlsaSink } from '../../../agent/player/alsa-sink.js';
import { FileSink, type PlayRecord } from '../../../agent/player/file-sink.js';
import { SystemClock } from '../../../shared/clock.js';
import type { PlayRequest, StreamGap } from '../../../shared/player.js';
import { deadPort, makeTone, quietLog, soxDuration, soxStat, startRadio, tempDir, type Radio } from './audio-tools.js';

// Real sockets and real time here: the window is 3 s, the first listener is cut after 1 s and the port refuses
// connections for 0.5 s. With 250 ms doubling backoff the reader is back about 0.75 s after the cut.
const WINDOW_MS = 3000;
const RAW_RATE = 8000; // s16le mono: 16000 bytes per second
const RAW = ['-t', 'raw', '-r', String(RAW_RATE), '-e', 'signed', '-b', '16', '-c', '1'];

const streamReq = (url: string, durationMs = WINDOW_MS): PlayRequest => ({
  key: `relay@${url}`,
  source: { kind: 'stream', url, durationMs },
  offsetMs: 0,
  volume: 100,
});

function checkGap(gap: StreamGap | undefined, startedAt: number, radio: Radio): number {
  assert.ok(gap, 'one gap is reported');
  assert.ok(radio.droppedAt !== undefined && radio.backAt !== undefined);
  assert.ok(Math.abs(gap.from - radio.droppedAt) < 250, `gap starts at the cut: ${gap.from - startedAt} ms vs ${radio.droppedAt - startedAt} ms`);
  assert.ok(gap.to >= radio.backAt, 'the gap ends after the server is back');
  assert.ok(gap.to - radio.backAt < 1000, `and soon after: ${gap.to - radio.backAt} ms`);
  assert.ok(gap.to - gap.from >= 500 && gap.to - gap.from < 1600, `gap length ${gap.to - gap.from} ms`);
  return gap.to - gap.from;
}

void describe('Stream relay over HTTP', () => {
  let work: { path: string; remove: () => Promise<void> };
  let raw: Buffer;
  let mp3: Buffer;
  const radios: Radio[] = [];

  before(async () => {
    work = await tempDir('relay');
    await makeTone(join(work.path, 'prog.raw'), { seconds: 10, freq: 440, rate: RAW_RATE, codecArgs: ['-f', 's16le', '-ac', '1'] });
    await makeTone(join(work.path, 'prog.mp3'), { seconds: 10, freq: 440, rate: 22050, codecArgs: ['-c:a', 'libmp3lame', '-b:a', '64k', '-write_xing', '0'] });
    raw = await readFile(join(work.path, 'prog.raw'));
    mp3 = await readFile(join(work.path, 'prog.mp3'));
  });
  after(async () => {
    await Promise.all(radios.map((r) => r.close()));
    await work.remove();
  });

  void it('records a stream across a drop: reconnects, reports the gap, and the recording covers the window minus the gap', async () => {
    const radio = await startRadio({ data: raw, bytesPerSec: RAW_RATE * 2, align: 2, contentType: 'audio/L16', dropAfterMs: 1000, refuseMs: 500 });
    radios.push(radio);
    const dir = join(work.path, 'file-sink');
    const sink = new FileSink({ dir, clock: new SystemClock(), log: quietLog() });
    const heard: Array<{ gap: StreamGap; at: number }> = [];
    sink.onGap = (key, gap) => {
      assert.equal(key, `relay@${radio.url('/live.raw')}`);
      heard.push({ gap, at: Date.now() });
    };
    const startedAt = Date.now();
    const result = await sink.play(streamReq(radio.url('/live.raw')), new AbortController().signal);
    const endedAt = Date.now();

    assert.equal(result.status, 'completed', result.error?.message);
    assert.equal(result.gaps?.length, 1);
    const gapMs = checkGap(result.gaps?.[0], startedAt, radio);
    assert.equal(heard.length, 1);
    assert.ok(endedAt - (heard[0]?.at ?? endedAt) > 1000, 'the gap was reported as soon as the stream was back, not at the end');
    assert.ok(endedAt - startedAt >= WINDOW_MS && endedAt - startedAt < WINDOW_MS + 500, `window took ${endedAt - startedAt} ms`);
    assert.ok(Math.abs(result.playedMs - (WINDOW_MS - gapMs)) < 100, `playedMs ${result.playedMs}`);

    const line = JSON.parse((await readFile(join(dir, 'plays.jsonl'), 'utf8')).trim()) as PlayRecord;
    assert.equal(line.kind, 'stream');
    assert.equal(line.status, 'completed');
    assert.deepEqual(line.gaps, result.gaps);
    const rel = line.file ?? '';
    assert.match(rel, /^audio\/\d+-stream\.raw$/);
    const file = join(dir, rel);
    assert.equal((await stat(file)).size, line.bytes);
    const seconds = (await soxStat(file, RAW)).lengthS;
    const expected = (WINDOW_MS - gapMs) / 1000;
    assert.ok(Math.abs(seconds - expected) < 0.3, `recorded ${seconds} s, expected about ${expected} s`);
  });

  void it('relays an MP3 stream through ffmpeg across a drop, following a redirect, and the output covers the window minus the gap', async () => {
    const radio = await startRadio({ data: mp3, bytesPerSec: 8000, contentType: 'audio/mpeg', dropAfterMs: 1000, refuseMs: 500 });
    radios.push(radio);
    const out = join(work.path, 'relay.wav');
    const sink = new AlsaSink({ device: 'null', clock: new SystemClock(), log: quietLog(), output: ['-f', 'wav', '-y', out] });
    const startedAt = Date.now();
    const result = await sink.play(streamReq(radio.url('/moved.mp3')), new AbortController().signal);
    assert.equal(result.status, 'completed', result.error?.message);
    assert.equal(result.gaps?.length, 1);
    const gapMs = checkGap(result.gaps?.[0], startedAt, radio);
    const seconds = await soxDuration(out);
    const expected = (WINDOW_MS - gapMs) / 1000;
    assert.ok(Math.abs(seconds - expected) < 0.4, `output ${seconds} s, expected about ${expected} s`);
    const level = await soxStat(out);
    assert.ok(level.rms > 0.05, `the output carries the tone (RMS ${level.rms})`);
  });

  void it('fails with LOA_ERR_STREAM_UNREACHABLE when nothing ever answers', async () => {
    const url = `http://127.0.0.1:${await deadPort()}/live.mp3`;
    const dir = join(work.path, 'dead');
    const sink = new FileSink({ dir, clock: new SystemClock(), log: quietLog() });
    const t = Date.now();
    const result = await sink.play(streamReq(url, 1200), new AbortController().signal);
    const took = Date.now() - t;
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_STREAM_UNREACHABLE');
    assert.match(result.error.message, /ECONNREFUSED/);
    assert.equal(result.playedMs, 0);
    assert.ok(took >= 1150 && took < 2500, `gave up after the window: ${took} ms`);
    const line = JSON.parse((await readFile(join(dir, 'plays.jsonl'), 'utf8')).trim()) as PlayRecord;
    assert.equal(line.error?.code, 'LOA_ERR_STREAM_UNREACHABLE');
  });

  void it('fails with LOA_ERR_STREAM_UNREACHABLE through ffmpeg when the mount answers 404', async () => {
    const radio = await startRadio({ data: mp3, bytesPerSec: 8000, contentType: 'audio/mpeg' });
    radios.push(radio);
    const sink = new AlsaSink({ device: 'null', clock: new SystemClock(), log: quietLog(), output: ['-f', 'wav', '-y', join(work.path, 'none.wav')] });
    const result = await sink.play(streamReq(radio.url('/missing.mp3'), 1000), new AbortController().signal);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_STREAM_UNREACHABLE');
    assert.match(result.error.message, /HTTP 404/);
  });
});
