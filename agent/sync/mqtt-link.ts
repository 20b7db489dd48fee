import { redactUrl } from '../../shared/redact-url.js';
import { EventEmitter } from 'node:events';
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { DeviceStatus } from '../../shared/schemas/telemetry.js';
import { DOWN_KINDS, topics, type DownKind } from '../../shared/topics.js';
import { backoffDelay, DEFAULT_BACKOFF, sleepUnlessAborted, type BackoffOptions } from './backoff.js';

export type MqttConnectFn = (url: string, options: IClientOptions) => MqttClient;

export interface MqttLinkOptions {
  url: string;
  deviceId: string;
  /** A fresh device token, made for every connection attempt (the MQTT password). */
  token: () => string;
  clock: Clock;
  log: Logger;
  /** What the retained status says besides online/at. */
  status: () => Omit<DeviceStatus, 'online' | 'at'>;
  /** A message on one of the device's own down topics. Must not throw (errors are logged if it does). */
  onMessage: (kind: DownKind, payload: Buffer) => void;
  /** The controller's end-to-end ack of events (`…/dev/{id}/ack`); subscribed to only when given. Must not throw. */
  onAck?: (payload: Buffer) => void;
  /** Reconnect backoff, 1 s → 60 s by default, with jitter. */
  backoff?: BackoffOptions;
  random?: () => number;
  /** A connection that stayed up this long resets the backoff (default 30 s). */
  stableMs?: number;
  connectTimeoutMs?: number;
  keepaliveS?: number;
  connect?: MqttConnectFn;
}

interface Conn {
  client: MqttClient;
  /** Rejecters of publishes still waiting for their PUBACK on this connection. */
  inflight: Set<(e: Error) => void>;
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

/**
 * The device's MQTT connection (DESIGN §3). A new mqtt.js client per attempt (`reconnectPeriod: 0`), so each
 * connection carries a fresh token; a persistent session (`clean: false`) keeps QoS1 notifies that arrive
 * while the device is away. On connect it publishes its retained online status (the broker publishes the
 * retained offline will if the device vanishes) and subscribes to its own notify/cmd/emergency topics. Any
 * loss is followed by exponential backoff with jitter. `publish` resolves on the PUBACK and rejects when the
 * connection drops first.
 */
export class MqttLink extends EventEmitter<{ up: []; down: [reason: string]; retry: [RetryInfo] }> {
  private conn: Conn | null = null;
  private client: MqttClient | null = null;
  private readonly ctl = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;

  constructor(private readonly o: MqttLinkOptions) {
    super();
  }

  /** Connected, and subscribed to the device's topics. */
  get connected(): boolean {
    return this.conn !== null;
  }

  private get statusTopic(): string {
    return topics.up(this.o.deviceId, 'status');
  }

  private statusPayload(online: boolean): string {
    const s: DeviceStatus = { online, at: this.o.clock.now(), ...this.o.status() };
    return JSON.stringify(s);
  }

  start(signal?: AbortSignal): void {
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.loopDone = this.loop();
  }

