import type { Readable } from 'node:stream';
import type { Aedes, AedesPublishPacket, PublishPacket } from 'aedes';
import { createLogger, type Logger } from '../../shared/log.js';
import { callHandler, type Bus, type MessageHandler, type PublishOptions, type Unsubscribe } from './bus.js';
import { isValidFilter } from './match.js';

type Deliver = (packet: AedesPublishPacket, cb: () => void) => void;

interface RetainedStore {
  createRetainedStream(pattern: string): Readable;
}

export interface AedesBusOptions {
  /** The embedded broker (or anything that hands out its aedes instance once started). */
  broker: { readonly aedes: Aedes };
  log?: Logger;
  /** Deliver matching retained messages when subscribing, as an MQTT subscription does. Default true. */
  deliverRetained?: boolean;
}

/**
 * The bus on the embedded broker, in-process: no TCP hop, no authentication round trip. Publishing bypasses the
 * device ACL (it is the controller speaking); subscriptions see every message the broker routes.
 */
export class AedesBus implements Bus {
  readonly kind = 'embedded' as const;
  private readonly subs = new Set<{ filter: string; deliver: Deliver }>();
  private stopped = false;

  constructor(private readonly options: AedesBusOptions) {}

  private get log(): Logger {
    return (this.options.log ??= createLogger('bus'));
  }

  start(): Promise<void> {
    void this.options.broker.aedes; // throws when the broker is not started
    this.stopped = false;
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.subs];
    this.subs.clear();
    await Promise.all(all.map((s) => this.removeSub(s)));
  }

  publish(topic: string, payload: Buffer | string, options: PublishOptions = {}): Promise<void> {
    const packet = {
      cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos: options.qos ?? 1, retain: options.retain ?? false, dup: false,
    } as PublishPacket;
    return new Promise((resolve, reject) => {
      this.options.broker.aedes.publish(packet, (err) => (err ? reject(err) : resolve()));
    });
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<Unsubscribe> {
    if (this.stopped) throw new Error('the bus is stopped');
    if (!isValidFilter(filter)) throw new Error(`invalid topic filter ${JSON.stringify(filter)}`);
    const aedes = this.options.broker.aedes;
    const onError = (e: unknown): void => this.log.error({ code: 'LOA_ERR_INTERNAL', filter, err: e instanceof Error ? e.message : String(e) }, 'bus handler failed');
    const deliver: Deliver = (packet, cb) => {
      // aedes routes its own $SYS messages through the same emitter; a `#` filter must not see them.
      if (!packet.topic.startsWith('$')) {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        callHandler(handler, packet.topic, payload, onError);
      }
      // Not cb() here: the emitter starts the next queued message inside cb, so a backlog (thousands of acks queued
      // behind deliveries to slow sockets) would recurse once per message until the stack overflows (soak, issue 10).
      process.nextTick(cb);
    };
    const sub = { filter, deliver };
    await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, () => resolve()));
    this.subs.add(sub);
    if (this.options.deliverRetained ?? true) {
      const store = (aedes as unknown as { persistence: RetainedStore }).persistence;
      for await (const p of store.createRetainedStream(filter) as AsyncIterable<{ topic: string; payload: Buffer | string }>) {
        if (p.topic.startsWith('$')) continue;
        callHandler(handler, p.topic, typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload, onError);
      }
    }
    return async () => {
      if (this.subs.delete(sub)) await this.removeSub(sub);
    };
  }

  private removeSub(sub: { filter: string; deliver: Deliver }): Promise<void> {
    let aedes: Aedes;
    try {
      aedes = this.options.broker.aedes;
    } catch {
      return Promise.resolve(); // broker already stopped
    }
    return new Promise<void>((resolve) => aedes.unsubscribe(sub.filter, sub.deliver, () => resolve()));
  }
}
