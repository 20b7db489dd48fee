/**
 * The agent's self-updater (issue 11), started and stopped by the agent supervisor. It follows the signed
 * manifest's `agentUpdate` (the desired release): verify the release metadata against the device's trust root,
 * check arch and version order, download resumably into `<dataDir>/update/download/`, check size and SHA-256,
 * then — only when the install gate allows (maintenance window, nothing playing or due) — unpack side by side,
 * switch `current`, and exit for a restart. The new version checks its own health and commits, or leaves the
 * rollback to the launcher (agent/update/launcher.ts). Every step is an `update.state` event in the outbox.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import { failpoint } from '../../shared/failpoints.js';
import type { Logger } from '../../shared/log.js';
import { checkArtifact, compareVersions, verifyRelease } from '../../shared/release.js';
import type { AgentUpdate, Release, UpdateStateData } from '../../shared/schemas/release.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { MediaDownloader } from '../sync/download.js';
import type { ControllerHttp } from '../sync/http.js';
import { installGate, type BroadcastView } from './gate.js';
import { checkHealth, type HealthProbes } from './health.js';
import type { InstallLayout } from './layout.js';
import { UpdateFiles } from './state.js';
import { unpackRelease } from './unpack.js';
import type { RunningRelease } from './version.js';

export interface UpdaterOptions {
  dataDir: string;
  clock: Clock;
  log: Logger;
  running: RunningRelease;
  /** The release layout this agent runs from, or null (it cannot update itself). */
  layout: InstallLayout | null;
  root(): RootMetadata | null;
  /** The manifest in force's agentUpdate. */
  desired(): AgentUpdate | undefined;
  /** Adds an `update.state` event to the durable outbox (dedupe makes repeats no-ops). */
  report(dedupe: string, data: UpdateStateData): void;
  http: ControllerHttp;
  view: BroadcastView;
  probes: HealthProbes;
  /** Stop the agent and exit with the restart status (AGENT_RESTART_EXIT_CODE). */
  restart(reason: string): void;
  /** How often the desired release is looked at again (default 30 s; `kick` for at once). */
  checkMs?: number;
  /** No install step while a broadcast is due within this margin (default 10 min). */
  marginMs?: number;
  downloadIdleTimeoutMs?: number;
}

export class Updater {
  readonly files: UpdateFiles;
  private ctl: AbortController | null = null;
  private task: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private healthDone = true;
  private lastDeferred = '';
  private readonly downloader: MediaDownloader;

  constructor(private readonly o: UpdaterOptions) {
    this.files = new UpdateFiles(o.dataDir);
    let lastReported = 0;
    this.downloader = new MediaDownloader({
      dataDir: o.dataDir, http: o.http, log: o.log, dir: join(this.files.dir, 'download'),
      ...(o.downloadIdleTimeoutMs ? { idleTimeoutMs: o.downloadIdleTimeoutMs } : {}),
      onProgress: (_sha, bytes) => {
        failpoint('update.download-progress');
        if (bytes - lastReported >= 4 * 1024 * 1024) {
          lastReported = bytes;
          this.o.log.debug({ bytes }, 'release download progress');
        }
      },
    });
  }

  start(): void {
    if (this.ctl) return;
    const ctl = new AbortController();
    this.ctl = ctl;
    this.reconcile();
    this.task = this.run(ctl.signal).catch((e: unknown) => this.o.log.error({ err: e }, 'the updater stopped with an error'));
  }

  async stop(): Promise<void> {
    this.ctl?.abort();
    this.wake?.();
    await this.task;
    this.ctl = null;
  }

  /** Look at the desired release now (a new manifest was installed). */
  kick(): void {
    this.wake?.();
  }

