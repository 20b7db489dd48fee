import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import type { DeviceEvent } from '../../../shared/schemas/events.js';
import { DeviceEvent as DeviceEventSchema } from '../../../shared/schemas/events.js';
import { topics } from '../../../shared/topics.js';
import { checker } from '../../../shared/validate.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor, type TestBroker } from '../../support/mqtt-broker.js';
import { DEVICE_ID, TestDevice } from '../../support/sync-harness.js';

const eventsTopic = topics.up(DEVICE_ID, 'events');
const eventChecker = checker(DeviceEventSchema);
const eventsAt = (b: TestBroker): DeviceEvent[] => b.messages.filter((m) => m.topic === eventsTopic).map((m) => eventChecker.parse(JSON.parse(m.payload.toString())));

test('outbox events reach the broker once each, in order, as valid DeviceEvents, and are marked sent after their PUBACK', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const agent = await dev.startAgent();
    for (let i = 0; i < 45; i++) agent.event('relay.fault', `test:${i}`, { i });
    const want = agent.events().map((e) => e.seq);
    await waitFor(() => agent.unsentEvents().length === 0, 5000, 'all events acknowledged');
    const got = eventsAt(broker);
    const seqs = got.map((e) => e.seq);
    assert.deepEqual(seqs.filter((s) => want.includes(s)), want, 'each event once, in order');
    assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
    assert.ok(got.every((e) => e.deviceId === DEVICE_ID && e.key === `${DEVICE_ID}:${e.seq}`));
    assert.ok(agent.sync!.state().eventsSent >= want.length);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('events whose PUBACK never came stay unsent when the broker dies, and are sent again after it comes back on the same port', async () => {
  const held: number[] = [];
  // This broker takes the events in but never acknowledges them (authorizePublish never answers).
  const first = await startBroker({
    authorizePublish: (_client, packet, cb) => {
      if (packet.topic === eventsTopic) held.push((JSON.parse(packet.payload.toString()) as DeviceEvent).seq);
      else cb(null);
    },
  });
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, first.url);
  let second: TestBroker | null = null;
  try {
    const agent = await dev.startAgent();
    const pending = (): DeviceEvent[] => agent.unsentEvents();
    agent.event('relay.fault', 'test:held', { held: true });
    await waitFor(() => held.length > 0, 5000, 'an event to reach the first broker');
    assert.ok(pending().some((e) => e.seq === held[0]), 'not marked sent without a PUBACK');

    await first.stop();
    await waitFor(() => !agent.sync!.connected, 5000, 'the device to notice');
    assert.ok(pending().some((e) => e.seq === held[0]), 'still unsent after the connection died');

    second = await startBroker({ port: first.port });
    await waitFor(() => pending().length === 0, 10_000, 'the outbox to drain after the reconnect');
    const seqs = eventsAt(second).map((e) => e.seq);
    assert.ok(held.every((s) => seqs.includes(s)), 'the unacknowledged events were sent again');
    assert.equal(new Set(seqs).size, seqs.length, 'once each on the new broker');
  } finally {
    await dev.close();
    await controller.close();
    await second?.stop();
  }
});

test('stopping an agent whose broker withholds PUBACKs does not hang, and the events stay queued', async () => {
  const broker = await startBroker({ authorizePublish: (_client, packet, cb) => (packet.topic === eventsTopic ? undefined : cb(null)) });
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const agent = await dev.startAgent();
    agent.event('relay.fault', 'test:stall', {});
    await waitFor(() => broker.messages.length > 0 && agent.sync!.connected, 5000, 'connected');
    await waitFor(() => agent.sync!.state().eventsSent === 0 && agent.unsentEvents().length > 0, 5000, 'events in flight');
    const t0 = Date.now();
    await dev.stopAgent(agent);
    assert.ok(Date.now() - t0 < 4000, `stop took ${Date.now() - t0} ms`);
    const db = openDb({ path: join(dev.dataDir, 'agent.db') });
    try {
      const left = new Outbox({ db, deviceId: () => DEVICE_ID }).pending(1000).map((e) => e.type);
      assert.ok(left.includes('relay.fault'));
    } finally {
      db.close();
    }
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});
