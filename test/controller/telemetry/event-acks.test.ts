import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { seqRanges, type EventsAck } from '../../../shared/schemas/telemetry.js';
import { topics } from '../../../shared/topics.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { pairNewDevice } from '../../support/pairing.js';
import { eventually } from '../../support/wait.js';

const event = (deviceId: string, seq: number) => ({ deviceId, seq, key: `${deviceId}:${seq}`, type: 'relay.fault', at: Date.now(), data: { seq } });

describe('the end-to-end acknowledgement of device events (issue 10)', () => {
  let t: TestController;
  let client: MqttClient;
  let deviceId: string;
  /** Each ack with, at the moment it arrived, the seqs the controller's database held for the device. */
  const acks: { ack: EventsAck; stored: number[] }[] = [];
  const storedSeqs = (): number[] => {
    const db = new Database(join(t.dir, 'data', 'controller.db'), { readonly: true });
    try {
      return db.prepare<[string], { seq: number }>('SELECT seq FROM device_events WHERE device_id = ? ORDER BY seq').all(deviceId).map((r) => r.seq);
    } finally {
      db.close();
    }
  };

  before(async () => {
    t = await startTestController();
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
    await t.admin.post('/api/v1/zones', { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm thôn Đông' });
    const paired = await pairNewDevice(t, t.admin, 'X1-C1');
    deviceId = paired.deviceId;
    const c = await paired.device.connect(deviceId);
    assert.equal(typeof c, 'object', `the device connects (got CONNACK ${typeof c === 'object' ? 'ok' : c})`);
    client = c as MqttClient;
    client.on('message', (topic, payload) => {
      if (topic === topics.ack(deviceId)) acks.push({ ack: JSON.parse(payload.toString()) as EventsAck, stored: storedSeqs() });
    });
    const granted = await client.subscribeAsync(topics.ack(deviceId), { qos: 1 });
    assert.equal(granted[0]?.qos, 1, 'a device may subscribe to its own ack topic');
  });
  after(async () => {
    await client?.endAsync();
    await t.close();
  });

  it('acknowledges events only once they are committed, as seq ranges, and acknowledges a resend again without storing it twice', async () => {
    for (const seq of [1, 2, 3, 7, 8]) await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify(event(deviceId, seq)), { qos: 1 });
    const covered = (): number[] => acks.flatMap((a) => a.ack.ranges.flatMap(([f, l]) => Array.from({ length: l - f + 1 }, (_, i) => f + i)));
    await eventually(() => [1, 2, 3, 7, 8].every((s) => covered().includes(s)), 5000, 'acks covering every event');
    for (const a of acks) {
      for (const [f, l] of a.ack.ranges) for (let s = f; s <= l; s++) assert.ok(a.stored.includes(s), `seq ${s} was acknowledged before the controller had committed it`);
    }
    assert.ok(acks.every((a) => a.ack.ranges.every(([f, l]) => f <= l)));

    const before = acks.length;
    await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify(event(deviceId, 2)), { qos: 1 });
    await eventually(() => acks.slice(before).some((a) => a.ack.ranges.some(([f, l]) => f <= 2 && l >= 2)), 5000, 'the resend acknowledged');
    assert.deepEqual(storedSeqs(), [1, 2, 3, 7, 8], 'each event stored once');
  });

  it('does not store an event whose unacknowledged predecessor (after) it lacks: neither stored nor acknowledged until the predecessor came, so the device\'s order holds', async () => {
    const before = acks.length;
    await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify({ ...event(deviceId, 11), after: 10 }), { qos: 1 });
    await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify({ ...event(deviceId, 12), after: 11 }), { qos: 1 });
    // A later event that the controller can store shows that the two above were looked at (same flush order).
    await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify({ ...event(deviceId, 20), after: 8 }), { qos: 1 });
    await eventually(() => acks.slice(before).some((a) => a.ack.ranges.some(([f, l]) => f <= 20 && l >= 20)), 5000, 'event 20 acknowledged');
    assert.ok(!acks.slice(before).some((a) => a.ack.ranges.some(([f, l]) => l >= 11 && f <= 12)), '11 and 12 are not acknowledged');
    assert.ok(!storedSeqs().includes(11) && !storedSeqs().includes(12), '11 and 12 are not stored before 10');
    // The device sends again from its oldest unacknowledged event, in order: now all are stored, in seq order.
    for (const [seq, after] of [[10, 8], [11, 10], [12, 11]] as const) await client.publishAsync(topics.up(deviceId, 'events'), JSON.stringify({ ...event(deviceId, seq), after }), { qos: 1 });
    await eventually(() => [10, 11, 12].every((s) => storedSeqs().includes(s)), 5000, '10, 11 and 12 stored');
  });

  it('merges seqs into inclusive ranges', () => {
    assert.deepEqual(seqRanges([8, 1, 2, 3, 7, 3, 10]), [[1, 3], [7, 8], [10, 10]]);
    assert.deepEqual(seqRanges([]), []);
  });
});