  /** After a rollback by the launcher: report it; a pending file of a switch that never happened is dropped. */
  private reconcile(): void {
    const f = this.files;
    const back = f.rolledBack();
    if (back) {
      const why = f.rollbackReason() ?? { code: 'LOA_ERR_UPDATE_HEALTH', message: 'the new version was abandoned' };
      f.markFailed(back.deploymentId, back.version, why.code, this.o.clock.now());
      this.o.report(`update:${back.deploymentId}:rolled-back`, {
        deploymentId: back.deploymentId, version: back.version, from: this.o.running.version, state: 'rolled-back', reason: why.code,
        message: `back on ${this.o.running.version}: ${why.message}`.slice(0, 500),
      });
      this.o.log.warn({ deploymentId: back.deploymentId, version: back.version, code: why.code }, `rolled back from ${back.version}: ${why.message}`);
      f.remove('rolled-back.json', 'rollback', 'attempts');
    }
    const p = f.pending();
    if (p && p.version !== this.o.running.version) {
      // pending.json is written before `current` moves: a power cut in between leaves it behind, unswitched.
      this.o.log.warn({ version: p.version }, 'a switch to the pending version never happened; dropping it');
      f.remove('pending.json', 'attempts', 'rollback');
    } else if (!p && f.rollbackReason()) {
      f.remove('rollback');
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    const p = this.files.pending();
    if (p && p.version === this.o.running.version) {
      this.healthDone = false;
      await this.healthCheck(p, signal);
      this.healthDone = true;
    }
    while (!signal.aborted) {
      try {
        await this.step(signal);
      } catch (e) {
        if (signal.aborted) return;
        const err = toLoaError(e, 'LOA_ERR_SYNC_DOWNLOAD');
        this.o.log.warn({ code: err.code }, `update step failed (will retry): ${err.message}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.checkMs ?? 30_000);
        this.wake = (): void => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private async healthCheck(p: ReturnType<UpdateFiles['pending']> & object, signal: AbortSignal): Promise<void> {
    const r = await checkHealth({ probes: this.o.probes, clock: this.o.clock, windowMs: p.healthWindowSec * 1000, signal });
    if (signal.aborted) return;
    if (r.ok) {
      this.files.markCommitted(p.deploymentId, p.version, this.o.clock.now());
      this.files.remove('pending.json', 'attempts', 'rollback');
      this.o.report(`update:${p.deploymentId}:healthy`, { deploymentId: p.deploymentId, version: p.version, from: p.from, state: 'healthy', message: `healthy after ${r.ms} ms` });
      this.o.log.info({ version: p.version, ms: r.ms }, 'the new version passed its health check: committed');
      return;
    }
    const message = `health check of ${p.version} failed within ${p.healthWindowSec} s: ${r.failed}`;
    this.o.log.error({ code: 'LOA_ERR_UPDATE_HEALTH', version: p.version }, message);
    this.files.writeRollbackReason('LOA_ERR_UPDATE_HEALTH', message);
    this.o.restart(`update:${p.deploymentId}:health`);
  }

  private reject(u: AgentUpdate, version: string, e: unknown, state: 'rejected' | 'failed' = 'rejected'): void {
    const err = toLoaError(e, 'LOA_ERR_RELEASE_INVALID');
    this.o.report(`update:${u.deploymentId}:${state}:${err.code}`, { deploymentId: u.deploymentId, version, from: this.o.running.version, state, reason: err.code, message: err.message.slice(0, 500) });
    this.o.log.warn({ deploymentId: u.deploymentId, code: err.code }, `release ${version} ${state}: ${err.message}`);
  }

  /** One look at the desired release: does as much as is allowed now, and returns. */
  private async step(signal: AbortSignal): Promise<void> {
    if (!this.healthDone || this.files.pending()) return;
    const u = this.o.desired();
    if (!u) return;
    const claimed = u.release.signed.version;
    if (this.files.state().failed[u.deploymentId]) return; // failed here before: not retried for this deployment
    const root = this.o.root();
    let rel: Release;
    try {
      if (!root) throw new LoaError('LOA_ERR_ROOT_INVALID', 'no trust root is installed');
      rel = verifyRelease(u.release, root).signed;
      if (rel.arch !== this.o.running.arch) throw new LoaError('LOA_ERR_RELEASE_ARCH', `release ${rel.version} is built for ${rel.arch}; this device is ${this.o.running.arch}`);
      const cmp = compareVersions(rel.version, this.o.running.version);
      if (cmp === 0) return;
      if (cmp < 0 && u.allowDowngrade !== true) throw new LoaError('LOA_ERR_RELEASE_DOWNGRADE', `release ${rel.version} is older than ${this.o.running.version} running here, and the deployment does not allow a downgrade`);
      if (!this.o.layout) throw new LoaError('LOA_ERR_UPDATE_NOT_INSTALLED', 'this agent does not run from <installRoot>/releases/<version> through loa-launch, so it cannot switch versions');
    } catch (e) {
      this.reject(u, claimed, e);
      return;
    }
    const layout = this.o.layout;
    const base = { deploymentId: u.deploymentId, version: rel.version, from: this.o.running.version };
    const artifact = this.downloader.partialPath(rel.sha256);
    if (!layout.has(rel.version)) {
      this.o.report(`update:${u.deploymentId}:downloading`, { ...base, state: 'downloading', bytes: this.downloader.have(rel.sha256) });
      try {
        await this.downloader.fetch({ sha256: rel.sha256, size: rel.size, url: u.url, durationMs: 0 }, signal);
      } catch (e) {
        const err = toLoaError(e);
        if (err.code === 'LOA_ERR_MEDIA_HASH_MISMATCH' || err.code === 'LOA_ERR_MEDIA_SIZE_MISMATCH') {
          const hash = new LoaError('LOA_ERR_RELEASE_HASH', `the downloaded artifact of ${rel.version} is not the one its metadata signs: ${err.message}`, { cause: e });
          this.files.markFailed(u.deploymentId, rel.version, hash.code, this.o.clock.now());
          this.reject(u, rel.version, hash, 'failed');
          return;
        }
        throw err;
      }
      checkArtifact(rel, { sha256: rel.sha256, size: rel.size }); // MediaDownloader.fetch hashed the finished file
      this.o.report(`update:${u.deploymentId}:downloaded`, { ...base, state: 'downloaded', bytes: rel.size });
    }
    if (!this.gateOpen(u, base)) return;
    this.o.report(`update:${u.deploymentId}:installing`, { ...base, state: 'installing' });
    try {
      await unpackRelease(layout, artifact, { version: rel.version, arch: rel.arch });
    } catch (e) {
      this.files.markFailed(u.deploymentId, rel.version, toLoaError(e).code, this.o.clock.now());
      this.reject(u, rel.version, e, 'failed');
      return;
    }
    if (signal.aborted || !this.gateOpen(u, base)) return;
    this.switchTo(u, rel, layout);
  }

  private gateOpen(u: AgentUpdate, base: { deploymentId: string; version: string; from: string }): boolean {
    const v = installGate({ view: this.o.view, windows: u.windows, now: this.o.clock.now(), marginMs: this.o.marginMs ?? 10 * 60_000 });
    if (v.ok) {
      this.lastDeferred = '';
      return true;
    }
    if (this.lastDeferred !== v.why) {
      this.lastDeferred = v.why;
      this.o.report(`update:${u.deploymentId}:deferred:${this.o.clock.now()}`, { ...base, state: 'deferred', reason: 'LOA_ERR_UPDATE_BUSY', message: v.why.slice(0, 500) });
      this.o.log.info({ deploymentId: u.deploymentId }, `install of ${base.version} deferred: ${v.why}`);
    }
    return false;
  }

  /** pending.json first, then `previous`, then `current`: a power cut anywhere leaves a version that starts. */
  private switchTo(u: AgentUpdate, rel: Release, layout: InstallLayout): void {
    const from = this.o.running.version;
    this.files.remove('rollback', 'attempts', 'rolled-back.json');
    this.files.writeAtomic('pending.json', JSON.stringify({ deploymentId: u.deploymentId, version: rel.version, from, switchedAt: this.o.clock.now(), healthWindowSec: u.healthWindowSec }) + '\n');
    if (existsSync(layout.releaseDir(from))) layout.switchLink('previous', from);
    layout.switchLink('current', rel.version);
    this.o.report(`update:${u.deploymentId}:switched`, { deploymentId: u.deploymentId, version: rel.version, from, state: 'switched' });
    this.o.log.warn({ deploymentId: u.deploymentId, from, to: rel.version }, 'switched to the new version: restarting');
    failpoint('update.after-switch');
    this.downloader.clear([rel.sha256]);
    this.o.restart(`update:${u.deploymentId}:switch`);
  }
}
