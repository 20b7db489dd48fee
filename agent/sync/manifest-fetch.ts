import { EventEmitter } from 'node:events';
import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { MANIFEST_MAX_BYTES, type SignedManifest } from '../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import type { Notify } from '../../shared/schemas/telemetry.js';
import type { MediaSource } from '../manifest/manager.js';
import { verifyManifest } from '../manifest/verify.js';
import { backoffDelay, jittered, Waker, type BackoffOptions } from './backoff.js';
import type { MediaDownloader } from './download.js';
import { readCapped, responseError, type ControllerHttp } from './http.js';
import { SYNC_KEYS, type SyncSettings } from './settings.js';
import type { TrustUpdate } from './trust-fetch.js';

export type CheckResult =
  /** 304: the manifest in force is the newest. */
  | { status: 'unchanged' }
  /** 200, but it is the version already in force (a controller without ETags). */
  | { status: 'current'; version: number }
  | { status: 'installed'; version: number }
  /** Refused for a reason that retrying the same bytes cannot fix; reported as manifest.rejected. */
  | { status: 'rejected'; code: ErrorCode };

export interface ManifestFetcherOptions {
  http: ControllerHttp;
  deviceId: string;
  clock: Clock;
  log: Logger;
  settings: SyncSettings;
  manager: { root(): RootMetadata | null; currentVersion(): number };
  media: { has(sha256: string, size?: number): boolean };
  downloader: MediaDownloader;
  /** Verifies and installs, switching the scheduler (Agent.install). */
  install(raw: Buffer, source: MediaSource): Promise<SignedManifest>;
  random?: () => number;
  /** Periodic check (default 5 min), ±`jitter` (default 20 %). */
  intervalMs?: number;
  jitter?: number;
  /** After a failed check (network, download): exponential backoff from 1 s up to the interval. */
  retry?: BackoffOptions;
  /** Follows root rotations (trust-fetch.ts): before a check when a notify announced a newer root, and when a manifest's key is unknown to the root in force. */
  trust?: { update(signal: AbortSignal): Promise<TrustUpdate> };
}

/** Verification failures that a newer root (a rotated schedule key) may cure. */
const TRUST_CODES: readonly ErrorCode[] = ['LOA_ERR_MANIFEST_UNKNOWN_KEY', 'LOA_ERR_MANIFEST_THRESHOLD'];

const MEDIA_CODES: readonly ErrorCode[] = ['LOA_ERR_MEDIA_HASH_MISMATCH', 'LOA_ERR_MEDIA_SIZE_MISMATCH', 'LOA_ERR_MEDIA_NOT_FOUND', 'LOA_ERR_MANIFEST_MEDIA_MISSING'];

/**
 * Brings the manifest up to date (DESIGN §3): `GET /api/v1/devices/{id}/manifest` with `If-None-Match`, on a
 * notify, on (re)connect, and on a jittered timer. A new manifest is verified before any of its media is
 * downloaded, then installed through the agent, so the scheduler switches at once. A refusal is final for
 * those bytes (its ETag is kept, so it is not fetched again); a network or download failure is retried with
 * backoff, and downloads resume where they stopped.
 */
export class ManifestFetcher extends EventEmitter<{ checked: [CheckResult]; failed: [LoaError] }> {
  private readonly waker = new Waker();
  private readonly random: () => number;
  /** A root version announced by a notify and not yet fetched. */
  private rootWanted = 0;

  constructor(private readonly o: ManifestFetcherOptions) {
    super();
    this.random = o.random ?? Math.random;
  }

  /** Checks soon (a notify, a reconnect). */
  kick(): void {
    this.waker.kick();
  }

  /** A notify is a hint only: it makes the check happen now when it names a newer version. */
  onNotify(n: Notify): void {
    const current = this.o.manager.currentVersion();
    const root = this.o.manager.root()?.version ?? 0;
    if (n.rootVersion !== undefined && root > 0 && n.rootVersion > root && this.o.trust) {
      this.o.log.info({ rootVersion: n.rootVersion, root }, 'notify: a newer trust root exists');
      this.rootWanted = Math.max(this.rootWanted, n.rootVersion);
      this.kick();
    } else if (n.version > current) {
      this.o.log.info({ version: n.version, current }, 'notify: a newer manifest exists');
      this.kick();
    } else {
      this.o.log.debug({ version: n.version, current }, 'notify for a version already in force');
    }
  }

