import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { TelemetryIngest, type TelemetryIngestOptions } from '../../../controller/telemetry/ingest.js';
import type { DeviceEvent, EventType } from '../../../shared/schemas/events.js';
import type { DeviceTelemetry } from '../../../shared/schemas/telemetry.js';
import { topics } from '../../../shared/topics.js';
import { counterValue, startFleet, type Fleet } from '../broker/fleet.js';

interface Rig {
  f: Fleet;
  ingest: TelemetryIngest;
  events: DeviceEvent[];
  /** Resolves once `check()` holds, tested after every flush (no sleeps). */
  until: (check: () => boolean, what: string) => Promise<void>;
}

async function withIngest(fn: (r: Rig) => Promise<void>, opts: Partial<TelemetryIngestOptions> = {}): Promise<void> {
  const f = await startFleet();
  const events: DeviceEvent[] = [];
  const ingest = new TelemetryIngest({ bus: f.bus, repo: f.repo, log: f.log, registry: f.registry, flushIntervalMs: 5, onEvent: (e) => events.push(e), ...opts });
  await ingest.start();
  const until = (check: () => boolean, what: string): Promise<void> => new Promise((resolve, reject) => {
    if (check()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting until ${what}`));
    }, 10_000);
    const off = ingest.onFlush(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
  try {
    await fn({ f, ingest, events, until });
  } finally {
    await ingest.stop();
    await f.close();
  }
}

const tele = (at: number, over: Partial<DeviceTelemetry> = {}): string => JSON.stringify({ at, manifestVersion: 2, stale: false, cpuLoad: 0.5, tempC: 48, ...over });
let seqBase = 0;
const ev = (deviceId: string, seq: number, type: EventType, at: number, data: Record<string, unknown>): DeviceEvent => ({ deviceId, seq, key: `${deviceId}:${seq}`, type, at, data });
const count = (f: Fleet, sql: string, ...args: unknown[]): number => (f.db.prepare(sql).pluck().get(...args) as number);
const publish = (c: MqttClient, deviceId: string, kind: 'status' | 'telemetry' | 'events', body: unknown, retain = false): Promise<unknown> =>
  c.publishAsync(topics.up(deviceId, kind), typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain });

test('telemetry, status and events from a device are stored and device_state follows them', () => withIngest(async ({ f, ingest, until }) => {
  const a = await f.connect('dev-a');
  await publish(a, 'dev-a', 'status', { online: true, at: 1000, manifestVersion: 1, agentVersion: '0.1.0' }, true);
  await publish(a, 'dev-a', 'telemetry', tele(2000, { stale: true }));
  await publish(a, 'dev-a', 'telemetry', tele(1500));
  await publish(a, 'dev-a', 'events', [ev('dev-a', 1, 'agent.start', 900, {}), ev('dev-a', 2, 'manifest.accepted', 950, { version: 5 })]);
  await until(() => ingest.counters.stored === 5, 'five items are stored');
  const [s] = f.repo.deviceStates(['dev-a']);
  assert.equal(s?.online, true);
  assert.equal(s?.statusAt, 1000);
  assert.equal(s?.appliedVersion, 5, 'manifest.accepted raised the applied version');
  assert.equal(s?.stale, true, 'the newest telemetry by device time wins, whatever the arrival order');
  assert.equal(s?.telemetryAt, 2000);
  assert.ok(s?.lastSeen && s.lastSeen > Date.now() - 60_000);
  assert.equal(count(f, 'SELECT count(*) FROM telemetry WHERE device_id = ?', 'dev-a'), 2);
  assert.equal(f.repo.latestTelemetry('dev-a')?.at, 2000);
  assert.deepEqual(f.repo.telemetrySeries('dev-a', 0, 10_000).map((t) => t.at), [1500, 2000]);
  assert.deepEqual(f.repo.eventsOf('dev-a').map((e) => e.type), ['manifest.accepted', 'agent.start']);
  const [never] = f.repo.deviceStates(['dev-b']);
  assert.deepEqual([never?.online, never?.lastSeen, never?.appliedVersion], [false, null, 0], 'a device never heard from has defaults');
}));

test('an event resent with the same seq is stored once, and onEvent fires once', () => withIngest(async ({ f, ingest, events, until }) => {
  const a = await f.connect('dev-a');
  const e = ev('dev-a', 7, 'manifest.accepted', 1000, { version: 2 });
  await publish(a, 'dev-a', 'events', e);
  await until(() => ingest.counters.stored === 1, 'the event is stored');
  await publish(a, 'dev-a', 'events', e);
  await publish(a, 'dev-a', 'events', [e, { ...e, data: { version: 99 } }]);
  await until(() => ingest.counters.duplicates === 3, 'the resends are seen');
  assert.equal(count(f, 'SELECT count(*) FROM device_events'), 1);
  assert.deepEqual(f.repo.eventsOf('dev-a')[0]?.data, { version: 2 }, 'the first write wins');
  assert.deepEqual(events.map((x) => x.seq), [7]);
  assert.equal(f.repo.deviceStates(['dev-a'])[0]?.appliedVersion, 2);
  assert.equal(await counterValue(f.registry, 'loa_ingest_items_total', { result: 'duplicate' }), 3);
}));

/** The agent's play events for three occurrences, in seq order (see agent/scheduler/plays.ts). */
function playStory(deviceId: string): DeviceEvent[] {
  seqBase += 100;
  const s = seqBase;
  const o1 = 'morning-news@2026-01-05T23:00:00.000Z';
  const o2 = 'music@2026-01-06T00:00:00.000Z';
  const o3 = 'notice@2026-01-06T01:00:00.000Z';
  const t1 = Date.parse('2026-01-05T23:00:00.000Z');
  const t2 = Date.parse('2026-01-06T00:00:00.000Z');
  return [
    ev(deviceId, s + 1, 'play.start', t1 + 10, { occurrence: o1, entryId: 'morning-news', programId: 'p-news', scheduledAt: t1, attempt: 1, offsetMs: 0, lateMs: 10, volume: 80, priority: 'normal' }),
    ev(deviceId, s + 2, 'play.end', t1 + 60_000, { occurrence: o1, entryId: 'morning-news', attempt: 1, status: 'preempted', playedMs: 59_990 }),
    ev(deviceId, s + 3, 'play.start', t1 + 120_000, { occurrence: o1, entryId: 'morning-news', programId: 'p-news', scheduledAt: t1, attempt: 2, offsetMs: 59_990, lateMs: 0, volume: 80, priority: 'normal' }),
    ev(deviceId, s + 4, 'play.end', t1 + 300_000, { occurrence: o1, entryId: 'morning-news', attempt: 2, status: 'completed', playedMs: 180_000 }),
    ev(deviceId, s + 5, 'play.start', t2 + 5, { occurrence: o2, entryId: 'music', programId: 'p-music', scheduledAt: t2, attempt: 1, offsetMs: 0, lateMs: 5, volume: 60, priority: 'normal' }),
    ev(deviceId, s + 6, 'play.end', t2 + 1000, { occurrence: o2, entryId: 'music', attempt: 1, status: 'preempted', playedMs: 995 }),
    ev(deviceId, s + 7, 'play.skip', t2 + 1000, { occurrence: o2, entryId: 'music', reason: 'after_preempted' }),
    ev(deviceId, s + 8, 'play.skip', t2 + 3_600_000, { occurrence: o3, entryId: 'notice', scheduledAt: t2 + 3_600_000, reason: 'overlap' }),
  ];
}

test('play events fold into one row per occurrence with the right final state, in order or not', () => withIngest(async ({ f, ingest, until }) => {
  const a = await f.connect('dev-a');
  const c = await f.connect('dev-c');
  const inOrder = playStory('dev-a');
  const story = playStory('dev-c');
  const shuffled = [story[3]!, story[6]!, story[1]!, story[7]!, story[2]!, story[4]!, story[0]!, story[5]!];
  for (const e of inOrder) await publish(a, 'dev-a', 'events', e);
  for (const e of shuffled) await publish(c, 'dev-c', 'events', e);
  await until(() => ingest.counters.stored === 16, 'all play events are stored');
  const strip = (p: ReturnType<typeof f.repo.playsBetween>[number]): unknown => ({ ...p, deviceId: undefined, updatedAt: undefined });
  const rowsA = f.repo.playsBetween(['dev-a'], 0, Date.parse('2027-01-01'));
  const rowsC = f.repo.playsBetween(['dev-c'], 0, Date.parse('2027-01-01'));
  assert.deepEqual(rowsC.map(strip), rowsA.map(strip), 'arrival order does not matter');
  const [news, music, notice] = rowsC;
  const t1 = Date.parse('2026-01-05T23:00:00.000Z');
  assert.deepEqual({ ...news, updatedAt: 0 }, {
    deviceId: 'dev-c', occurrence: 'morning-news@2026-01-05T23:00:00.000Z', entryId: 'morning-news', programId: 'p-news', scheduledAt: t1,
    startedAt: t1 + 10, endedAt: t1 + 300_000, status: 'completed', attempts: 2, playedMs: 239_990, reason: null, updatedAt: 0,
  });
  assert.deepEqual([music?.status, music?.reason, music?.startedAt, music?.playedMs], ['skipped', 'after_preempted', Date.parse('2026-01-06T00:00:00.005Z'), 995]);
  assert.deepEqual([notice?.status, notice?.reason, notice?.startedAt, notice?.scheduledAt], ['skipped', 'overlap', null, Date.parse('2026-01-06T01:00:00.000Z')]);
}));

test('a play that has started and not ended is playing, and a later start after an end reopens it', () => withIngest(async ({ f, ingest, until }) => {
  const a = await f.connect('dev-a');
  const [s1, e1, s2] = playStory('dev-a');
  await publish(a, 'dev-a', 'events', [s1, e1]);
  await until(() => ingest.counters.stored === 2, 'two events are stored');
  assert.equal(f.repo.playHistory('dev-a', 0, Date.parse('2027-01-01')).items[0]?.status, 'preempted');
  await publish(a, 'dev-a', 'events', s2);
  await until(() => ingest.counters.stored === 3, 'the resumed start is stored');
  const [p] = f.repo.playHistory('dev-a', 0, Date.parse('2027-01-01')).items;
  assert.deepEqual([p?.status, p?.endedAt, p?.attempts], ['playing', null, 2]);
}));

test('the last will marks a device offline when its socket is destroyed', () => withIngest(async ({ f, until }) => {
  const will = { topic: topics.up('dev-a', 'status'), payload: Buffer.from(JSON.stringify({ online: false, at: 5 })), qos: 1 as const, retain: true };
  const a = await f.connect('dev-a', { will });
  await publish(a, 'dev-a', 'status', { online: true, at: 6, manifestVersion: 3 }, true);
  const state = (): boolean | undefined => f.repo.deviceStates(['dev-a'])[0]?.online;
  await until(() => state() === true, 'dev-a is online');
  a.stream.destroy();
  await until(() => state() === false, 'the will marks dev-a offline');
  assert.equal(f.repo.deviceStates(['dev-a'])[0]?.appliedVersion, 3);
}));

test('malformed JSON, schema violations and an event for another device are counted and logged, store nothing, and stop nothing', () => withIngest(async ({ f, ingest, until }) => {
  const a = await f.connect('dev-a');
  await publish(a, 'dev-a', 'telemetry', '{"at": 1, "manifestVersion": ');
  await publish(a, 'dev-a', 'telemetry', tele(1, { tempC: 900 }));
  await publish(a, 'dev-a', 'telemetry', JSON.stringify({ at: 1, manifestVersion: 1, stale: false, extra: 'x' }));
  await publish(a, 'dev-a', 'status', { online: 'yes', at: 1 });
  await publish(a, 'dev-a', 'events', ev('dev-b', 1, 'agent.start', 1, {}));
  await publish(a, 'dev-a', 'events', { ...ev('dev-a', 2, 'agent.start', 1, {}), type: 'made.up' });
  await publish(a, 'dev-a', 'events', [ev('dev-a', 3, 'agent.start', 1, {}), ev('dev-b', 4, 'agent.start', 1, {}), 'junk']);
  await publish(a, 'dev-a', 'events', Array.from({ length: 1001 }, (_, i) => ev('dev-a', 10 + i, 'agent.start', 1, {})));
  await publish(a, 'dev-a', 'status', '');
  // The marker follows the same path: once it is stored, everything before it has been handled.
  await publish(a, 'dev-a', 'telemetry', tele(42));
  await until(() => f.repo.latestTelemetry('dev-a')?.at === 42, 'the marker is stored');
  assert.deepEqual(ingest.counters, { ...ingest.counters, malformed: 7, mismatched: 2, stored: 2, unknownDevice: 0 });
  assert.equal(count(f, 'SELECT count(*) FROM telemetry'), 1);
  assert.deepEqual(f.repo.eventsOf('dev-a').map((e) => e.seq), [3], 'only the valid event of the mixed batch');
  assert.equal(count(f, "SELECT count(*) FROM device_events WHERE device_id = 'dev-b'"), 0);
  assert.equal(f.repo.deviceStates(['dev-a'])[0]?.online, false, 'the bad status changed nothing');
  const warned = f.logs.filter((l) => l.code === 'LOA_ERR_MQTT_PAYLOAD');
  assert.equal(warned.length, 9);
  assert.ok(warned.every((l) => l.level === 40 && l.deviceId === 'dev-a'));
  assert.equal(await counterValue(f.registry, 'loa_ingest_items_total', { result: 'mismatched' }), 2);
}));

test('messages for a device missing from the devices table are dropped and counted', () => withIngest(async ({ f, ingest, until }) => {
  await f.bus.publish(topics.up('ghost-1', 'telemetry'), tele(1));
  await f.bus.publish(topics.up('ghost-1', 'events'), JSON.stringify(ev('ghost-1', 1, 'agent.start', 1, {})));
  await f.bus.publish(topics.up('dev-b', 'telemetry'), tele(2));
  await until(() => ingest.counters.stored === 1, 'the known device is stored');
  assert.equal(ingest.counters.unknownDevice, 2);
  assert.equal(count(f, "SELECT count(*) FROM telemetry WHERE device_id = 'ghost-1'"), 0);
  assert.equal(count(f, "SELECT count(*) FROM device_state WHERE device_id = 'ghost-1'"), 0);
  assert.equal(await counterValue(f.registry, 'loa_ingest_items_total', { result: 'unknown_device' }), 2);
}));

test('writes are batched: many messages land in few transactions, and stop() writes what is still queued', () => withIngest(async ({ f, ingest }) => {
  const flushes: number[] = [];
  ingest.onFlush((s) => flushes.push(s.items));
  const a = await f.connect('dev-a');
  const seen = new Promise<void>((resolve) => {
    let n = 0;
    void f.bus.subscribe(topics.up('dev-a', 'telemetry'), () => {
      if (++n === 300) resolve();
    });
  });
  await Promise.all(Array.from({ length: 300 }, (_, i) => publish(a, 'dev-a', 'telemetry', tele(i))));
  await seen;
  // Full batches are written at once; the rest waits for the (long) interval.
  assert.ok(flushes.every((n) => n === 120), `flushes ${flushes.join(', ')}`);
  assert.equal(count(f, 'SELECT count(*) FROM telemetry'), 120 * flushes.length);
  assert.equal(ingest.pending, 300 - 120 * flushes.length);
  assert.ok(ingest.pending > 0);
  await ingest.stop();
  assert.equal(count(f, 'SELECT count(*) FROM telemetry'), 300);
  assert.equal(flushes.length, 3, `300 messages in ${flushes.join(' + ')}`);
}, { flushIntervalMs: 60_000, batchSize: 120 }));
