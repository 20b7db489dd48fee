import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { loadControllerKeys } from '../../../controller/keys.js';
import { generateKeyPair, signEnvelope } from '../../../shared/crypto.js';
import { makeDeviceToken } from '../../../shared/device-token.js';
import type { DeviceCommand } from '../../../shared/schemas/command.js';
import type { EmergencyOrder } from '../../../shared/schemas/emergency.js';
import type { DeviceEvent } from '../../../shared/schemas/events.js';
import { topics } from '../../../shared/topics.js';
import { startTestController } from '../../support/controller.js';
import { loaOkAsync, SIM_PROFILE, startLoa, stopAll } from '../../support/loa-cli.js';
import { eventually } from '../../support/wait.js';
import { ACCEPTED, AttackLog, type Observed } from '../support/attack-log.js';

/**
 * Attacks through the real broker (embedded aedes over TCP) on a real controller and a real `loa agent run`
 * process: tampered, replayed, expired and cross-zone emergency orders, signed commands, a tampered manifest
 * served by the controller, and an oversized down payload; the device must refuse each and report the coded
 * refusal in its events. Then the broker ACL with a real enrolled device identity (`loa agent enroll`).
 */
const REPRODUCE = 'npm test -- test/reliability/attacks/device-process';
const DEV = 'loa-atk-1';
const SPY = 'loa-atk-spy';
const iso = (ms: number): string => new Date(ms).toISOString();
const nonce = (): string => randomBytes(16).toString('base64url');

