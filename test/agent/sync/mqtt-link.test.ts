import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceTokenSource } from '../../../agent/identity.js';
import type { RetryInfo } from '../../../agent/sync/mqtt-link.js';
import type { LoaError } from '../../../shared/errors.js';
import { verifyDeviceToken } from '../../../shared/device-token.js';
import type { DeviceStatus, Notify } from '../../../shared/schemas/telemetry.js';
import { topics } from '../../../shared/topics.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor, type TestBroker } from '../../support/mqtt-broker.js';
import { DEVICE_ID, nextEvent, TestDevice } from '../../support/sync-harness.js';

const statusTopic = topics.up(DEVICE_ID, 'status');
const statuses = (b: TestBroker): DeviceStatus[] => b.messages.filter((m) => m.topic === statusTopic).map((m) => JSON.parse(m.payload.toString()) as DeviceStatus);

test('the device connects with its id and a fresh valid token, publishes a retained online status and subscribes to its own topics', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  const subscribed: string[] = [];
  broker.aedes.on('subscribe', (subs, client) => {
    if (client.id === DEVICE_ID) subscribed.push(...subs.map((s) => s.topic));
  });
  try {
    const agent = await dev.startAgent();
    await waitFor(() => agent.sync!.connected, 5000, 'connected');
    assert.deepEqual(subscribed.sort(), ['ack', 'cmd', 'emergency', 'notify'].map((k) => `loa/v1/dev/${DEVICE_ID}/${k}`));
    const online = await waitFor(() => broker.messages.find((m) => m.topic === statusTopic), 5000, 'status');
    assert.ok(online.retain && online.qos === 1);
    assert.equal((JSON.parse(online.payload.toString()) as DeviceStatus).online, true);
    assert.equal(broker.passwords.length, 1);
    assert.equal(verifyDeviceToken(broker.passwords[0]!, dev.identity.publicKey, Date.now()).sub, DEVICE_ID);

    // A graceful stop leaves a retained offline status.
    await dev.stopAgent(agent);
    assert.deepEqual(statuses(broker).map((s) => s.online), [true, false]);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('when the device vanishes, the broker publishes its retained offline will', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const agent = await dev.startAgent();
    await waitFor(() => agent.sync!.connected, 5000, 'connected');
    // Cut the device's TCP connection from the broker's side, as a dead link would.
    const client = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients[DEVICE_ID];
    client!.conn.destroy();
    const will = await waitFor(() => broker.messages.find((m) => m.topic === statusTopic && !(JSON.parse(m.payload.toString()) as DeviceStatus).online), 5000, 'the will');
    assert.ok(will.retain);
    assert.equal(will.qos, 1);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('after the broker stops, the device retries with growing, capped backoff and a new token each time, and reconnects when the broker is back on the same port', async () => {
  let broker = await startBroker();
  const port = broker.port;
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    let minted = 0;
    const mint = deviceTokenSource(dev.dataDir, DEVICE_ID, Date.now);
    const agent = await dev.startAgent({ backoff: { minMs: 40, maxMs: 200 }, token: () => (minted++, mint()) });
    await waitFor(() => agent.sync!.connected, 5000, 'connected');
    const retries: RetryInfo[] = [];
    agent.sync!.on('retry', (r) => retries.push(r));
    await broker.stop();
    await waitFor(() => retries.length >= 5, 10_000, 'five reconnect attempts');
    assert.deepEqual(retries.slice(0, 5).map((r) => r.attempt), [1, 2, 3, 4, 5]);
    // Equal jitter: attempt n waits between half and all of min·2^(n-1), capped at max.
    retries.slice(0, 5).forEach((r, i) => {
      const exp = Math.min(200, 40 * 2 ** i);
      assert.ok(r.delayMs >= exp / 2 && r.delayMs <= exp, `attempt ${r.attempt}: ${r.delayMs} ms within [${exp / 2}, ${exp}]`);
    });

    const mintedWhileDown = minted;
    broker = await startBroker({ port });
    await nextEvent(agent.sync!, 'connected', () => true, 5000);
    assert.ok(mintedWhileDown >= retries.length, 'a token is minted for every attempt');
    assert.equal(broker.passwords.length, 1);
    assert.equal(verifyDeviceToken(broker.passwords[0]!, dev.identity.publicKey, Date.now()).sub, DEVICE_ID, 'a valid token on the new connection');
    assert.equal((await waitFor(() => statuses(broker).at(-1), 5000, 'status')).online, true, 'online again');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('malformed notify payloads are logged with LOA_ERR_MQTT_PAYLOAD and ignored; a good notify afterwards still works', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const agent = await dev.startAgent();
    await waitFor(() => agent.sync!.connected, 5000, 'connected');
    const invalid: LoaError[] = [];
    agent.sync!.on('invalid', (e) => invalid.push(e));
    const notifyTopic = topics.down(DEVICE_ID, 'notify');
    for (const bad of ['not json', '{"version":"2"}', '{"version":2,"at":1,"extra":true}', 'null', JSON.stringify({ version: 2, at: 1, pad: 'x'.repeat(70_000) }), Buffer.from([0xff, 0xfe, 0x00])]) {
      await broker.publish(notifyTopic, bad);
    }
    await waitFor(() => invalid.length === 6, 5000, 'six invalid payloads');
    assert.ok(invalid.every((e) => e.code === 'LOA_ERR_MQTT_PAYLOAD'));
    assert.equal(dev.logs.lines.filter((l) => l.includes('LOA_ERR_MQTT_PAYLOAD')).length, 6, 'each is logged with its code');

    const [[n]] = await Promise.all([
      nextEvent<[Notify]>(agent.sync!, 'notify', () => true, 5000),
      broker.publish(notifyTopic, JSON.stringify({ version: 7, at: Date.now() })),
    ]);
    assert.equal(n.version, 7);
    assert.ok(agent.sync!.connected, 'still connected');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('neither the device token nor the private key ever appears in the logs', async () => {
  const broker = await startBroker({
    // Refuse the first attempt, so the failure path is logged too.
    authenticate: (() => {
      let n = 0;
      return (_c, _u, _p, done) => (n++ === 0 ? done(Object.assign(new Error('bad'), { returnCode: 4 }), false) : done(null, true));
    })(),
  });
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    controller.setManifest(dev.manifest(1, [dev.addMedia(1000)]));
    const agent = await dev.startAgent();
    await waitFor(() => agent.sync!.connected, 5000, 'connected after one refusal');
    await waitFor(() => agent.status().manifestVersion === 1, 5000, 'a manifest fetched over HTTP');
    await dev.stopAgent(agent);
    const text = dev.logs.text();
    assert.ok(text.length > 0);
    for (const p of broker.passwords) assert.ok(!text.includes(p.split('.')[2]!), 'no token signature in the logs');
    const pem = readFileSync(join(dev.dataDir, 'device.key'), 'utf8');
    assert.ok(!text.includes('PRIVATE KEY') && !text.includes(pem.split('\n')[1]!), 'no private key in the logs');
    assert.ok(!/Bearer /i.test(text));
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});
