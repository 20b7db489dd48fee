import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../../controller/media/semaphore.js';

test('lets one holder in at a time and the waiters in order', async () => {
  const s = new Semaphore({ limit: 1 });
  const order: string[] = [];
  const first = await s.acquire();
  const second = s.acquire().then((release) => {
    order.push('second');
    return release;
  });
  const third = s.acquire().then((release) => {
    order.push('third');
    release();
  });
  assert.equal(s.pending, 3);
  order.push('first');
  first();
  (await second)();
  await third;
  assert.deepEqual(order, ['first', 'second', 'third']);
  assert.equal(s.pending, 0);
});

test('a waiter whose signal aborts leaves the queue without taking a slot', async () => {
  const s = new Semaphore({ limit: 1 });
  const held = await s.acquire();
  const ac = new AbortController();
  const waiting = s.acquire(ac.signal);
  ac.abort(new Error('gone'));
  await assert.rejects(waiting, /gone/);
  held();
  held();
  const next = await s.acquire();
  assert.equal(s.pending, 1);
  next();
});
