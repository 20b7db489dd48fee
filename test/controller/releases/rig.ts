import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { verifyManifest } from '../../../agent/manifest/verify.js';
import { generateKeyPair, signEnvelope, type KeyPair } from '../../../shared/crypto.js';
import { makeDeviceToken } from '../../../shared/device-token.js';
import { verifyRelease } from '../../../shared/release.js';
import type { DeviceEvent } from '../../../shared/schemas/events.js';
import type { Release, SignedRelease, UpdateStateData } from '../../../shared/schemas/release.js';
import type { RootMetadata, SignedRoot } from '../../../shared/schemas/root.js';
import type { AgentUpdate } from '../../../shared/schemas/release.js';
import { topics } from '../../../shared/topics.js';
import type { ApiClient } from '../../../scripts/lib/api-client.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { OffsetClock } from '../../support/pairing.js';
import { seedTree } from '../../support/seed.js';

/**
 * Gives the keys folder's root a `release` role with a fresh key (re-signed by root-1.key, the 1-of-1 root of
 * startTestController), as `loa keys init` does once it makes release.key. Returns the release key pair.
 */
export function addReleaseRole(keysDir: string): KeyPair {
  const release = generateKeyPair();
  const rootKeyPem = readFileSync(join(keysDir, 'root-1.key'), 'utf8');
  const env = JSON.parse(readFileSync(join(keysDir, 'root.json'), 'utf8')) as SignedRoot;
  const root: RootMetadata = { ...env.signed, keys: { ...env.signed.keys, [release.keyid]: { keytype: 'ed25519', public: release.publicKey } }, roles: { ...env.signed.roles, release: { keyids: [release.keyid], threshold: 1 } } };
  const text = JSON.stringify(signEnvelope(root, [rootKeyPem]), null, 2) + '\n';
  writeFileSync(join(keysDir, 'root.json'), text);
  writeFileSync(join(keysDir, 'roots', '1.root.json'), text);
  return release;
}

/** A fake artifact (the controller treats it as opaque bytes) and its metadata signed by `key`. */
export function makeRelease(key: KeyPair, version: string, o: { size?: number; arch?: Release['arch'] } = {}): { bytes: Buffer; signed: SignedRelease } {
  const bytes = randomBytes(o.size ?? 200_000);
  const release: Release = {
    _type: 'release', name: 'loaphuong-agent', version, platform: 'linux', arch: o.arch ?? 'x64',
    sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, node: '>=22', createdAt: '2026-11-20T00:00:00Z',
  };
  return { bytes, signed: signEnvelope(release, [key.privateKeyPem]) };
}

export function releaseForm(signed: unknown, bytes: Buffer): FormData {
  const form = new FormData();
  form.append('release', typeof signed === 'string' ? signed : JSON.stringify(signed));
  form.append('artifact', new Blob([bytes]), 'loaphuong-agent.tar.gz');
  return form;
}

/** An enrolled receiver spoken for at the protocol level: its own key, device tokens, a real MQTT client. */
export class SimReceiver {
  readonly key = generateKeyPair();
  client: MqttClient | null = null;
  seq = 0;
  manifestVersion = 0;
  constructor(readonly id: string, private readonly t: TestController) {}

  token(): string {
    return makeDeviceToken(this.key.privateKeyPem, this.id, Date.now(), 300);
  }

  async connect(agentVersion: string): Promise<void> {
    const c = await mqtt.connectAsync(this.t.controller.mqttUrl, { clientId: this.id, username: this.id, password: this.token(), reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 });
    await c.subscribeAsync(topics.deviceFilter(this.id), { qos: 1 });
    this.client = c;
    await this.status(agentVersion);
  }

  /** The retained status the agent publishes, with its running version. */
  async status(agentVersion: string): Promise<void> {
    await this.client!.publishAsync(topics.up(this.id, 'status'), JSON.stringify({ online: true, at: Date.now(), agentVersion }), { qos: 1, retain: true });
  }

