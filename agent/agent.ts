import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../shared/clock.js';
import { agentClock } from '../shared/file-offset-clock.js';
import { LoaError, toLoaError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { AudioSink } from '../shared/player.js';
import type { EventType } from '../shared/schemas/events.js';
import type { HardwareProfile } from '../shared/schemas/hardware-profile.js';
import type { SignedManifest } from '../shared/schemas/manifest.js';
import { openBundle } from './bundle.js';
import { CommandHandler } from './commands/handler.js';
import { CommandStore } from './commands/store.js';
import { playVolume } from './commands/volume.js';
import type { DisplayRole, DisplayRoleDeps } from './display/role.js';
import { EmergencyHandler } from './emergency/handler.js';
import { EmergencyStore } from './emergency/store.js';
import { deviceTokenSource, loadIdentity, type DeviceIdentity } from './identity.js';
import { ManifestManager } from './manifest/manager.js';
import { MediaGuard } from './media/guard.js';
import { MediaStore } from './media/store.js';
import { OutputController } from './outputs/controller.js';
import { checkRelays } from './outputs/relay-check.js';
import { createRelayDriver, type RelayDriverDeps } from './outputs/resolve.js';
import { createAudioSink } from './player/resolve.js';
import { PlaysRepo } from './scheduler/plays.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import type { Db } from './store/db.js';
import { DiskGuard } from './store/disk-guard.js';
import { Outbox } from './store/outbox.js';
import { openOrRebuild } from './store/recover.js';
import { restoreAfterRebuild } from './store/restore.js';
import { loadControllerConfig, type ControllerConfig } from './sync/config.js';
import type { Sync, SyncOptions } from './sync/sync.js';
import type { Updater } from './update/updater.js';

/** Sync settings an agent may be given (tests); the rest comes from the agent itself. */
export type AgentSyncOptions = Partial<Omit<SyncOptions, 'dataDir' | 'deviceId' | 'config' | 'db' | 'outbox' | 'media' | 'manager' | 'install' | 'stats'>> & {
  /** Overrides `<dataDir>/controller.json`. */
  config?: ControllerConfig;
};

export interface AgentOptions {
  dataDir: string;
  profile: HardwareProfile;
  clock?: Clock;
  log?: Logger;
  /** Replaces the profile's audio sink (tests, benchmarks). */
  sink?: AudioSink;
  relayDeps?: Partial<RelayDriverDeps>;
  scheduler?: Partial<SchedulerOptions>;
  /**
   * Sync with a controller (agent/sync). By default it runs when `<dataDir>/controller.json` exists (written
   * by `loa agent enroll`); options here (with `config`) start it without that file; false never starts it.
   */
  sync?: AgentSyncOptions | false;
  /** Reported in the retained MQTT status. */
  agentVersion?: string;
  /** The display role (profile `display`): replacements for tests, or false to leave it off. */
  display?: Partial<DisplayRoleDeps> | false;
  /**
   * The `reboot` command: restart the agent service. Called after the outbox has drained (or 5 s); `loa agent
   * run` stops the agent and exits with AGENT_RESTART_EXIT_CODE so that systemd's Restart= starts it again.
   * Without it the command is acknowledged as received and nothing restarts (tests observe the call).
   */
  onRestart?: (commandId: string) => void;
  /** Self-update (issue 11): how often the manifest's agentUpdate is looked at, the broadcast margin; false: off. */
  update?: { checkMs?: number; marginMs?: number } | false;
  /** How often the free space of the data disk is looked at (default 2 s; virtual-clock simulations use more). */
  diskCheckMs?: number;
}

/** The exit status of `loa agent run` after a `reboot` command: systemd (Restart=always) starts the agent again. */
export const AGENT_RESTART_EXIT_CODE = 75;

/**
 * The supervisor (DESIGN §4): opens the store, starts outputs (fail-safe off first), the player, the
 * scheduler and then sync (when enrolled with a controller), and stops them in reverse order. It never needs
 * the network to play what it already has.
 */
export class Agent {
  private db: Db | null = null;
  private outputs: OutputController | null = null;
  private scheduler: Scheduler | null = null;
  private manager: ManifestManager | null = null;
  private outbox: Outbox | null = null;
  private identity: DeviceIdentity | null = null;
  private syncer: Sync | null = null;
  private emergency: EmergencyHandler | null = null;
  private displayRole: DisplayRole | null = null;
  private commands: CommandHandler | null = null;
  private updater: Updater | null = null;
  private sink: AudioSink | null = null;
  private mediaGuard: MediaGuard | null = null;
  private disk: DiskGuard | null = null;
  private readonly stopCtl = new AbortController();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly o: AgentOptions) {
    this.clock = o.clock ?? agentClock();
    this.log = o.log ?? createLogger('agent');
  }

  get deviceId(): string {
    return this.identity?.deviceId ?? '';
  }

  /** How often the scheduler loop has looked at the clock; the systemd watchdog pings only while it grows. */
  get schedulerTicks(): number {
    return this.scheduler?.ticks ?? 0;
  }

  /** Records an event; on a full disk the reserve is released and the write tried once more (store/disk-guard.ts). */
  event(type: EventType, dedupe: string, data: Record<string, unknown>): void {
    try {
      this.outbox?.add(type, dedupe, this.clock.now(), data);
    } catch (e) {
      if (!this.disk?.onWriteError(e)) throw e;
      this.outbox?.add(type, dedupe, this.clock.now(), data);
    }
  }

  async start(): Promise<void> {
    const { dataDir, profile } = this.o;
    // How long each start step took (logged with `agent ready`): playing again quickly after a power cut matters.
    const t0 = this.clock.monotonic();
    const steps: Record<string, number> = {};
    const step = (name: string): void => void (steps[name] = Math.round(this.clock.monotonic() - t0));
    this.identity = loadIdentity(dataDir);
    const now = (): number => this.clock.now();
    this.disk = new DiskGuard({
      dataDir, clock: this.clock, log: this.log.child({ m: 'disk' }), ...(this.o.diskCheckMs ? { checkMs: this.o.diskCheckMs } : {}),
      onRecovered: (f) => this.event('store.recovered', `disk-full:${f.since}`, { code: 'LOA_ERR_DISK_FULL', ...f }),
    });
    this.disk.prepare();
    // A corrupt store is moved aside and rebuilt (issue 10): the agent always starts.
    const { db, rebuild } = openOrRebuild({ path: join(dataDir, 'agent.db'), log: this.log.child({ m: 'store' }), now, monotonic: () => this.clock.monotonic() });
    this.db = db;
    const outbox = new Outbox({ db, deviceId: () => this.deviceId });
    this.outbox = outbox;
    const media = new MediaStore({ dataDir, db, log: this.log.child({ m: 'media' }), now });
    media.init();
    this.manager = new ManifestManager({ db, outbox, media, log: this.log.child({ m: 'manifest' }), deviceId: this.deviceId, now, keepMedia: () => [...(this.emergency?.activeMedia() ?? []), ...(this.commands?.activeMedia() ?? [])] });
    if (rebuild) {
      await restoreAfterRebuild({ dataDir, rebuild, manager: this.manager, media, outbox, log: this.log.child({ m: 'store' }), now, monotonic: () => this.clock.monotonic() });
    } else {
      try {
        this.manager.snapshot();
      } catch (e) {
        const err = toLoaError(e, 'LOA_ERR_STORE_SNAPSHOT');
        this.log.error({ code: err.code }, `the copies outside the database could not be written: ${err.message}`);
      }
    }
    step('store');
    this.event('agent.start', `start:${now()}:${process.pid}`, { pid: process.pid, profile: profile.id });
    const manager0 = this.manager;
    const guard = new MediaGuard({
      media, outbox, clock: this.clock, log: this.log.child({ m: 'media' }), current: () => manager0.current(),
      download: (entry, signal) => this.syncer
        ? this.syncer.downloadMedia(entry, signal, (src) => media.put(entry, src))
        : Promise.reject(new LoaError('LOA_ERR_SYNC_DOWNLOAD', 'this device does not sync with a controller')),
    });
    this.mediaGuard = guard;

    const driver = createRelayDriver(profile.relay, { clock: this.clock, log: this.log.child({ m: 'relay' }), ...this.o.relayDeps });
    this.outputs = new OutputController({
      profileOutputs: profile.outputs, driver, clock: this.clock, log: this.log.child({ m: 'outputs' }),
      onEvent: (type, data) => this.event(type, `${type}:${now()}`, data),
    });
    await this.outputs.start();
    step('outputs');

    const sink = this.o.sink ?? createAudioSink(profile.audio, { clock: this.clock, log: this.log.child({ m: 'player' }), fileDir: join(dataDir, 'sink') });
    this.sink = sink;
    // Relay ("tiếp sóng") drop-outs are reported as they are bridged, not only at the end of the window.
    sink.onGap = (key, gap): void => this.event('stream.gap', `gap:${key}:${gap.from}`, { occurrence: key, code: 'LOA_ERR_STREAM_GAP', fromMs: gap.from, toMs: gap.to, reason: gap.reason });
    try {
      await sink.check();
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_AUDIO_DEVICE_NOT_FOUND');
      this.log.error({ code: err.code }, err.message);
      this.event('audio.fault', `audio-check:${now()}`, { code: err.code, message: err.message });
    }
    step('sink');
    const commandStore = new CommandStore(db);
    if (profile.display && this.o.display !== false) {
      // Loaded only on boards: a loudspeaker receiver keeps none of the display code in memory.
      const { DisplayRole } = await import('./display/role.js');
      this.displayRole = new DisplayRole({
        config: profile.display, clock: this.clock, outbox, log: this.log.child({ m: 'display' }),
        media: { pathOf: (s) => media.pathOf(s), has: (s) => media.has(s) }, ...this.o.display,
      });
      await this.displayRole.start();
    }
    this.scheduler = new Scheduler({
      clock: this.clock, plays: new PlaysRepo({ db, outbox }), outbox, sink, outputs: this.outputs, log: this.log.child({ m: 'scheduler' }),
      // Re-hashed before each play: a file damaged on disk is never played (media/guard.ts).
      media: { pathOf: (s) => media.pathOf(s), has: (s) => guard.playable(s) }, display: this.displayRole?.surface ?? null,
      onPlay: (occ, phase, detail) => {
        this.emergency?.onPlay(occ, phase, detail);
        this.commands?.onPlay(occ, phase, detail);
        this.displayRole?.onPlay(occ, phase);
      },
      // The device volume (the `volume` command) scales every play but emergencies, which keep their signed volume.
      volumeOf: (occ) => playVolume(occ, commandStore.volume()),
      onTaskError: (e) => this.disk?.onWriteError(e),
      ...this.o.scheduler,
    });
    const current = this.manager.current();
    step('handlers');
    this.scheduler.setManifest(current?.signed ?? null);
    step('manifest');
    const manager = this.manager;
    this.emergency = new EmergencyHandler({
      deviceId: this.deviceId, store: new EmergencyStore(db), outbox, scheduler: this.scheduler, clock: this.clock, log: this.log.child({ m: 'emergency' }),
      root: () => manager.root(), zones: () => manager.current()?.signed.zones ?? [], media,
      fetchMedia: (entry, signal) => {
        if (!this.syncer) return Promise.reject(new LoaError('LOA_ERR_SYNC_DOWNLOAD', 'this device does not sync with a controller'));
        return this.syncer.downloadMedia(entry, signal, (src) => media.put(entry, src));
      },
    });
    this.emergency.restore();
    const outputs = this.outputs;
    this.commands = new CommandHandler({
      deviceId: this.deviceId, store: commandStore, outbox, scheduler: this.scheduler, root: () => manager.root(), media,
      checkRelays: () => checkRelays(outputs, profile.outputs, { clock: this.clock }),
      restart: (commandId) => void this.restart(commandId), clock: this.clock, log: this.log.child({ m: 'commands' }),
    });
    this.commands.restore();
    this.scheduler.start();
    step('scheduler');
    // Playing first: a program due at start is begun before sync loads (MQTT, HTTP: a few hundred ms of module
    // loading on a small board) and competes with the warm-up timer. At most 3 s.
    const waited = new AbortController();
    await Promise.race([this.scheduler.settled(), this.clock.sleep(3000, waited.signal).catch(() => undefined)]);
    waited.abort();
    step('playing');
    await this.startSync(media);
    step('sync');
    // Every stored file is re-hashed once per start, in the background (playback re-checks each file anyway).
    void guard.checkAll().catch((e: unknown) => this.log.error({ err: e }, 'media check failed'));
    void this.disk.run(this.stopCtl.signal).catch((e: unknown) => this.log.error({ err: e }, 'disk check failed'));
    this.log.info({ deviceId: this.deviceId, manifest: current?.signed.version ?? 0, sync: this.syncer !== null, startMs: steps }, 'agent ready');
  }

  /** Sync with the controller, after the scheduler: it runs in the background and playback never waits for it. */
  private async startSync(media: MediaStore): Promise<void> {
    const { dataDir, sync: so } = this.o;
    if (so === false || !this.db || !this.outbox || !this.manager) return;
    let config: ControllerConfig | null;
    let token: () => string;
    try {
      config = so?.config ?? loadControllerConfig(dataDir);
      if (!config) return;
      token = so?.token ?? deviceTokenSource(dataDir, this.deviceId, () => this.clock.now());
    } catch (e) {
      // A broken controller.json or key turns sync off; playback goes on.
      const err = toLoaError(e, 'LOA_ERR_CONFIG_INVALID');
      this.log.error({ code: err.code }, `sync is off: ${err.message}`);
      return;
    }
    const manager = this.manager;
    // Loaded only when there is a controller to talk to: an agent that runs from bundles alone never pays
    // for the MQTT client in memory.
    const { Sync } = await import('./sync/sync.js');
    this.syncer = new Sync({
      clock: this.clock, log: this.log.child({ m: 'sync' }), token,
      ...(this.o.agentVersion ? { agentVersion: this.o.agentVersion } : {}),
      onDown: (kind, body) => {
        if (kind === 'emergency' && this.emergency) void this.emergency.receive(body);
        else if (kind === 'cmd' && this.commands) void this.commands.receive(body);
        else this.log.info({ kind }, `${kind} message received; this agent does not handle it yet`);
      },
      ...so,
      dataDir, deviceId: this.deviceId, config, db: this.db, outbox: this.outbox, media, manager,
      install: (raw, source) => this.install(raw, source),
      stats: () => {
        const now = this.scheduler?.nowPlaying() ?? null;
        return { manifestVersion: this.scheduler?.manifestVersion ?? 0, stale: this.scheduler?.isStale() ?? false, nowPlaying: now ? now.entryId : null };
      },
    });
    // Loaded before sync starts: start() returns with every part wired, before sync's first check can report.
    const wire = this.o.update !== false && this.scheduler && this.outputs && this.sink ? await import('./update/wire.js') : null;
    this.syncer.start();
    if (wire && this.scheduler && this.outputs && this.sink) {
      const { createUpdater } = wire;
      const syncer = this.syncer;
      this.updater = createUpdater({
        dataDir, deviceId: this.deviceId, controllerUrl: config.controllerUrl, token, clock: this.clock, log: this.log.child({ m: 'update' }),
        manager, scheduler: this.scheduler, sink: this.sink, outputs: this.outputs, zones: this.o.profile.outputs,
        connected: () => syncer.connected, event: (dedupe, data) => this.event('update.state', dedupe, data), restart: (why) => void this.restart(why),
        ...(this.o.update ?? {}),
      });
      this.updater.start();
    }
    if (this.displayRole) {
      const { httpUploader } = await import('./display/screenshot.js');
      this.displayRole.setUploader(httpUploader({ baseUrl: config.controllerUrl, deviceId: this.deviceId, token }));
    }
  }

  /** The display role, when the hardware profile has a display (issue 8). */
  get display(): DisplayRole | null {
    return this.displayRole;
  }

  /** Emergency orders (also for orders that arrive by other channels than MQTT, e.g. tests and USB). */
  get emergencyOrders(): EmergencyHandler | null {
    return this.emergency;
  }

  /** Signed device commands (also for commands that arrive by other channels than MQTT, e.g. tests). */
  get deviceCommands(): CommandHandler | null {
    return this.commands;
  }

  /** The `reboot` command: waits (at most 5 s) for the outbox to reach the controller, then asks to be restarted. */
  private async restart(commandId: string): Promise<void> {
    const deadline = this.clock.monotonic() + 5000;
    while (this.syncer?.connected && this.unsentEvents(1).length > 0 && this.clock.monotonic() < deadline) await this.clock.sleep(100);
    if (this.o.onRestart) this.o.onRestart(commandId);
    else this.log.warn({ commandId }, 'reboot command: this agent has no restart hook (not run by `loa agent run`); not restarting');
  }

  /** The sync supervisor, when this agent syncs with a controller. */
  get sync(): Sync | null {
    return this.syncer;
  }

  /** Installs a signed manifest (and media); the scheduler switches to it at once. */
  async install(raw: unknown, source: Parameters<ManifestManager['install']>[1]): Promise<SignedManifest> {
    if (!this.manager || !this.scheduler) throw new LoaError('LOA_ERR_INTERNAL', 'agent is not started');
    const env = await this.manager.install(raw, source);
    this.scheduler.setManifest(env.signed);
    this.updater?.kick();
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

  /** Events not yet acknowledged by the controller's broker, in order. */
  unsentEvents(limit = 1000): ReturnType<Outbox['pending']> {
    return this.outbox?.pending(limit) ?? [];
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
      ...(this.syncer ? { sync: this.syncer.state() } : {}),
    };
  }

  async stop(): Promise<void> {
    this.emergency?.stop();
    await this.updater?.stop();
    this.updater = null;
    this.stopCtl.abort();
    await this.mediaGuard?.stop();
    await this.syncer?.stop();
    this.syncer = null;
    await this.scheduler?.stop();
    await this.displayRole?.stop();
    await this.outputs?.stop();
    if (this.db?.open) {
      this.event('agent.stop', `stop:${this.clock.now()}:${process.pid}`, {});
      this.db.close();
    }
  }
}
