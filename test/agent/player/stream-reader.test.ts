import assert from 'node:assert/strict';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StreamReader, type StreamReaderOptions } from '../../../agent/player/stream-reader.js';
import type { StreamOpener } from '../../../agent/player/http-opener.js';
import type { StreamGap } from '../../../shared/player.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { quietLog, T0 } from './audio-tools.js';

/** Collects what the reader passes on. */
class Collector extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** An opener driven by a script: each call takes the next step (a body to serve, or an error to throw). */
function scriptedOpener(clock: VirtualClock, steps: Array<PassThrough | Error>): { open: StreamOpener; calls: number[] } {
  const calls: number[] = [];
  const open: StreamOpener = (_url, signal) => {
    calls.push(clock.now() - T0);
    const step = steps.shift() ?? new Error('connect ECONNREFUSED');
    if (signal.aborted) return Promise.reject(new Error('aborted'));
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step as Readable);
  };
  return { open, calls };
}

function reader(clock: VirtualClock, open: StreamOpener, over: Partial<StreamReaderOptions> = {}): StreamReader {
  return new StreamReader({ clock, log: quietLog(), open, backoff: { initialMs: 250, maxMs: 5000, jitter: 0 }, ...over });
}

const URL_ = 'http://radio.example/live.mp3';