  /** Fetches and verifies the signed manifest as the agent does; returns its agentUpdate, release verified. */
  async agentUpdate(root: RootMetadata): Promise<AgentUpdate | undefined> {
    const res = await fetch(new URL(`/api/v1/devices/${this.id}/manifest`, this.t.controller.httpUrl), { headers: { authorization: `Bearer ${this.token()}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`manifest: ${res.status} ${text.slice(0, 200)}`);
    const env = verifyManifest(text, { root, deviceId: this.id, currentVersion: 0, now: Date.now() });
    this.manifestVersion = env.signed.version;
    const au = env.signed.agentUpdate;
    if (au) verifyRelease(au.release, root);
    return au;
  }

  /** Reports update.state events through the events topic, as the agent's outbox does. */
  async report(...states: UpdateStateData[]): Promise<void> {
    const events: DeviceEvent[] = states.map((data) => {
      const seq = ++this.seq;
      return { deviceId: this.id, seq, key: `${this.id}:${seq}`, type: 'update.state', at: Date.now(), data: data };
    });
    await this.client!.publishAsync(topics.up(this.id, 'events'), JSON.stringify(events), { qos: 1 });
  }
}

export interface Rig {
  t: TestController;
  clock: OffsetClock;
  as: Record<string, ApiClient>;
  releaseKey: KeyPair;
  root: RootMetadata;
  receivers: SimReceiver[];
  close(): Promise<void>;
}

export const PASSWORD = 'rollout-password-1';

/**
 * A real controller whose root has a release role; province T01 › communes X1 (clusters X1-C1, X1-C2) and Y1;
 * `n` receivers enrolled in X1's clusters (alternating), each with a real MQTT client, running `version`.
 * Users: adminX (admin on X1), adminY (admin on Y1), opX (operator on X1).
 */
export async function startRig(n: number, version = '1.0.0', overrides: Record<string, unknown> = {}): Promise<Rig> {
  const clock = new OffsetClock();
  let releaseKey: KeyPair | null = null;
  const t = await startTestController(overrides, { clock, keys: (dir) => { releaseKey = addReleaseRole(dir); } });
  const as = await seedTree(t, [
    { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' },
    { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Thôn Đông' },
    { id: 'X1-C2', parentId: 'X1', level: 'cluster', code: 'C2', name: 'Thôn Tây' },
    { id: 'Y1', parentId: 'T01', level: 'commune', code: 'Y1', name: 'Xã Hai' },
    { id: 'Y1-C1', parentId: 'Y1', level: 'cluster', code: 'C1', name: 'Thôn Bắc' },
  ], [['adminX', 'admin', 'X1'], ['adminY', 'admin', 'Y1'], ['opX', 'operator', 'X1']], PASSWORD);
  const d = t.controller.data;
  const receivers: SimReceiver[] = [];
  for (let i = 0; i < n; i++) {
    const id = `loa-${String(i + 1).padStart(3, '0')}`;
    const r = new SimReceiver(id, t);
    d.devices.create({ id, zoneId: i % 2 === 0 ? 'X1-C1' : 'X1-C2', name: `Loa ${i + 1}`, kind: 'speaker' }, Date.now());
    d.devices.bindKey(id, { publicKey: r.key.publicKey, keyid: r.key.keyid, hardwareProfile: null, agentVersion: version }, Date.now());
    await r.connect(version);
    receivers.push(r);
  }
  // Enrolment compiles a first manifest; the data layer does not, so compile here.
  await t.controller.manifestCompiler.compile(receivers.map((r) => r.id));
  const root = (await t.client().get<SignedRoot>('/api/v1/trust/root')).signed;
  return {
    t, clock, as, releaseKey: releaseKey!, root, receivers,
    async close() {
      for (const r of receivers) await r.client?.endAsync(true);
      await t.close();
    },
  };
}
