import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import { Waker } from './backoff.js';
import type { MqttLink } from './mqtt-link.js';

/** A durable queue that is drained to one MQTT topic. */
export interface DrainSource<T> {
  readonly name: string;
  topic: string;
  /** The oldest unsent items, in order. */
  next(limit: number): T[];
  payload(item: T): string;
  /** Called once per item, after its PUBACK. */
  ack(item: T): void;
}

export interface QueueDrainOptions<T> {
  link: MqttLink;
  source: DrainSource<T>;
  clock: Clock;
  log: Logger;
  /** Items in flight at once (default 20). */
  window?: number;
  /** How often to look for new items while connected, besides kicks (default 1 s). */
  pollMs?: number;
}

/**
 * Drains a durable queue to MQTT while connected (DESIGN §3): QoS1, in order, a window of items in flight;
 * an item is acknowledged in its queue only after its PUBACK. When the connection drops first, the item
 * stays queued and is sent again after the reconnect; receivers deduplicate, so a resend is harmless.
 */
export class QueueDrain<T> {
  private readonly waker = new Waker();
  private sent = 0;

  constructor(private readonly o: QueueDrainOptions<T>) {}

  /** Look for new items now. */
  kick(): void {
    this.waker.kick();
  }

  /** Items acknowledged since start. */
  get acked(): number {
    return this.sent;
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

  private readonly onUp = (): void => this.kick();

  /**
   * Publishes one window. True when it was full and all went through (so there may be more right away).
   * An abort stops the wait for PUBACKs (a stalled broker must not hold up a shutdown); an item whose PUBACK
   * has not come before the link closes stays queued.
   */
  async drainOnce(signal: AbortSignal): Promise<boolean> {
    const { link, source, log } = this.o;
    const limit = this.o.window ?? 20;
    const items = source.next(limit);
    if (!items.length) return false;
    const all = Promise.allSettled(items.map(async (item) => {
      await link.publish(source.topic, source.payload(item));
      source.ack(item);
      this.sent++;
    }));
    const results = await untilAborted(all, signal);
    if (!results) return false;
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      log.debug({ queue: source.name, failed: failed.length, of: items.length }, 'publishes not acknowledged; they stay queued');
      return false;
    }
    return items.length === limit;
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
