import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eventually } from '../../support/wait.js';
import { startFleet } from './fleet.js';

it('a bus handler drains a backlog of 30,000 messages queued behind slow deliveries without overflowing the stack (soak finding: the controller died with RangeError at 2,000 devices)', async () => {
  const f = await startFleet();
  try {
    const aedes = f.broker.aedes;
    // Deliveries that do not finish (device sockets that are not draining) hold the broker's 100 concurrency slots…
    const held: (() => void)[] = [];
    await new Promise<void>((r) => aedes.subscribe('slow/#', (_p, cb) => held.push(cb), () => r()));
    let got = 0;
    await f.bus.subscribe('fast/#', () => {
      got++;
    });
    const N = 30_000;
    for (let i = 0; i < 200; i++) void f.bus.publish(`slow/${i}`, 'x', { qos: 0 });
    for (let i = 0; i < N; i++) void f.bus.publish(`fast/${i}`, 'x', { qos: 0 });
    // …so the fast messages queue. Releasing the slow ones lets the queue through, one message after the other.
    await eventually(() => {
      for (const cb of held.splice(0)) cb();
      return got === N;
    }, 30_000, `${N} messages delivered to the bus handler`);
    assert.deepEqual(f.logs.filter((l) => l.msg === 'bus handler failed'), [], 'no handler failure');
  } finally {
    await f.close();
  }
});
