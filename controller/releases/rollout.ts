import type { Clock } from '../../shared/clock.js';
import { LoaError, toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AgentUpdate, MaintenanceWindow, UpdateStateData } from '../../shared/schemas/release.js';
import type { DataLayer } from '../data/index.js';
import { DONE_STATES, FAILED_STATES, type DeploymentDevice, type DeploymentRecord, type HaltReason, type WaveRecord } from '../data/deployments.js';
import { newId } from '../data/ids.js';
import { DEFAULT_WAVES, checkWaves, planWaves } from './waves.js';

export interface RolloutOptions {
  data: DataLayer;
  clock: Clock;
  log: Logger;
  /** Recompile (and notify) these devices' manifests: their agentUpdate was added or taken away. */
  markDirty: (deviceIds: readonly string[]) => void;
  /** How often running deployments are checked for timeouts and finished waves. Default 5 s. */
  tickMs?: number;
}

export interface DeploymentInput {
  releaseSha256: string;
  target: { zoneIds?: string[]; deviceIds?: string[] };
  waves?: number[];
  maxFailures?: number;
  waveTimeoutSec?: number;
  healthWindowSec?: number;
  windows?: MaintenanceWindow[];
  allowDowngrade?: boolean;
}

/** Who acts (audit): a user id or 'system', and from where. */
export interface Actor { actor: string; ip: string | null; details?: Record<string, unknown> }

/** What the API shows of a deployment (contract). */
export interface DeploymentView {
  id: string;
  state: DeploymentRecord['state'];
  release: { sha256: string; version: string; arch: string };
  zoneId: string;
  target: DeploymentRecord['target'];
  currentWave: number;
  maxFailures: number;
  waveTimeoutSec: number;
  healthWindowSec: number;
  windows: MaintenanceWindow[] | null;
  allowDowngrade: boolean;
  waves: WaveRecord[];
  counts: Record<string, number>;
  devices?: DeploymentDevice[];
  haltReason?: HaltReason;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * Staged rollouts of agent releases (issue 11), as Mender and hawkBit do them: a deployment's devices are split
 * into waves; a wave's devices get `agentUpdate` in their next signed manifest; the next wave starts only when
 * every device of the current one is healthy, failed or timed out, with at most `maxFailures` failures so far —
 * otherwise the deployment halts with the reasons. Pause holds the next wave; abort takes the update away from
 * devices that have not switched. Every step is audited. Time comes from the injected clock; `tick()` runs
 * periodically and after each update report.
 */
export class RolloutService {
  private timer: NodeJS.Timeout | null = null;
  private kicked = false;

  constructor(private readonly o: RolloutOptions) {}

  start(): void {
    this.timer = setInterval(() => this.safeTick(), this.o.tickMs ?? 5000);
    this.timer.unref();
    this.safeTick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A tick soon (coalesced): an update report may have finished a wave. */
  kick(): void {
    if (this.kicked || !this.timer) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.safeTick();
    });
  }

  private safeTick(): void {
    try {
      this.tick();
    } catch (e) {
      this.o.log.error({ err: toLoaError(e) }, 'rollout tick failed');
    }
  }

  /** Checks every running and paused deployment: timeouts, finished waves, halts, the next wave, completion. */
  tick(): void {
    for (const d of this.o.data.deployments.open()) this.advance(d.id);
  }

