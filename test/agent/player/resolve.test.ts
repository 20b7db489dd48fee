import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlsaSink } from '../../../agent/player/alsa-sink.js';
import { FileSink } from '../../../agent/player/file-sink.js';
import { NullSink } from '../../../agent/player/null-sink.js';
import { createAudioSink } from '../../../agent/player/resolve.js';
import type { PlayRequest } from '../../../shared/player.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { quietLog, T0, tempDir } from './audio-tools.js';

const req: PlayRequest = {
  key: 'k',
  source: { kind: 'file', path: '/nonexistent/news.mp3', sha256: '0'.repeat(64), durationMs: 60_000 },
  offsetMs: 15_000,
  volume: 80,
};

void describe('createAudioSink', () => {
  void it('gives an AlsaSink on the profile device for the alsa driver, checking that device', async () => {
    const checked: string[] = [];
    const sink = createAudioSink(
      { driver: 'alsa', device: 'plughw:CARD=Device,DEV=0' },
      { clock: new VirtualClock({ start: T0 }), log: quietLog(), checkDevice: (d) => Promise.resolve(void checked.push(d)) },
    );
    assert.ok(sink instanceof AlsaSink);
    assert.equal(sink.kind, 'alsa');
    await sink.check();
    assert.deepEqual(checked, ['plughw:CARD=Device,DEV=0']);
  });

  void it('gives a FileSink recording into the given directory for the file driver', async () => {
    const dir = await tempDir('resolve');
    try {
      const sink = createAudioSink({ driver: 'file', device: 'default' }, { clock: new VirtualClock({ start: T0 }), log: quietLog(), fileDir: join(dir.path, 'rec') });
      assert.ok(sink instanceof FileSink);
      await sink.check();
      await access(join(dir.path, 'rec', 'audio'));
    } finally {
      await dir.remove();
    }
    assert.throws(
      () => createAudioSink({ driver: 'file', device: 'default' }, { clock: new VirtualClock({ start: T0 }), log: quietLog() }),
      (err: unknown) => (err as { code?: string }).code === 'LOA_ERR_PROFILE_INVALID',
    );
  });

  void it('gives a NullSink for none, which waits the remaining duration on the clock and records nothing', async () => {
    const clock = new VirtualClock({ start: T0 });
    const sink = createAudioSink({ driver: 'none', device: 'default' }, { clock, log: quietLog() });
    assert.ok(sink instanceof NullSink);
    await sink.check();
    let done = false;
    const playing = sink.play(req, new AbortController().signal).then((r) => {
      done = true;
      return r;
    });
    await clock.advanceBy(44_999);
    assert.equal(done, false);
    await clock.advanceBy(1);
    assert.deepEqual(await playing, { status: 'completed', playedMs: 45_000 });

    const ac = new AbortController();
    const aborted = sink.play(req, ac.signal);
    await clock.advanceBy(10_000);
    ac.abort();
    assert.deepEqual(await aborted, { status: 'aborted', playedMs: 10_000 });
    assert.equal(clock.pending, 0);
  });
});
