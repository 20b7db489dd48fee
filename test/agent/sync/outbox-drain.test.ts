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

test('outbox events reach the broker once each, in order, as valid DeviceEvents, and are marked sent after the controller\'s end-to-end ack', async () => {
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

test('an event the broker acknowledged (PUBACK) stays pending until the controller acknowledges it, and is published again, in order, when no ack comes', async () => {
  // A broker that PUBACKs but whose "controller" never answers: the device must not forget the events.
  const broker = await startBroker({ ackEvents: false });
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const agent = await dev.startAgent({ eventAckTimeoutMs: 300 });
    for (let i = 0; i < 5; i++) agent.event('relay.fault', `noack:${i}`, { i });
    const want = agent.events().filter((e) => e.type === 'relay.fault').map((e) => e.seq);
    const published = (): number[] => eventsAt(broker).map((e) => e.seq).filter((s) => want.includes(s));
    await waitFor(() => published().length >= 2 * want.length, 5000, 'the unacknowledged events published a second time');
    assert.ok(want.every((s) => agent.unsentEvents().some((e) => e.seq === s)), 'still pending: a PUBACK is not a delivery');
    assert.deepEqual(published().slice(0, want.length), want, 'first round in seq order');
    assert.deepEqual(published().slice(want.length, 2 * want.length), want, 'the resend starts again from the oldest, in order');

    // The controller acknowledges the first three: only those leave the outbox; the rest are still resent.
    const ack = { ranges: [[want[0]!, want[2]!]], at: Date.now() };
    await broker.publish(topics.ack(DEVICE_ID), JSON.stringify(ack));
    await waitFor(() => !agent.unsentEvents().some((e) => e.seq === want[2]), 5000, 'the acknowledged events marked sent');
    assert.deepEqual(agent.unsentEvents().map((e) => e.seq).filter((s) => want.includes(s)), want.slice(3));
    // (A round read from the outbox before the ack arrived may still be on its way: let one round pass.)
    const n0 = published().length;
    await waitFor(() => published().length > n0 + 1, 5000, 'a round after the ack');
    const n = published().length;
    await waitFor(() => published().length > n + 1, 5000, 'the rest published again');
    assert.deepEqual(published().slice(n).filter((s) => s <= want[2]!), [], 'an acknowledged event is never published again');

    // A malformed ack is ignored and changes nothing.
    await broker.publish(topics.ack(DEVICE_ID), JSON.stringify({ ranges: 'all', at: 1 }));
    await broker.publish(topics.ack(DEVICE_ID), JSON.stringify({ ranges: [[want[3]!, want[4]!]], at: Date.now() }));
    await waitFor(() => agent.unsentEvents().filter((e) => want.includes(e.seq)).length === 0, 5000, 'all acknowledged');
    assert.ok(dev.logs.lines.some((l) => l.includes('LOA_ERR_MQTT_PAYLOAD') && l.includes('events ack')), 'the bad ack was logged with its code');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});