  /** The loop: check, then wait for the timer, a kick, or the retry backoff. Ends when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let wait: number;
      try {
        const r = await this.check(signal);
        failures = 0;
        this.o.settings.set(SYNC_KEYS.lastError, null);
        this.emit('checked', r);
        wait = jittered(this.o.intervalMs ?? 300_000, this.o.jitter ?? 0.2, this.random);
      } catch (e) {
        if (signal.aborted) break;
        const err = toLoaError(e, 'LOA_ERR_SYNC_HTTP');
        wait = backoffDelay(failures++, this.o.retry ?? { minMs: 1000, maxMs: this.o.intervalMs ?? 300_000 }, this.random);
        this.o.log.warn({ code: err.code, retryInMs: wait, ...err.details }, `manifest sync failed: ${err.message}`);
        this.o.settings.set(SYNC_KEYS.lastError, JSON.stringify({ code: err.code, message: err.message, at: this.o.clock.now() }));
        this.emit('failed', err);
      }
      await this.waker.wait(this.o.clock, wait, signal);
    }
  }

  /** One check. Throws a coded error when it should be retried. */
  async check(signal: AbortSignal): Promise<CheckResult> {
    const { settings, manager, http } = this.o;
    if (this.o.trust && this.rootWanted > (manager.root()?.version ?? 0)) {
      await this.o.trust.update(signal);
      this.rootWanted = 0;
    }
    const current = manager.currentVersion();
    const etag = current > 0 ? settings.get(SYNC_KEYS.etag) : null;
    const url = http.url(`api/v1/devices/${encodeURIComponent(this.o.deviceId)}/manifest`);
    const res = await http.get(url, etag ? { 'if-none-match': etag } : {}, signal);
    settings.set(SYNC_KEYS.lastCheckAt, this.o.clock.now());
    if (res.status === 304) {
      await res.body?.cancel();
      return { status: 'unchanged' };
    }
    if (res.status !== 200) throw await responseError(res, url, 'LOA_ERR_SYNC_HTTP');
    const newEtag = res.headers.get('etag');
    const keep = (): void => settings.set(SYNC_KEYS.etag, newEtag);
    let body: Buffer;
    try {
      body = await readCapped(res, MANIFEST_MAX_BYTES, 'manifest', 'LOA_ERR_MANIFEST_TOO_LARGE');
    } catch (e) {
      if (!(e instanceof LoaError) || e.code !== 'LOA_ERR_MANIFEST_TOO_LARGE') throw e;
      // A verdict on these bytes: not fetched again until the controller serves another ETag.
      this.o.log.error({ code: e.code }, e.message);
      keep();
      return { status: 'rejected', code: e.code };
    }

    let parsed: unknown = null;
    try {
      parsed = JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      // install() reports it
    }
    const claimed = (parsed as { signed?: { version?: unknown } } | null)?.signed?.version;
    if (claimed === current && current > 0) {
      keep();
      return { status: 'current', version: current };
    }

    // Verify before downloading anything: unsigned bytes must not make the device fetch media.
    const failed: { code: ErrorCode | null } = { code: null };
    const verify = (): SignedManifest | null => {
      const root = manager.root();
      try {
        return root ? verifyManifest(parsed ?? body, { root, deviceId: this.o.deviceId, currentVersion: current, now: this.o.clock.now() }) : null;
      } catch (e) {
        failed.code = toLoaError(e).code;
        return null;
      }
    };
    let env = verify();
    // Signed by a key this device's root does not list: the schedule key may have been rotated. Walk the
    // root chain (each link verified) and try once more; install() reports the refusal otherwise.
    if (!env && this.o.trust && failed.code && TRUST_CODES.includes(failed.code) && (await this.o.trust.update(signal)).installed.length) env = verify();
    if (!env) return this.refuse(body, keep);

    const shas = env.signed.media.map((m) => m.sha256);
    for (const m of env.signed.media) {
      if (this.o.media.has(m.sha256, m.size)) continue;
      const have = this.o.downloader.have(m.sha256);
      this.o.log.info({ sha256: m.sha256, size: m.size, resumeAt: have }, have > 0 ? 'resuming media download' : 'downloading media');
      await this.o.downloader.fetch(m, signal);
    }
    try {
      const installed = await this.o.install(body, (sha) => this.o.downloader.open(sha));
      keep();
      settings.set(SYNC_KEYS.lastInstalledAt, this.o.clock.now());
      return { status: 'installed', version: installed.signed.version };
    } catch (e) {
      const err = toLoaError(e, 'LOA_ERR_MANIFEST_INVALID');
      if (MEDIA_CODES.includes(err.code)) throw err;
      keep();
      return { status: 'rejected', code: err.code };
    } finally {
      this.o.downloader.clear(shas);
    }
  }

  /** Hands bytes that failed verification to install(), which reports the coded reason as manifest.rejected. */
  private async refuse(raw: Buffer, keep: () => void): Promise<CheckResult> {
    try {
      await this.o.install(raw, () => null);
    } catch (e) {
      keep();
      return { status: 'rejected', code: toLoaError(e, 'LOA_ERR_MANIFEST_INVALID').code };
    }
    throw new LoaError('LOA_ERR_INTERNAL', 'a manifest that failed verification was installed');
  }
}
