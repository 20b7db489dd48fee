import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { topics } from '../../../shared/topics.js';
import { generateKeyPair } from '../../../shared/crypto.js';
import { closed, counterValue, grants, nextMessage, startFleet, type Fleet } from './fleet.js';

const refused = async (p: Promise<MqttClient>): Promise<number | string> => {
  try {
    const c = await p;
    await c.endAsync(true);
    return 'connected';
  } catch (e) {
    return (e as { code?: number }).code ?? (e as Error).message;
  }
};

async function withFleet(fn: (f: Fleet) => Promise<void>, opts: Parameters<typeof startFleet>[0] = {}): Promise<void> {
  const f = await startFleet(opts);
  try {
    await fn(f);
  } finally {
    await f.close();
  }
}

test('a device with a valid token connects and receives its own notify from the controller bus', () => withFleet(async (f) => {
  const a = await f.connect('dev-a');
  const [grant] = await a.subscribeAsync(topics.down('dev-a', 'notify'), { qos: 1 });
  assert.equal(grant?.qos, 1);
  const got = nextMessage(a);
  await f.bus.publish(topics.down('dev-a', 'notify'), JSON.stringify({ version: 3, at: 1 }), { qos: 1 });
  const m = await got;
  assert.equal(m.topic, topics.down('dev-a', 'notify'));
  assert.deepEqual(JSON.parse(m.payload.toString()), { version: 3, at: 1 });
  assert.equal(f.broker.isConnected('dev-a'), true);
  const connected = await f.registry.getSingleMetric('loa_mqtt_connected_clients')!.get();
  assert.equal(connected.values[0]?.value, 1);
}));

const refusals: [string, (f: Fleet) => Promise<MqttClient>][] = [
  ['a token signed with the wrong key', (f) => f.connect('dev-a', { password: f.token('dev-a', { key: generateKeyPair() }) })],
  ['an expired token', (f) => f.connect('dev-a', { password: f.token('dev-a', { now: Date.now() - 2 * 3600_000, ttlS: 900 }) })],
  ['another device\'s token', (f) => f.connect('dev-a', { password: f.token('dev-b') })],
  ['a token that is not a token', (f) => f.connect('dev-a', { password: 'hunter2' })],
  ['no password', (f) => f.connect('dev-a', { password: undefined })],
  ['a clientId that differs from the username', (f) => f.connect('dev-a', { clientId: 'dev-a-2' })],
  ['the right token under another username', (f) => f.connect('dev-b', { username: 'dev-b', clientId: 'dev-b', password: f.token('dev-a') })],
  ['a revoked device', (f) => f.connect('dev-r')],
  ['an enrolled-but-unknown device id', (f) => f.connect('dev-zzz', { password: f.token('dev-zzz', { key: f.keys['dev-a'] }) })],
  ['a device that was never enrolled', (f) => f.connect('dev-u')],
  ['the internal user name while the internal client is disabled', (f) => f.connect('$loa-controller-x', { username: '$loa-controller', password: 'x' })],
];

test('refuses, as not authorized (CONNACK 5): a wrong key, an expired token, another device\'s token, a clientId ≠ username, revoked, unknown and unenrolled devices', () => withFleet(async (f) => {
  for (const [what, attempt] of refusals) assert.equal(await refused(attempt(f)), 5, what);
  assert.equal(await counterValue(f.registry, 'loa_mqtt_denied_total', { action: 'connect' }), refusals.length);
  assert.equal(f.broker.aedes.connectedClients, 0);
}));

