import mqtt, { type MqttClient } from 'mqtt';
import { SystemClock, type Clock } from '../../shared/clock.js';
import { generateKeyPair, signBytes, type KeyPair } from '../../shared/crypto.js';
import { makeDeviceToken } from '../../shared/device-token.js';
import { PAIRING_ALPHABET, pairingProofMessage } from '../../shared/pairing.js';
import type { PairingStatus } from '../../shared/schemas/pairing.js';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import type { TestController } from './controller.js';

/** Real time plus an offset the test moves: the controller's clock, for code expiry without waiting. */
export class OffsetClock extends SystemClock implements Clock {
  offsetMs = 0;
  override now(): number {
    return Date.now() + this.offsetMs;
  }
}

export interface HttpAnswer<T = Record<string, unknown>> {
  status: number;
  body: T & { error?: { code: string; message: string; details?: Record<string, unknown> } };
}

async function call<T>(url: string, init: RequestInit = {}): Promise<HttpAnswer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {}) as HttpAnswer<T>['body'] };
}

/**
 * An unpaired receiver as the controller sees it over the wire: its own Ed25519 key, pairing requests with a
 * proof of possession, status polls and device tokens signed with that key, and a real MQTT client.
 */
export class TestDevice {
  readonly key: KeyPair = generateKeyPair();
  constructor(readonly httpUrl: string, readonly mqttUrl: string) {}

  static of(t: TestController): TestDevice {
    return new TestDevice(t.controller.httpUrl, t.controller.mqttUrl);
  }

  /** POST /api/v1/pairing; `tamper` may change the body after it is signed. */
  requestPairing(o: { at?: number; hardware?: Record<string, unknown>; signWith?: KeyPair; tamper?: (b: Record<string, unknown>) => void } = {}): Promise<HttpAnswer<{ pairingId: string; code: string; expiresAt: string; pollAfterMs: number }>> {
    const request: Record<string, unknown> = { publicKey: this.key.publicKey, hardwareProfile: 'sim-file-sink', agentVersion: '0.1.0', hardware: o.hardware ?? { model: 'Raspberry Pi 4 Model B', mac: 'dc:a6:32:01:02:03', cpus: 4, memMb: 3906 } };
    const at = o.at ?? Date.now();
    const body: Record<string, unknown> = { ...request, proof: { at, sig: signBytes((o.signWith ?? this.key).privateKeyPem, pairingProofMessage(request, at)) } };
    o.tamper?.(body);
    return call(`${this.httpUrl}/api/v1/pairing`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** A code, or the test fails. */
  async pairingCode(): Promise<{ pairingId: string; code: string; expiresAt: string }> {
    const r = await this.requestPairing();
    if (r.status !== 201) throw new Error(`pairing request refused: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  status(pairingId: string, o: { sub?: string; key?: KeyPair; now?: number } = {}): Promise<HttpAnswer<PairingStatus>> {
    const token = makeDeviceToken((o.key ?? this.key).privateKeyPem, o.sub ?? pairingId, o.now ?? Date.now(), 300);
    return call(`${this.httpUrl}/api/v1/pairing/${pairingId}`, { headers: { authorization: `Bearer ${token}` } });
  }

  token(sub: string): string {
    return makeDeviceToken(this.key.privateKeyPem, sub, Date.now(), 300);
  }

  manifest(deviceId: string): Promise<HttpAnswer> {
    return call(`${this.httpUrl}/api/v1/devices/${deviceId}/manifest`, { headers: { authorization: `Bearer ${this.token(deviceId)}` } });
  }

  /** Connects to the broker as `deviceId` with a fresh token; resolves connected, or the refusal's CONNACK code. */
  connect(deviceId: string): Promise<MqttClient | number | string> {
    const client = mqtt.connect(this.mqttUrl, { clientId: deviceId, username: deviceId, password: this.token(deviceId), reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 });
    return new Promise((resolve) => {
      client.once('connect', () => resolve(client));
      client.once('error', (e) => {
        client.end(true);
        resolve((e as { code?: number }).code ?? e.message);
      });
      client.once('close', () => resolve('closed before CONNACK'));
    });
  }
}

/** A code that shares the locator (first 3 characters) of `code` but has another secret. */
export function wrongCode(code: string, n: number): string {
  const raw = code.replace('-', '');
  const secret = raw.slice(3).split('');
  const a = PAIRING_ALPHABET;
  // Walk through secrets that differ from the real one in the last two characters.
  const i = (a.indexOf(secret[4]!) + 1 + (n % (a.length - 1))) % a.length;
  const j = (a.indexOf(secret[3]!) + Math.floor(n / (a.length - 1))) % a.length;
  secret[4] = a[i]!;
  secret[3] = a[j]!;
  const out = raw.slice(0, 3) + secret.join('');
  if (out === raw) throw new Error('wrongCode produced the right code');
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/** Pairs a new test device into `zoneId` through the API; returns the device and its id. */
export async function pairNewDevice(t: TestController, api: ApiClient, zoneId: string, name = 'Loa thử'): Promise<{ device: TestDevice; deviceId: string; pairingId: string }> {
  const device = TestDevice.of(t);
  const { code, pairingId } = await device.pairingCode();
  const r = await api.post<{ device: { id: string } }>('/api/v1/pairing/claim', { code, zoneId, name });
  return { device, deviceId: r.device.id, pairingId };
}
