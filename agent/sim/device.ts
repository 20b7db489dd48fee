import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt';
import { makeDeviceToken } from '../../shared/device-token.js';
import { toLoaError } from '../../shared/errors.js';
import type { EmergencyAck, EmergencyOrder } from '../../shared/schemas/emergency.js';
import type { DeviceEvent, EventType } from '../../shared/schemas/events.js';
import { claimedIds } from '../../shared/signed-message.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { DOWN_KINDS, topics, type DownKind } from '../../shared/topics.js';
import { parseJsonText } from '../../shared/validate.js';
import { verifyEmergencyOrder } from '../emergency/verify.js';
import { backoffDelay, type BackoffOptions } from '../sync/backoff.js';
import type { Limiter } from './limiter.js';
import type { AckReport, PingReport, SimDeviceSpec } from './protocol.js';
import { SimCommands } from './commands.js';
import { ReplaySet } from './replay.js';
import { DeviceTraffic, type TrafficHooks, type TrafficSpec } from './traffic.js';

export type SimConnectFn = (url: string, options: IClientOptions) => MqttClient;

/** What a simulated device tells its worker. Every hook is optional and must not throw. */
export interface SimDeviceHooks {
  up?(): void;
  /** A connection that was up is gone (the device reconnects with backoff). */
  down?(reason: string): void;
  /** A connection attempt failed before it was up (retried with backoff). */
  connectFailed?(reason: string): void;
  /** An ack was queued for publishing (its `at` is the device's time). */
  ack?(r: AckReport): void;
  ping?(r: PingReport): void;
  notify?(): void;
  error?(code: string, message: string): void;
  /** Everyday traffic (./traffic.ts), when `traffic` is set. */
  traffic?: TrafficHooks;
}

export interface SimDeviceOptions {
  spec: SimDeviceSpec;
  url: string;
  /** The trust root the device holds. */
  root: () => RootMetadata;
  /** How long an accepted order "plays"; null = the order's audio duration × repeat (live: until it expires). */
  playMs: number | null;
  hooks?: SimDeviceHooks;
  /** A permit per connection attempt, shared by the devices of a worker. */
  limiter?: Limiter;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  /** Publish the retained online status on connect and the offline will, as the agent does (default true). */
  status?: boolean;
  backoff?: BackoffOptions;
  now?: () => number;
  random?: () => number;
  connect?: SimConnectFn;
  /**
   * The first event seq is seqBase + 1. Default: the time the device object was made, in ms, so a device id
   * reused by a later run (same keys, `loa sim --state`) keeps sending seqs the controller has not stored yet.
   */
  seqBase?: number;
  /** Periodic telemetry, proof-of-play and manifest fetches on notify (soak runs); default none. */
  traffic?: TrafficSpec;
  /** Manifest fetches in flight, shared by the devices of a worker. */
  fetchLimiter?: Limiter;
}

export const SIM_AGENT_VERSION = 'loa-sim/0.1.0';
const DOWN_MAX_BYTES = 64 * 1024;
const SIM_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 30_000 };

interface Conn {
  client: MqttClient;
  up: boolean;
  /** Event seqs published on this connection and waiting for their PUBACK. */
  inflight: Set<number>;
}

interface Playing {
  seq: number;
  timers: NodeJS.Timeout[];
}

/**
 * One simulated receiver (DESIGN §7): it holds an Ed25519 key and speaks the real device protocol with one
 * mqtt.js client — a fresh device token for every connection, client id = user name = device id, a persistent
 * session (`clean: false`), the retained online status and offline will, QoS 1 subscriptions to its own
 * notify/cmd/emergency topics — exactly as agent/sync/mqtt-link.ts does. Each emergency order goes through
 * the agent's own `verifyEmergencyOrder` (root, device id, zone chain, replay set); the acks the agent would
 * write to its outbox (received, started, finished, rejected, cancelled) are published as DeviceEvents, QoS 1,
 * one per message, with seq per device and key `${deviceId}:${seq}`, and resent after a reconnect until
 * their PUBACK. No SQLite, no audio: "started" is sent at once (at startAt when the order has one) and
 * "finished" after the play time. Signed device commands on `…/cmd` go to SimCommands (./commands.ts), which
 * checks them with the agent's `verifyDeviceCommand` and sends `command.ack` events. It also answers a bench probe the agent does not know: an unsigned
 * `{"ping":n}` on `…/cmd` gets one telemetry sample back on `…/up/telemetry` (QoS 1).
 */
