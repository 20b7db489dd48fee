import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import { MAX_STREAMS_PER_USER } from '../../controller/routes/events-stream.js';
import { topics } from '../../shared/topics.js';
import { startTestController, type TestController } from '../support/controller.js';
import { pairNewDevice } from '../support/pairing.js';
import { seedTree } from '../support/seed.js';
import { openSse, type SseStream } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ZONES = [
  { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' },
  { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Thôn Một' },
  { id: 'X2', parentId: 'T01', level: 'commune', code: 'X2', name: 'Xã Hai' },
  { id: 'X2-C1', parentId: 'X2', level: 'cluster', code: 'C1', name: 'Thôn Hai' },
] as const;

describe('the live event stream (contract A)', () => {
  let t: TestController;
  let as: Record<string, ApiClient>;
  const devices: { id: string; client: MqttClient; seq: number }[] = [];
  const streams: SseStream[] = [];
  const url = (q = ''): string => `${t.controller.httpUrl}/api/v1/events/stream${q}`;
  const open = async (client: ApiClient, q = ''): Promise<SseStream> => {
    const s = await openSse(url(q), client.token!);
    streams.push(s);
    return s;
  };

  before(async () => {
    t = await startTestController();
    as = await seedTree(t, ZONES, [['v1', 'viewer', 'X1'], ['v2', 'viewer', 'X2'], ['tech1', 'technician', 'X1']], 'stream-password-1');
    for (const zone of ['X1-C1', 'X2-C1']) {
      const { device, deviceId } = await pairNewDevice(t, t.admin, zone, `Loa ${zone}`);
      const c = await device.connect(deviceId);
      assert.equal(typeof c, 'object', `the receiver in ${zone} connects`);
      devices.push({ id: deviceId, client: c as MqttClient, seq: 0 });
    }
  });
  after(async () => {
    for (const s of streams) s.close();
    for (const d of devices) await d.client.endAsync(true);
    await t.close();
  });

  const publish = async (d: (typeof devices)[number]): Promise<void> => {
    await d.client.publishAsync(topics.up(d.id, 'status'), JSON.stringify({ online: true, at: Date.now() }), { qos: 1, retain: true });
    const seq = ++d.seq;
    await d.client.publishAsync(topics.up(d.id, 'events'), JSON.stringify({ deviceId: d.id, seq, key: `${d.id}:${seq}`, type: 'play.start', at: Date.now(), data: { entryId: 'ban-tin-sang' } }), { qos: 1 });
  };

  it('shows a device\'s status and events, published over MQTT, to users of its zone and to nobody else', async () => {
    const s1 = await open(as.v1!);
    const s2 = await open(as.v2!);
    const onlyStatus = await open(as.v1!, '?types=device.status');
    assert.deepEqual([s1.status, s2.status, onlyStatus.status], [200, 200, 200]);
    const [a, b] = devices as [(typeof devices)[number], (typeof devices)[number]];
    await publish(a);
    await publish(b);
    await eventually(() => s1.events.length >= 2 && s2.events.length >= 2 && onlyStatus.events.length >= 1, 5000, 'events on both streams');
    const of = (s: SseStream): string[] => s.events.map((e) => `${e.event} ${(e.data as { deviceId: string }).deviceId}`).sort();
    assert.deepEqual(of(s1), [`device.event ${a.id}`, `device.status ${a.id}`]);
    assert.deepEqual(of(s2), [`device.event ${b.id}`, `device.status ${b.id}`]);
    const ev = s1.events.find((e) => e.event === 'device.event')!.data as Record<string, unknown>;
    assert.deepEqual({ ...ev, at: typeof ev.at }, { deviceId: a.id, zoneId: 'X1-C1', type: 'play.start', seq: a.seq, at: 'string', data: { entryId: 'ban-tin-sang' } });
    const st = s1.events.find((e) => e.event === 'device.status')!.data as Record<string, unknown>;
    assert.deepEqual([st.zoneId, st.online], ['X1-C1', true]);
    assert.deepEqual(of(onlyStatus), [`device.status ${a.id}`], '?types= filters the event names');
  });

  it('serves an API token like a session, refuses a zone outside the scopes, and caps the streams per user', async () => {
    const tok = await as.tech1!.post<{ token: string }>('/api/v1/users/u-tech1/tokens', { name: 'stream' });
    const byToken = await openSse(url('?zone=X1-C1'), tok.token);
    streams.push(byToken);
    assert.equal(byToken.status, 200);
    await publish(devices[0]!);
    await eventually(() => byToken.events.some((e) => e.event === 'device.event'), 5000, 'an event on the token\'s stream');
    const outside = await openSse(url('?zone=X2'), tok.token);
    assert.equal(outside.status, 403);
    const bad = await openSse(url('?types=device.nothing'), tok.token);
    assert.equal(bad.status, 400);

    const mine: SseStream[] = [byToken];
    for (let i = 1; i < MAX_STREAMS_PER_USER; i++) mine.push(await open(as.tech1!));
    assert.ok(mine.every((s) => s.status === 200));
    const over = await openSse(url(), as.tech1!.token!);
    assert.equal(over.status, 429, 'one stream more than allowed is refused');
    mine[0]!.close();
    // Closing a stream frees its place once the server has seen the disconnect.
    await eventually(async () => {
      const again = await openSse(url(), as.tech1!.token!);
      streams.push(again);
      return again.status === 200;
    }, 5000, 'a place freed by a closed stream');
  });
});
