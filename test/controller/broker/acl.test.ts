import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canForward, canPublish, canSubscribe, isDeviceId, upTopicsOf } from '../../../controller/broker/acl.js';
import { FrameGuard } from '../../../controller/broker/frame-guard.js';
import { isValidFilter, topicMatches } from '../../../controller/broker/match.js';
import { DOWN_KINDS, UP_KINDS, topics } from '../../../shared/topics.js';

const ME = 'dev-a';
const ZONES = ['p1', 'c1', 'k1'];
const reason = (d: { allowed: boolean; reason?: string }): string => (d.allowed ? 'allowed' : d.reason!);

test('a device may subscribe to its own notify, cmd and emergency topics, and to + or # under its own id', () => {
  for (const k of DOWN_KINDS) assert.equal(reason(canSubscribe(ME, topics.down(ME, k), ZONES)), 'allowed', k);
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}/+`, ZONES)), 'allowed');
  assert.equal(reason(canSubscribe(ME, topics.deviceFilter(ME), ZONES)), 'allowed');
});

test('a device may subscribe to the down topics of every zone in its chain, and of no other zone', () => {
  for (const z of ZONES) {
    for (const k of DOWN_KINDS) assert.equal(reason(canSubscribe(ME, topics.zone(z, k), ZONES)), 'allowed', `${z}/${k}`);
    assert.equal(reason(canSubscribe(ME, `loa/v1/zone/${z}/#`, ZONES)), 'allowed');
    assert.equal(reason(canSubscribe(ME, `loa/v1/zone/${z}/+`, ZONES)), 'allowed');
  }
  for (const f of ['loa/v1/zone/k2/notify', 'loa/v1/zone/+/notify', 'loa/v1/zone/#', 'loa/v1/zone/+/#', 'loa/v1/zone/K1/notify']) {
    assert.equal(reason(canSubscribe(ME, f, ZONES)), f === 'loa/v1/zone/#' ? 'not_a_device_topic' : 'other_zone', f);
  }
  assert.equal(reason(canSubscribe(ME, 'loa/v1/zone/k1/notify', [])), 'other_zone', 'no zones known: no zone topics');
});

test('a device may not subscribe to #, to wildcards across devices, to $SYS or shared subscriptions, or to other devices', () => {
  const cases: [string, string][] = [
    ['#', 'not_a_device_topic'],
    ['+', 'not_a_device_topic'],
    ['+/#', 'not_a_device_topic'],
    ['+/v1/dev/dev-a/notify', 'not_a_device_topic'],
    ['loa/#', 'not_a_device_topic'],
    ['loa/v1/#', 'not_a_device_topic'],
    ['loa/v1/+/dev-a/notify', 'not_a_device_topic'],
    ['loa/v1/dev/#', 'other_device'],
    ['loa/v1/dev/+/notify', 'other_device'],
    ['loa/v1/dev/+/#', 'other_device'],
    ['loa/v1/dev/+/up/#', 'other_device'],
    ['loa/v1/dev/dev-b/notify', 'other_device'],
    ['loa/v1/dev/dev-b/#', 'other_device'],
    ['loa/v1/dev/dev-b/up/status', 'other_device'],
    ['loa/v1/dev/dev-a-x/notify', 'other_device'],
    ['loa/v1/dev/dev-/notify', 'other_device'],
    ['$SYS/#', 'reserved'],
    ['$SYS/broker/clients', 'reserved'],
    ['$share/g/loa/v1/dev/dev-a/notify', 'reserved'],
    ['loa/v2/dev/dev-a/notify', 'not_a_device_topic'],
    ['LOA/v1/dev/dev-a/notify', 'not_a_device_topic'],
    ['other/topic', 'not_a_device_topic'],
    ['', 'invalid_filter'],
    ['loa/v1/dev/dev-a/no#tify', 'invalid_filter'],
    ['loa/v1/dev/dev-a/#/x', 'invalid_filter'],
    ['loa/v1/dev/dev-a+/notify', 'invalid_filter'],
    [`loa/v1/dev/dev-a/${'x'.repeat(600)}`, 'invalid_filter'],
  ];
  for (const [f, want] of cases) assert.equal(reason(canSubscribe(ME, f, ZONES)), want, f);
});