export class SimDevice {
  readonly id: string;
  private conn: Conn | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private seq: number;
  /** Events not yet acknowledged by the broker, by seq (in insertion = seq order). */
  private readonly pending = new Map<number, string>();
  private readonly replay = new ReplaySet();
  private readonly playing = new Map<string, Playing>();
  private readonly downTopics: ReadonlyMap<string, DownKind>;
  private readonly eventsTopic: string;
  private readonly statusTopic: string;
  private readonly telemetryTopic: string;
  private readonly commands: SimCommands;
  private readonly traffic: DeviceTraffic | null;

  constructor(private readonly o: SimDeviceOptions) {
    this.id = o.spec.id;
    this.seq = o.seqBase ?? this.now();
    this.downTopics = new Map(DOWN_KINDS.map((k) => [topics.down(this.id, k), k]));
    this.eventsTopic = topics.up(this.id, 'events');
    this.statusTopic = topics.up(this.id, 'status');
    this.telemetryTopic = topics.up(this.id, 'telemetry');
    this.commands = new SimCommands({
      deviceId: this.id, root: o.root, now: () => this.now(), ack: (data) => this.publishEvent('command.ack', data),
      error: (code, message) => this.o.hooks?.error?.(code, message),
    });
    this.traffic = o.traffic ? new DeviceTraffic({
      spec: o.traffic, hooks: o.hooks?.traffic, ...(o.fetchLimiter ? { fetchLimiter: o.fetchLimiter } : {}), ...(o.random ? { random: o.random } : {}),
      host: {
        id: this.id, privateKeyPem: o.spec.privateKeyPem, now: () => this.now(), connected: () => this.connected, unacked: () => this.pending.size,
        publishEvent: (type, data) => this.publishEvent(type, data),
        publishTelemetry: (body, done) => {
          if (!this.conn?.up) return done(false);
          this.conn.client.publish(this.telemetryTopic, body, { qos: 1 }, (err) => done(!err));
        },
      },
    }) : null;
  }

  get connected(): boolean {
    return this.conn?.up === true;
  }

  /** Events waiting for their PUBACK. */
  get unacked(): number {
    return this.pending.size;
  }

  /** Orders accepted and still "playing". */
  get active(): number {
    return this.playing.size;
  }

  /** Connects in the background (through the limiter) and stays connected until `stop`. */
  start(): void {
    void this.attemptConnect();
    this.traffic?.start();
  }

  /** Stops the everyday traffic (telemetry, plays, fetches) but stays connected, so queued events drain. */
  quiet(): void {
    this.traffic?.stop();
  }

  /** The manifest version fetched after notifies (0 without traffic). */
  get manifestVersion(): number {
    return this.traffic?.version ?? 0;
  }

