import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { verifyEmergencyOrder } from '../../../agent/emergency/verify.js';
import type { Role } from '../../../controller/data/users.js';
import { ApiClient } from '../../../scripts/lib/api-client.js';
import type { EmergencyAck, SignedEmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { DeviceEvent } from '../../../shared/schemas/events.js';
import type { SignedRoot } from '../../../shared/schemas/root.js';
import { topics } from '../../../shared/topics.js';
import { toneWav } from '../../../shared/wav.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { seedTree } from '../../support/seed.js';
import { pairNewDevice, type TestDevice } from '../../support/pairing.js';
import { eventually } from '../../support/wait.js';
import { outcome } from '../../support/outcome.js';
export { outcome };

/**
 * A real controller with a province of two districts, receivers paired through the API, and real mqtt.js
 * clients acting as those receivers: each subscribes to its own `loa/v1/dev/{id}/#` (with its device token)
 * and keeps what arrives on its emergency topic. The device side checks orders with the agent's own verifier.
 *
 *   T01 › D1 (Huyện Một) › X1 (Xã An Phú) › X1-C1 (Thôn Đông): dev A, dev D (never connects)
 *                                         › X1-C2 (Thôn Tây):  dev B
 *       › D2 (Huyện Hai) › Y1 (Xã Bình Minh) › Y1-C1 (Thôn Bắc): dev C
 *
 * Users: op1 and op2, operators of D1; opY, operator of D2; viewer1, viewer of D1.
 */
export const PASSWORD = 'emergency-password-1';
export const ZONES = [
  { id: 'D1', parentId: 'T01', level: 'district', code: 'D1', name: 'Huyện Một' },
  { id: 'X1', parentId: 'D1', level: 'commune', code: 'X1', name: 'Xã An Phú' },
  { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Thôn Đông' },
  { id: 'X1-C2', parentId: 'X1', level: 'cluster', code: 'C2', name: 'Thôn Tây' },
  { id: 'D2', parentId: 'T01', level: 'district', code: 'D2', name: 'Huyện Hai' },
  { id: 'Y1', parentId: 'D2', level: 'commune', code: 'Y1', name: 'Xã Bình Minh' },
  { id: 'Y1-C1', parentId: 'Y1', level: 'cluster', code: 'C1', name: 'Thôn Bắc' },
] as const;
const USERS: [string, Role, string][] = [['op1', 'operator', 'D1'], ['op2', 'operator', 'D1'], ['opY', 'operator', 'D2'], ['viewer1', 'viewer', 'D1']];

export interface Receiver {
  name: string;
  id: string;
  device: TestDevice;
  client: MqttClient | null;
  /** Payloads received on the device's own emergency topic, in order. */
  inbox: Buffer[];
  /** The zone chain of the device's signed manifest (what the agent checks orders against). */
  zones: string[];
  /** Event seq of this device's outbox. */
  seq: number;
}

export interface Rig {
  t: TestController;
  as: Record<string, ApiClient>;
  dev: Record<'A' | 'B' | 'C' | 'D', Receiver>;
  /** The root metadata devices trust (GET /api/v1/trust/root, as a device fetches it). */
  root(): Promise<SignedRoot['signed']>;
  /** Checks an order as receiver `r` would; `seen` holds the nonces and seqs the receiver has taken already. */
  verify(r: Receiver, payload: Buffer, seen?: { nonces: Set<string>; seqs: Set<number> }): Promise<SignedEmergencyOrder>;
  /** Waits until receiver `r` holds `n` orders. */
  received(r: Receiver, n: number): Promise<void>;
  /** Publishes acks as device events on the receiver's `up/events`. */
  ack(r: Receiver, acks: Omit<EmergencyAck, 'at'>[] | Record<string, unknown>[]): Promise<void>;
  /** A library file in zone X1 (an uploaded tone). */
  mediaId: string;
  close(): Promise<void>;
}


export async function startRig(overrides: Record<string, unknown> = {}): Promise<Rig> {
  const t = await startTestController(overrides);
  const d = t.controller.data;
  const as = await seedTree(t, ZONES, USERS, PASSWORD);
  const place = { A: 'X1-C1', B: 'X1-C2', C: 'Y1-C1', D: 'X1-C1' } as const;
  const dev = {} as Rig['dev'];
  for (const [name, zoneId] of Object.entries(place) as [keyof typeof place, string][]) {
    const { device, deviceId } = await pairNewDevice(t, t.admin, zoneId, `Loa ${name}`);
    let zones: string[] = [];
    await eventually(async () => {
      const m = await device.manifest(deviceId);
      zones = (m.body as { signed?: { zones?: string[] } }).signed?.zones ?? [];
      return m.status === 200;
    }, 10_000, `the manifest of ${name}`);
    const r: Receiver = { name, id: deviceId, device, client: null, inbox: [], zones, seq: 0 };
    if (name !== 'D') {
      const c = await device.connect(deviceId);
      assert.equal(typeof c, 'object', `receiver ${name} connects (got ${typeof c === 'object' ? 'a client' : c})`);
      const client = c as MqttClient;
      client.on('message', (topic, payload) => {
        if (topic === topics.down(deviceId, 'emergency')) r.inbox.push(payload);
      });
      await client.subscribeAsync(topics.deviceFilter(deviceId), { qos: 1 });
      await client.publishAsync(topics.up(deviceId, 'status'), JSON.stringify({ online: true, at: Date.now() }), { qos: 1, retain: true });
      r.client = client;
    }
    dev[name] = r;
  }
  await eventually(() => d.devices.list({ limit: 10, online: true }).length === 3, 5000, 'three receivers online');

  const form = new FormData();
  form.append('zoneId', 'X1');
  form.append('title', 'Còi báo động');
  form.append('file', new Blob([toneWav({ seconds: 2, hz: 880 })]), 'siren.wav');
  const up = await as.op1!.request<{ media: { id: string } }>('POST', '/api/v1/media', form);

  let rootMeta: SignedRoot['signed'] | null = null;
  const root = async (): Promise<SignedRoot['signed']> => (rootMeta ??= (await t.client().get<SignedRoot>('/api/v1/trust/root')).signed);
  return {
    t, as, dev, root, mediaId: up.media.id,
    async verify(r, payload, seen = { nonces: new Set(), seqs: new Set() }) {
      const env = verifyEmergencyOrder(payload, { root: await root(), deviceId: r.id, zones: r.zones, now: Date.now(), seen: (n, s) => seen.nonces.has(n) || seen.seqs.has(s) });
      seen.nonces.add(env.signed.nonce);
      seen.seqs.add(env.signed.seq);
      return env;
    },
    received: (r, n) => eventually(() => r.inbox.length >= n, 5000, `${n} order(s) at receiver ${r.name}`),
    async ack(r, acks) {
      const events: DeviceEvent[] = acks.map((a) => {
        const seq = ++r.seq;
        return { deviceId: r.id, seq, key: `${r.id}:${seq}`, type: 'emergency.ack', at: Date.now(), data: { at: new Date().toISOString(), ...a } };
      });
      await r.client!.publishAsync(topics.up(r.id, 'events'), JSON.stringify(events), { qos: 1 });
    },
    async close() {
      for (const r of Object.values(dev)) await r.client?.endAsync(true);
      await t.close();
    },
  };
}
