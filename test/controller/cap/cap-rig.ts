import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { verifyEmergencyOrder } from '../../../agent/emergency/verify.js';
import type { Role } from '../../../controller/data/users.js';
import { ApiClient } from '../../../scripts/lib/api-client.js';
import type { SignedEmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { SignedRoot } from '../../../shared/schemas/root.js';
import { topics } from '../../../shared/topics.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { seedTree } from '../../support/seed.js';
import { pairNewDevice } from '../../support/pairing.js';
import { eventually } from '../../support/wait.js';

/**
 * A real controller with zones named after Thừa Thiên Huế communes, so that the Vietnamese storm warning
 * (test/fixtures/cap/vn-storm.xml: geocode VN-ADMIN 19753, a coastal polygon 16.40–16.70 N, 107.50–107.80 E) reaches
 * some of them, and (optionally) receivers paired through the API that listen on their MQTT emergency topic:
 *
 *   T01 › D1 (code 474) › X19753 (19753, geocode)  › X19753-C1: dev A, dev B (no coordinates)
 *                       › X19756 (19756)           › X19756-C1: dev C at 16.55, 107.64 (inside the polygon)
 *                       › X19999 (19999)           › X19999-C1: dev E at 16.20, 107.30 (outside)
 *       › D2 (code 475) › Y1 (code 20001)          › Y1-C1:     dev F
 *
 * Users: opP and op2 operators of the province; opX operator of commune X19753 only; opD2 operator of district
 * D2; viewer1 viewer of the province.
 */
export const PASSWORD = 'cap-password-1';
const ZONES = [
  { id: 'D1', parentId: 'T01', level: 'district', code: '474', name: 'Huyện Phú Vang' },
  { id: 'X19753', parentId: 'D1', level: 'commune', code: '19753', name: 'Xã Phú Thuận' },
  { id: 'X19753-C1', parentId: 'X19753', level: 'cluster', code: 'C1', name: 'Thôn Một' },
  { id: 'X19756', parentId: 'D1', level: 'commune', code: '19756', name: 'Phường Thuận An' },
  { id: 'X19756-C1', parentId: 'X19756', level: 'cluster', code: 'C1', name: 'Tổ Hai' },
  { id: 'X19999', parentId: 'D1', level: 'commune', code: '19999', name: 'Xã Miền Núi' },
  { id: 'X19999-C1', parentId: 'X19999', level: 'cluster', code: 'C1', name: 'Bản Ba' },
  { id: 'D2', parentId: 'T01', level: 'district', code: '475', name: 'Huyện Hai' },
  { id: 'Y1', parentId: 'D2', level: 'commune', code: '20001', name: 'Xã Bình Minh' },
  { id: 'Y1-C1', parentId: 'Y1', level: 'cluster', code: 'C1', name: 'Thôn Bắc' },
] as const;
const USERS: [string, Role, string][] = [['opP', 'operator', 'T01'], ['op2', 'operator', 'T01'], ['opX', 'operator', 'X19753'], ['opD2', 'operator', 'D2'], ['viewer1', 'viewer', 'T01']];
const PLACES = { A: ['X19753-C1', null], B: ['X19753-C1', null], C: ['X19756-C1', [16.55, 107.64]], E: ['X19999-C1', [16.2, 107.3]], F: ['Y1-C1', null] } as const;
export type ReceiverName = keyof typeof PLACES;

export interface Receiver {
  name: ReceiverName;
  id: string;
  client: MqttClient;
  /** Payloads received on the device's own emergency topic, in order. */
  inbox: Buffer[];
  /** The zone chain of the device's signed manifest. */
  zones: string[];
}

export interface CapRig {
  t: TestController;
  as: Record<string, ApiClient>;
  dev: Record<ReceiverName, Receiver>;
  /** Checks an order as receiver `r` would (signature by the root's emergency role, lifetime, target, replay). */
  verify(r: Receiver, payload: Buffer, seen?: { nonces: Set<string>; seqs: Set<number> }): Promise<SignedEmergencyOrder>;
  received(r: Receiver, n: number): Promise<void>;
  close(): Promise<void>;
}

const FIX = join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'cap');
export const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