  /** Publishes the retained offline status, disconnects cleanly, and ends the reconnect loop. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Resolves on the PUBACK (QoS1). Rejects with LOA_ERR_SYNC_MQTT when offline or cut before the PUBACK. */
  publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}): Promise<void> {
    const conn = this.conn;
    if (!conn) return Promise.reject(new LoaError('LOA_ERR_SYNC_MQTT', 'MQTT is not connected'));
    return this.publishOn(conn, topic, payload, options.retain ?? false);
  }

  /** Resolves true once connected, false if `signal` aborts (or the link stops) first. */
  waitUp(signal: AbortSignal): Promise<boolean> {
    if (this.conn) return Promise.resolve(true);
    if (signal.aborted || this.ctl.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (v: boolean): void => {
        this.off('up', onUp);
        signal.removeEventListener('abort', onAbort);
        this.ctl.signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onUp = (): void => done(true);
      const onAbort = (): void => done(false);
      this.on('up', onUp);
      signal.addEventListener('abort', onAbort, { once: true });
      this.ctl.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async loop(): Promise<void> {
    const signal = this.ctl.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const { upMs, reason } = await this.session();
      if (signal.aborted) break;
      if (upMs >= (this.o.stableMs ?? 30_000)) attempt = 0;
      const delayMs = backoffDelay(attempt, this.o.backoff ?? DEFAULT_BACKOFF, this.o.random);
      attempt++;
      this.o.log.warn({ code: 'LOA_ERR_SYNC_MQTT', attempt, delayMs, reason }, 'MQTT connection lost or refused; reconnecting after backoff');
      this.emit('retry', { attempt, delayMs, reason });
      await sleepUnlessAborted(this.o.clock, delayMs, signal);
    }
  }

  /** One connection attempt; resolves when it is over. */
  private session(): Promise<{ upMs: number; reason: string }> {
    const { deviceId, clock, log } = this.o;
    return new Promise((resolve) => {
      let reason = 'connection closed';
      let upAt: number | null = null;
      const client = (this.o.connect ?? mqttConnect)(this.o.url, {
        clientId: deviceId, username: deviceId, password: this.o.token(), clean: false, reconnectPeriod: 0,
        protocolVersion: 4, connectTimeout: this.o.connectTimeoutMs ?? 30_000, keepalive: this.o.keepaliveS ?? 60,
        will: { topic: this.statusTopic, payload: Buffer.from(this.statusPayload(false)), qos: 1, retain: true },
      });
      this.client = client;
      const conn: Conn = { client, inflight: new Set() };
      client.on('connect', () => {
        upAt = clock.monotonic();
        this.publishOn(conn, this.statusTopic, this.statusPayload(true), true)
          .catch((e: unknown) => log.debug({ err: (e as Error).message }, 'online status not acknowledged'));
        const subs = [...DOWN_KINDS.map((k) => topics.down(deviceId, k)), ...(this.o.onAck ? [topics.ack(deviceId)] : [])];
        client.subscribe(subs, { qos: 1 }, (err, granted) => {
          if (err) {
            log.warn({ code: 'LOA_ERR_SYNC_MQTT', reason: err.message }, 'MQTT subscribe failed');
            return;
          }
          const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length) log.warn({ code: 'LOA_ERR_MQTT_FORBIDDEN', topics: refused }, 'the broker refused some subscriptions');
          if (this.client !== client || !client.connected || this.ctl.signal.aborted) return;
          this.conn = conn;
          log.info({ url: redactUrl(this.o.url) }, 'MQTT connected');
          this.emit('up');
        });
      });
      client.on('message', (topic, payload) => this.dispatch(topic, payload));
      client.on('error', (e) => {
        reason = e.message;
        log.debug({ reason: e.message }, 'MQTT client error');
      });
      const over = (): void => {
        const wasUp = this.conn === conn;
        if (wasUp) this.conn = null;
        if (this.client === client) this.client = null;
        for (const fail of conn.inflight) fail(new LoaError('LOA_ERR_SYNC_MQTT', 'the MQTT connection closed before the PUBACK'));
        conn.inflight.clear();
        if (wasUp) this.emit('down', reason);
        resolve({ upMs: upAt === null ? 0 : clock.monotonic() - upAt, reason });
      };
      client.once('close', over);
      client.once('end', over);
    });
  }

  private dispatch(topic: string, payload: Buffer): void {
    if (this.o.onAck && topic === topics.ack(this.o.deviceId)) {
      try {
        this.o.onAck(payload);
      } catch (e) {
        this.o.log.warn({ code: 'LOA_ERR_MQTT_PAYLOAD', topic, reason: (e as Error).message }, 'ignored an invalid events ack');
      }
      return;
    }
    const kind = DOWN_KINDS.find((k) => topics.down(this.o.deviceId, k) === topic);
    if (!kind) {
      this.o.log.debug({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    try {
      this.o.onMessage(kind, payload);
    } catch (e) {
      this.o.log.error({ code: 'LOA_ERR_MQTT_PAYLOAD', topic, reason: (e as Error).message }, 'handling an MQTT message failed');
    }
  }

  private publishOn(conn: Conn, topic: string, payload: string | Buffer, retain: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!conn.client.connected) {
        reject(new LoaError('LOA_ERR_SYNC_MQTT', 'MQTT is not connected'));
        return;
      }
      conn.inflight.add(reject);
      conn.client.publish(topic, payload, { qos: 1, retain }, (err) => {
        conn.inflight.delete(reject);
        if (err) reject(new LoaError('LOA_ERR_SYNC_MQTT', `publish to ${topic} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  private async doStop(): Promise<void> {
    const conn = this.conn;
    const client = this.client;
    if (conn) {
      const t = AbortSignal.timeout(1000);
      await Promise.race([
        this.publishOn(conn, this.statusTopic, this.statusPayload(false), true).catch(() => undefined),
        new Promise((r) => t.addEventListener('abort', r, { once: true })),
      ]);
    }
    this.ctl.abort();
    if (client) await endClient(client, conn !== null);
    await this.loopDone;
    this.removeAllListeners();
  }
}

function endClient(client: MqttClient, graceful: boolean): Promise<void> {
  return new Promise((resolve) => {
    // A graceful end waits for in-flight publishes; a broker that withholds PUBACKs must not hold us here,
    // and a second end() is a no-op in mqtt.js, so the socket itself is destroyed.
    const t = setTimeout(() => {
      client.stream?.destroy();
      resolve();
    }, 1500);
    client.end(!graceful, {}, () => {
      clearTimeout(t);
      resolve();
    });
  });
}

