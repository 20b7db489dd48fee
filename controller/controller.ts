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
import { loadControllerKeys } from './keys.js';
import { ManifestCompiler } from './manifests/compiler.js';
import { MediaLibrary } from './media/library.js';
import { TelemetryIngest } from './telemetry/ingest.js';
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
    const db = openDb({ path: resolve(dataDir, 'controller.db'), migrations: CONTROLLER_MIGRATIONS });
    this.db = db;
    const data = new DataLayer(db);
    this.dataLayer = data;
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics, prefix: 'loa_controller_' });

    const media = new MediaLibrary({ dir: resolve(dataDir, 'media'), maxUploadBytes: c.media.maxUploadBytes, log: this.log.child({ m: 'media' }), loudness: { integratedLufs: c.media.loudnessLufs } });
    await media.init();

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
    this.ingest = new TelemetryIngest({ bus, repo: telemetry, registry: metrics, log: this.log.child({ m: 'ingest' }), clock: this.clock });
    await this.ingest.start();
    this.retention = new RetentionJob({ repo: telemetry, clock: this.clock, log: this.log.child({ m: 'retention' }), days: { telemetry: c.retention.telemetryDays, events: c.retention.eventsDays, plays: c.retention.playsDays } });
    this.retention.start();

    this.compiler = new ManifestCompiler({
      data, scheduleKeyPem: keys.scheduleKeyPem, clock: this.clock, log: this.log.child({ m: 'compiler' }),
      validityMs: c.manifests.validityDays * 86_400_000, renewBeforeMs: c.manifests.renewBeforeDays * 86_400_000, debounceMs: c.manifests.debounceMs,
      notify: (deviceId, version) => bus.publish(topics.down(deviceId, 'notify'), JSON.stringify({ version, at: this.clock.now() }), { qos: 1 }),
    });
    this.compiler.start();

    const ctx: AppContext = {
      config: c, data, clock: this.clock, log: this.log.child({ m: 'http' }), compiler: this.compiler, media: media, metrics, telemetry,
      root: keys.root, urls: { http: () => this.httpUrl, mqtt: () => this.mqttUrl },
      disconnectDevice: (id) => { this.broker?.disconnect(id); },
    };
    const { app, routes } = await buildApp(ctx);
    this.http = app;
    this.routeTable = routes;
    await app.listen({ host: c.http.host, port: c.http.port });
    // Devices whose manifests near expiry, or that were never compiled, are brought up to date.
    this.compiler.markDirty(data.devices.allLiveIds());
    this.log.info({ http: this.httpUrl, mqtt: this.mqttUrl, broker: this.bus.kind }, 'controller ready');
  }

  async stop(): Promise<void> {
    await this.http?.close();
    await this.compiler?.stop();
    this.retention?.stop();
    await this.ingest?.stop();
    await this.bus?.stop();
    await this.broker?.stop();
    if (this.db?.open) this.db.close();
    this.http = null;
  }
}
