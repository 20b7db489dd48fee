import { makeDeviceToken } from '../../shared/device-token.js';
import type { EventType } from '../../shared/schemas/events.js';
import { parseJsonText } from '../../shared/validate.js';
import type { Limiter } from './limiter.js';

/**
 * The everyday traffic of a receiver, for soak runs (issue 10): what the agent sends when nothing is
 * happening, at rates the caller chooses (a real agent sends far less often; a soak compresses hours into
 * minutes). Off unless asked for: `loa sim` without traffic options only answers orders.
 */
export interface TrafficSpec {
  /** A telemetry sample on `…/up/telemetry` (QoS 1) this often per device; null = none. */
  telemetryMs: number | null;
  /** A proof-of-play pair (`play.start` + `play.end` completed, one occurrence) this often per device; null = none. */
  playEveryMs: number | null;
  /** On a notify naming a newer version, fetch `GET /api/v1/devices/{id}/manifest` (device token, If-None-Match) from this base URL; null = ignore notifies. */
  httpBase: string | null;
}

/** What the traffic of one device needs from its device (SimDevice). */
export interface TrafficHost {
  id: string;
  privateKeyPem: string;
  now(): number;
  connected(): boolean;
  /** QoS 1; `done(true)` on its PUBACK. */
  publishTelemetry(body: string, done: (ok: boolean) => void): void;
  /** Into the device's durable queue (seq, resent after a reconnect until its PUBACK). */
  publishEvent(type: EventType, data: Record<string, unknown>): void;
  /** Events still waiting for their PUBACK (the `outbox` figure of a telemetry sample). */
  unacked(): number;
}

export interface TrafficHooks {
  /** A telemetry sample the broker acknowledged. */
  telemetry?(): void;
  /** A play occurrence queued (its two events). */
  play?(): void;
  /** A manifest fetch ended: `ok` for 200/304, else a failure (retried). */
  fetched?(ok: boolean, detail: string): void;
}

const RETRIES = 5;
const ENTRY = 'sim-soak';

/** One device's periodic telemetry, proof-of-play and notify-driven manifest fetches. */
export class DeviceTraffic {
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private manifestVersion = 0;
  private etag: string | null = null;
  private wanted = 0;
  private fetching = false;
  private readonly started: number;

  constructor(private readonly o: { spec: TrafficSpec; host: TrafficHost; hooks?: TrafficHooks; fetchLimiter?: Limiter; random?: () => number }) {
    this.started = o.host.now();
  }

  /** Starts the timers, each at a random phase so a fleet does not send in lockstep. */
  start(): void {
    const { spec } = this.o;
    const rnd = this.o.random ?? Math.random;
    const every = (ms: number, fn: () => void): void => {
      const first = setTimeout(() => {
        if (this.stopped) return;
        fn();
        this.timers.push(setInterval(fn, ms));
      }, Math.floor(rnd() * ms));
      this.timers.push(first);
    };
    if (spec.telemetryMs) every(spec.telemetryMs, () => this.telemetry());
    if (spec.playEveryMs) every(spec.playEveryMs, () => this.play());
  }

  /** Stops sending (queued events still drain through the device). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** The manifest version this device holds (0 before its first fetch). */
  get version(): number {
    return this.manifestVersion;
  }

  /** A notify: fetch when it names a version newer than the one held (the agent's ManifestFetcher.onNotify). */
  onNotify(payload: Buffer): void {
    if (!this.o.spec.httpBase) return;
    const n = parseJsonText(payload, 4096, 'notify', 'LOA_ERR_MQTT_PAYLOAD') as { version?: unknown } | null;
    const v = typeof n?.version === 'number' && Number.isSafeInteger(n.version) ? n.version : 0;
    if (v <= this.manifestVersion) return;
    this.wanted = Math.max(this.wanted, v);
    void this.fetchLoop();
  }

  private telemetry(): void {
    const h = this.o.host;
    if (!h.connected()) return; // a sample is a snapshot: nothing is queued while offline
    const at = h.now();
    const body = JSON.stringify({
      at, manifestVersion: this.manifestVersion, stale: false, uptimeS: Math.round((at - this.started) / 1000), cpuLoad: 0.3, tempC: 48.5,
      diskFreeMb: 1200, memFreeMb: 180, rssiDbm: -71, outbox: h.unacked(), nowPlaying: null,
    });
    h.publishTelemetry(body, (ok) => {
      if (ok) this.o.hooks?.telemetry?.();
    });
  }

  private play(): void {
    const h = this.o.host;
    const at = h.now();
    const occurrence = `${ENTRY}@${new Date(at).toISOString()}`;
    h.publishEvent('play.start', { occurrence, entryId: ENTRY, programId: null, scheduledAt: at, attempt: 1, offsetMs: 0 });
    h.publishEvent('play.end', { occurrence, entryId: ENTRY, attempt: 1, status: 'completed', playedMs: 1000 });
    this.o.hooks?.play?.();
  }

  /** Fetches until the held version reaches the newest notified one; a failure is retried (at most RETRIES in a row). */
  private async fetchLoop(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    let failures = 0;
    try {
      while (!this.stopped && this.wanted > this.manifestVersion && failures < RETRIES) {
        const release = this.o.fetchLimiter ? await this.o.fetchLimiter.acquire() : (): void => undefined;
        let ok = false;
        try {
          ok = await this.fetchOnce();
        } finally {
          release();
        }
        if (ok) failures = 0;
        else await new Promise((r) => setTimeout(r, 1000 * 2 ** failures++));
      }
    } finally {
      this.fetching = false;
    }
  }

  private async fetchOnce(): Promise<boolean> {
    const h = this.o.host;
    const url = new URL(`api/v1/devices/${encodeURIComponent(h.id)}/manifest`, this.o.spec.httpBase!.replace(/\/?$/, '/'));
    const headers: Record<string, string> = { authorization: `Bearer ${makeDeviceToken(h.privateKeyPem, h.id, h.now())}` };
    if (this.etag) headers['if-none-match'] = this.etag;
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      if (res.status === 304) {
        this.manifestVersion = Math.max(this.manifestVersion, this.wanted);
        this.o.hooks?.fetched?.(true, '304');
        return true;
      }
      const text = await res.text();
      if (res.status !== 200) {
        this.o.hooks?.fetched?.(false, `HTTP ${res.status}: ${text.slice(0, 200)}`);
        return false;
      }
      const v = (JSON.parse(text) as { signed?: { version?: unknown } }).signed?.version;
      if (typeof v !== 'number') {
        this.o.hooks?.fetched?.(false, 'the manifest has no signed.version');
        return false;
      }
      this.manifestVersion = v;
      this.wanted = Math.max(this.wanted, v);
      this.etag = res.headers.get('etag');
      this.o.hooks?.fetched?.(true, '200');
      return true;
    } catch (e) {
      this.o.hooks?.fetched?.(false, (e as Error).message);
      return false;
    }
  }
}