test('a device cannot subscribe to another device, to #, loa/v1/#, loa/v1/dev/+/notify, $SYS/# or a foreign zone, and receives nothing from them', () => withFleet(async (f) => {
  const a = await f.connect('dev-a');
  const seen: string[] = [];
  a.on('message', (t) => seen.push(t));
  const forbidden = ['loa/v1/dev/dev-b/notify', 'loa/v1/dev/dev-b/#', '#', 'loa/v1/#', 'loa/v1/dev/+/notify', 'loa/v1/dev/+/up/#', '$SYS/#', 'loa/v1/zone/k2/emergency', `loa/v1/dev/dev-a/up/status`];
  assert.deepEqual(await grants(a, forbidden), forbidden.map(() => 128));
  assert.deepEqual(await grants(a, [topics.deviceFilter('dev-a'), topics.zone('p1', 'emergency'), 'loa/v1/dev/dev-b/cmd']), [1, 1, 128]);

  for (const t of [topics.down('dev-b', 'notify'), topics.down('dev-b', 'cmd'), topics.zone('k2', 'emergency'), topics.up('dev-b', 'status'), 'other/topic']) {
    await f.bus.publish(t, 'x', { qos: 1 });
  }
  // dev-a's own up topics match its dev-a/# subscription but are never forwarded to it.
  await a.publishAsync(topics.up('dev-a', 'telemetry'), JSON.stringify({ at: 1, manifestVersion: 0, stale: false }), { qos: 1 });
  const zone = nextMessage(a, (t) => t === topics.zone('p1', 'emergency'));
  await f.bus.publish(topics.zone('p1', 'emergency'), 'z', { qos: 1 });
  await zone;
  const own = nextMessage(a, (t) => t === topics.down('dev-a', 'notify'));
  await f.bus.publish(topics.down('dev-a', 'notify'), 'marker', { qos: 1 });
  await own;
  assert.deepEqual(seen, [topics.zone('p1', 'emergency'), topics.down('dev-a', 'notify')]);
  assert.equal(await counterValue(f.registry, 'loa_mqtt_denied_total', { action: 'subscribe' }), forbidden.length + 1);
}));

test('a device cannot publish on another device\'s up topics, on its own notify, or retained telemetry: it is cut off and nobody receives it', () => withFleet(async (f) => {
  const heard: string[] = [];
  await f.bus.subscribe('loa/v1/#', (t) => {
    heard.push(t);
  });
  const b = await f.connect('dev-b');
  const bSeen: string[] = [];
  await b.subscribeAsync(topics.deviceFilter('dev-b'), { qos: 1 });
  b.on('message', (t) => bSeen.push(t));

  const attempts: [string, boolean][] = [[topics.up('dev-b', 'telemetry'), false], [topics.up('dev-b', 'status'), true], [topics.down('dev-a', 'notify'), false], [topics.down('dev-b', 'notify'), false], [topics.up('dev-a', 'telemetry'), true]];
  for (const [topic, retain] of attempts) {
    const a = await f.connect('dev-a');
    const gone = closed(a);
    a.publish(topic, '{"x":1}', { qos: 1, retain });
    await gone;
  }
  // A marker through the same path: once the bus has it, anything earlier would have arrived too.
  const marker = new Promise<void>((resolve) => {
    void f.bus.subscribe(topics.up('dev-b', 'events'), () => resolve());
  });
  await b.publishAsync(topics.up('dev-b', 'events'), '[]', { qos: 1 });
  await marker;
  assert.deepEqual(heard, [topics.up('dev-b', 'events')]);
  assert.deepEqual(bSeen, []);
  assert.equal(await counterValue(f.registry, 'loa_mqtt_denied_total', { action: 'publish' }), attempts.length);
  assert.equal(await counterValue(f.registry, 'loa_mqtt_messages_in_total', { kind: 'events' }), 1);
}));

test('a device cannot set its last will on another device\'s topic, on a down topic, or retained on telemetry', () => withFleet(async (f) => {
  const wills = [
    { topic: topics.up('dev-b', 'status'), payload: Buffer.from('{"online":false,"at":0}'), qos: 1 as const, retain: true },
    { topic: topics.down('dev-a', 'notify'), payload: Buffer.from('{}'), qos: 1 as const, retain: false },
    { topic: topics.up('dev-a', 'telemetry'), payload: Buffer.from('{}'), qos: 1 as const, retain: true },
    { topic: '$SYS/x', payload: Buffer.from('{}'), qos: 0 as const, retain: false },
  ];
  for (const will of wills) assert.equal(await refused(f.connect('dev-a', { will })), 5, will.topic);
  const ok = await f.connect('dev-a', { will: { topic: topics.up('dev-a', 'status'), payload: Buffer.from('{"online":false,"at":0}'), qos: 1, retain: true } });
  assert.equal(ok.connected, true);
  assert.equal(await counterValue(f.registry, 'loa_mqtt_denied_total', { action: 'will' }), wills.length);
}));

