import type { DeviceEvent } from '../../shared/schemas/events.js';
import { topics } from '../../shared/topics.js';
import type { Outbox } from '../store/outbox.js';
import type { DrainSource } from './queue-drain.js';

/**
 * The durable outbox as a drain source (DESIGN §3/§4): each pending event is published as one DeviceEvent on
 * `…/up/events`, in sequence order, and marked sent only after its PUBACK. The controller stores
 * (deviceId, seq) once, so an event resent after a lost PUBACK is not counted twice.
 */
export function outboxSource(o: { outbox: Outbox; deviceId: string; now: () => number }): DrainSource<DeviceEvent> {
  return {
    name: 'events',
    topic: topics.up(o.deviceId, 'events'),
    next: (limit) => o.outbox.pending(limit),
    payload: (e) => JSON.stringify(e),
    ack: (e) => o.outbox.markSent([e.seq], o.now()),
  };
}
