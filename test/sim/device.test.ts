import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { SimDevice, type SimDeviceHooks } from '../../agent/sim/device.js';
import { generateKeyPair, signEnvelope } from '../../shared/crypto.js';
import { verifyDeviceToken } from '../../shared/device-token.js';
import type { CommandAck, DeviceCommand } from '../../shared/schemas/command.js';
import type { EmergencyAck, EmergencyOrder } from '../../shared/schemas/emergency.js';
import type { DeviceEvent } from '../../shared/schemas/events.js';
import { topics } from '../../shared/topics.js';
import { makeTrust } from '../support/trust.js';

const NOW = Date.parse('2026-11-23T06:00:00Z');
const ID = 'sim-X1-C1-00001';
const trust = makeTrust();
const key = generateKeyPair();

/** Just enough of an mqtt.js client: records what is published and subscribed; the test plays the broker. */
class FakeClient extends EventEmitter {
  connected = false;
  published: { topic: string; payload: string; retain: boolean }[] = [];
  subscribed: string[] = [];
  /** When false, event publishes never get their PUBACK (the callback is kept, never called). */
  acks = true;
  stream = { destroy: (): void => undefined };
  constructor(readonly options: IClientOptions) {
    super();
  }
  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean }, cb?: (e?: Error) => void): this {
    this.published.push({ topic, payload: String(payload), retain: opts.retain ?? false });
    if (this.acks || !topic.endsWith('/up/events')) cb?.();
    return this;
  }
  subscribe(list: string[], _opts: unknown, cb: (e: Error | null, g: { topic: string; qos: number }[]) => void): this {
    this.subscribed.push(...list);
    cb(null, list.map((topic) => ({ topic, qos: 1 })));
    return this;
  }
  end(_force: boolean, _opts: unknown, cb?: () => void): this {
    this.drop();
    cb?.();
    return this;
  }
  drop(): void {
    if (!this.connected) return;
    this.connected = false;
    this.emit('close');
  }
  deliver(kind: 'emergency' | 'cmd' | 'notify', body: unknown): void {
    this.emit('message', topics.down(ID, kind), Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  }
  events(): DeviceEvent[] {
    return this.published.filter((p) => p.topic === topics.up(ID, 'events')).map((p) => JSON.parse(p.payload) as DeviceEvent);
  }
}

function order(over: Partial<EmergencyOrder> = {}): EmergencyOrder {
  return {
    _type: 'emergency', schemaVersion: 1, orderId: 'emg-1', action: 'start', seq: 41, nonce: randomBytes(16).toString('base64url'),
    issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 3_600_000).toISOString(),
    target: { zones: ['X1-C1'], devices: [] }, title: 'Bão', content: { kind: 'media', sha256: 'a'.repeat(64), size: 100, durationMs: 4000 }, repeat: 3, outputs: [], ...over,
  };
}
const signed = (o: EmergencyOrder): unknown => signEnvelope(o, [trust.emergency.privateKeyPem]);
const states = (c: FakeClient): [EmergencyAck['state'], string | undefined][] => c.events().map((e) => [(e.data as EmergencyAck).state, (e.data as EmergencyAck).code]);