test('a device may not subscribe to its own up topics or to unknown kinds under its id', () => {
  for (const k of UP_KINDS) assert.equal(reason(canSubscribe(ME, topics.up(ME, k), ZONES)), 'up_topic', k);
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}/up/#`, ZONES)), 'up_topic');
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}/up`, ZONES)), 'up_topic');
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}/secrets`, ZONES)), 'not_a_device_topic');
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}`, ZONES)), 'not_a_device_topic');
  assert.equal(reason(canSubscribe(ME, `loa/v1/dev/${ME}/notify/x`, ZONES)), 'not_a_device_topic');
});

test('a device may publish only on its own status, telemetry and events topics, retained only on status', () => {
  for (const k of UP_KINDS) {
    assert.equal(reason(canPublish(ME, topics.up(ME, k), false)), 'allowed', k);
    assert.equal(reason(canPublish(ME, topics.up(ME, k), true)), k === 'status' ? 'allowed' : 'retain', `${k} retained`);
    assert.equal(reason(canPublish(ME, topics.up('dev-b', k), false)), 'other_device', `dev-b ${k}`);
  }
  assert.deepEqual(upTopicsOf(ME), UP_KINDS.map((k) => topics.up(ME, k)));
});

test('a device may not publish on down topics, zone topics, $SYS, unknown up kinds or anything else', () => {
  const cases: [string, string][] = [
    [topics.down(ME, 'notify'), 'not_a_device_topic'],
    [topics.down(ME, 'cmd'), 'not_a_device_topic'],
    [topics.down(ME, 'emergency'), 'not_a_device_topic'],
    [topics.down('dev-b', 'notify'), 'other_device'],
    [topics.zone('k1', 'emergency'), 'not_a_device_topic'],
    [`loa/v1/dev/${ME}/up/other`, 'not_a_device_topic'],
    [`loa/v1/dev/${ME}/up/status/x`, 'not_a_device_topic'],
    [`loa/v1/dev/${ME}/up`, 'not_a_device_topic'],
    ['$SYS/broker/x', 'reserved'],
    ['loa/v1/dev/dev-b/up/status', 'other_device'],
    ['anything', 'not_a_device_topic'],
    [`loa/v1/dev/${ME}/up/${'x'.repeat(600)}`, 'invalid_filter'],
  ];
  for (const [t, want] of cases) assert.equal(reason(canPublish(ME, t, false)), want, t);
});

test('a payload above the limit is refused even on an allowed topic', () => {
  assert.equal(reason(canPublish(ME, topics.up(ME, 'telemetry'), false, 1025, 1024)), 'too_large');
  assert.equal(reason(canPublish(ME, topics.up(ME, 'telemetry'), false, 1024, 1024)), 'allowed');
});

test('an invalid device id gets nothing at all', () => {
  for (const bad of ['', '+', '#', 'a/b', '-x', 'x'.repeat(129), '$SYS']) {
    assert.equal(isDeviceId(bad), false, bad);
    assert.equal(reason(canSubscribe(bad, `loa/v1/dev/${bad}/notify`, ZONES)), 'invalid_id', bad);
    assert.equal(reason(canPublish(bad, `loa/v1/dev/${bad}/up/status`, false)), 'invalid_id', bad);
  }
});

test('only a device\'s own down topics and zone down topics are forwarded to it, never up topics', () => {
  for (const k of DOWN_KINDS) {
    assert.equal(canForward(ME, topics.down(ME, k)), true);
    assert.equal(canForward(ME, topics.down('dev-b', k)), false);
    assert.equal(canForward(ME, topics.zone('k1', k)), true);
  }
  for (const k of UP_KINDS) assert.equal(canForward(ME, topics.up(ME, k)), false);
  for (const t of ['$SYS/x/heartbeat', 'loa/v1/other/x/notify', 'x', `loa/v1/dev/${ME}/other`]) assert.equal(canForward(ME, t), false, t);
});

test('topic filters match as MQTT says: + one level, # the rest including the parent, $ topics not by wildcards', () => {
  const cases: [string, string, boolean][] = [
    ['loa/v1/dev/+/up/#', 'loa/v1/dev/a/up/status', true],
    ['loa/v1/dev/+/up/#', 'loa/v1/dev/a/up', true],
    ['loa/v1/dev/+/up/#', 'loa/v1/dev/a/notify', false],
    ['loa/v1/dev/+/up/#', 'loa/v1/dev/a/b/up/x', false],
    ['#', 'a/b', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a/', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
  ];
  for (const [f, t, want] of cases) assert.equal(topicMatches(f, t), want, `${f} ~ ${t}`);
  for (const f of ['#', 'a/#', '+/+', 'a/+/b']) assert.equal(isValidFilter(f), true, f);
  for (const f of ['', 'a/#/b', 'a#', 'a/b+', '\u0000']) assert.equal(isValidFilter(f), false, JSON.stringify(f));
});

test('the frame guard follows MQTT packet lengths across chunks and stops a packet above the limit at its header', () => {
  const g = new FrameGuard(200);
  // PINGREQ (2 bytes), then a PUBLISH with 150 bytes of body (length varint 0x96 0x01) split over three chunks,
  // then a DISCONNECT.
  const publish = Buffer.concat([Buffer.from([0x30, 0x96, 0x01]), Buffer.alloc(150, 1)]);
  assert.equal(g.feed(Buffer.from([0xc0, 0x00])), null);
  assert.equal(g.feed(publish.subarray(0, 1)), null);
  assert.equal(g.feed(publish.subarray(1, 70)), null);
  assert.equal(g.feed(Buffer.concat([publish.subarray(70), Buffer.from([0xe0, 0x00])])), null);
  // A header announcing 268,435,455 bytes is refused on its first length byte above the limit.
  assert.match(g.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))!, /exceeds the limit of 200/);
  assert.match(new FrameGuard(1e9).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))!, /malformed/);
});
