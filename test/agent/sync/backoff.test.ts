import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, jittered, Waker } from '../../../agent/sync/backoff.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';

test('reconnect backoff doubles from 1 s and is capped at 60 s, with jitter in the upper half', () => {
  const lo = (n: number): number => backoffDelay(n, undefined, () => 0);
  const hi = (n: number): number => backoffDelay(n, undefined, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20].map(hi), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.deepEqual([0, 1, 6, 100].map(lo), [500, 1000, 30000, 30000]);
});

test('the manifest timer is jittered by ±20 %', () => {
  assert.equal(jittered(300_000, 0.2, () => 0), 240_000);
  assert.equal(jittered(300_000, 0.2, () => 1), 360_000);
  assert.equal(jittered(300_000, 0.2, () => 0.5), 300_000);
});

test('a waker returns on its timeout, on a kick (even one made before the wait), or on abort', async () => {
  const clock = new VirtualClock({ start: 0 });
  const w = new Waker();
  const ctl = new AbortController();
  let done = false;
  const p = w.wait(clock, 1000, ctl.signal).then(() => (done = true));
  await clock.advanceBy(999);
  assert.equal(done, false);
  await clock.advanceBy(1);
  await p;
  assert.equal(done, true);

  w.kick();
  await w.wait(clock, 1_000_000, ctl.signal); // returns at once: the kick was remembered
  const q = w.wait(clock, 1_000_000, ctl.signal);
  w.kick();
  await q;
  const r = w.wait(clock, 1_000_000, ctl.signal);
  ctl.abort();
  await r;
  assert.equal(clock.now(), 1000, 'no simulated time passed for the kicks and the abort');
});