describe('a simulated device', () => {
  let now = NOW;
  let clients: FakeClient[] = [];
  let device: SimDevice;
  const hooks: Required<Pick<SimDeviceHooks, 'up' | 'down' | 'connectFailed' | 'error'>> & { errors: string[]; ups: number } = {
    errors: [], ups: 0,
    up: () => void hooks.ups++, down: () => undefined, connectFailed: () => undefined, error: (code) => void hooks.errors.push(code),
  };
  const make = (playMs: number | null = null, extra: SimDeviceHooks = {}): SimDevice => new SimDevice({
    spec: { id: ID, privateKeyPem: key.privateKeyPem, zones: ['T01', 'X1', 'X1-C1'] }, url: 'mqtt://broker.test:1883', root: () => trust.root, playMs,
    now: () => now, random: () => 0, seqBase: 100, hooks: { ...hooks, ...extra },
    connect: (_url, options) => {
      const c = new FakeClient(options);
      clients.push(c);
      queueMicrotask(() => {
        c.connected = true;
        c.emit('connect');
      });
      return c as unknown as MqttClient;
    },
  });
  const last = (): FakeClient => clients[clients.length - 1]!;
  const advance = (ms: number): void => {
    now += ms;
    mock.timers.tick(ms);
  };
  const up = async (): Promise<FakeClient> => {
    device.start();
    await new Promise((r) => setImmediate(r));
    assert.ok(device.connected);
    return last();
  };

  beforeEach(() => {
    now = NOW;
    clients = [];
    hooks.errors = [];
    hooks.ups = 0;
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(async () => {
    mock.timers.reset();
    await device?.stop(10);
  });

  it('connects as the agent does: a fresh device token, client id = user name = device id, a persistent session, online status and offline will; it subscribes to its own three topics', async () => {
    device = make();
    const c = await up();
    const o = c.options;
    assert.deepEqual([o.clientId, o.username, o.clean, o.reconnectPeriod, o.protocolVersion], [ID, ID, false, 0, 4]);
    assert.equal(verifyDeviceToken(String(o.password), key.publicKey, now).sub, ID);
    assert.equal(o.will?.topic, topics.up(ID, 'status'));
    assert.deepEqual([o.will?.retain, (JSON.parse(String(o.will?.payload)) as { online: boolean }).online], [true, false]);
    assert.deepEqual(c.subscribed, [topics.down(ID, 'notify'), topics.down(ID, 'cmd'), topics.down(ID, 'emergency')]);
    const status = c.published.find((p) => p.topic === topics.up(ID, 'status'))!;
    assert.deepEqual([status.retain, (JSON.parse(status.payload) as { online: boolean }).online], [true, true]);
  });

  it('acks a valid order received and started at once, then finished after its audio × repeat, as DeviceEvents keyed deviceId:seq', async () => {
    device = make();
    const c = await up();
    c.deliver('emergency', signed(order()));
    assert.deepEqual(states(c), [['received', undefined], ['started', undefined]]);
    advance(3 * 4000 - 1);
    assert.equal(c.events().length, 2, 'still playing');
    advance(1);
    assert.deepEqual(states(c), [['received', undefined], ['started', undefined], ['finished', undefined]]);
    const ev = c.events();
    assert.deepEqual(ev.map((e) => [e.deviceId, e.seq, e.key, e.type]), [[ID, 101, `${ID}:101`, 'emergency.ack'], [ID, 102, `${ID}:102`, 'emergency.ack'], [ID, 103, `${ID}:103`, 'emergency.ack']]);
    assert.ok(ev.every((e) => (e.data as EmergencyAck).orderId === 'emg-1' && (e.data as EmergencyAck).seq === 41));
    assert.equal(device.unacked, 0);
  });

  it('waits for startAt before "started", uses --play-ms when given, and a signed cancel ends it with "cancelled" and no "finished"', async () => {
    device = make(500);
    const c = await up();
    c.deliver('emergency', signed(order({ startAt: new Date(NOW + 2000).toISOString() })));
    assert.deepEqual(states(c), [['received', undefined]]);
    advance(2000);
    assert.deepEqual(states(c).map((s) => s[0]), ['received', 'started']);
    advance(499);
    c.deliver('emergency', signed(order({ action: 'cancel', seq: 42, content: undefined })));
    advance(10_000);
    assert.deepEqual(states(c).map((s) => s[0]), ['received', 'started', 'received', 'cancelled']);
    assert.equal((c.events()[3]!.data as EmergencyAck).seq, 42, 'the cancel is acked with its own seq');
  });

  it('rejects with the verifier\'s code: a replay, another device\'s zone, an expired order; unparseable input is counted but not acked', async () => {
    device = make(100);
    const c = await up();
    const env = signed(order());
    c.deliver('emergency', env);
    c.deliver('emergency', env);
    c.deliver('emergency', signed(order({ seq: 50, target: { zones: ['Y1-C1'], devices: [] } })));
    c.deliver('emergency', signed(order({ seq: 51, expiresAt: new Date(NOW - 1).toISOString() })));
    c.deliver('emergency', '{not json');
    assert.deepEqual(states(c), [
      ['received', undefined], ['started', undefined], ['rejected', 'LOA_ERR_EMERGENCY_REPLAY'], ['rejected', 'LOA_ERR_EMERGENCY_SCOPE'], ['rejected', 'LOA_ERR_EMERGENCY_EXPIRED'],
    ]);
    assert.deepEqual(hooks.errors, ['LOA_ERR_EMERGENCY_REPLAY', 'LOA_ERR_EMERGENCY_SCOPE', 'LOA_ERR_EMERGENCY_EXPIRED', 'LOA_ERR_JSON_PARSE']);
  });

  it('keeps acks without a PUBACK and resends them, same seq, after it reconnects with a new token', async () => {
    device = make(1000);
    const c1 = await up();
    c1.acks = false;
    c1.deliver('emergency', signed(order()));
    assert.equal(device.unacked, 2);
    c1.drop();
    assert.equal(device.connected, false);
    advance(500); // backoff: between half and all of 1 s; random() = 0 → 500 ms
    await new Promise((r) => setImmediate(r));
    const c2 = last();
    assert.notEqual(c2, c1);
    assert.ok(device.connected);
    assert.deepEqual(c2.events().map((e) => e.key), [`${ID}:101`, `${ID}:102`], 'resent with the same idempotency keys');
    assert.equal(device.unacked, 0);
    assert.equal(hooks.ups, 2);
  });

  it('answers an unsigned {"ping":n} on cmd with one telemetry sample, and refuses an unsigned command without acking it', async () => {
    const pings: number[] = [];
    device = make(null, { ping: (p) => void pings.push(p.n) });
    const c = await up();
    c.deliver('cmd', { ping: 7 });
    c.deliver('cmd', { signed: { kind: 'reboot' } });
    const tele = c.published.filter((p) => p.topic === topics.up(ID, 'telemetry'));
    assert.equal(tele.length, 1);
    assert.deepEqual(JSON.parse(tele[0]!.payload), { at: now, manifestVersion: 0, stale: false });
    assert.deepEqual(pings, [7]);
    assert.deepEqual(c.events(), []);
    assert.deepEqual(hooks.errors, ['LOA_ERR_COMMAND_INVALID']);
  });

  it('checks signed device commands like the agent and acks them: a volume at once, a test tone after its length, a replay and another device\'s command rejected', async () => {
    device = make();
    const c = await up();
    let seq = 1_795_000_000;
    const cmd = (over: Partial<DeviceCommand>): DeviceCommand => ({
      _type: 'command', schemaVersion: 1, commandId: `cmd-${++seq}`, deviceId: ID, seq, nonce: randomBytes(16).toString('base64url'),
      issuedAt: new Date(NOW).toISOString(), expiresAt: new Date(NOW + 300_000).toISOString(), type: 'volume', params: { volume: 30 }, ...over,
    } as DeviceCommand);
    const vol = signEnvelope(cmd({}), [trust.schedule.privateKeyPem]);
    c.deliver('cmd', vol);
    c.deliver('cmd', signEnvelope(cmd({ type: 'test_tone', params: { durationS: 2 } }), [trust.schedule.privateKeyPem]));
    c.deliver('cmd', vol);
    c.deliver('cmd', signEnvelope(cmd({ deviceId: 'sim-other' }), [trust.schedule.privateKeyPem]));
    c.deliver('cmd', signEnvelope(cmd({}), [trust.emergency.privateKeyPem]));
    const acks = (): string[] => c.events().filter((e) => e.type === 'command.ack').map((e) => {
      const a = e.data as CommandAck;
      return `${a.commandId}:${a.state}${a.code ? `:${a.code}` : ''}`;
    });
    const base = 1_795_000_000;
    assert.deepEqual(acks(), [
      `cmd-${base + 1}:received`, `cmd-${base + 1}:done`, `cmd-${base + 2}:received`, `cmd-${base + 1}:rejected:LOA_ERR_COMMAND_REPLAY`,
      `cmd-${base + 3}:rejected:LOA_ERR_COMMAND_WRONG_DEVICE`, `cmd-${base + 4}:rejected:LOA_ERR_COMMAND_SIGNATURE`,
    ]);
    advance(2000);
    assert.equal(acks().at(-1), `cmd-${base + 2}:done`);
    assert.deepEqual((c.events().at(-1)!.data as CommandAck).result, { hz: 1000, durationMs: 2000, simulated: true });
  });
});
