import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { openDb, type Db } from '../../../agent/store/db.js';
import { AedesBus } from '../../../controller/broker/aedes-bus.js';
import type { DeviceKeyInfo } from '../../../controller/broker/auth.js';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../../controller/broker/embedded.js';
import { TelemetryRepo } from '../../../controller/data/telemetry.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';
import { generateKeyPair, type KeyPair } from '../../../shared/crypto.js';
import { makeDeviceToken } from '../../../shared/device-token.js';

/**
 * A controller database with a small zone tree and devices, the real embedded broker on a random TCP port, the
 * in-process bus, and helpers that connect real mqtt.js clients as devices. Logs are captured as JSON lines.
 *
 * Zones: p1 (province) › c1 (commune) › k1, k2 (clusters). Devices: dev-a and dev-c in k1, dev-b in k2,
 * dev-r (revoked, in k1), dev-u (created but never enrolled: no public key).
 */
export interface Fleet {
  dir: string;
  db: Db;
  repo: TelemetryRepo;
  registry: Registry;
  broker: EmbeddedBroker;
  bus: AedesBus;
  log: Logger;
  logs: Record<string, unknown>[];
  keys: Record<string, KeyPair>;
  token(deviceId: string, opts?: { key?: KeyPair; now?: number; ttlS?: number }): string;
  /** Connects as a device (clientId = username = id, password = a fresh token unless given). Rejects when refused. */
  connect(deviceId: string, opts?: Partial<IClientOptions> & { url?: string }): Promise<MqttClient>;
  revoke(deviceId: string): void;
  close(): Promise<void>;
}

export const ZONES = [
  { id: 'p1', parent: null, level: 'province', path: '/p1/' },
  { id: 'c1', parent: 'p1', level: 'commune', path: '/p1/c1/' },
  { id: 'k1', parent: 'c1', level: 'cluster', path: '/p1/c1/k1/' },
  { id: 'k2', parent: 'c1', level: 'cluster', path: '/p1/c1/k2/' },
] as const;

export const DEVICES = [
  { id: 'dev-a', zone: 'k1', enrolled: true, revoked: false },
  { id: 'dev-b', zone: 'k2', enrolled: true, revoked: false },
  { id: 'dev-c', zone: 'k1', enrolled: true, revoked: false },
  { id: 'dev-r', zone: 'k1', enrolled: true, revoked: true },
  { id: 'dev-u', zone: 'k1', enrolled: false, revoked: false },
] as const;

/** Inserts the zone tree and devices with plain SQL; returns each enrolled device's key pair. */
export function seed(db: Db, now = Date.now()): Record<string, KeyPair> {
  const keys: Record<string, KeyPair> = {};
  const zone = db.prepare('INSERT INTO zones (id, parent_id, level, code, name, path, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const z of ZONES) zone.run(z.id, z.parent, z.level, z.id.toUpperCase(), `Zone ${z.id}`, z.path, now, now);
  const dev = db.prepare('INSERT INTO devices (id, zone_id, name, public_key, keyid, enrolled_at, revoked_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const d of DEVICES) {
    const k = d.enrolled ? generateKeyPair() : null;
    if (k) keys[d.id] = k;
    dev.run(d.id, d.zone, `Loa ${d.id}`, k?.publicKey ?? null, k?.keyid ?? null, k ? now : null, d.revoked ? now : null, now, now);
  }
  return keys;
}

/** The devices table behind the broker's deviceKeys() hook. */
export function deviceKeysFrom(db: Db): (id: string) => DeviceKeyInfo | null {
  const stmt = db.prepare<[string], { public_key: string | null; revoked_at: number | null }>('SELECT public_key, revoked_at FROM devices WHERE id = ?');
  return (id) => {
    const r = stmt.get(id);
    return r?.public_key ? { publicKey: r.public_key, revoked: r.revoked_at !== null } : null;
  };
}

/** The zone chain (root first) of a device's zone, from the materialised path. */
export function deviceZonesFrom(db: Db): (id: string) => string[] {
  const stmt = db.prepare<[string], { path: string }>('SELECT z.path FROM devices d JOIN zones z ON z.id = d.zone_id WHERE d.id = ?');
  return (id) => stmt.get(id)?.path.split('/').filter(Boolean) ?? [];
}

export function captureLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'debug', redact: { paths: ['password', '*.password', 'token', '*.token'], censor: '[redacted]' } }, sink);
}

export async function startFleet(opts: Partial<Pick<EmbeddedBrokerOptions, 'ws' | 'maxPacketBytes' | 'internalClient'>> = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'loa-fleet-'));
  const db = openDb({ path: join(dir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS, synchronous: 'NORMAL' });
  const keys = seed(db);
  const logs: Record<string, unknown>[] = [];
  const log = captureLogger(logs);
  const registry = new Registry();
  const broker = new EmbeddedBroker({ deviceKeys: deviceKeysFrom(db), deviceZones: deviceZonesFrom(db), registry, host: '127.0.0.1', port: 0, log, ...opts });
  await broker.start();
  const bus = new AedesBus({ broker, log });
  await bus.start();
  const clients = new Set<MqttClient>();
  const token = (deviceId: string, o: { key?: KeyPair; now?: number; ttlS?: number } = {}): string => {
    const key = o.key ?? keys[deviceId] ?? generateKeyPair();
    return makeDeviceToken(key.privateKeyPem, deviceId, o.now ?? Date.now(), o.ttlS);
  };
  const connect = (deviceId: string, o: Partial<IClientOptions> & { url?: string } = {}): Promise<MqttClient> => {
    const { url, ...rest } = o;
    const client = mqtt.connect(url ?? `mqtt://127.0.0.1:${broker.port}`, {
      clientId: deviceId, username: deviceId, password: token(deviceId), reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...rest,
    });
    clients.add(client);
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client));
      client.once('error', (e) => {
        client.end(true);
        reject(e);
      });
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
  };
  return {
    dir, db, repo: new TelemetryRepo({ db }), registry, broker, bus, log, logs, keys, token, connect,
    revoke(deviceId) {
      db.prepare('UPDATE devices SET revoked_at = ? WHERE id = ?').run(Date.now(), deviceId);
    },
    async close() {
      await Promise.all([...clients].map((c) => c.endAsync(true)));
      await bus.stop();
      await broker.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the first message that `client` receives on a topic matching `pred`. */
export function nextMessage(client: MqttClient, pred: (topic: string) => boolean = () => true): Promise<{ topic: string; payload: Buffer }> {
  return new Promise((resolve) => {
    const on = (topic: string, payload: Buffer): void => {
      if (!pred(topic)) return;
      client.removeListener('message', on);
      resolve({ topic, payload });
    };
    client.on('message', on);
  });
}

/** Resolves when the client's connection has closed. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected && client.disconnected) resolve();
    else client.once('close', () => resolve());
  });
}

/** The summed value of a counter (optionally only the series whose labels include `labels`). */
export async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  return data.values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((a, v) => a + v.value, 0);
}

/** The granted QoS per filter of one SUBSCRIBE (128 = refused); mqtt.js rejects when any is refused. */
export async function grants(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (e) {
    const granted = (e as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted;
    if (!granted) throw e;
    return granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}
