import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { Manifest } from '../../shared/schemas/manifest.js';
import type { OutputZone } from '../../shared/schemas/hardware-profile.js';
import { toneWav } from '../../shared/wav.js';
import { FileSink, type PlayRecord } from '../../agent/player/file-sink.js';
import { OutputController } from '../../agent/outputs/controller.js';
import { MemoryRelayDriver } from '../../agent/outputs/memory/driver.js';
import { Timeline } from '../../shared/timeline.js';
import { schedulerHarness } from '../support/agent-harness.js';
import { baseManifest } from '../support/trust.js';

const vn = (s: string): number => Date.parse(`${s}:00+07:00`);
const DAY = 86_400_000;

test('plays seven days of a signed three-program schedule on time, with relays sequenced and proof-of-play exact', async () => {
  const log = createLogger('test', { level: 'silent' });
  const clips = [toneWav({ seconds: 0.5, hz: 440 }), toneWav({ seconds: 0.4, hz: 660 }), toneWav({ seconds: 0.3, hz: 880 })];
  const media = clips.map((wav, i) => ({ sha256: sha256Hex(wav), size: wav.length, durationMs: [30_000, 45_000, 20_000][i]! }));
  const zones: OutputZone[] = [
    { name: 'thon-1', channels: [0], warmupMs: 3000, cooldownMs: 5000 },
    { name: 'thon-2', channels: [1], warmupMs: 2000, cooldownMs: 8000 },
  ];
  const m: Manifest = baseManifest({
    media,
    programs: [
      { id: 'ban-tin', title: 'Bản tin', items: [{ kind: 'media', sha256: media[0]!.sha256 }, { kind: 'media', sha256: media[2]!.sha256 }] },
      { id: 'thong-bao', title: 'Thông báo', items: [{ kind: 'media', sha256: media[1]!.sha256 }] },
      { id: 'nhac', title: 'Nhạc', items: [{ kind: 'media', sha256: media[2]!.sha256 }] },
    ],
    schedule: [
      { id: 'sang-chieu', programId: 'ban-tin', dtstart: '2026-11-23T06:00', rrule: 'FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000 },
      { id: 'thu-2-4-6', programId: 'thong-bao', dtstart: '2026-11-23T11:30', rrule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR', priority: 'priority', volume: 100, outputs: ['thon-2'], onPreempt: 'resume', maxDelayMs: 600_000 },
      { id: 'buoi-sang', programId: 'nhac', dtstart: '2026-11-23T08:15', rrule: 'FREQ=DAILY;BYHOUR=8,9,10;BYMINUTE=15', priority: 'normal', volume: 60, outputs: ['thon-1'], onPreempt: 'restart', maxDelayMs: 600_000 },
    ],
  });
  const from = vn('2026-11-23T00:00');
  const to = from + 7 * DAY;
  const expected = new Timeline(m).between(from, to);
  assert.equal(expected.length, 14 + 3 + 21);

  // Event-loop lateness of 0–30 ms on every wake-up (deterministic), to measure that starts do not drift.
  let seed = 42;
  const lag = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 31);
  let driver!: MemoryRelayDriver;
  let sinkDir = '';
  const h = schedulerHarness({
    start: from, manifest: m, lag,
    sink: (clock) => new FileSink({ dir: (sinkDir = join('/tmp', `loa-7d-${process.pid}`)), clock, log }),
    outputs: (clock) => {
      driver = new MemoryRelayDriver({ channels: 2, clock });
      return new OutputController({ profileOutputs: zones, driver, clock, log, onEvent: () => undefined, checkMs: 0 });
    },
  });
  for (let i = 0; i < clips.length; i++) writeFileSync(join(h.dir, media[i]!.sha256), clips[i]!);
  await (h.outputs as OutputController).start();
  h.scheduler.start();
  for (let t = from; t < to + DAY / 4; t += DAY / 4) await h.clock.advanceTo(t);

  // Proof-of-play equals the scheduled plays exactly: one start and one completed end per occurrence.
  const starts = h.outbox.list(['play.start']);
  const ends = h.outbox.list(['play.end']);
  assert.deepEqual(starts.map((e) => e.data.occurrence).sort(), expected.map((o) => o.key).sort());
  assert.deepEqual(ends.map((e) => [e.data.occurrence, e.data.status]).sort(), expected.map((o) => [o.key, 'completed']).sort());
  assert.equal(h.outbox.list(['play.skip']).length, 0);

  // Every start lands within 50 ms of its scheduled time, measured from the file sink's play log.
  const log2 = readFileSync(join(sinkDir, 'plays.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PlayRecord);
  const byKey = new Map(expected.map((o) => [o.key, o]));
  const firstItem = log2.filter((r, i) => i === 0 || log2[i - 1]!.key !== r.key);
  assert.equal(firstItem.length, expected.length);
  const late = firstItem.map((r) => r.startedAt - byKey.get(r.key)!.start);
  assert.ok(late.every((d) => d >= 0 && d <= 50), `start offsets within 0..50 ms, max ${Math.max(...late)} ms`);
  assert.ok(log2.every((r) => r.status === 'completed'));
  for (let i = 1; i < log2.length; i++) {
    if (log2[i]!.key === log2[i - 1]!.key) assert.ok(log2[i]!.startedAt - log2[i - 1]!.endedAt <= 50, `${log2[i]!.key}: next item follows within 50 ms`);
  }
  assert.ok(log2.every((r) => sha256Hex(readFileSync(join(sinkDir, r.file!))) === r.sha256), 'the sink wrote the audio it was given');

  // Each relay is on at least its warm-up before audio starts, stays on while playing, and goes off after the cool-down.
  const stateAt = (ch: number, t: number): boolean => {
    let on = false;
    for (const s of driver.switches) if (s.at <= t && s.channel === ch) on = s.on;
    return on;
  };
  for (const r of firstItem) {
    const occ = byKey.get(r.key)!;
    const used = zones.filter((z) => occ.outputs.length === 0 || occ.outputs.includes(z.name));
    const end = r.startedAt + occ.durationMs;
    for (const z of used) {
      const ch = z.channels[0]!;
      assert.ok(stateAt(ch, r.startedAt - z.warmupMs), `${r.key}: ${z.name} on ${z.warmupMs} ms before audio`);
      for (let t = r.startedAt; t < end; t += 1000) assert.ok(stateAt(ch, t), `${r.key}: ${z.name} on during play`);
      assert.ok(stateAt(ch, end + z.cooldownMs - 50), `${r.key}: ${z.name} still on within its cool-down`);
      const nextUse = expected.find((o) => o.start > occ.start && (o.outputs.length === 0 || o.outputs.includes(z.name)));
      // Up to three wake-ups (sink, scheduler, cool-down timer) each carry up to 30 ms of injected lag.
      if (!nextUse || nextUse.start - 4000 > end + z.cooldownMs + 200) assert.ok(!stateAt(ch, end + z.cooldownMs + 200), `${r.key}: ${z.name} off after the cool-down`);
    }
  }
  assert.ok(!stateAt(0, to + DAY / 4) && !stateAt(1, to + DAY / 4), 'everything off at the end');
  await (h.outputs as OutputController).stop();
  await h.close();
  rmSync(sinkDir, { recursive: true, force: true });
});
