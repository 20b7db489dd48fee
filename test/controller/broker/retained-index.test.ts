import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { IndexedRetainedPersistence } from '../../../controller/broker/retained-index.js';

interface Pkt { topic: string; payload: Buffer; retain: boolean; qos: number }
interface Store { storeRetained(p: Pkt): Promise<void>; createRetainedStreamCombi(patterns: string[]): Readable; createRetainedStream(p: string): Readable }

const require = createRequire(import.meta.url);
const Upstream = require('aedes-persistence/asyncPersistence.js') as new () => Store;

const pkt = (topic: string, payload = 'x'): Pkt => ({ topic, payload: Buffer.from(payload), retain: true, qos: 1 });

async function collect(stream: Readable): Promise<string[]> {
  const out: string[] = [];
  for await (const p of stream) out.push(`${(p as Pkt).topic}=${String((p as Pkt).payload)}`);
  return out.sort();
}

test('an exact filter finds its retained message; an empty payload deletes it', async () => {
  const s = new IndexedRetainedPersistence();
  await s.storeRetained(pkt('loa/v1/dev/D1/up/status', 'on'));
  await s.storeRetained(pkt('loa/v1/dev/D2/up/status', 'on'));
  assert.deepEqual(await collect(s.createRetainedStream('loa/v1/dev/D1/up/status')), ['loa/v1/dev/D1/up/status=on']);
  await s.storeRetained(pkt('loa/v1/dev/D1/up/status', 'off'));
  assert.deepEqual(await collect(s.createRetainedStream('loa/v1/dev/D1/up/status')), ['loa/v1/dev/D1/up/status=off']);
  await s.storeRetained(pkt('loa/v1/dev/D1/up/status', ''));
  assert.deepEqual(await collect(s.createRetainedStream('loa/v1/dev/D1/up/status')), []);
  assert.equal(s.retainedCount, 1);
  assert.deepEqual(await collect(s.createRetainedStream('loa/v1/dev/D3/up/status')), []);
});

test('wildcard filters follow MQTT rules: + is one level, # includes the parent, $ topics are not matched by a leading wildcard', async () => {
  const s = new IndexedRetainedPersistence();
  for (const t of ['a', 'a/b', 'a/b/c', 'a/x/c', '$SYS/a']) await s.storeRetained(pkt(t));
  assert.deepEqual(await collect(s.createRetainedStream('a/+/c')), ['a/b/c=x', 'a/x/c=x']);
  assert.deepEqual(await collect(s.createRetainedStream('a/#')), ['a/b/c=x', 'a/b=x', 'a/x/c=x', 'a=x']);
  assert.deepEqual(await collect(s.createRetainedStream('#')), ['a/b/c=x', 'a/b=x', 'a/x/c=x', 'a=x']);
  assert.deepEqual(await collect(s.createRetainedStream('$SYS/#')), ['$SYS/a=x']);
  assert.deepEqual(await collect(s.createRetainedStreamCombi(['a', 'a/b'])), ['a/b=x', 'a=x']);
});

// Differential check against upstream's scanning implementation (topics without `$`, where both follow MQTT).
const level = fc.constantFrom('a', 'b', 'c', 'dev', 'x1');
const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
const filter = fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 4 })
  .chain((l) => fc.boolean().map((hash) => (hash ? [...l, '#'] : l).join('/')));

test('for any retained topics and filters, the result equals upstream aedes-persistence', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(topic, fc.constantFrom('1', '2', '')), { maxLength: 30 }), fc.array(filter, { minLength: 1, maxLength: 3 }), async (writes, filters) => {
    const mine = new IndexedRetainedPersistence();
    const theirs = new Upstream();
    for (const [t, v] of writes) {
      await mine.storeRetained(pkt(t, v));
      await theirs.storeRetained(pkt(t, v));
    }
    assert.deepEqual(await collect(mine.createRetainedStreamCombi(filters)), await collect(theirs.createRetainedStreamCombi(filters)));
  }), { numRuns: 300 });
});