test('disconnect() cuts a revoked device off at once, and it cannot connect again', () => withFleet(async (f) => {
  const a = await f.connect('dev-a');
  const gone = closed(a);
  f.revoke('dev-a');
  assert.equal(f.broker.disconnect('dev-a'), true);
  await gone;
  assert.equal(f.broker.isConnected('dev-a'), false);
  assert.equal(await refused(f.connect('dev-a')), 5);
  assert.equal(f.broker.disconnect('dev-a'), false, 'nothing left to disconnect');
}));

test('refusals are logged with their code and never with the token; connects and disconnects are logged at debug', () => withFleet(async (f) => {
  const token = f.token('dev-a', { key: generateKeyPair() });
  await refused(f.connect('dev-a', { password: token }));
  const a = await f.connect('dev-a');
  assert.deepEqual(await grants(a, ['#']), [128]);
  const gone = closed(a);
  a.publish(topics.up('dev-b', 'status'), 'x');
  await gone;
  const text = JSON.stringify(f.logs);
  assert.equal(text.includes(token), false, 'the token is never logged');
  assert.equal(text.includes(token.split('.')[2]!), false, 'not even the signature');
  const refusalsLogged = f.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('mqtt ') && l.msg.includes('refused'));
  assert.deepEqual(refusalsLogged.map((l) => [l.action, l.code]), [['connect', 'LOA_ERR_CRYPTO'], ['subscribe', 'LOA_ERR_MQTT_FORBIDDEN'], ['publish', 'LOA_ERR_MQTT_FORBIDDEN']]);
  assert.ok(f.logs.some((l) => l.msg === 'mqtt client connected' && l.level === 20 && l.clientId === 'dev-a'));
  assert.ok(f.logs.some((l) => l.msg === 'mqtt client disconnected' && l.level === 20));
}));

test('MQTT over WebSocket authenticates devices the same way', () => withFleet(async (f) => {
  const url = `ws://127.0.0.1:${f.broker.wsPort}/mqtt`;
  assert.equal(await refused(f.connect('dev-a', { url, password: f.token('dev-b') })), 5);
  const a = await f.connect('dev-a', { url });
  await a.subscribeAsync(topics.down('dev-a', 'cmd'), { qos: 1 });
  const got = nextMessage(a);
  await f.bus.publish(topics.down('dev-a', 'cmd'), 'c');
  assert.equal((await got).payload.toString(), 'c');
}, { ws: { port: 0, host: '127.0.0.1' } }));

test('a packet larger than the limit closes the connection while it streams, before or after login', () => withFleet(async (f) => {
  const a = await f.connect('dev-a');
  const gone = closed(a);
  a.publish(topics.up('dev-a', 'telemetry'), Buffer.alloc(8192, 0x20), { qos: 1 });
  await gone;
  // Unauthenticated: a CONNECT header announcing ~256 MB, then a trickle of bytes.
  const sock = netConnect(f.broker.port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const ended = new Promise<void>((r) => sock.once('close', () => r()));
  sock.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x04]));
  await ended;
  assert.ok(await counterValue(f.registry, 'loa_mqtt_denied_total', { reason: 'too_large' }) >= 2);
}, { maxPacketBytes: 4096 }));

test('the internal client logs in with the per-process secret and may publish on device topics', () => withFleet(async (f) => {
  const cred = f.broker.internalCredentials();
  assert.equal(await refused(f.connect(cred.clientId, { username: cred.username, password: 'wrong' })), 5);
  const b = await f.connect('dev-b');
  await b.subscribeAsync(topics.down('dev-b', 'notify'), { qos: 1 });
  const got = nextMessage(b);
  const internal = await f.connect(cred.clientId, { username: cred.username, password: cred.password });
  await internal.publishAsync(topics.down('dev-b', 'notify'), 'hi', { qos: 1 });
  assert.equal((await got).payload.toString(), 'hi');
  assert.equal(JSON.stringify(f.logs).includes(cred.password), false);
}, { internalClient: true }));

test('the broker can be stopped and started again with the same metrics registry', () => withFleet(async (f) => {
  await f.bus.stop();
  await f.broker.stop();
  await f.broker.start();
  await f.bus.start();
  const a = await f.connect('dev-a');
  assert.equal(a.connected, true);
  const connected = await f.registry.getSingleMetric('loa_mqtt_connected_clients')!.get();
  assert.equal(connected.values[0]?.value, 1);
}));
