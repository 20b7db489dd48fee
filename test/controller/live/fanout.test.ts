import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Fanout } from '../../../controller/live/fanout.js';
import { mp3FrameLength, OggFramer } from '../../../controller/live/frames.js';
import { LiveSession, toMono48k } from '../../../controller/live/session.js';
import { createLogger } from '../../../shared/log.js';
import { eventually } from '../../support/wait.js';

const log = createLogger('live-test', { level: 'silent' });

/** An Ogg page: 27-byte header (granule position, page sequence), one segment per 255 bytes of body. */
function page(granule: number, seq: number, body: Buffer): Buffer {
  const segs: number[] = [];
  let left = body.length;
  while (left >= 255) {
    segs.push(255);
    left -= 255;
  }
  segs.push(left);
  const h = Buffer.alloc(27 + segs.length);
  h.write('OggS', 0, 'latin1');
  h.writeBigUInt64LE(BigInt(granule), 6);
  h.writeUInt32LE(seq, 18);
  h[26] = segs.length;
  segs.forEach((s, i) => (h[27 + i] = s));
  return Buffer.concat([h, body]);
}
const collect = (): { out: PassThrough; raw: () => Buffer; pages: () => Buffer[] } => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  return { out, raw: () => Buffer.concat(chunks), pages: () => new OggFramer().push(Buffer.concat(chunks)).map((u) => u.unit) };
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('live fan-out', () => {
  it('cuts the encoder output into whole Ogg pages, however it is chunked', () => {
    const stream = Buffer.concat([page(0, 0, Buffer.from('OpusHead-ish')), page(0, 1, Buffer.alloc(300, 7)), page(960, 2, Buffer.alloc(80, 1))]);
    const f = new OggFramer();
    const units = [];
    for (let i = 0; i < stream.length; i += 13) units.push(...f.push(stream.subarray(i, i + 13)));
    assert.deepEqual(units.map((u) => [u.unit.length, u.header]), [[40, true], [329, true], [108, false]]);
  });

  it('gives a late listener the header pages, then the most recent page, then every page from there', () => {
    const fan = new Fanout({ framer: new OggFramer(), log });
    const early = collect();
    fan.add(early.out, 'early');
    const head = [page(0, 0, Buffer.from('OpusHead')), page(0, 1, Buffer.from('OpusTags'))];
    const audio = Array.from({ length: 6 }, (_, i) => page(960 * (i + 1), i + 2, Buffer.alloc(60, i)));
    fan.write(Buffer.concat([...head, ...audio.slice(0, 3)]).subarray(0, 100));
    fan.write(Buffer.concat([...head, ...audio.slice(0, 3)]).subarray(100));
    const late = collect();
    fan.add(late.out, 'late');
    for (const a of audio.slice(3)) fan.write(a);
    assert.equal(fan.size, 2);
    assert.deepEqual(early.pages(), [...head, ...audio]);
    // The late listener starts at a page boundary: headers, the latest page (#3), then #4…#6.
    assert.deepEqual(late.pages(), [...head, ...audio.slice(2)]);
  });

  it('cuts a listener that cannot keep up instead of buffering for it, and the others go on', () => {
    const fan = new Fanout({ framer: new OggFramer(), log, maxQueuedBytes: 1000 });
    const stuck = new Writable({ highWaterMark: 16, write: () => undefined }); // never calls back: a dead socket
    const ok = collect();
    fan.add(stuck, 'stuck');
    fan.add(ok.out, 'ok');
    for (let i = 0; i < 40; i++) fan.write(page(960 * (i + 1), i, Buffer.alloc(100, i)));
    assert.equal(fan.dropped, 1);
    assert.equal(fan.size, 1);
    assert.ok(stuck.destroyed);
    assert.ok(stuck.writableLength <= 1000);
    assert.equal(ok.pages().length, 40);
  });

  it('refuses listeners after the end and ends those it had', async () => {
    const fan = new Fanout({ framer: new OggFramer(), log });
    const a = collect();
    fan.add(a.out, 'a');
    const finished = new Promise((r) => a.out.once('finish', r));
    fan.end();
    await finished;
    assert.equal(fan.add(new PassThrough(), 'b'), false);
    assert.equal(fan.size, 0);
  });
});

describe('live session', () => {
  it('downmixes and resamples any WebRTC frame to 48 kHz mono', () => {
    assert.equal(toMono48k(new Int16Array(160), 16_000, 1).length, 480);
    assert.deepEqual([...toMono48k(Int16Array.from([100, 300, -50, 50]), 48_000, 2)], [200, 0]);
    const up = toMono48k(Int16Array.from([0, 300]), 16_000, 1);
    assert.deepEqual([...up], [0, 100, 200, 300, 300, 300]);
  });

  for (const codec of ['opus', 'mp3'] as const) {
    it(`encodes PCM with ffmpeg (${codec}) for its listeners; ending it closes the listeners and ffmpeg exits`, async () => {
      const s = new LiveSession({ id: 'liv-test', codec, log });
      const l = collect();
      assert.equal(s.fanout.add(l.out, 'test'), true);
      const tone = Int16Array.from({ length: 480 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48_000)));
      const timer = setInterval(() => s.pcm({ samples: tone, sampleRate: 48_000, channelCount: 1 }), 10);
      try {
        await eventually(() => s.fanout.units > 5, 10_000, 'encoded units');
      } finally {
        clearInterval(timer);
      }
      assert.equal(s.state, 'live');
      const pid = s.encoderPid!;
      assert.ok(alive(pid));
      const closed = new Promise((r) => l.out.once('finish', r));
      await s.end('test over');
      await closed;
      assert.equal(alive(pid), false, 'ffmpeg is gone');
      assert.equal(s.state, 'ended');
      const raw = l.raw();
      if (codec === 'mp3') assert.ok(mp3FrameLength(raw, 0) > 0, 'the stream starts at an MP3 frame');
      else assert.equal(l.pages()[0]!.subarray(28, 36).toString('latin1'), 'OpusHead', 'the stream starts with OpusHead');
      s.pcm({ samples: tone, sampleRate: 48_000 });
      assert.equal(s.encoderPid, pid, 'no new encoder after the end');
    });
  }

  it('reads MPEG-1 Layer III frame lengths from their headers', () => {
    assert.equal(mp3FrameLength(Buffer.from([0xff, 0xfb, 0x54, 0x00]), 0), 192); // 64 kb/s, 48 kHz
    assert.equal(mp3FrameLength(Buffer.from([0xff, 0xfb, 0x56, 0x00]), 0), 193); // padded
    assert.equal(mp3FrameLength(Buffer.from([0xff, 0x00, 0x54, 0x00]), 0), 0);
  });
});