  /**
   * Creates a deployment and starts its first wave. `scope`: the subtree paths where the caller holds
   * release.manage (every target must lie inside). One transaction; audited.
   */
  create(input: DeploymentInput, scope: readonly string[], by: Actor): { deployment: DeploymentView; excluded: { deviceId: string; reason: string }[] } {
    const data = this.o.data;
    const now = this.o.clock.now();
    const release = data.releases.require(input.releaseSha256);
    checkWaves(input.waves ?? DEFAULT_WAVES);
    const zoneIds = [...new Set(input.target.zoneIds ?? [])];
    const deviceIds = [...new Set(input.target.deviceIds ?? [])];
    if (zoneIds.length + deviceIds.length === 0) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', 'target names no zone and no device');
    const inScope = (path: string): boolean => scope.some((s) => path.startsWith(s));
    const zonePaths = zoneIds.map((id) => {
      const z = data.zones.get(id);
      if (!z) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', `zone ${id} does not exist`, { details: { zoneId: id } });
      if (!inScope(z.path)) throw new LoaError('LOA_ERR_FORBIDDEN', `you may not manage releases in zone ${id}`, { details: { permission: 'release.manage' } });
      return z.path;
    });
    for (const id of deviceIds) {
      const dev = data.devices.get(id);
      if (!dev) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', `device ${id} does not exist`, { details: { deviceId: id } });
      if (!inScope(data.zones.require(dev.zoneId).path)) throw new LoaError('LOA_ERR_FORBIDDEN', `you may not manage releases for device ${id}`, { details: { permission: 'release.manage' } });
    }
    const eligible = data.deployments.eligible(zonePaths, deviceIds);
    const excluded: { deviceId: string; reason: string }[] = [];
    const found = new Set(eligible.map((e) => e.id));
    for (const id of deviceIds) if (!found.has(id)) excluded.push({ deviceId: id, reason: 'LOA_ERR_DEVICE_NOT_ENROLLED' });
    const chosen = eligible.filter((e) => {
      if (e.arch && e.arch !== release.arch) excluded.push({ deviceId: e.id, reason: 'LOA_ERR_RELEASE_ARCH' });
      return !e.arch || e.arch === release.arch;
    });
    if (chosen.length === 0) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', 'no enrolled, live device of the release\'s architecture in the target', { details: { excluded } });
    const busy = data.deployments.busy(chosen.map((c) => c.id));
    if (busy.length) {
      throw new LoaError('LOA_ERR_DEPLOYMENT_CONFLICT', `${busy.length} device(s) are in a running deployment (${busy[0]!.deviceId} in ${busy[0]!.deploymentId}): abort it or wait`, { details: { busy: busy.slice(0, 20) } });
    }
    const zoneId = commonZone(chosen.map((c) => c.zonePath));
    if (!inScope(data.zones.require(zoneId).path)) throw new LoaError('LOA_ERR_FORBIDDEN', 'the targets span zones beyond a single subtree of yours: make one deployment per subtree', { details: { permission: 'release.manage' } });
    const id = newId('dep');
    const waves = planWaves(id, chosen.map((c) => c.id), input.waves ?? [...DEFAULT_WAVES]);
    const started = data.tx(() => {
      data.deployments.create({
        id, releaseSha256: release.sha256, zoneId, target: { zoneIds, deviceIds }, maxFailures: input.maxFailures ?? 0, waveTimeoutSec: input.waveTimeoutSec ?? 1800,
        healthWindowSec: input.healthWindowSec ?? 120, windows: input.windows ?? null, allowDowngrade: input.allowDowngrade ?? false, createdBy: by.actor, waves,
      }, new Map(chosen.map((c) => [c.id, c.agentVersion])), now);
      this.audit(by, 'deployment.create', id, zoneId, {
        release: release.sha256, version: release.version, devices: chosen.length, waves: waves.map((w) => w.deviceIds.length), excluded: excluded.length,
      }, now);
      return this.startWave(id, 1, release.version, by, now);
    });
    this.o.markDirty(started);
    this.advance(id); // devices already at the version finish wave 1 at once
    return { deployment: this.view(id, true), excluded };
  }

  pause(id: string, by: Actor): DeploymentView {
    return this.transition(id, by, 'pause', ['running'], 'paused');
  }

  resume(id: string, by: Actor): DeploymentView {
    const v = this.transition(id, by, 'resume', ['paused'], 'running');
    this.advance(id);
    return this.view(id, true) ?? v;
  }

  /** Stops the rollout for good; devices that have not switched lose the update in their next manifest. */
  abort(id: string, by: Actor): DeploymentView {
    const data = this.o.data;
    const now = this.o.clock.now();
    const withdrawn = data.tx(() => {
      const d = data.deployments.require(id);
      if (!['running', 'paused', 'halted'].includes(d.state)) throw new LoaError('LOA_ERR_DEPLOYMENT_STATE', `deployment ${id} is ${d.state}; only a running, paused or halted one can be aborted`);
      const wave = data.deployments.waves(id).find((w) => w.state === 'running');
      if (wave) data.deployments.endWave(id, wave.index, 'cancelled', now);
      data.deployments.cancelPendingWaves(id, now);
      data.deployments.setState(id, 'aborted', now);
      const ids = data.deployments.withdraw(id, now);
      this.audit(by, 'deployment.abort', id, d.zoneId, { from: d.state, withdrawn: ids.length }, now);
      return ids;
    });
    this.o.markDirty(withdrawn);
    return this.view(id, true);
  }

  /** The deployment as the API shows it; `devices` adds each device's row. */
  view(id: string, devices = false): DeploymentView {
    const data = this.o.data;
    const d = data.deployments.require(id);
    const rel = data.releases.get(d.releaseSha256);
    const rows = data.deployments.devices(id);
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
    return {
      id: d.id, state: d.state, release: { sha256: d.releaseSha256, version: rel?.version ?? '?', arch: rel?.arch ?? '?' }, zoneId: d.zoneId, target: d.target,
      currentWave: d.currentWave, maxFailures: d.maxFailures, waveTimeoutSec: d.waveTimeoutSec, healthWindowSec: d.healthWindowSec, windows: d.windows,
      allowDowngrade: d.allowDowngrade, waves: data.deployments.waves(id), counts, ...(devices ? { devices: rows } : {}),
      ...(d.haltReason ? { haltReason: d.haltReason } : {}), createdBy: d.createdBy, createdAt: d.createdAt, updatedAt: d.updatedAt,
    };
  }

  /** Folds a device's `update.state` report (called by ingest inside its transaction). */
  foldUpdate(deviceId: string, s: UpdateStateData, receivedAt: number): string {
    return this.o.data.deployments.foldUpdate(deviceId, s, receivedAt);
  }

  /** The `agentUpdate` of each device whose manifest carries one now (the manifest compiler asks). */
  agentUpdates(): Map<string, AgentUpdate> {
    const out = new Map<string, AgentUpdate>();
    for (const [deviceId, u] of this.o.data.deployments.offered()) {
      out.set(deviceId, {
        deploymentId: u.deploymentId, release: u.envelope, url: `releases/${u.sha256}`, ...(u.allowDowngrade ? { allowDowngrade: true } : {}),
        ...(u.windows ? { windows: u.windows } : {}), healthWindowSec: u.healthWindowSec,
      });
    }
    return out;
  }

  private transition(id: string, by: Actor, action: 'pause' | 'resume', from: DeploymentRecord['state'][], to: DeploymentRecord['state']): DeploymentView {
    const data = this.o.data;
    const now = this.o.clock.now();
    data.tx(() => {
      const d = data.deployments.require(id);
      if (!from.includes(d.state)) throw new LoaError('LOA_ERR_DEPLOYMENT_STATE', `deployment ${id} is ${d.state}; ${action} needs it ${from.join(' or ')}`, { details: { state: d.state } });
      data.deployments.setState(id, to, now);
      this.audit(by, `deployment.${action}`, id, d.zoneId, { from: d.state }, now);
    });
    return this.view(id, true);
  }

  private startWave(id: string, idx: number, version: string, by: Actor, now: number): string[] {
    const ids = this.o.data.deployments.startWave(id, idx, version, now);
    this.audit(by, 'deployment.wave_start', id, this.o.data.deployments.require(id).zoneId, { wave: idx, devices: ids.length }, now);
    return ids;
  }

  /** One step of the state machine for one deployment (its own transaction). */
  private advance(id: string): void {
    const data = this.o.data;
    const now = this.o.clock.now();
    const system: Actor = { actor: 'system', ip: null };
    const dirty = data.tx((): string[] => {
      const d = data.deployments.get(id);
      if (!d || (d.state !== 'running' && d.state !== 'paused')) return [];
      const waves = data.deployments.waves(id);
      const cur = waves.find((w) => w.index === d.currentWave);
      if (!cur) return [];
      if (cur.state === 'running') {
        if (cur.startedAt !== null && now >= cur.startedAt + d.waveTimeoutSec * 1000) {
          const n = data.deployments.timeOut(id, cur.index, now);
          if (n) this.o.log.warn({ deploymentId: id, wave: cur.index, devices: n }, 'devices timed out in a wave');
        }
        // Counted in SQL: this runs after every batch of update reports, and a wave may hold thousands of devices.
        const inWave = data.deployments.stateCounts(id, cur.index);
        if ([...inWave.keys()].some((st) => !DONE_STATES.has(st))) return [];
        const sum = (m: Map<string, number>, states: Set<string>): number => [...m].reduce((n, [st, c]) => n + (states.has(st) ? c : 0), 0);
        const failedCount = sum(data.deployments.stateCounts(id), FAILED_STATES);
        const failed = failedCount > d.maxFailures;
        data.deployments.endWave(id, cur.index, failed ? 'failed' : 'done', now);
        this.audit(system, 'deployment.wave_end', id, d.zoneId, { wave: cur.index, healthy: inWave.get('healthy') ?? 0, failed: sum(inWave, FAILED_STATES) }, now);
        if (failed) {
          const failures = data.deployments.devices(id).filter((r) => FAILED_STATES.has(r.state));
          const haltReason: HaltReason = {
            code: 'LOA_ERR_DEPLOYMENT_HALTED',
            message: `wave ${cur.index}: ${failures.length} device(s) failed, more than the ${d.maxFailures} allowed; the next wave was not started (${failures.slice(0, 3).map((f) => `${f.deviceId}: ${f.reason ?? f.state}`).join('; ')})`,
            failures: failures.map((f) => ({ deviceId: f.deviceId, reason: f.reason ?? f.state, message: f.message })),
          };
          data.deployments.cancelPendingWaves(id, now);
          data.deployments.setState(id, 'halted', now, { haltReason });
          this.audit(system, 'deployment.halt', id, d.zoneId, { wave: cur.index, failures: haltReason.failures.slice(0, 50) }, now);
          return [];
        }
      } else if (cur.state !== 'done') {
        return [];
      }
      if (d.state === 'paused') return [];
      const next = waves.find((w) => w.index === cur.index + 1);
      if (!next) {
        data.deployments.setState(id, 'completed', now);
        this.audit(system, 'deployment.complete', id, d.zoneId, { waves: waves.length }, now);
        return [];
      }
      const rel = data.releases.require(d.releaseSha256);
      return this.startWave(id, next.index, rel.version, system, now);
    });
    if (dirty.length) {
      this.o.markDirty(dirty);
      this.advance(id); // a wave of devices already at the version is done at once
    }
  }

  private audit(by: Actor, action: string, id: string, zoneId: string, details: Record<string, unknown>, now: number): void {
    this.o.data.audit.add({ actor: by.actor, ip: by.ip, action, targetType: 'deployment', targetId: id, zoneId, details: { ...details, ...by.details } }, now);
  }
}

/** The deepest zone whose subtree holds every path ('/T01/X1/X1-C1/' …). */
export function commonZone(paths: readonly string[]): string {
  const parts = paths.map((p) => p.split('/').filter(Boolean));
  const first = parts[0] ?? [];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && p[i] === first[i]) i++;
    n = i;
  }
  const id = first[n - 1];
  if (!id) throw new LoaError('LOA_ERR_DEPLOYMENT_TARGET', 'the targets share no zone');
  return id;
}
