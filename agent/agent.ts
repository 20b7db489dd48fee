import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock, type Clock } from '../shared/clock.js';
import { LoaError, toLoaError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { AudioSink } from '../shared/player.js';
import type { EventType } from '../shared/schemas/events.js';
import type { HardwareProfile } from '../shared/schemas/hardware-profile.js';
import type { SignedManifest } from '../shared/schemas/manifest.js';
import { openBundle } from './bundle.js';
import { loadIdentity, type DeviceIdentity } from './identity.js';
import { ManifestManager } from './manifest/manager.js';
import { MediaStore } from './media/store.js';
import { OutputController } from './outputs/controller.js';
import { createRelayDriver, type RelayDriverDeps } from './outputs/resolve.js';
import { createAudioSink } from './player/resolve.js';
import { PlaysRepo } from './scheduler/plays.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import { openDb, type Db } from './store/db.js';
import { Outbox } from './store/outbox.js';

export interface AgentOptions {
  dataDir: string;
  profile: HardwareProfile;
  clock?: Clock;
  log?: Logger;
  /** Replaces the profile's audio sink (tests, benchmarks). */
  sink?: AudioSink;
  relayDeps?: Partial<RelayDriverDeps>;
  scheduler?: Partial<SchedulerOptions>;
}

/**
 * The supervisor (DESIGN §4): opens the store, starts outputs (fail-safe off first), the player and the
 * scheduler, and stops them in reverse order. It never needs the network to play what it already has.
 */
export class Agent {
  private db: Db | null = null;
  private outputs: OutputController | null = null;
  private scheduler: Scheduler | null = null;
  private manager: ManifestManager | null = null;
  private outbox: Outbox | null = null;
  private identity: DeviceIdentity | null = null;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly o: AgentOptions) {
    this.clock = o.clock ?? new SystemClock();
    this.log = o.log ?? createLogger('agent');
  }

  get deviceId(): string {
    return this.identity?.deviceId ?? '';
  }

  event(type: EventType, dedupe: string, data: Record<string, unknown>): void {
    this.outbox?.add(type, dedupe, this.clock.now(), data);
  }

  async start(): Promise<void> {
    const { dataDir, profile } = this.o;
    this.identity = loadIdentity(dataDir);
    const db = openDb({ path: join(dataDir, 'agent.db') });
    this.db = db;
    const now = (): number => this.clock.now();
    const outbox = new Outbox({ db, deviceId: () => this.deviceId });
    this.outbox = outbox;
    const media = new MediaStore({ dataDir, db, log: this.log.child({ m: 'media' }), now });
    media.init();
    this.manager = new ManifestManager({ db, outbox, media, log: this.log.child({ m: 'manifest' }), deviceId: this.deviceId, now });
    this.event('agent.start', `start:${now()}:${process.pid}`, { pid: process.pid, profile: profile.id });

    const driver = createRelayDriver(profile.relay, { clock: this.clock, log: this.log.child({ m: 'relay' }), ...this.o.relayDeps });
    this.outputs = new OutputController({
      profileOutputs: profile.outputs, driver, clock: this.clock, log: this.log.child({ m: 'outputs' }),
      onEvent: (type, data) => this.event(type, `${type}:${now()}`, data),
    });
    await this.outputs.start();

    const sink = this.o.sink ?? createAudioSink(profile.audio, { clock: this.clock, log: this.log.child({ m: 'player' }), fileDir: join(dataDir, 'sink') });
    // Relay ("tiếp sóng") drop-outs are reported as they are bridged, not only at the end of the window.
    sink.onGap = (key, gap): void => this.event('stream.gap', `gap:${key}:${gap.from}`, { occurrence: key, code: 'LOA_ERR_STREAM_GAP', fromMs: gap.from, toMs: gap.to, reason: gap.reason });
    try {
      await sink.check();
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
      this.log.error({ code: err.code }, err.message);
      this.event('audio.fault', `audio-check:${now()}`, { code: err.code, message: err.message });
    }
    this.scheduler = new Scheduler({
      clock: this.clock, plays: new PlaysRepo({ db, outbox }), outbox, sink, outputs: this.outputs, log: this.log.child({ m: 'scheduler' }),
      media: { pathOf: (s) => media.pathOf(s), has: (s) => media.has(s) }, ...this.o.scheduler,
    });
    const current = this.manager.current();
    this.scheduler.setManifest(current?.signed ?? null);
    this.scheduler.start();
    this.log.info({ deviceId: this.deviceId, manifest: current?.signed.version ?? 0 }, 'agent ready');
  }

  /** Installs a signed manifest (and media); the scheduler switches to it at once. */
  async install(raw: unknown, source: Parameters<ManifestManager['install']>[1]): Promise<SignedManifest> {
    if (!this.manager || !this.scheduler) throw new LoaError('LOA_ERR_INTERNAL', 'agent is not started');
    const env = await this.manager.install(raw, source);
    this.scheduler.setManifest(env.signed);
    return env;
  }

  /** Picks up a manifest that another process (loa agent import) installed in the store. */
  reloadManifest(): Promise<void> {
    const current = this.manager?.current();
    if (current && this.scheduler && current.signed.version !== this.scheduler.manifestVersion) {
      this.log.info({ version: current.signed.version }, 'switching to the imported manifest');
      this.scheduler.setManifest(current.signed);
    }
    return Promise.resolve();
  }

  /** Installs a trust root (first install or a chained update) and then a bundle: for demos and provisioning. */
  async importRootThenBundle(rootPath: string, dir: string): Promise<SignedManifest> {
    if (!this.manager) throw new LoaError('LOA_ERR_INTERNAL', 'agent is not started');
    if (!this.manager.root()) this.manager.installRoot(JSON.parse(readFileSync(rootPath, 'utf8')));
    return this.importBundle(dir);
  }

  /** Every event in the outbox, in order. */
  events(): ReturnType<Outbox['list']> {
    return this.outbox?.list() ?? [];
  }

  async importBundle(dir: string): Promise<SignedManifest> {
    if (!this.manager || !this.scheduler) throw new LoaError('LOA_ERR_INTERNAL', 'agent is not started');
    const env = await this.manager.installBundle(openBundle(dir));
    this.scheduler.setManifest(env.signed);
    return env;
  }

  status(): Record<string, unknown> {
    return {
      deviceId: this.deviceId, manifestVersion: this.scheduler?.manifestVersion ?? 0, stale: this.scheduler?.isStale() ?? false,
      nowPlaying: this.scheduler?.nowPlaying() ?? null, outputs: this.outputs?.state() ?? null,
    };
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
    await this.outputs?.stop();
    if (this.db?.open) {
      this.event('agent.stop', `stop:${this.clock.now()}:${process.pid}`, {});
      this.db.close();
    }
  }
}
