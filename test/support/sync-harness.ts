import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Agent, type AgentSyncOptions } from '../../agent/agent.js';
import { parseProfile } from '../../agent/config/profile.js';
import { initIdentity, type DeviceIdentity } from '../../agent/identity.js';
import { ManifestManager } from '../../agent/manifest/manager.js';
import { MediaStore } from '../../agent/media/store.js';
import { openDb } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { writeControllerConfig } from '../../agent/sync/config.js';
import { SystemClock } from '../../shared/clock.js';
import { sha256Hex } from '../../shared/crypto.js';
import { createLogger } from '../../shared/log.js';
import type { MediaEntry, SignedManifest } from '../../shared/schemas/manifest.js';
import { RecordingSink } from './doubles.js';
import type { FakeController } from './fake-controller.js';
import { baseManifest, makeTrust, signManifest, type TestTrust } from './trust.js';

export const DEVICE_ID = 'dev-001';

/** Fast timings for tests: backoffs in tens of ms, drains polled often, no periodic noise. */
export const FAST_SYNC: AgentSyncOptions = {
  backoff: { minMs: 50, maxMs: 400 }, retry: { minMs: 50, maxMs: 400 }, stableMs: 60_000,
  manifestIntervalMs: 600_000, telemetryIntervalMs: 600_000, drainPollMs: 50,
};

/** Log lines kept in memory (to check codes, and that no secret is ever logged). */
export class LogCapture {
  readonly lines: string[] = [];
  readonly log: Logger;
  constructor() {
    const lines = this.lines;
    this.log = pino({ level: 'debug' }, new Writable({
      write(chunk: Buffer, _enc, cb): void {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }));
  }
  text(): string {
    return this.lines.join('');
  }
}

/**
 * A provisioned device (identity, trust root, controller.json) in a temp folder, plus helpers to sign its
 * manifests and to start agents on it. Agents use the real clock and a recording sink.
 */
export class TestDevice {
  readonly dir = mkdtempSync(join(tmpdir(), 'loa-sync-'));
  readonly dataDir = join(this.dir, 'dev');
  readonly trust: TestTrust = makeTrust();
  readonly identity: DeviceIdentity;
  readonly logs = new LogCapture();
  private readonly agents: Agent[] = [];

  constructor(readonly controller: FakeController, mqttUrl: string) {
    this.identity = initIdentity(this.dataDir, DEVICE_ID);
    controller.devicePublicKey = this.identity.publicKey;
    const db = openDb({ path: join(this.dataDir, 'agent.db') });
    const log = createLogger('test', { level: 'silent' });
    const media = new MediaStore({ dataDir: this.dataDir, db, log, now: Date.now });
    new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => DEVICE_ID }), media, log, deviceId: DEVICE_ID, now: Date.now }).installRoot(this.trust.signedRoot);
    db.close();
    writeControllerConfig(this.dataDir, { controllerUrl: controller.url, mqttUrl, zoneId: 'cum-1' });
  }

  /** Media of `size` random bytes, served by the controller. */
  addMedia(size: number): MediaEntry {
    const data = randomBytes(size);
    const sha256 = sha256Hex(data);
    this.controller.media.set(sha256, data);
    return { sha256, size, durationMs: 5000 };
  }

  /** A signed manifest for this device: one program per media file, scheduled far in the future. */
  manifest(version: number, media: MediaEntry[]): SignedManifest {
    const m = baseManifest({
      deviceId: DEVICE_ID, version, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
      media,
      programs: media.map((e, i) => ({ id: `p${i}`, title: `p${i}`, items: [{ kind: 'media' as const, sha256: e.sha256 }] })),
      schedule: media.map((_e, i) => ({ id: `e${i}`, programId: `p${i}`, dtstart: '2036-01-01T06:00', priority: 'normal' as const, volume: 80, outputs: [], onPreempt: 'resume' as const, maxDelayMs: 60_000 })),
    });
    return signManifest(m, [this.trust.schedule]);
  }

  async startAgent(sync: AgentSyncOptions = {}): Promise<Agent> {
    const clock = new SystemClock();
    const profile = parseProfile(JSON.stringify({ id: 'sim', name: 'sim', audio: { driver: 'none', device: 'default' }, relay: { type: 'none' }, outputs: [{ name: 'amp', channels: [], warmupMs: 0, cooldownMs: 0 }] }));
    const agent = new Agent({ dataDir: this.dataDir, profile, clock, sink: new RecordingSink(clock), log: this.logs.log, sync: { ...FAST_SYNC, ...sync } });
    this.agents.push(agent);
    await agent.start();
    return agent;
  }

  async stopAgent(agent: Agent): Promise<void> {
    this.agents.splice(this.agents.indexOf(agent), 1);
    await agent.stop();
  }

  async close(): Promise<void> {
    for (const a of this.agents.splice(0)) await a.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The next `event` from `emitter` whose arguments satisfy `pred`; fails after `ms`. */
export function nextEvent<A extends unknown[]>(emitter: EventEmitter, event: string, pred: (...args: A) => boolean, ms: number): Promise<A> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    const on = (...args: unknown[]): void => {
      if (!pred(...(args as A))) return;
      clearTimeout(t);
      emitter.off(event, on);
      resolve(args as A);
    };
    emitter.on(event, on);
  });
}