/** A CAP dateTime (with an explicit +07:00 offset, as CAP wants) for a time in ms. */
export function capTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + 7 * 3_600_000).toISOString().slice(0, 19)}+07:00`;
}

/** vn-storm.xml with another identifier, severity, urgency or expiry (ms; null drops it), or as a Cancel of `references`. */
export function storm(o: { identifier?: string; sender?: string; severity?: string; urgency?: string; expires?: number | null; cancels?: string[] } = {}): string {
  let x = fixture('vn-storm.xml');
  if (o.identifier) x = x.replace('<identifier>NCHMF-2026-BAO9-03</identifier>', `<identifier>${o.identifier}</identifier>`);
  if (o.sender) x = x.replace('<sender>canhbao@nchmf.gov.vn</sender>', `<sender>${o.sender}</sender>`);
  if (o.severity) x = x.replace('<severity>Extreme</severity>', `<severity>${o.severity}</severity>`);
  if (o.urgency) x = x.replace('<urgency>Immediate</urgency>', `<urgency>${o.urgency}</urgency>`);
  if (o.expires === null) x = x.replace(/\s*<expires>[^<]*<\/expires>/, '');
  else if (o.expires !== undefined) x = x.replace(/<expires>[^<]*<\/expires>/, `<expires>${capTime(o.expires)}</expires>`);
  if (o.cancels) x = x.replace('<msgType>Alert</msgType>', `<msgType>Cancel</msgType>\n  <references>${o.cancels.join(' ')}</references>`);
  return x;
}

/** POSTs raw CAP XML as `client`. */
export function postCap<T = Record<string, unknown>>(client: ApiClient, xml: string, contentType = 'application/cap+xml'): Promise<T> {
  return client.request<T>('POST', '/api/v1/cap', xml, { 'content-type': contentType });
}

/** The status and body of a raw CAP post (without throwing on 4xx). */
export async function postCapRaw(client: ApiClient, body: string, contentType = 'application/cap+xml'): Promise<{ status: number; body: { error?: { code: string; message: string }; action?: string } }> {
  const res = await fetch(new URL('/api/v1/cap', client.baseUrl), { method: 'POST', headers: { authorization: `Bearer ${client.token!}`, 'content-type': contentType }, body });
  return { status: res.status, body: await res.json() as { error?: { code: string; message: string } } };
}

/** Zones and users only (no receivers). */
export function seedZonesAndUsers(t: TestController): Promise<Record<string, ApiClient>> {
  return seedTree(t, ZONES, USERS, PASSWORD);
}

export async function startCapRig(overrides: Record<string, unknown> = {}): Promise<CapRig> {
  const t = await startTestController(overrides);
  const as = await seedZonesAndUsers(t);
  const d = t.controller.data;
  const dev = {} as CapRig['dev'];
  for (const [name, [zoneId, at]] of Object.entries(PLACES) as [ReceiverName, (typeof PLACES)[ReceiverName]][]) {
    const { device, deviceId } = await pairNewDevice(t, t.admin, zoneId, `Loa ${name}`);
    if (at) d.devices.update(deviceId, { lat: at[0], lon: at[1] }, Date.now());
    let zones: string[] = [];
    await eventually(async () => {
      const m = await device.manifest(deviceId);
      zones = (m.body as { signed?: { zones?: string[] } }).signed?.zones ?? [];
      return m.status === 200;
    }, 10_000, `the manifest of ${name}`);
    const c = await device.connect(deviceId);
    assert.equal(typeof c, 'object', `receiver ${name} connects`);
    const client = c as MqttClient;
    const r: Receiver = { name, id: deviceId, client, inbox: [], zones };
    client.on('message', (topic, payload) => {
      if (topic === topics.down(deviceId, 'emergency')) r.inbox.push(payload);
    });
    await client.subscribeAsync(topics.deviceFilter(deviceId), { qos: 1 });
    await client.publishAsync(topics.up(deviceId, 'status'), JSON.stringify({ online: true, at: Date.now() }), { qos: 1, retain: true });
    dev[name] = r;
  }
  let root: SignedRoot['signed'] | null = null;
  return {
    t, as, dev,
    async verify(r, payload, seen = { nonces: new Set(), seqs: new Set() }) {
      root ??= (await t.client().get<SignedRoot>('/api/v1/trust/root')).signed;
      const env = verifyEmergencyOrder(payload, { root, deviceId: r.id, zones: r.zones, now: Date.now(), seen: (n, s) => seen.nonces.has(n) || seen.seqs.has(s) });
      seen.nonces.add(env.signed.nonce);
      seen.seqs.add(env.signed.seq);
      return env;
    },
    received: (r, n) => eventually(() => r.inbox.length >= n, 5000, `${n} order(s) at receiver ${r.name}`),
    async close() {
      for (const r of Object.values(dev)) await r.client.endAsync(true);
      await t.close();
    },
  };
}
