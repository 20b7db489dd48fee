import { redactUrl } from '../../shared/redact-url.js';
import { hostname } from 'node:os';
import mqtt, { type MqttClient } from 'mqtt';
import { LoaError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { callHandler, type Bus, type MessageHandler, type PublishOptions, type Unsubscribe } from './bus.js';
import { isValidFilter, topicMatches } from './match.js';

export interface MqttBusOptions {
  /** `mqtt://`, `mqtts://`, `ws://`, `wss://` or `tcp://` (MQTT_URL). */
  url: string;
  username?: string;
  password?: string;
  /**
   * Default `loa-controller-<hostname>`: stable, so that with `clean: false` the broker keeps the controller's
   * session and queues device messages (QoS 1) while it restarts. Replicas need distinct ids.
   */
  clientId?: string;
  /** Default false (a persistent session). */
  clean?: boolean;
  /** Default 2000 ms. */
  reconnectPeriodMs?: number;
  /** start() resolves after the first connection, or after this long (it then keeps retrying). Default 10 s. */
  startWaitMs?: number;
  log?: Logger;
}

interface Sub {
  filter: string;
  handler: MessageHandler;
}

/**
 * The bus on an external broker (Mosquitto, EMQX) through mqtt.js, with the controller's own credentials.
 * It reconnects by itself and subscribes again after every reconnection; publishes made while it is offline
 * are queued by mqtt.js and sent on reconnection.
 */
export class MqttBus implements Bus {
  readonly kind = 'external' as const;
  private client: MqttClient | null = null;
  private readonly subs = new Set<Sub>();
  private readonly stateListeners = new Set<(connected: boolean) => void>();

  constructor(private readonly options: MqttBusOptions) {}

  /**
   * Calls `fn(true)` each time the bus is connected with its subscriptions restored, and `fn(false)` when the
   * connection drops (health checks, tests). Returns a function that removes it.
   */
  onState(fn: (connected: boolean) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  private emitState(connected: boolean): void {
    for (const fn of this.stateListeners) fn(connected);
  }

  private get log(): Logger {
    return (this.options.log ??= createLogger('bus'));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    if (this.client) return;
    const o = this.options;
    const client = mqtt.connect(o.url, {
      clientId: o.clientId ?? `loa-controller-${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}`,
      clean: o.clean ?? false,
      username: o.username,
      password: o.password,
      reconnectPeriod: o.reconnectPeriodMs ?? 2000,
      connectTimeout: 10_000,
      resubscribe: false,
      protocolVersion: 4,
    });
    this.client = client;
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    client.on('connect', (connack) => {
      this.log.info({ url: redactUrl(o.url), sessionPresent: connack.sessionPresent }, 'connected to the external MQTT broker');
      void this.resubscribe().then(() => this.emitState(true));
    });
    client.on('close', () => this.emitState(false));
    client.on('reconnect', () => this.log.debug({ url: redactUrl(o.url) }, 'reconnecting to the external MQTT broker'));
    client.on('offline', () => this.log.warn({ url: redactUrl(o.url) }, 'the external MQTT broker is unreachable; retrying'));
    client.on('error', (e: Error & { code?: unknown }) => {
      const refused = typeof e.code === 'number' && e.code > 0; // a CONNACK return/reason code
      this.log.warn({ ...(refused ? { code: 'LOA_ERR_MQTT_FORBIDDEN' } : {}), url: redactUrl(o.url), err: e.message }, refused ? 'the external MQTT broker refused the controller' : 'external MQTT broker error');
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ url: redactUrl(o.url), waitedMs: o.startWaitMs ?? 10_000 }, 'external MQTT broker not reached yet; continuing and retrying in the background');
        resolve();
      }, o.startWaitMs ?? 10_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.subs.clear();
    if (!client) return;
    client.removeAllListeners('message');
    await client.endAsync();
    client.removeAllListeners();
  }

  async publish(topic: string, payload: Buffer | string, options: PublishOptions = {}): Promise<void> {
    const client = this.requireClient();
    await client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<Unsubscribe> {
    const client = this.requireClient();
    if (!isValidFilter(filter)) throw new Error(`invalid topic filter ${JSON.stringify(filter)}`);
    const sub: Sub = { filter, handler };
    this.subs.add(sub);
    if (client.connected) {
      try {
        await this.subscribeOne(client, filter);
      } catch (e) {
        this.subs.delete(sub);
        throw e;
      }
    }
    return async () => {
      if (!this.subs.delete(sub)) return;
      const stillUsed = [...this.subs].some((s) => s.filter === filter);
      if (!stillUsed && this.client?.connected) await this.client.unsubscribeAsync(filter);
    };
  }

  private requireClient(): MqttClient {
    if (!this.client) throw new Error('the bus is not started');
    return this.client;
  }

  private async subscribeOne(client: MqttClient, filter: string): Promise<void> {
    let granted: { qos: number }[];
    try {
      granted = await client.subscribeAsync(filter, { qos: 1 });
    } catch (e) {
      // mqtt.js rejects when the SUBACK refuses (0x80), as it does on a network error.
      throw new LoaError('LOA_ERR_MQTT_FORBIDDEN', `the subscription to ${filter} failed: ${(e as Error).message}`, { cause: e });
    }
    if (granted.some((g) => g.qos >= 0x80)) throw new LoaError('LOA_ERR_MQTT_FORBIDDEN', `the external broker refused the subscription to ${filter}`);
  }

  private async resubscribe(): Promise<void> {
    const client = this.client;
    if (!client) return;
    for (const filter of new Set([...this.subs].map((s) => s.filter))) {
      try {
        await this.subscribeOne(client, filter);
      } catch (e) {
        this.log.error({ code: 'LOA_ERR_MQTT_FORBIDDEN', filter, err: (e as Error).message }, 'subscription failed after reconnecting');
      }
    }
  }

  private dispatch(topic: string, payload: Buffer): void {
    for (const s of this.subs) {
      if (topicMatches(s.filter, topic)) {
        callHandler(s.handler, topic, payload, (e) => this.log.error({ code: 'LOA_ERR_INTERNAL', topic, err: e instanceof Error ? e.message : String(e) }, 'bus handler failed'));
      }
    }
  }
}