test('a real agent refuses forged, replayed, expired and misaddressed orders, commands and manifests arriving through the real broker, and reports each coded refusal; the broker ACL holds for a real device identity', { timeout: 120_000 }, async () => {
  const t = await startTestController();
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  try {
    const api = t.admin;
    await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
    await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
    const enroll = async (id: string): Promise<string> => {
      await api.post('/api/v1/devices', { id, zoneId: 'X01-C1', name: `Loa ${id}` });
      const { token } = await api.post<{ token: string }>(`/api/v1/devices/${id}/enrollment-token`);
      const dir = join(t.dir, id);
      mkdirSync(dir, { recursive: true });
      await loaOkAsync(['agent', 'enroll', '--data-dir', dir, '--controller', t.controller.httpUrl, '--token', token]);
      return dir;
    };
    const agentDir = await enroll(DEV);
    const spyDir = await enroll(SPY);
    const events: DeviceEvent[] = [];
    await t.controller.messageBus.subscribe(topics.up(DEV, 'events'), (_t, payload) => {
      const v = JSON.parse(payload.toString()) as DeviceEvent | DeviceEvent[];
      events.push(...(Array.isArray(v) ? v : [v]));
    });
    children.push((await startLoa(['agent', 'run', '--data-dir', agentDir, '--profile', SIM_PROFILE])).child);
    await eventually(async () => {
      const d = (await api.get<{ device: { online: boolean; appliedVersion: number } }>(`/api/v1/devices/${DEV}`)).device;
      return d.online && d.appliedVersion > 0;
    }, 30_000, 'the agent is online with its first manifest');

    const log = new AttackLog({ family: 'device process (real agent, real broker)', reproduce: REPRODUCE });
    const keys = loadControllerKeys(join(t.dir, 'keys'), Date.now());
    const bus = t.controller.messageBus;
    /** The code of the refusal the device reports for `id` (an emergency or command ack, or a manifest.rejected). */
    const reported = async (type: DeviceEvent['type'], match: (d: Record<string, unknown>) => boolean, okState: string[]): Promise<Observed> => {
      let found: Record<string, unknown> | undefined;
      await eventually(() => (found = events.filter((e) => e.type === type).map((e) => e.data).find(match)) !== undefined, 15_000, `a ${type} event`);
      return found!.state === 'rejected' || type === 'manifest.rejected' ? String(found!.code) : okState.includes(String(found!.state)) ? ACCEPTED : `state ${String(found!.state)}`;
    };

    // Emergency orders on the device's own topic, signed with the controller's emergency key (a cancel needs no audio).
    const order = (over: Partial<EmergencyOrder> = {}): EmergencyOrder => ({
      _type: 'emergency', schemaVersion: 1, orderId: `em-${nonce().slice(0, 8)}`, action: 'cancel', seq: 1_000_000, nonce: nonce(),
      issuedAt: iso(Date.now() - 1000), expiresAt: iso(Date.now() + 600_000), target: { zones: ['X01-C1'], devices: [] }, title: 'Thử', repeat: 1, outputs: [], ...over,
    });
    const sendOrder = async (env: unknown): Promise<string> => {
      await bus.publish(topics.down(DEV, 'emergency'), JSON.stringify(env), { qos: 1 });
      return (env as { signed: EmergencyOrder }).signed.orderId;
    };
    const emergencyAck = async (env: unknown): Promise<Observed> => {
      const id = await sendOrder(env);
      return reported('emergency.ack', (d) => d.orderId === id && d.state !== 'received', ['cancelled', 'finished']);
    };
    const genuine = signEnvelope(order(), [keys.emergencyKeyPem!]);
    await log.attack('D0', 'control: a genuine emergency cancel is obeyed', 'loa agent run (emergency)', ACCEPTED, () => emergencyAck(genuine));
    const before = events.length;
    await log.attack('D1', 'the same emergency order replayed byte for byte', 'loa agent run (emergency)', 'LOA_ERR_EMERGENCY_REPLAY', async () => {
      await sendOrder(genuine);
      return reported('emergency.ack', (d) => d.orderId === genuine.signed.orderId && d.state === 'rejected', []);
    });
    assert.ok(events.length > before);
    const tampered = signEnvelope(order({ seq: 1_000_001 }), [keys.emergencyKeyPem!]);
    await log.attack('D2', 'an emergency order whose target was widened after signing', 'loa agent run (emergency)', 'LOA_ERR_EMERGENCY_SIGNATURE', () => emergencyAck({ ...tampered, signed: { ...tampered.signed, target: { zones: ['T01'], devices: [] } } }));
    await log.attack('D3', 'an expired emergency order', 'loa agent run (emergency)', 'LOA_ERR_EMERGENCY_EXPIRED', () => emergencyAck(signEnvelope(order({ seq: 1_000_002, issuedAt: iso(Date.now() - 3_600_000), expiresAt: iso(Date.now() - 60_000) }), [keys.emergencyKeyPem!])));
    await log.attack('D4', 'a genuine emergency order for another commune, sent on this device\'s topic', 'loa agent run (emergency)', 'LOA_ERR_EMERGENCY_SCOPE', () => emergencyAck(signEnvelope(order({ seq: 1_000_003, target: { zones: ['X99'], devices: ['loa-other'] } }), [keys.emergencyKeyPem!])));
    await log.attack('D5', 'an emergency order signed by a key the device does not trust', 'loa agent run (emergency)', 'LOA_ERR_EMERGENCY_SIGNATURE', () => emergencyAck(signEnvelope(order({ seq: 1_000_004 }), [generateKeyPair().privateKeyPem])));

    // Signed device commands on the device's own topic, signed with the controller's schedule key.
    const command = (over: Partial<DeviceCommand> = {}): DeviceCommand => ({
      _type: 'command', schemaVersion: 1, commandId: `cmd-${nonce().slice(0, 8)}`, deviceId: DEV, seq: 1_000_000, nonce: nonce(),
      issuedAt: iso(Date.now() - 1000), expiresAt: iso(Date.now() + 120_000), type: 'volume', params: { volume: 55 }, ...over,
    } as DeviceCommand);
    const commandAck = async (env: unknown): Promise<Observed> => {
      await bus.publish(topics.down(DEV, 'cmd'), typeof env === 'string' ? env : JSON.stringify(env), { qos: 1 });
      const id = (env as { signed: DeviceCommand }).signed.commandId;
      return reported('command.ack', (d) => d.commandId === id && d.state !== 'received', ['done']);
    };
    const cmd = signEnvelope(command(), [keys.scheduleKeyPem]);
    await log.attack('D6', 'control: a genuine volume command is obeyed', 'loa agent run (cmd)', ACCEPTED, () => commandAck(cmd));
    await log.attack('D7', 'the same command replayed', 'loa agent run (cmd)', 'LOA_ERR_COMMAND_REPLAY', async () => {
      await bus.publish(topics.down(DEV, 'cmd'), JSON.stringify(cmd), { qos: 1 });
      return reported('command.ack', (d) => d.commandId === cmd.signed.commandId && d.state === 'rejected', []);
    });
    const c2 = signEnvelope(command({ seq: 1_000_001 }), [keys.scheduleKeyPem]);
    await log.attack('D8', 'a command whose volume was raised to 100 after signing', 'loa agent run (cmd)', 'LOA_ERR_COMMAND_SIGNATURE', () => commandAck({ ...c2, signed: { ...c2.signed, params: { volume: 100 } } }));
    await log.attack('D9', 'a genuine command for another device, sent on this device\'s topic', 'loa agent run (cmd)', 'LOA_ERR_COMMAND_WRONG_DEVICE', () => commandAck(signEnvelope(command({ seq: 1_000_002, deviceId: SPY }), [keys.scheduleKeyPem])));
    await log.attack('D10', 'an expired command', 'loa agent run (cmd)', 'LOA_ERR_COMMAND_EXPIRED', () => commandAck(signEnvelope(command({ seq: 1_000_003, issuedAt: iso(Date.now() - 600_000), expiresAt: iso(Date.now() - 60_000) }), [keys.scheduleKeyPem])));
    await log.attack('D11', 'a 100 KiB command payload (device limit 64 KiB): dropped, and the device still obeys the next genuine command', 'loa agent run (cmd)', 'dropped', async () => {
      const n = events.length;
      await bus.publish(topics.down(DEV, 'cmd'), `{"signed":{"commandId":"big","seq":5,"pad":"${'x'.repeat(100 * 1024)}"}}`, { qos: 1 });
      const next = await commandAck(signEnvelope(command({ seq: 1_000_004, params: { volume: 60 } }), [keys.scheduleKeyPem]));
      const refusedBig = events.slice(n).some((e) => (e.data as { commandId?: string }).commandId === 'big' && (e.data as { state?: string }).state !== 'rejected');
      return next === ACCEPTED && !refusedBig && children[0]!.exitCode === null ? 'dropped' : `next ${next}, obeyed ${String(refusedBig)}`;
    });

    // A manifest tampered in the controller's store (or in transit): the device fetches it and refuses it.
    await log.attack('D12', 'a served manifest whose version and schedule were changed after signing', 'loa agent run (manifest over HTTP)', 'LOA_ERR_MANIFEST_SIGNATURE', async () => {
      const n = events.length;
      const stored = t.controller.data.manifests.get(DEV)!;
      const env = JSON.parse(stored.body) as { signed: { version: number; expiresAt: string } };
      const version = stored.version + 1;
      env.signed.version = version;
      t.controller.data.manifests.put({ ...stored, version, etag: `"${nonce()}"`, body: JSON.stringify(env) });
      await bus.publish(topics.down(DEV, 'notify'), JSON.stringify({ version, at: Date.now() }), { qos: 1 });
      let got: DeviceEvent | undefined;
      await eventually(() => (got = events.slice(n).find((e) => e.type === 'manifest.rejected' || e.type === 'manifest.accepted')) !== undefined, 15_000, `a manifest event after v${version}: ${JSON.stringify(events.slice(n).map((e) => e.type))}`);
      return got!.type === 'manifest.rejected' ? String(got!.data.code) : ACCEPTED;
    });
    assert.equal(children[0]!.exitCode, null, 'the agent survived every attack');

    // The broker ACL, with the second device's real identity (its key from `loa agent enroll`).
    const spyKey = readFileSync(join(spyDir, 'device.key'), 'utf8');
    const connect = (o: { username?: string; password?: string; clientId?: string } = {}): Promise<MqttClient> => mqtt.connectAsync(t.controller.mqttUrl, {
      clientId: o.clientId ?? SPY, username: o.username ?? SPY, password: o.password ?? makeDeviceToken(spyKey, SPY, Date.now()), reconnectPeriod: 0, connectTimeout: 5000,
    }).then((c) => (clients.push(c), c));
    const refusal = async (p: Promise<MqttClient>): Promise<Observed> => {
      try {
        await p;
        return ACCEPTED;
      } catch (e) {
        return `CONNACK ${String((e as { code?: number }).code ?? (e as Error).message)}`;
      }
    };
    const spy = await connect();
    const leaked: string[] = [];
    spy.on('message', (topic) => leaked.push(topic));
    for (const [id, filter] of [['A1', '#'], ['A2', 'loa/v1/#'], ['A3', `loa/v1/dev/${DEV}/#`], ['A4', '$SYS/#'], ['A5', 'loa/v1/dev/+/cmd'], ['A6', `loa/v1/dev/${DEV}/up/events`]] as const) {
      await log.attack(id, `a device subscribes to ${filter}`, 'embedded broker (subscribe ACL)', 'SUBACK 128', async () => {
        // mqtt.js rejects a subscription the broker granted with 128 (failure) as "Subscribe error".
        const g = await spy.subscribeAsync(filter, { qos: 1 }).then((r) => r[0]?.qos, (e: Error) => (/Subscribe error/.test(e.message) ? 128 : e.message));
        return g === 128 ? 'SUBACK 128' : ACCEPTED;
      });
    }
    await bus.publish(topics.down(DEV, 'notify'), JSON.stringify({ version: 1, at: Date.now() }), { qos: 1 });
    const heard: string[] = [];
    // The real agent keeps publishing its own status, events and telemetry: only the attacker's payloads count.
    await bus.subscribe(`loa/v1/dev/${DEV}/#`, (topic, payload) => {
      const text = payload.toString();
      if (text === '[]' || text === '{}' || text.includes('"at":0')) heard.push(`${topic} ${text}`);
    });
    const publishAs = async (topic: string, payload: string | Buffer, retain = false): Promise<Observed> => {
      const c = await connect();
      const closed = new Promise<Observed>((r) => c.once('close', () => r('disconnected')));
      return Promise.race([c.publishAsync(topic, payload, { qos: 1, retain }).then(() => ACCEPTED), closed]);
    };
    await log.attack('A7', 'a device publishes on another device\'s up/events', 'embedded broker (publish ACL)', 'disconnected', () => publishAs(topics.up(DEV, 'events'), '[]'));
    await log.attack('A8', 'a device publishes a retained offline status for another device', 'embedded broker (publish ACL)', 'disconnected', () => publishAs(topics.up(DEV, 'status'), '{"online":false,"at":0}', true));
    await log.attack('A9', 'a device publishes an emergency order on another device\'s down topic', 'embedded broker (publish ACL)', 'disconnected', () => publishAs(topics.down(DEV, 'emergency'), '{}'));
    await log.attack('A10', 'a device publishes 300 KiB on its own events (broker limit 256 KiB)', 'embedded broker (packet cap)', 'disconnected', () => publishAs(topics.up(SPY, 'events'), Buffer.alloc(300 * 1024, 0x20)));
    assert.deepEqual(heard, [], 'none of the attacker\'s messages reached the other device\'s topics');
    assert.deepEqual(leaked, [], 'the spy received nothing of the other device');
    await log.attack('A11', 'an unauthenticated client (no user name, no password)', 'embedded broker (CONNECT)', 'CONNACK 5', () => refusal(mqtt.connectAsync(t.controller.mqttUrl, { clientId: 'anon', reconnectPeriod: 0 })));
    await log.attack('A12', 'a device token forged with another key', 'embedded broker (CONNECT)', 'CONNACK 5', () => refusal(connect({ password: makeDeviceToken(generateKeyPair().privateKeyPem, SPY, Date.now()) })));
    await log.attack('A13', 'an expired device token (issued 2 h ago, 15 min TTL)', 'embedded broker (CONNECT)', 'CONNACK 5', () => refusal(connect({ password: makeDeviceToken(spyKey, SPY, Date.now() - 2 * 3_600_000, 900) })));
    await log.attack('A14', 'a genuine token of one device used under another device\'s name', 'embedded broker (CONNECT)', 'CONNACK 5', () => refusal(connect({ username: DEV, clientId: DEV })));
    await api.post(`/api/v1/devices/${SPY}/revoke`);
    await log.attack('A15', 'a revoked device connects with a fresh, correctly signed token', 'embedded broker (CONNECT)', 'CONNACK 5', () => refusal(connect()));
    log.finish();
  } finally {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await stopAll(children);
    await t.close();
  }
});
