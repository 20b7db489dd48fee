import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { EventsAck } from '../../shared/schemas/telemetry.js';
import { topics } from '../../shared/topics.js';
import { checker } from '../../shared/validate.js';
import type { Outbox } from '../store/outbox.js';
import { Waker } from './backoff.js';
import { parseJsonPayload } from './down-messages.js';
import type { MqttLink } from './mqtt-link.js';

const ackChecker = checker(EventsAck, 'LOA_ERR_MQTT_PAYLOAD');

export interface EventDrainOptions {
  link: MqttLink;
  outbox: Outbox;
  deviceId: string;
  clock: Clock;
  log: Logger;
  /** Events published and not yet acknowledged by the controller, at most (default 100). */
  window?: number;
  /** How often to look for new events while connected, besides kicks (default 1 s). */
  pollMs?: number;
  /** Unacknowledged this long after publishing, the events are published again from the oldest (default 10 s). */
  ackTimeoutMs?: number;
}

/** Parses an `…/dev/{id}/ack` payload. Throws LOA_ERR_MQTT_PAYLOAD. */
export function parseEventsAck(payload: Buffer): EventsAck {
  try {
    return ackChecker.parse(parseJsonPayload(payload, 'events ack'), 'events ack');
  } catch (e) {
    if (e instanceof LoaError) throw e;
    throw new LoaError('LOA_ERR_MQTT_PAYLOAD', `events ack is invalid: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Drains the durable outbox to `…/up/events` (DESIGN §3/§4, issue 10): QoS1, in seq order, up to `window`
 * events awaiting the controller's acknowledgement. A PUBACK only means the event left the device (a broker
 * killed before handing it on loses it), so an event stays pending in the outbox until the controller's
 * end-to-end ack (`…/dev/{id}/ack`, sent after its database committed the event) covers it. On every
 * reconnect, and when the oldest event waited `ackTimeoutMs`, every unacknowledged event is published again
 * from the oldest, in order; the controller stores (deviceId, seq) once and acknowledges resends too. Each
 * event names its predecessor (`after`) while that one is unacknowledged: a controller that lost it (killed
 * with it in its ingest queue) does not store the later one first, so the device's seq order is kept.
 */
export class EventDrain {
  private readonly waker = new Waker();
  /** seq → monotonic ms it was last published, in seq order. */
  private readonly awaiting = new Map<number, number>();
  /** The highest seq published since the last restart of the stream. */
  private highest = 0;
  private confirmed = 0;

  constructor(private readonly o: EventDrainOptions) {}

  /** Events acknowledged by the controller since start. */
  get acked(): number {
    return this.confirmed;
  }

  kick(): void {
    this.waker.kick();
  }

  /** Handles the controller's ack (a message on `…/dev/{id}/ack`). Throws LOA_ERR_MQTT_PAYLOAD on a bad one. */
  onAck(payload: Buffer): void {
    const ack = parseEventsAck(payload);
    this.confirmed += this.o.outbox.markSentRanges(ack.ranges, this.o.clock.now());
    for (const seq of [...this.awaiting.keys()]) {
      if (ack.ranges.some(([a, b]) => seq >= a && seq <= b)) this.awaiting.delete(seq);
    }
    this.kick();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { link, clock } = this.o;
    link.on('up', this.onUp);
    try {
      while (!signal.aborted) {
        if (!link.connected) {
          if (!(await link.waitUp(signal))) break;
        }
        const more = await this.drainOnce(signal);
        if (!more) await this.waker.wait(clock, this.o.pollMs ?? 1000, signal);
      }
    } finally {
      link.off('up', this.onUp);
    }
  }

  private readonly onUp = (): void => {
    this.restart('reconnected');
    this.kick();
  };

  /** Forgets what was published: the next round publishes every unacknowledged event again, oldest first. */
  private restart(why: string): void {
    if (this.awaiting.size) this.o.log.debug({ unacked: this.awaiting.size, why }, 'publishing unacknowledged events again');
    this.awaiting.clear();
    this.highest = 0;
  }

  /** Publishes what the window allows. True when it filled the window and all went through. */
  async drainOnce(signal: AbortSignal): Promise<boolean> {
    const { link, outbox, clock } = this.o;
    const oldest = this.awaiting.values().next();
    if (!oldest.done && clock.monotonic() - oldest.value >= (this.o.ackTimeoutMs ?? 10_000)) this.restart('ack timeout');
    const room = (this.o.window ?? 100) - this.awaiting.size;
    if (room <= 0) return false;
    const items = outbox.pending(room, this.highest);
    if (!items.length) return false;
    const topic = topics.up(this.o.deviceId, 'events');
    const now = clock.monotonic();
    const all = Promise.allSettled(items.map((e) => {
      this.awaiting.set(e.seq, now);
      this.highest = Math.max(this.highest, e.seq);
      // While its predecessor is unacknowledged, the controller must store that one first (a crash may have lost it).
      const after = outbox.unackedBefore(e.seq);
      return link.publish(topic, JSON.stringify(after === null ? e : { ...e, after }));
    }));
    const results = await untilAborted(all, signal);
    if (!results) return false;
    if (results.some((r) => r.status === 'rejected')) {
      // The connection went: the reconnect publishes them again.
      this.restart('publish failed');
      return false;
    }
    return items.length === room;
  }
}

/** `p`'s value, or null as soon as `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
