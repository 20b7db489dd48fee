import { DOWN_KINDS, TOPIC_ROOT, UP_KINDS, parseUpTopic } from '../../shared/topics.js';
import { isValidFilter } from './match.js';

/**
 * The broker's topic ACL for devices (DESIGN §2), as pure functions. Everything not allowed here is refused:
 *
 * - subscribe: `loa/v1/dev/{own}/{notify|cmd|emergency|ack|+|#}` and `loa/v1/zone/{z}/{notify|cmd|emergency|+|#}`
 *   for the zones of the device's chain. Never `#`, `+/…`, `$SYS/…`, `$share/…`, another device, or any other
 *   shape. `…/dev/{own}/#` also matches the device's own `up/` topics; those are never forwarded to it.
 * - publish (and the last will): `loa/v1/dev/{own}/up/{status|telemetry|events}`; retained only on `status`.
 * - forward: a device receives only `…/dev/{own}/{down kind|ack}` and `…/zone/{z}/{down kind}` (its subscriptions
 *   decide which zones).
 */

export type AclDecision = { allowed: true } | { allowed: false; reason: AclReason };

/** Short, bounded reasons: they label a metric and go to logs. */
export type AclReason = 'invalid_id' | 'invalid_filter' | 'reserved' | 'other_device' | 'other_zone' | 'not_a_device_topic' | 'up_topic' | 'retain' | 'too_large';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const ROOT = TOPIC_ROOT.split('/');
const DOWN_LAST: ReadonlySet<string> = new Set<string>([...DOWN_KINDS, '+', '#']);
const DOWN: ReadonlySet<string> = new Set<string>(DOWN_KINDS);
/** `…/dev/{own}/ack`: the controller's end-to-end acknowledgement of the device's events (issue 10). */
const ACK = 'ack';
/** A topic or filter longer than this is refused outright. */
export const MAX_TOPIC_LENGTH = 512;

const ALLOW: AclDecision = Object.freeze({ allowed: true });
const deny = (reason: AclReason): AclDecision => ({ allowed: false, reason });

/** True for a device id the broker accepts (the shared `Id` pattern); wildcards and `/` can never be in one. */
export function isDeviceId(id: string | undefined | null): id is string {
  return typeof id === 'string' && ID.test(id);
}

/** Splits `loa/v1/{scope}/{id}/{last}` (exactly five levels); null for any other shape. */
function splitScoped(s: string): { scope: string; id: string; last: string } | null {
  const l = s.split('/');
  if (l.length !== 5 || l[0] !== ROOT[0] || l[1] !== ROOT[1]) return null;
  return { scope: l[2]!, id: l[3]!, last: l[4]! };
}

/** May device `deviceId`, whose zone chain is `zones`, subscribe to `filter`? */
export function canSubscribe(deviceId: string, filter: string, zones: readonly string[]): AclDecision {
  if (!isDeviceId(deviceId)) return deny('invalid_id');
  if (filter.length > MAX_TOPIC_LENGTH || !isValidFilter(filter)) return deny('invalid_filter');
  if (filter.startsWith('$')) return deny('reserved');
  const p = splitScoped(filter);
  if (!p) {
    const l = filter.split('/');
    if (l[0] !== ROOT[0] || l[1] !== ROOT[1] || l[2] !== 'dev' || l[3] === undefined) return deny('not_a_device_topic');
    if (l[3] !== deviceId) return deny('other_device');
    return deny(l[4] === 'up' ? 'up_topic' : 'not_a_device_topic');
  }
  if (p.scope === 'dev') {
    if (p.id !== deviceId) return deny('other_device');
    return DOWN_LAST.has(p.last) || p.last === ACK ? ALLOW : deny(p.last === 'up' ? 'up_topic' : 'not_a_device_topic');
  }
  if (p.scope === 'zone') {
    if (p.id === '+' || p.id === '#' || !isDeviceId(p.id) || !zones.includes(p.id)) return deny('other_zone');
    return DOWN_LAST.has(p.last) ? ALLOW : deny('not_a_device_topic');
  }
  return deny('not_a_device_topic');
}

/**
 * May device `deviceId` publish on `topic` (with `retain`)? The same rule applies to its last will. `payloadBytes`
 * above `maxPayloadBytes` is refused.
 */
export function canPublish(deviceId: string, topic: string, retain: boolean, payloadBytes = 0, maxPayloadBytes = Number.POSITIVE_INFINITY): AclDecision {
  if (!isDeviceId(deviceId)) return deny('invalid_id');
  if (topic.length > MAX_TOPIC_LENGTH) return deny('invalid_filter');
  if (topic.startsWith('$')) return deny('reserved');
  const up = parseUpTopic(topic);
  if (!up) {
    const p = splitScoped(topic);
    return deny(p && p.scope === 'dev' && p.id !== deviceId ? 'other_device' : 'not_a_device_topic');
  }
  if (up.deviceId !== deviceId) return deny('other_device');
  if (retain && up.kind !== 'status') return deny('retain');
  if (payloadBytes > maxPayloadBytes) return deny('too_large');
  return ALLOW;
}

/**
 * May a message on `topic` be delivered to device `deviceId`? Subscriptions were checked already; this is the
 * second line: never another device's topics, never `up/` topics (which `…/dev/{own}/#` would match).
 */
export function canForward(deviceId: string, topic: string): boolean {
  const p = splitScoped(topic);
  if (p?.scope === 'dev' && p.last === ACK) return p.id === deviceId;
  if (!p || !DOWN.has(p.last)) return false;
  if (p.scope === 'dev') return p.id === deviceId;
  return p.scope === 'zone';
}

/** Every up topic of a device: what the broker lets it publish (exposed for tests and documentation). */
export const upTopicsOf = (deviceId: string): string[] => UP_KINDS.map((k) => `${TOPIC_ROOT}/dev/${deviceId}/up/${k}`);
