import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { FileSink, type PlayRecord } from '../../../agent/player/file-sink.js';
import type { PlayRequest } from '../../../shared/player.js';
import { makeTone, quietLog, T0, tempDir } from './audio-tools.js';

const DAY = 86_400_000;

async function readPlays(dir: string): Promise<PlayRecord[]> {
  const text = await readFile(join(dir, 'plays.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as PlayRecord);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

void describe('FileSink', () => {
  let work: { path: string; remove: () => Promise<void> };
  let tone: string;
  let toneSha: string;

  before(async () => {
    work = await tempDir('file-sink');
    tone = join(work.path, 'tone.wav');
    await makeTone(tone, { seconds: 1 });
    toneSha = sha256(await readFile(tone));
  });
  after(async () => {
    await work.remove();
  });

  const request = (over: Partial<PlayRequest> = {}): PlayRequest => ({
    key: 'entry-1@2025-06-01T00:00:00Z',
    source: { kind: 'file', path: tone, sha256: toneSha, durationMs: 1000 },
    offsetMs: 0,
    volume: 80,
    ...over,
  });

  void it('copies the played audio byte for byte and logs the play with its clock times, offset and volume', async () => {
    const dir = join(work.path, 'plain');
    const clock = new VirtualClock({ start: T0 });
    const sink = new FileSink({ dir, clock, log: quietLog() });
    await sink.check();
    let settled = false;
    const playing = sink.play(request({ offsetMs: 250, volume: 65 }), new AbortController().signal).then((r) => {
      settled = true;
      return r;
    });
    await clock.advanceBy(749);
    assert.equal(settled, false, 'a 1 s item started 250 ms in must still be playing after 749 ms');
    await clock.advanceBy(1);
    const result = await playing;
    assert.deepEqual(result, { status: 'completed', playedMs: 750 });

    const [line, ...rest] = await readPlays(dir);
    assert.equal(rest.length, 0);
    assert.ok(line);
    assert.equal(line.key, 'entry-1@2025-06-01T00:00:00Z');
    assert.equal(line.kind, 'file');
    assert.equal(line.sha256, toneSha);
    assert.equal(line.expectedSha256, undefined);
    assert.equal(line.offsetMs, 250);
    assert.equal(line.volume, 65);
    assert.equal(line.startedAt, T0);
    assert.equal(line.endedAt, T0 + 750);
    assert.equal(line.status, 'completed');
    assert.equal(line.playedMs, 750);
    assert.ok(line.file);
    assert.match(line.file, new RegExp(`^audio/1-${toneSha.slice(0, 12)}\\.wav$`));
    const copied = await readFile(join(dir, line.file));
    assert.equal(sha256(copied), toneSha);
    assert.deepEqual(copied, await readFile(tone));
  });

  void it('ends an aborted play early and reports how long it played', async () => {
    const dir = join(work.path, 'abort');
    const clock = new VirtualClock({ start: T0 });
    const sink = new FileSink({ dir, clock, log: quietLog() });
    const ac = new AbortController();
    const playing = sink.play(request({ offsetMs: 100 }), ac.signal);
    await clock.advanceBy(400);
    ac.abort();
    const result = await playing;
    assert.deepEqual(result, { status: 'aborted', playedMs: 400 });
    assert.equal(clock.pending, 0, 'the play must not leave a sleeper behind');
    const [line] = await readPlays(dir);
    assert.equal(line?.status, 'aborted');
    assert.equal(line?.playedMs, 400);
    assert.equal(line?.startedAt, T0);
    assert.equal(line?.endedAt, T0 + 400);
  });

  void it('keeps recording over simulated days, numbering copies so none is overwritten after a restart', async () => {
    const dir = join(work.path, 'days');
    const clock = new VirtualClock({ start: T0 });
    for (let day = 0; day < 3; day++) {
      // A new sink each day, as after an agent restart.
      const sink = new FileSink({ dir, clock, log: quietLog() });
      await clock.advanceTo(T0 + day * DAY + 6 * 3_600_000);
      const playing = sink.play(request({ key: `morning@${day}` }), new AbortController().signal);
      await clock.advanceBy(1000);
      assert.equal((await playing).status, 'completed');
    }
    const lines = await readPlays(dir);
    assert.deepEqual(
      lines.map((l) => [l.key, l.startedAt - T0, l.endedAt - l.startedAt]),
      [0, 1, 2].map((d) => [`morning@${d}`, d * DAY + 6 * 3_600_000, 1000]),
    );
    assert.deepEqual(
      lines.map((l) => l.file?.split('-')[0]),
      ['audio/1', 'audio/2', 'audio/3'],
    );
  });

  void it('records the bytes it was given and flags them when they differ from the expected sha256', async () => {
    const dir = join(work.path, 'mismatch');
    const other = join(work.path, 'other.wav');
    await writeFile(other, Buffer.from('not the audio the manifest promised'));
    const clock = new VirtualClock({ start: T0 });
    const sink = new FileSink({ dir, clock, log: quietLog() });
    const playing = sink.play(request({ source: { kind: 'file', path: other, sha256: toneSha, durationMs: 10 } }), new AbortController().signal);
    await clock.advanceBy(10);
    await playing;
    const [line] = await readPlays(dir);
    assert.equal(line?.sha256, sha256(await readFile(other)));
    assert.equal(line?.expectedSha256, toneSha);
  });

  void it('fails with LOA_ERR_MEDIA_NOT_FOUND when the media file is missing, and still logs the play', async () => {
    const dir = join(work.path, 'missing');
    const clock = new VirtualClock({ start: T0 });
    const sink = new FileSink({ dir, clock, log: quietLog() });
    const missing = join(work.path, 'nope.mp3');
    const result = await sink.play(request({ source: { kind: 'file', path: missing, sha256: toneSha, durationMs: 1000 } }), new AbortController().signal);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_MEDIA_NOT_FOUND');
    assert.match(result.error?.message ?? '', /nope\.mp3/);
    assert.equal(clock.pending, 0);
    const [line] = await readPlays(dir);
    assert.equal(line?.status, 'failed');
    assert.equal(line?.error?.code, 'LOA_ERR_MEDIA_NOT_FOUND');
  });

  void it('check() rejects with LOA_ERR_AUDIO_DEVICE_NOT_FOUND when the directory cannot be written', async () => {
    const blocker = join(work.path, 'a-file');
    await writeFile(blocker, 'x');
    const sink = new FileSink({ dir: join(blocker, 'sub'), clock: new VirtualClock({ start: T0 }), log: quietLog() });
    await assert.rejects(sink.check(), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
      assert.match((err as Error).message, /a-file/);
      return true;
    });
  });
});
