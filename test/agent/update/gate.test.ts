/**
 * The install gate (agent/update/gate.ts): maintenance windows in local time (Asia/Ho_Chi_Minh, UTC+7), across
 * midnight too, and never while a broadcast (an emergency, a live relay, a program) plays or one is due within
 * the margin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installGate, inWindows, type BroadcastView } from '../../../agent/update/gate.js';

/** Epoch ms of local time hh:mm on 1 March 2026 in Vietnam (UTC+7). */
const at = (hh: number, mm = 0): number => Date.UTC(2026, 2, 1, hh - 7, mm);
const idle: BroadcastView = { nowPlaying: () => null, nextStart: () => null };
const MIN = 60_000;

test('without windows any time is inside; a window covers its start and not its end', () => {
  assert.equal(inWindows(undefined, at(12)), true);
  assert.equal(inWindows([], at(3)), true);
  const w = [{ start: '01:00', end: '04:30' }];
  assert.equal(inWindows(w, at(0, 59)), false);
  assert.equal(inWindows(w, at(1)), true);
  assert.equal(inWindows(w, at(4, 29)), true);
  assert.equal(inWindows(w, at(4, 30)), false);
  assert.equal(inWindows(w, Date.UTC(2026, 2, 1, 20, 0)), true, '20:00 UTC is 03:00 the next day in Vietnam');
});

test('a window whose end is before its start spans midnight; start equal to end is the whole day; several windows add up', () => {
  const night = [{ start: '22:00', end: '02:00' }];
  for (const [h, m, inside] of [[21, 59, false], [22, 0, true], [23, 59, true], [0, 0, true], [1, 59, true], [2, 0, false], [12, 0, false]] as const) {
    assert.equal(inWindows(night, at(h, m)), inside, `${h}:${m}`);
  }
  assert.equal(inWindows([{ start: '05:00', end: '05:00' }], at(17)), true);
  const two = [{ start: '01:00', end: '02:00' }, { start: '13:00', end: '14:00' }];
  assert.equal(inWindows(two, at(13, 30)), true);
  assert.equal(inWindows(two, at(12, 30)), false);
});

test('outside the windows the gate is closed and says which windows', () => {
  const v = installGate({ view: idle, windows: [{ start: '22:00', end: '02:00' }], now: at(12), marginMs: 10 * MIN });
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.why : '', /outside the maintenance windows \(22:00–02:00\)/);
  assert.deepEqual(installGate({ view: idle, windows: [{ start: '22:00', end: '02:00' }], now: at(23), marginMs: 10 * MIN }), { ok: true });
});

test('an emergency, a live relay or a program playing closes the gate, inside a window too', () => {
  for (const priority of ['emergency', 'live', 'normal']) {
    const view: BroadcastView = { nowPlaying: () => ({ entryId: `e-${priority}`, priority }), nextStart: () => null };
    const v = installGate({ view, windows: [{ start: '00:00', end: '00:00' }], now: at(3), marginMs: 10 * MIN });
    assert.equal(v.ok, false, priority);
    assert.match(!v.ok ? v.why : '', new RegExp(`a ${priority} broadcast is playing \\(e-${priority}\\)`));
  }
});

test('a broadcast due within the margin closes the gate; one due later, or already past, does not', () => {
  const due = (ms: number | null): BroadcastView => ({ nowPlaying: () => null, nextStart: () => ms });
  const now = at(3);
  const v = installGate({ view: due(now + 9 * MIN), now, marginMs: 10 * MIN });
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.why : '', /a broadcast is due at 2026-02-28T20:09:00.000Z/);
  assert.deepEqual(installGate({ view: due(now + 10 * MIN), now, marginMs: 10 * MIN }), { ok: true });
  assert.deepEqual(installGate({ view: due(now + 60 * MIN), now, marginMs: 10 * MIN }), { ok: true });
  assert.equal(installGate({ view: due(now - MIN), now, marginMs: 10 * MIN }).ok, false, 'a start in the past not yet played counts as due');
});
