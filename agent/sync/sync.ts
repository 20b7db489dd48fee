import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { SystemClock, type Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { MediaEntry, SignedManifest } from '../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import type { Notify } from '../../shared/schemas/telemetry.js';
import type { DownKind } from '../../shared/topics.js';
import type { MediaSource } from '../manifest/manager.js';
import type { Db } from '../store/db.js';
import type { Outbox } from '../store/outbox.js';
import type { BackoffOptions } from './backoff.js';
import type { ControllerConfig } from './config.js';
import { parseJsonPayload, parseNotify } from './down-messages.js';
import { MediaDownloader } from './download.js';
import { ControllerHttp, type FetchFn } from './http.js';
import { ManifestFetcher, type CheckResult } from './manifest-fetch.js';
import { MqttLink, type MqttConnectFn, type RetryInfo } from './mqtt-link.js';
import { EventDrain } from './event-drain.js';
import { QueueDrain } from './queue-drain.js';
import { SYNC_KEYS, SyncSettings } from './settings.js';
import { Telemetry, telemetrySource, type AgentStats } from './telemetry.js';
import { TelemetryQueue, type QueuedTelemetry } from './telemetry-queue.js';
import { TrustFetcher } from './trust-fetch.js';

export interface SyncOptions {
  dataDir: string;
  deviceId: string;
  config: ControllerConfig;
  /** A fresh device token per connection and request (identity.deviceTokenSource). */
  token: () => string;
  db: Db;
  outbox: Outbox;
  media: { has(sha256: string, size?: number): boolean };
  /** With installRoot, root rotations are followed from the controller (trust-fetch.ts). */
  manager: { root(): RootMetadata | null; currentVersion(): number; installRoot?(input: unknown): RootMetadata };
  /** Verifies and installs a manifest and switches the scheduler (Agent.install). */
  install(raw: Buffer, source: MediaSource): Promise<SignedManifest>;
  stats: () => Omit<AgentStats, 'outbox'>;
  clock?: Clock;
  log?: Logger;
  fetch?: FetchFn;
  mqttConnect?: MqttConnectFn;
  random?: () => number;
  agentVersion?: string;
  /** MQTT reconnect backoff (default 1 s → 60 s, jittered). */
  backoff?: BackoffOptions;
  /** A connection up this long resets the backoff (default 30 s). */
  stableMs?: number;
  /** Periodic manifest check (default 5 min ± 20 %). */
  manifestIntervalMs?: number;
  manifestJitter?: number;
  /** Backoff after a failed manifest check or download (default 1 s → the check interval). */
  retry?: BackoffOptions;
  /** Telemetry sampling period (default 60 s) and queue cap (default 1000). */
  telemetryIntervalMs?: number;
  telemetryCap?: number;
  /** How often the drains look for new rows while connected (default 1 s). */
  drainPollMs?: number;
  /** Events unacknowledged by the controller this long are published again (default 10 s; event-drain.ts). */
  eventAckTimeoutMs?: number;
  downloadIdleTimeoutMs?: number;
  /** Signed commands and emergency orders (their handlers come with their own issues). */
  onDown?: (kind: Exclude<DownKind, 'notify'>, payload: unknown) => void;
}

export interface SyncState {
  connected: boolean;
  controllerUrl: string;
  mqttUrl: string;
  lastCheck: CheckResult | null;
  lastError: { code: string; message: string } | null;
  eventsSent: number;
  telemetryQueued: number;
}

interface Parts {
  link: MqttLink;
  downloader: MediaDownloader;
  fetcher: ManifestFetcher;
  events: EventDrain;
  telemetryDrain: QueueDrain<QueuedTelemetry>;
  queue: TelemetryQueue;
}

export type SyncEvents = {
  connected: [];
  disconnected: [reason: string];
  retry: [RetryInfo];
  checked: [CheckResult];
  failed: [LoaError];
  notify: [Notify];
  invalid: [LoaError];
};

/**
 * The sync supervisor (DESIGN §4): MQTT plus HTTP. It keeps the manifest and media up to date, drains the
 * event outbox and the telemetry queue, and reconnects with backoff. Playback never waits for it: `start`
 * returns at once and everything runs in the background until `stop`.
 */
export class Sync extends EventEmitter<SyncEvents> {
  private parts: Parts | null = null;
  private ctl: AbortController | null = null;
  private tasks: Promise<void>[] = [];
  private lastCheck: CheckResult | null = null;
  private lastError: { code: string; message: string } | null = null;

  constructor(private readonly o: SyncOptions) {
    super();
  }

  start(signal?: AbortSignal): void {
    if (this.ctl) return;
    const o = this.o;
    const ctl = new AbortController();
    this.ctl = ctl;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    const clock = o.clock ?? new SystemClock();
    const log = o.log ?? createLogger('sync');
    const random = o.random ?? Math.random;
    const settings = new SyncSettings(o.db);
    const http = new ControllerHttp({ baseUrl: o.config.controllerUrl, token: o.token, ...(o.fetch ? { fetch: o.fetch } : {}) });
    const downloader = new MediaDownloader({ dataDir: o.dataDir, http, log: log.child({ m: 'download' }), ...(o.downloadIdleTimeoutMs ? { idleTimeoutMs: o.downloadIdleTimeoutMs } : {}) });
    const link = new MqttLink({
      url: o.config.mqttUrl, deviceId: o.deviceId, token: o.token, clock, log: log.child({ m: 'mqtt' }), random,
      status: () => ({ manifestVersion: o.manager.currentVersion(), ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}) }),
      onMessage: (kind, payload) => this.onMessage(kind, payload, log),
      onAck: (payload) => this.parts?.events.onAck(payload),
      ...(o.backoff ? { backoff: o.backoff } : {}), ...(o.stableMs !== undefined ? { stableMs: o.stableMs } : {}),
      ...(o.mqttConnect ? { connect: o.mqttConnect } : {}),
    });
    const holder = o.manager.installRoot ? { root: () => o.manager.root(), installRoot: (input: unknown) => o.manager.installRoot!(input) } : null;
    const trust = holder ? new TrustFetcher({ http, holder, clock, log: log.child({ m: 'trust' }), report: (type, dedupe, at, data) => o.outbox.add(type, dedupe, at, data) }) : null;
    const fetcher = new ManifestFetcher({
      http, deviceId: o.deviceId, clock, log: log.child({ m: 'manifest-fetch' }), settings, manager: o.manager, media: o.media,
      downloader, install: (raw, source) => o.install(raw, source), random,
      ...(o.manifestIntervalMs ? { intervalMs: o.manifestIntervalMs } : {}), ...(o.manifestJitter !== undefined ? { jitter: o.manifestJitter } : {}),
      ...(o.retry ? { retry: o.retry } : {}), ...(trust ? { trust } : {}),
    });
    const poll = o.drainPollMs !== undefined ? { pollMs: o.drainPollMs } : {};
    const events = new EventDrain({
      link, outbox: o.outbox, deviceId: o.deviceId, clock, log, ...poll,
      ...(o.eventAckTimeoutMs !== undefined ? { ackTimeoutMs: o.eventAckTimeoutMs } : {}),
    });
    const queue = new TelemetryQueue({ db: o.db, ...(o.telemetryCap ? { cap: o.telemetryCap } : {}) });
    const telemetryDrain = new QueueDrain({ link, source: telemetrySource({ queue, deviceId: o.deviceId }), clock, log, ...poll });
    const telemetry = new Telemetry({
      dataDir: o.dataDir, queue, clock, log, onSample: () => telemetryDrain.kick(),
      stats: () => ({ ...o.stats(), outbox: pendingEvents(o.db) }),
      ...(o.telemetryIntervalMs ? { intervalMs: o.telemetryIntervalMs } : {}),
    });
    this.parts = { link, downloader, fetcher, events, telemetryDrain, queue };

    link.on('up', () => {
      settings.set(SYNC_KEYS.lastConnectedAt, clock.now());
      fetcher.kick(); // a notify may have been missed while away
      this.emit('connected');
    });
    link.on('down', (reason) => this.emit('disconnected', reason));
    link.on('retry', (info) => this.emit('retry', info));
    fetcher.on('checked', (r) => {
      this.lastCheck = r;
      this.lastError = null;
      if (r.status === 'installed' || r.status === 'rejected') events.kick(); // the manifest.accepted/rejected ack
      this.emit('checked', r);
    });
    fetcher.on('failed', (e) => {
      this.lastError = { code: e.code, message: e.message };
      this.emit('failed', e);
    });

    const guard = (name: string, p: Promise<void>): Promise<void> =>
      p.catch((e: unknown) => log.error({ code: toLoaError(e).code, reason: (e as Error).message }, `sync ${name} loop ended with an error`));
    link.start();
    this.tasks = [
      guard('manifest', fetcher.run(ctl.signal)),
      guard('events', events.run(ctl.signal)),
      guard('telemetry-drain', telemetryDrain.run(ctl.signal)),
      guard('telemetry', telemetry.run(ctl.signal)),
    ];
    log.info({ controller: o.config.controllerUrl, deviceId: o.deviceId }, 'sync started');
  }

  /** Stops the loops (no new work), then disconnects cleanly with a retained offline status. */
  async stop(): Promise<void> {
    const ctl = this.ctl;
    if (!ctl || ctl.signal.aborted) return;
    ctl.abort();
    await Promise.all(this.tasks);
    await this.parts?.link.stop();
  }

  /** Checks the manifest now (as a notify would). */
  checkNow(): void {
    this.parts?.fetcher.kick();
  }

  get connected(): boolean {
    return this.parts?.link.connected ?? false;
  }

  state(): SyncState {
    return {
      connected: this.connected, controllerUrl: this.o.config.controllerUrl, mqttUrl: this.o.config.mqttUrl,
      lastCheck: this.lastCheck, lastError: this.lastError, eventsSent: this.parts?.events.acked ?? 0,
      telemetryQueued: this.ctl?.signal.aborted ? 0 : (this.parts?.queue.count() ?? 0),
    };
  }

  /**
   * Downloads one file outside the manifest (an emergency order's audio), resumable like any other, and hands
   * it to `put` (the media store checks its hash while copying it in). The partial is removed afterwards.
   */
  async downloadMedia(entry: MediaEntry, signal: AbortSignal, put: (source: Readable) => Promise<void>): Promise<void> {
    const d = this.parts?.downloader;
    if (!d) throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', 'sync is not running, so the file cannot be downloaded');
    await d.fetch(entry, signal);
    const src = d.open(entry.sha256);
    if (!src) throw new LoaError('LOA_ERR_SYNC_DOWNLOAD', `the download of ${entry.sha256.slice(0, 12)}… left no file`);
    try {
      await put(src);
    } finally {
      d.clear([entry.sha256]);
    }
  }

  private onMessage(kind: DownKind, payload: Buffer, log: Logger): void {
    try {
      if (kind === 'notify') {
        const n = parseNotify(payload);
        this.emit('notify', n);
        this.parts?.fetcher.onNotify(n);
        return;
      }
      const body = parseJsonPayload(payload, kind);
      if (this.o.onDown) this.o.onDown(kind, body);
      else log.info({ kind }, `${kind} message received; this agent does not handle it yet`);
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_MQTT_PAYLOAD');
      log.warn({ code: err.code, kind, bytes: payload.length }, `ignored an invalid ${kind} message: ${err.message}`);
      this.emit('invalid', err);
    }
  }
}

function pendingEvents(db: Db): number {
  return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL').get()?.n ?? 0;
}