void describe('StreamReader', () => {
  void it('bridges a drop by reconnecting, and reports the gap with its times as soon as audio is back', async () => {
    const clock = new VirtualClock({ start: T0 });
    const a = new PassThrough();
    const b = new PassThrough();
    const c = new PassThrough();
    const { open, calls } = scriptedOpener(clock, [a, new Error('connect ECONNREFUSED 10.0.0.1:8000'), b, c]);
    const out = new Collector();
    const seen: Array<{ gap: StreamGap; at: number }> = [];
    const reading = reader(clock, open).read(
      { url: URL_, durationMs: 10_000, consumer: out, onGap: (gap) => seen.push({ gap, at: clock.now() - T0 }) },
      new AbortController().signal,
    );
    await clock.advanceTo(T0);
    a.write('one ');
    await clock.advanceTo(T0 + 1000);
    a.write('two ');
    await clock.advanceTo(T0 + 2000);
    a.end(); // the server hangs up: the drop is at 2000
    await clock.advanceTo(T0 + 3000); // retries at 2250 (refused), then 2750 (served)
    assert.deepEqual(calls, [0, 2250, 2750]);
    assert.equal(seen.length, 0, 'no gap until audio is back');
    b.write('three'); // audio is back at 3000
    await clock.advanceTo(T0 + 3100);
    assert.deepEqual(seen, [{ gap: { from: T0 + 2000, to: T0 + 3000, reason: 'the server ended the stream' }, at: 3000 }]);
    await clock.advanceTo(T0 + 5000);
    b.destroy(new Error('read ECONNRESET')); // a second drop: the backoff starts again from 250 ms
    await clock.advanceTo(T0 + 5300);
    assert.deepEqual(calls, [0, 2250, 2750, 5250]);
    c.write(' four');
    await clock.advanceTo(T0 + 10_000);
    const result = await reading;
    assert.equal(result.status, 'completed');
    assert.equal(result.playedMs, 10_000 - 1000 - 300);
    assert.deepEqual(result.gaps, [
      { from: T0 + 2000, to: T0 + 3000, reason: 'the server ended the stream' },
      { from: T0 + 5000, to: T0 + 5300, reason: 'connection lost: read ECONNRESET' },
    ]);
    assert.equal(seen.length, 2);
    assert.equal(result.bytes, 'one two three four'.length);
    assert.equal(result.connections, 3);
    assert.equal(out.text, 'one two three four');
    assert.equal(out.writableEnded, true, 'the consumer is ended with the window');
    assert.equal(c.destroyed, true, 'the connection is closed with the window');
    assert.equal(clock.pending, 0, 'no timer is left behind');
  });

  void it('backs off 250 ms doubling to 5 s while the stream is down, then fails with LOA_ERR_STREAM_UNREACHABLE', async () => {
    const clock = new VirtualClock({ start: T0 });
    const { open, calls } = scriptedOpener(clock, []);
    const out = new Collector();
    const gaps: StreamGap[] = [];
    const reading = reader(clock, open).read({ url: 'http://user:secret@radio.example/live', durationMs: 20_000, consumer: out, onGap: (g) => gaps.push(g) }, new AbortController().signal);
    await clock.advanceTo(T0 + 20_000);
    const result = await reading;
    assert.deepEqual(calls, [0, 250, 750, 1750, 3750, 7750, 12750, 17750]);
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'LOA_ERR_STREAM_UNREACHABLE');
    assert.match(result.error.message, /8 attempts; last: connect: connect ECONNREFUSED/);
    assert.doesNotMatch(result.error.message, /secret/, 'credentials in the URL are not repeated');
    assert.equal(result.playedMs, 0);
    assert.deepEqual(gaps, []);
    assert.equal(out.writableEnded, true);
    assert.equal(clock.pending, 0);
  });

  void it('spreads reconnects with jitter', async () => {
    for (const [random, expected] of [[() => 0, [0, 225, 675]], [() => 1, [0, 275, 825]]] as const) {
      const clock = new VirtualClock({ start: T0 });
      const { open, calls } = scriptedOpener(clock, []);
      const reading = reader(clock, open, { random, backoff: { initialMs: 250, maxMs: 5000, jitter: 0.2 } }).read(
        { url: URL_, durationMs: 1000, consumer: new Collector() },
        new AbortController().signal,
      );
      await clock.advanceTo(T0 + 1000);
      await reading;
      assert.deepEqual(calls, expected);
    }
  });

  void it('treats a connection that goes silent as dropped from its last data', async () => {
    const clock = new VirtualClock({ start: T0 });
    const a = new PassThrough();
    const b = new PassThrough();
    const { open, calls } = scriptedOpener(clock, [a, b]);
    const reading = reader(clock, open, { stallMs: 2000 }).read({ url: URL_, durationMs: 6000, consumer: new Collector() }, new AbortController().signal);
    await clock.advanceTo(T0 + 500);
    a.write('x');
    await clock.advanceTo(T0 + 2499);
    assert.deepEqual(calls, [0], 'still connected just before the stall limit');
    await clock.advanceTo(T0 + 2750); // stalled at 2500, reconnect at 2750
    assert.deepEqual(calls, [0, 2750]);
    assert.equal(a.destroyed, true);
    b.write('y');
    await clock.advanceTo(T0 + 4500);
    b.write('z'); // keeps the second connection under the stall limit until the window ends
    await clock.advanceTo(T0 + 6000);
    const result = await reading;
    assert.deepEqual(result.gaps, [{ from: T0 + 500, to: T0 + 2750, reason: 'no data for 2000 ms' }]);
  });

  void it('stops at once on abort and reports aborted with a gap still open at that moment', async () => {
    const clock = new VirtualClock({ start: T0 });
    const a = new PassThrough();
    const { open } = scriptedOpener(clock, [a]);
    const ac = new AbortController();
    const out = new Collector();
    const reading = reader(clock, open).read({ url: URL_, durationMs: 60_000, consumer: out }, ac.signal);
    await clock.advanceTo(T0 + 100);
    a.write('x');
    await clock.advanceTo(T0 + 1000);
    a.destroy(new Error('read ECONNRESET'));
    await clock.advanceTo(T0 + 1500);
    ac.abort();
    const result = await reading;
    assert.equal(result.status, 'aborted');
    assert.deepEqual(result.gaps, [{ from: T0 + 1000, to: T0 + 1500, reason: 'connection lost: read ECONNRESET' }]);
    assert.equal(result.playedMs, 1000);
    assert.equal(out.writableEnded, true);
    assert.equal(clock.pending, 0);
  });

  void it('pauses the connection while the consumer is full, so it buffers no more than one chunk', async () => {
    const clock = new VirtualClock({ start: T0 });
    const a = new PassThrough();
    const { open } = scriptedOpener(clock, [a]);
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk: Buffer, _enc, cb): void {
        release = () => cb();
      },
    });
    const reading = reader(clock, open).read({ url: URL_, durationMs: 5000, consumer: slow }, new AbortController().signal);
    await clock.advanceTo(T0 + 10);
    for (let i = 0; i < 20; i++) a.write(Buffer.alloc(4096));
    await clock.advanceTo(T0 + 100);
    assert.equal(a.isPaused(), true, 'the connection is paused');
    assert.ok(slow.writableLength <= 2 * 4096, `consumer holds ${slow.writableLength} bytes`);
    release?.();
    await clock.advanceTo(T0 + 5000);
    await reading;
  });

  void it('fails with LOA_ERR_STREAM_UNREACHABLE for a URL that cannot be parsed, without waiting the window', async () => {
    const clock = new VirtualClock({ start: T0 });
    const { open, calls } = scriptedOpener(clock, []);
    const result = await reader(clock, open).read({ url: 'not a url', durationMs: 60_000, consumer: new Collector() }, new AbortController().signal);
    assert.equal(result.error?.code, 'LOA_ERR_STREAM_UNREACHABLE');
    assert.deepEqual(calls, []);
  });
});
