import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmergencyHandler } from '../../../agent/emergency/handler.js';
import { EmergencyStore } from '../../../agent/emergency/store.js';
import { signEnvelope } from '../../../shared/crypto.js';
import { createLogger } from '../../../shared/log.js';
import type { EmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import { baseManifest, makeTrust } from '../../support/trust.js';
import { schedulerHarness, type Harness } from '../../support/agent-harness.js';
import type { RecordingSink } from '../../support/doubles.js';

const vn = (s: string): number => Date.parse(`${s}+07:00`);
const A = 'a'.repeat(64);
const E = 'e'.repeat(64);
const trust = makeTrust();
const ZONES = ['T01', 'X1', 'X1-C1'];

const manifest = (): Manifest => baseManifest({
  media: [{ sha256: A, size: 100, durationMs: 60_000 }],
  programs: [{ id: 'pa', title: 'A', items: [{ kind: 'media', sha256: A }] }],
  schedule: [{ id: 'e0', programId: 'pa', dtstart: '2026-11-23T06:00', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 600_000 }],
});

function order(at: number, over: Partial<EmergencyOrder> = {}): EmergencyOrder {
  return {
    _type: 'emergency', schemaVersion: 1, orderId: 'em-1', action: 'start', seq: 1, nonce: randomBytes(16).toString('base64url'),
    issuedAt: new Date(at).toISOString(), expiresAt: new Date(at + 3_600_000).toISOString(), target: { zones: ['X1'], devices: [] },
    title: 'Lũ khẩn cấp', content: { kind: 'tts', text: 'Lũ đang lên', sha256: E, size: 100, durationMs: 20_000 }, repeat: 2, volume: 95, outputs: [], ...over,
  };
}
const sign = (o: EmergencyOrder): unknown => signEnvelope(o, [trust.emergency.privateKeyPem]);

interface Rig { h: Harness; em: EmergencyHandler }

function rig(dir: string, start: number, opts: { media?: boolean } = {}): Rig {
  let em: EmergencyHandler | null = null;
  const h = schedulerHarness({ start, manifest: manifest(), dir, scheduler: { onPlay: (o, p, d) => em?.onPlay(o, p, d) } });
  em = new EmergencyHandler({
    deviceId: 'dev-001', store: new EmergencyStore(h.db), outbox: h.outbox, scheduler: h.scheduler, clock: h.clock, log: createLogger('test', { level: 'silent' }),
    root: () => trust.root, zones: () => ZONES, media: { has: () => opts.media ?? true },
  });
  em.restore();
  h.scheduler.start();
  return { h, em };
}

const acks = (h: Harness): string[] => h.outbox.list().filter((e) => e.type === 'emergency.ack').map((e) => `${String(e.data.orderId)}:${String(e.data.state)}${typeof e.data.code === 'string' ? `:${e.data.code}` : ''}`);

test('an accepted order preempts the schedule, plays its repeats at its volume, acks received/started/finished, and the program resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-'));
  const { h, em } = rig(dir, vn('2026-11-23T05:59:00'));
  await h.clock.advanceTo(vn('2026-11-23T06:00:20'));
  const signed = sign(order(h.clock.now()));
  assert.equal(await em.receive(signed), 'accepted');
  await h.clock.advanceTo(vn('2026-11-23T06:03:00'));
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.offsetMs, p.status, p.volume]);
  assert.deepEqual(plays, [['a', 0, 'aborted', 80], ['e', 0, 'completed', 95], ['e', 0, 'completed', 95], ['a', 20_000, 'completed', 80]]);
  assert.deepEqual(acks(h), ['em-1:received', 'em-1:started', 'em-1:finished']);
  // The same signed order again is a replay: refused, reported, not played.
  assert.equal(await em.receive(JSON.stringify(signed)), 'rejected');
  await h.clock.advanceTo(vn('2026-11-23T06:05:00'));
  assert.equal((h.sink as RecordingSink).plays.filter((p) => p.ref[0] === 'e').length, 2);
  assert.deepEqual(acks(h).slice(3), ['em-1:rejected:LOA_ERR_EMERGENCY_REPLAY']);
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('expired, unsigned and foreign-zone orders are refused and reported; nothing plays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-'));
  const { h, em } = rig(dir, vn('2026-11-23T07:00:00'));
  const now = h.clock.now();
  assert.equal(await em.receive(sign(order(now - 7_200_000, { orderId: 'old', seq: 2 }))), 'rejected');
  assert.equal(await em.receive(signEnvelope(order(now, { orderId: 'forged', seq: 3 }), [trust.schedule.privateKeyPem])), 'rejected');
  assert.equal(await em.receive(sign(order(now, { orderId: 'other', seq: 4, target: { zones: ['X2'], devices: [] } }))), 'rejected');
  assert.equal(await em.receive('{"not json'), 'rejected');
  await h.clock.advanceTo(now + 120_000);
  assert.equal((h.sink as RecordingSink).plays.length, 0);
  assert.deepEqual(acks(h), ['old:rejected:LOA_ERR_EMERGENCY_EXPIRED', 'forged:rejected:LOA_ERR_EMERGENCY_SIGNATURE', 'other:rejected:LOA_ERR_EMERGENCY_SCOPE']);
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a cancel stops the order at once and the schedule resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-'));
  const { h, em } = rig(dir, vn('2026-11-23T05:59:00'));
  await h.clock.advanceTo(vn('2026-11-23T06:00:10'));
  await em.receive(sign(order(h.clock.now(), { repeat: 10 })));
  await h.clock.advanceTo(vn('2026-11-23T06:00:40'));
  const { content: _c, ...cancel } = order(h.clock.now(), { action: 'cancel', seq: 2 });
  assert.equal(await em.receive(sign(cancel as EmergencyOrder)), 'accepted');
  await h.clock.advanceTo(vn('2026-11-23T06:02:30'));
  assert.deepEqual(acks(h), ['em-1:received', 'em-1:started', 'em-1:received', 'em-1:cancelled']);
  const plays = (h.sink as RecordingSink).plays.map((p) => [p.ref[0], p.status]);
  assert.deepEqual(plays, [['a', 'aborted'], ['e', 'completed'], ['e', 'aborted'], ['a', 'completed']]);
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('after a restart, an order not yet played still plays, and a finished one never plays again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-'));
  const t0 = vn('2026-11-23T08:00:00');
  const first = rig(dir, t0);
  await first.em.receive(sign(order(t0, { orderId: 'done', seq: 10, repeat: 1 })));
  await first.em.receive(sign(order(t0, { orderId: 'later', seq: 11, repeat: 1, startAt: new Date(t0 + 600_000).toISOString() })));
  await first.h.clock.advanceTo(t0 + 60_000);
  assert.deepEqual(acks(first.h), ['done:received', 'later:received', 'done:started', 'done:finished']);
  await first.h.scheduler.stop();
  first.h.db.close();

  const second = rig(dir, t0 + 120_000);
  await second.h.clock.advanceTo(t0 + 700_000);
  const sink = (second.h.sink as RecordingSink).plays;
  assert.deepEqual(sink.map((p) => [p.ref[0], p.startedAt - t0]), [['e', 600_000]]);
  assert.deepEqual(acks(second.h).slice(4), ['later:started', 'later:finished']);
  await second.h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('audio that is missing with no controller to fetch it from is a failed ack, not a silent skip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-em-'));
  const { h, em } = rig(dir, vn('2026-11-23T09:00:00'), { media: false });
  await em.receive(sign(order(h.clock.now())));
  assert.deepEqual(acks(h), ['em-1:received', 'em-1:failed:LOA_ERR_MEDIA_NOT_FOUND']);
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a live order may start late: its stream item runs until the order expires, and it can start any time before then (issue 6 live)', async () => {
  const { occurrenceOf } = await import('../../../agent/emergency/handler.js');
  const issued = Date.parse('2026-11-23T08:00:00Z');
  const order = {
    _type: 'emergency', schemaVersion: 1, orderId: 'emg-live', action: 'start', seq: 1, nonce: 'a'.repeat(22), issuedAt: new Date(issued).toISOString(),
    expiresAt: new Date(issued + 600_000).toISOString(), target: { zones: [], devices: ['d1'] }, title: 'Trực tiếp', repeat: 1, outputs: [],
    content: { kind: 'live', streamUrl: 'http://live:k@127.0.0.1:1/live/liv-x.ogg', codec: 'opus' },
  } as EmergencyOrder;
  const occ = occurrenceOf(order, issued + 1000);
  assert.deepEqual(occ.items, [{ kind: 'stream', ref: 'http://live:k@127.0.0.1:1/live/liv-x.ogg', durationMs: 599_000 }]);
  assert.equal(occ.start + occ.durationMs, issued + 600_000);
  assert.equal(occ.maxDelayMs, 598_000, 'not 0: a receiver busy for a moment still joins the broadcast');
});
