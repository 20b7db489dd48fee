import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { openDb, type Db } from '../agent/store/db.js';
import { SystemClock, type Clock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/log.js';
import { topics } from '../shared/topics.js';
import { AedesBus } from './broker/aedes-bus.js';
import type { Bus } from './broker/bus.js';
import { EmbeddedBroker } from './broker/embedded.js';
import { MqttBus } from './broker/mqtt-bus.js';
import { keysDirOf, publicHttpUrl, type ControllerConfig } from './config.js';
import { DataLayer } from './data/index.js';
import { CONTROLLER_MIGRATIONS } from './db/migrations.js';
import { buildApp, type RouteInfo } from './http/app.js';
import type { AppContext } from './http/context.js';
import type { FastifyInstance } from './http/fastify.js';
import { emergencyKeyProblem, loadControllerKeys, type ControllerKeys, type TrustReloadResult } from './keys.js';
import { emergencySigner, fanOut, type EmergencySigner } from './emergency/signer.js';
import { EmergencyService } from './emergency/service.js';
import { commandSigner, type CommandSigner } from './commands/signer.js';
import { CapFeedPoller } from './cap/feed.js';
import { CapIngest } from './cap/ingest.js';
import { EspeakProvider } from './tts/espeak.js';
import { HttpTtsProvider } from './tts/http.js';
import { TtsService } from './tts/service.js';
import { canonicalize } from '../shared/crypto.js';
import { LoaError, toLoaError } from '../shared/errors.js';
import { verifyRootUpdate } from '../shared/trust.js';
import { ManifestCompiler } from './manifests/compiler.js';
import { MediaLibrary } from './media/library.js';
import { ReleaseStore } from './releases/store.js';
import { RolloutService } from './releases/rollout.js';
import { TelemetryIngest } from './telemetry/ingest.js';
import { EventHub } from './telemetry/hub.js';
import { RetentionJob } from './telemetry/retention.js';
import { TelemetryRepo } from './data/telemetry.js';

export interface ControllerOptions {
  config: ControllerConfig;
  clock?: Clock;
  log?: Logger;
}

/**
 * The provincial controller (DESIGN §5): the SQLite data layer, the signing keys, the media library, the
 * MQTT broker (embedded aedes, or an external one via MQTT_URL), telemetry ingest, the manifest compiler and
 * the HTTP API. `start()` brings them up in dependency order and `stop()` takes them down in reverse.
 */
export class Controller {
  private db: Db | null = null;
  private broker: EmbeddedBroker | null = null;
  private bus: Bus | null = null;
  private ingest: TelemetryIngest | null = null;
  private retention: RetentionJob | null = null;
  private compiler: ManifestCompiler | null = null;
  private http: FastifyInstance | null = null;
  private routeTable: RouteInfo[] = [];
  private dataLayer: DataLayer | null = null;
  private keys: ControllerKeys | null = null;
  private emergencyKey: EmergencySigner | null = null;
  private commandKey: CommandSigner | null = null;
  private ctx: AppContext | null = null;
  private capFeedPoller: CapFeedPoller | null = null;
  private events: EventHub | null = null;
  private rollout: RolloutService | null = null;
  private reloading: Promise<unknown> = Promise.resolve();
  readonly clock: Clock;
  readonly log: Logger;

  constructor(private readonly o: ControllerOptions) {
    this.clock = o.clock ?? new SystemClock();
    this.log = o.log ?? createLogger('controller', { level: o.config.logLevel });
  }

  get data(): DataLayer {
    if (!this.dataLayer) throw new Error('controller not started');
    return this.dataLayer;
  }

  get routes(): readonly RouteInfo[] {
    return this.routeTable;
  }

  /** The controller's MQTT side (embedded or external broker): what it publishes to devices goes through here. */
  get messageBus(): Bus {
    if (!this.bus) throw new Error('controller not started');
    return this.bus;
  }

  /** The CAP feed poller (null without `cap.feeds`). */
  get capFeeds(): CapFeedPoller | null {
    return this.capFeedPoller;
  }

  /** Telemetry ingest (benchmarks hook its flushes). */
  get telemetryIngest(): TelemetryIngest {
    if (!this.ingest) throw new Error('controller not started');
    return this.ingest;
  }

  /** Staged rollouts of agent releases (issue 11); tests call `tick()` after moving their clock. */
  get deployments(): RolloutService {
    if (!this.rollout) throw new Error('controller not started');
    return this.rollout;
  }

  get manifestCompiler(): ManifestCompiler {
    if (!this.compiler) throw new Error('controller not started');
    return this.compiler;
  }

  /** The bound HTTP port. */
  get httpPort(): number {
    const a = this.http?.server.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  get mqttPort(): number {
    return this.broker?.port ?? 0;
  }

  get httpUrl(): string {
    return publicHttpUrl(this.o.config, this.httpPort);
  }

  get mqttUrl(): string {
    const c = this.o.config.mqtt;
    if (c.publicUrl) return c.publicUrl;
    if (c.url) return c.url;
    const host = new URL(this.httpUrl).hostname;
    return `mqtt://${host}:${this.mqttPort}`;
  }

  async start(): Promise<void> {
    const c = this.o.config;
    const dataDir = resolve(c.dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const keys = loadControllerKeys(keysDirOf(c), this.clock.now());
    this.keys = keys;
    this.emergencyKey = signerOf(keys);
    this.commandKey = commandSigner(keys.scheduleKeyPem);
    const db = openDb({ path: resolve(dataDir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS });
    this.db = db;
    const data = new DataLayer(db);
    this.dataLayer = data;
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'loa_controller_' });

    const media = new MediaLibrary({ dir: resolve(dataDir, 'media'), maxUploadBytes: c.media.maxUploadBytes, log: this.log.child({ m: 'media' }), loudness: { integratedLufs: c.media.loudnessLufs } });
    await media.init();
    const releases = new ReleaseStore({ dir: resolve(dataDir, 'releases') });
    await releases.init();
    const swept = await releases.sweep((sha) => data.releases.get(sha) !== null);
    if (swept.length) this.log.warn({ swept }, 'removed release files without a release row (an interrupted upload)');
    const rollout = new RolloutService({ data, clock: this.clock, log: this.log.child({ m: 'rollout' }), markDirty: (ids) => this.compiler?.markDirty(ids) });
    this.rollout = rollout;

    if (c.mqtt.url) {
      this.bus = new MqttBus({ url: c.mqtt.url, ...(c.mqtt.username ? { username: c.mqtt.username } : {}), ...(c.mqtt.password ? { password: c.mqtt.password } : {}), log: this.log.child({ m: 'mqtt' }) });
    } else {
      this.broker = new EmbeddedBroker({
        deviceKeys: (id) => data.devices.keyOf(id),
        deviceZones: (id) => { const d = data.devices.get(id); return d ? data.zones.chain(d.zoneId) : []; },
        registry: metrics, host: c.mqtt.host, port: c.mqtt.port, ...(c.mqtt.wsPort !== undefined ? { ws: { port: c.mqtt.wsPort, host: c.mqtt.host } } : {}),
        log: this.log.child({ m: 'broker' }), clock: this.clock,
      });
      await this.broker.start();
      this.bus = new AedesBus({ broker: this.broker, log: this.log.child({ m: 'bus' }) });
    }
    await this.bus.start();
    const bus = this.bus;

    const telemetry = new TelemetryRepo({ db });
    // The live event stream (contract A): fed by ingest after each commit, scoped by zone in the route.
    const events = new EventHub({
      zoneOf: (id) => { const d = data.devices.get(id); const z = d ? data.zones.get(d.zoneId) : null; return d && z ? { zoneId: d.zoneId, path: z.path } : null; },
      progressOf: (orderId) => {
        const o = data.emergency.get(orderId);
        const z = o ? data.zones.get(o.zoneId) : null;
        if (!o || !z) return null;
        const p = data.emergency.progress(orderId);
        return { zonePath: z.path, counts: { targeted: p.targeted, received: p.received, playing: p.started, finished: p.finished, failed: p.failed, offline: p.offline } };
      },
      log: this.log.child({ m: 'events' }),
    });
    this.events = events;
    this.ingest = new TelemetryIngest({
      bus, repo: telemetry, acks: data.emergency, commandAcks: data.commands, registry: metrics, log: this.log.child({ m: 'ingest' }), clock: this.clock,
      onEvent: (e) => {
        events.deviceEvent(e);
        if (e.type === 'update.state') rollout.kick();
      },
      onStatus: (id, online, at) => events.deviceStatus(id, online, at),
      updates: { foldUpdate: (id, s, at) => rollout.foldUpdate(id, s, at), setAgentVersion: (id, v) => data.deployments.setAgentVersion(id, v) },
    });
    await this.ingest.start();
    this.retention = new RetentionJob({ repo: telemetry, clock: this.clock, log: this.log.child({ m: 'retention' }), days: { telemetry: c.retention.telemetryDays, events: c.retention.eventsDays, plays: c.retention.playsDays } });
    this.retention.start();

    this.compiler = new ManifestCompiler({
      data, scheduleKeyPem: keys.scheduleKeyPem, clock: this.clock, log: this.log.child({ m: 'compiler' }),
      validityMs: c.manifests.validityDays * 86_400_000, renewBeforeMs: c.manifests.renewBeforeDays * 86_400_000, debounceMs: c.manifests.debounceMs,
      // rootVersion tells devices a rotated root is out (they fetch it before the manifest signed by the new key).
      notify: (deviceId, version) => bus.publish(topics.down(deviceId, 'notify'), JSON.stringify({ version, at: this.clock.now(), rootVersion: this.keys?.rootMeta.version ?? 1 }), { qos: 1 }),
      agentUpdates: () => rollout.agentUpdates(),
    });
    this.compiler.start();
    rollout.start();

    const tts = new TtsService({
      provider: c.tts.url
        ? new HttpTtsProvider({ url: c.tts.url, ...(c.tts.token ? { token: c.tts.token } : {}), ...(c.tts.voice ? { voice: c.tts.voice } : {}) })
        : new EspeakProvider(c.tts.voice ? { voice: c.tts.voice } : {}),
      media, cacheDir: resolve(dataDir, 'tts-cache'), log: this.log.child({ m: 'tts' }),
    });
    const ctx: AppContext = {
      config: c, data, clock: this.clock, log: this.log.child({ m: 'http' }), compiler: this.compiler, media: media, metrics, telemetry,
      root: keys.root, urls: { http: () => this.httpUrl, mqtt: () => this.mqttUrl },
      trust: { chain: () => this.keys?.chain ?? [], reload: (by) => this.reloadTrust(by) },
      disconnectDevice: (id) => { this.broker?.disconnect(id); },
      emergency: { signer: () => this.emergencyKey, publish: (ids, body) => fanOut(bus, ids, body) },
      tts, events, releases, rollout,
      commands: {
        signer: () => this.commandKey ?? (this.commandKey = commandSigner(keys.scheduleKeyPem)),
        publish: (deviceId, body) => bus.publish(topics.down(deviceId, 'cmd'), body, { qos: 1 }),
      },
    };
    this.ctx = ctx;
    const { app, routes } = await buildApp(ctx);
    this.http = app;
    this.routeTable = routes;
    await app.listen({ host: c.http.host, port: c.http.port });
    // Devices whose manifests near expiry, or that were never compiled, are brought up to date.
    this.compiler.markDirty(data.devices.allLiveIds());
    if (c.cap.feeds.length > 0) {
      const capIngest = new CapIngest(ctx, new EmergencyService(ctx));
      this.capFeedPoller = new CapFeedPoller({
        feeds: c.cap.feeds, clock: this.clock, log: this.log.child({ m: 'cap-feed' }),
        ingest: (actor, xml, source) => capIngest.ingest(actor, xml, source),
        userByName: (name) => { const u = data.users.credentials(name)?.user; return u && !u.disabled ? u : null; },
      });
      this.capFeedPoller.start();
    }
    this.log.info({ http: this.httpUrl, mqtt: this.mqttUrl, broker: this.bus.kind, emergencyKey: keys.emergencyKeyId?.slice(0, 12) ?? null }, 'controller ready');
    if (!keys.emergencyKeyId) this.log.warn({ code: 'LOA_ERR_EMERGENCY_KEY_MISSING' }, `no emergency.key in ${keysDirOf(c)}: emergency orders are off until it is there and trust is reloaded`);
  }

  /**
   * Picks up a root and schedule key rotated offline (`loa keys rotate-…`, copied into the keys folder) without
   * a restart: POST /api/v1/trust/reload or SIGHUP. The new root must chain from the one in force
   * (verifyRootUpdate for every version after it) and list the new schedule key (and emergency key, when
   * emergency.key is there); otherwise nothing changes. Then every device's manifest is re-signed with the new
   * key and devices are notified (with rootVersion). A new emergency.key alone is simply taken into use.
   * Audited either way.
   */
  reloadTrust(by: { actor: string; ip: string | null } = { actor: 'system', ip: null }): Promise<TrustReloadResult> {
    const run = this.reloading.then(() => this.reloadTrustNow(by));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private reloadTrustNow(by: { actor: string; ip: string | null }): TrustReloadResult {
    const cur = this.keys;
    const ctx = this.ctx;
    if (!cur || !ctx || !this.compiler) throw new LoaError('LOA_ERR_INTERNAL', 'controller not started');
    const now = this.clock.now();
    const audit = (action: string, details: Record<string, unknown>): void => {
      this.data.audit.add({ actor: by.actor, ip: by.ip, action, targetType: 'trust', targetId: 'root', details }, now);
    };
    let next: ControllerKeys;
    try {
      next = loadControllerKeys(keysDirOf(this.o.config), now, { checkEmergency: false });
      const from = cur.rootMeta.version;
      const to = next.rootMeta.version;
      if (to < from) throw new LoaError('LOA_ERR_ROOT_ROLLBACK', `the keys folder holds root v${to}, older than v${from} in force`);
      const same = next.chain.find((e) => (e as { signed: { version: number } }).signed.version === from);
      if (!same) throw new LoaError('LOA_ERR_TRUST_CHAIN', `the keys folder's roots/ does not hold v${from} (in force), so devices could not walk to v${to}: copy the whole roots/ folder`);
      if (canonicalize(same) !== canonicalize(cur.root)) throw new LoaError('LOA_ERR_TRUST_CHAIN', `the keys folder's root v${from} differs from the v${from} in force: it is from another key ceremony`);
      let trusted = cur.rootMeta;
      for (const env of next.chain) {
        if ((env as { signed: { version: number } }).signed.version > from) trusted = verifyRootUpdate(trusted, env, now);
      }
      const problem = emergencyKeyProblem(next);
      if (problem) throw problem;
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_TRUST_CHAIN');
      audit('trust.reload_failed', { code: err.code, message: err.message, version: cur.rootMeta.version });
      this.log.error({ code: err.code }, `trust reload refused; root v${cur.rootMeta.version} stays in force: ${err.message}`);
      throw err;
    }
    const keyChanged = next.scheduleKeyId !== cur.scheduleKeyId;
    const changed = keyChanged || next.rootMeta.version !== cur.rootMeta.version;
    // An emergency key copied in (or rotated) is picked up on its own; it needs no manifest re-signed.
    const emergencyChanged = next.emergencyKeyId !== cur.emergencyKeyId;
    if (changed || emergencyChanged) {
      this.keys = next;
      this.emergencyKey = signerOf(next);
      this.commandKey = commandSigner(next.scheduleKeyPem);
    }
    let devices = 0;
    if (changed) {
      ctx.root = next.root;
      this.compiler.rekey(next.scheduleKeyPem);
      const ids = this.data.devices.allLiveIds();
      devices = ids.length;
      this.compiler.markDirty(ids, true);
    }
    const result: TrustReloadResult = {
      reloaded: changed || emergencyChanged, previousVersion: cur.rootMeta.version, version: next.rootMeta.version,
      scheduleKeyId: next.scheduleKeyId, scheduleKeyChanged: keyChanged, devices,
    };
    audit('trust.reload', { ...result, emergencyKeyId: next.emergencyKeyId, emergencyKeyChanged: emergencyChanged });
    this.log.info({ ...result, emergencyKeyId: next.emergencyKeyId?.slice(0, 12) ?? null, emergencyKeyChanged: emergencyChanged }, changed ? 'trust reloaded: re-signing every manifest with the schedule key in force'
      : emergencyChanged ? 'trust reloaded: the emergency key in the keys folder is taken into use' : 'trust reload: nothing new in the keys folder');
    return result;
  }

  async stop(): Promise<void> {
    await this.capFeedPoller?.stop();
    this.capFeedPoller = null;
    this.events?.stop(); // open event streams would otherwise hold the HTTP server open
    await this.http?.close();
    this.rollout?.stop();
    await this.compiler?.stop();
    this.retention?.stop();
    await this.ingest?.stop();
    await this.bus?.stop();
    await this.broker?.stop();
    if (this.db?.open) this.db.close();
    this.http = null;
  }
}

/** The emergency signer of a key set (scoped like the root's emergency role), or null without emergency.key. */
function signerOf(k: ControllerKeys): EmergencySigner | null {
  return k.emergencyKeyPem ? emergencySigner(k.emergencyKeyPem, k.rootMeta.roles.emergency.zones ?? null) : null;
}