  /** Publishes the offline status (when connected, at most `graceMs`), then disconnects and stops reconnecting. */
  async stop(graceMs = 1000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.traffic?.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const p of this.playing.values()) for (const t of p.timers) clearTimeout(t);
    this.playing.clear();
    this.commands.stop();
    const conn = this.conn;
    if (!conn) return;
    if (conn.up && (this.o.status ?? true)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        conn.client.publish(this.statusTopic, this.statusPayload(false), { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        conn.client.stream?.destroy();
        resolve();
      }, graceMs);
      conn.client.end(!conn.up, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private statusPayload(online: boolean): string {
    return JSON.stringify({ online, at: this.now(), manifestVersion: 0, agentVersion: SIM_AGENT_VERSION });
  }

  private async attemptConnect(): Promise<void> {
    if (this.stopped) return;
    const release = this.o.limiter ? await this.o.limiter.acquire() : (): void => undefined;
    if (this.stopped) {
      release();
      return;
    }
    const { spec } = this.o;
    let client: MqttClient;
    try {
      client = (this.o.connect ?? mqttConnect)(this.o.url, {
        clientId: spec.id, username: spec.id, password: makeDeviceToken(spec.privateKeyPem, spec.id, this.now()), clean: false, reconnectPeriod: 0,
        protocolVersion: 4, connectTimeout: this.o.connectTimeoutMs ?? 30_000, keepalive: this.o.keepaliveS ?? 60,
        ...((this.o.status ?? true) ? { will: { topic: this.statusTopic, payload: Buffer.from(this.statusPayload(false)), qos: 1 as const, retain: true } } : {}),
      });
    } catch (e) {
      release();
      const err = toLoaError(e, 'LOA_ERR_SYNC_MQTT');
      this.o.hooks?.connectFailed?.(err.message);
      this.scheduleRetry();
      return;
    }
    const conn: Conn = { client, up: false, inflight: new Set() };
    this.conn = conn;
    let reason = 'connection closed';
    client.on('connect', () => {
      if (this.o.status ?? true) client.publish(this.statusTopic, this.statusPayload(true), { qos: 1, retain: true });
      client.subscribe([...this.downTopics.keys()], { qos: 1 }, (err, granted) => {
        release();
        if (err) {
          reason = `subscribe failed: ${err.message}`;
          client.end(true);
          return;
        }
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (refused.length) this.o.hooks?.error?.('LOA_ERR_MQTT_FORBIDDEN', `the broker refused the subscriptions ${refused.join(', ')}`);
        if (this.conn !== conn || this.stopped || !client.connected) return;
        conn.up = true;
        this.attempt = 0;
        this.o.hooks?.up?.();
        for (const [seq, body] of this.pending) this.send(conn, seq, body);
      });
    });
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    client.on('error', (e) => {
      reason = e.message;
    });
    client.once('close', () => {
      release();
      const wasUp = conn.up;
      conn.up = false;
      conn.inflight.clear();
      if (this.conn === conn) this.conn = null;
      if (this.stopped) return;
      if (wasUp) this.o.hooks?.down?.(reason);
      else this.o.hooks?.connectFailed?.(reason);
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = backoffDelay(this.attempt++, this.o.backoff ?? SIM_BACKOFF, this.o.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.attemptConnect();
    }, delay);
  }

  private dispatch(topic: string, payload: Buffer): void {
    const kind = this.downTopics.get(topic);
    if (kind === undefined) return;
    try {
      if (kind === 'emergency') this.onEmergency(payload);
      else if (kind === 'cmd') this.onCmd(payload);
      else {
        this.o.hooks?.notify?.();
        if (kind === 'notify') this.traffic?.onNotify(payload);
      }
    } catch (e) {
      const err = toLoaError(e);
      this.o.hooks?.error?.(err.code, err.message);
    }
  }

  private onCmd(payload: Buffer): void {
    const body = parseJsonText(payload, DOWN_MAX_BYTES, 'cmd', 'LOA_ERR_MQTT_PAYLOAD') as { ping?: unknown } | null;
    const n = body?.ping;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      this.commands.receive(payload); // a signed device command, checked like the agent does
      return;
    }
    const at = this.now();
    this.o.hooks?.ping?.({ deviceId: this.id, n, at });
    const conn = this.conn;
    if (conn?.up) conn.client.publish(this.telemetryTopic, JSON.stringify({ at, manifestVersion: 0, stale: false }), { qos: 1 });
  }

  /** The agent's EmergencyHandler.receive, minus SQLite, scheduler and audio. */
  private onEmergency(payload: Buffer): void {
    const now = this.now();
    let o: EmergencyOrder;
    try {
      o = verifyEmergencyOrder(payload, { root: this.o.root(), deviceId: this.id, zones: this.o.spec.zones, now, seen: (n, s) => this.replay.seen(n, s) }).signed;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_EMERGENCY_INVALID');
      this.o.hooks?.error?.(err.code, err.message);
      const claimed = claimedOrder(payload);
      if (claimed) this.ack(claimed, 'rejected', { code: err.code, reason: err.message.slice(0, 500) });
      return;
    }
    this.replay.record(o.nonce, o.seq, Date.parse(o.expiresAt), now);
    this.ack(o, 'received');
    if (o.action === 'cancel') {
      const p = this.playing.get(o.orderId);
      if (p) for (const t of p.timers) clearTimeout(t);
      this.playing.delete(o.orderId);
      this.ack(o, 'cancelled', p ? {} : { reason: 'nothing was playing or queued for this order' });
      return;
    }
    const start = o.startAt ? Math.max(now, Date.parse(o.startAt)) : now;
    const playMs = this.o.playMs ?? playTimeOf(o, start);
    const ref = { orderId: o.orderId, seq: o.seq };
    const p: Playing = { seq: o.seq, timers: [] };
    this.playing.get(o.orderId)?.timers.forEach((t) => clearTimeout(t));
    this.playing.set(o.orderId, p);
    const finish = (): void => {
      if (this.playing.get(o.orderId) !== p) return;
      this.playing.delete(o.orderId);
      this.ack(ref, 'finished');
    };
    if (start <= now) this.ack(ref, 'started');
    else p.timers.push(setTimeout(() => this.ack(ref, 'started'), start - now));
    p.timers.push(setTimeout(finish, start - now + playMs));
  }

  private ack(o: Pick<EmergencyOrder, 'orderId' | 'seq'>, state: EmergencyAck['state'], extra: { code?: string; reason?: string } = {}): void {
    const now = this.now();
    const data: EmergencyAck = {
      orderId: o.orderId, seq: o.seq, state, at: new Date(now).toISOString(),
      ...(extra.code ? { code: extra.code } : {}), ...(extra.reason ? { reason: extra.reason } : {}),
    };
    this.o.hooks?.ack?.({ deviceId: this.id, orderId: o.orderId, state, at: now, ...(extra.code ? { code: extra.code } : {}) });
    this.publishEvent('emergency.ack', data);
  }

  /** Queues one event (seq per device, key deviceId:seq) and publishes it (QoS 1) when connected; resent after a reconnect. */
  private publishEvent(type: EventType, data: object): void {
    const now = this.now();
    const seq = ++this.seq;
    const event: DeviceEvent = { deviceId: this.id, seq, key: `${this.id}:${seq}`, type, at: now, data: data as Record<string, unknown> };
    const body = JSON.stringify(event);
    this.pending.set(seq, body);
    if (this.conn?.up) this.send(this.conn, seq, body);
  }

  private send(conn: Conn, seq: number, body: string): void {
    if (conn.inflight.has(seq)) return;
    conn.inflight.add(seq);
    conn.client.publish(this.eventsTopic, body, { qos: 1 }, (err) => {
      conn.inflight.delete(seq);
      if (!err) this.pending.delete(seq);
    });
  }
}

/** How long an order plays: its audio × repeat; a live stream until the order expires. */
export function playTimeOf(o: EmergencyOrder, start: number): number {
  const c = o.content;
  if (!c) return 0;
  if (c.kind === 'live') return Math.max(0, Date.parse(o.expiresAt) - start);
  return c.durationMs * o.repeat;
}

/** orderId and seq as a refused input claims them (the same rule as agent/emergency/handler.ts). */
export function claimedOrder(input: Buffer | string): { orderId: string; seq: number } | null {
  const c = claimedIds(input, 'orderId', DOWN_MAX_BYTES);
  return c ? { orderId: c.id, seq: c.seq } : null;
}
