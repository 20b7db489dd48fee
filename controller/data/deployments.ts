import type { Db } from '../../agent/store/db.js';
import { LoaError } from '../../shared/errors.js';
import type { MaintenanceWindow, SignedRelease, UpdateStateData } from '../../shared/schemas/release.js';
import { inSubtrees } from './ids.js';

export const DEPLOYMENT_STATES = ['running', 'paused', 'halted', 'completed', 'aborted'] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
export type WaveState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';
/** Device states that end its part in a wave: healthy, or one of the failures. */
export const FAILED_STATES = new Set(['failed', 'rolled-back', 'rejected', 'timeout']);
export const DONE_STATES = new Set(['healthy', ...FAILED_STATES]);
/** States after which the new version has been switched to (an abort no longer takes the update away). */
const SWITCHED_STATES = new Set(['switched', 'healthy']);

export interface Failure { deviceId: string; reason: string | null; message: string | null }
export interface HaltReason { code: string; message: string; failures: Failure[] }

export interface DeploymentRecord {
  id: string;
  releaseSha256: string;
  zoneId: string;
  target: { zoneIds: string[]; deviceIds: string[] };
  state: DeploymentState;
  currentWave: number;
  maxFailures: number;
  waveTimeoutSec: number;
  healthWindowSec: number;
  windows: MaintenanceWindow[] | null;
  allowDowngrade: boolean;
  haltReason: HaltReason | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export interface WaveRecord { index: number; percent: number; deviceCount: number; state: WaveState; startedAt: number | null; endedAt: number | null }
export interface DeploymentDevice { deviceId: string; wave: number; state: string; version: string | null; reason: string | null; message: string | null; updatedAt: number }

/** What the manifest compiler puts in a device's `agentUpdate`. */
export interface OfferedUpdate { deploymentId: string; envelope: SignedRelease; sha256: string; allowDowngrade: boolean; windows: MaintenanceWindow[] | null; healthWindowSec: number }

interface Row {
  id: string; release_sha256: string; zone_id: string; target: string; state: DeploymentState; current_wave: number; max_failures: number; wave_timeout_sec: number;
  health_window_sec: number; windows: string | null; allow_downgrade: number; halt_reason: string | null; created_by: string; created_at: number; updated_at: number;
}
const toDeployment = (r: Row): DeploymentRecord => ({
  id: r.id, releaseSha256: r.release_sha256, zoneId: r.zone_id, target: JSON.parse(r.target) as DeploymentRecord['target'], state: r.state, currentWave: r.current_wave,
  maxFailures: r.max_failures, waveTimeoutSec: r.wave_timeout_sec, healthWindowSec: r.health_window_sec, windows: r.windows ? JSON.parse(r.windows) as MaintenanceWindow[] : null,
  allowDowngrade: r.allow_downgrade === 1, haltReason: r.halt_reason ? JSON.parse(r.halt_reason) as HaltReason : null, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
});
interface WaveRow { idx: number; percent: number; device_count: number; state: WaveState; started_at: number | null; ended_at: number | null }
interface DeviceRow { device_id: string; wave: number; state: string; version: string | null; reason: string | null; message: string | null; updated_at: number }

export interface NewDeployment extends Omit<DeploymentRecord, 'state' | 'currentWave' | 'haltReason' | 'createdAt' | 'updatedAt'> {
  waves: { percent: number; deviceIds: string[] }[];
}

/** Deployments (issue 11), their waves and each device's progress. Only the rollout service changes them. */
export class DeploymentsRepo {
  constructor(private readonly db: Db) {}

  create(d: NewDeployment, versions: ReadonlyMap<string, string | null>, now: number): DeploymentRecord {
    this.db.prepare(`INSERT INTO deployments (id, release_sha256, zone_id, target, state, current_wave, max_failures, wave_timeout_sec, health_window_sec, windows,
      allow_downgrade, halt_reason, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', 0, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`)
      .run(d.id, d.releaseSha256, d.zoneId, JSON.stringify(d.target), d.maxFailures, d.waveTimeoutSec, d.healthWindowSec, d.windows ? JSON.stringify(d.windows) : null,
        d.allowDowngrade ? 1 : 0, d.createdBy, now, now);
    const wave = this.db.prepare("INSERT INTO deployment_waves (deployment_id, idx, percent, device_count, state) VALUES (?, ?, ?, ?, 'pending')");
    const dev = this.db.prepare("INSERT INTO deployment_devices (deployment_id, device_id, wave, state, version, updated_at) VALUES (?, ?, ?, 'pending', ?, ?)");
    d.waves.forEach((w, i) => {
      wave.run(d.id, i + 1, w.percent, w.deviceIds.length);
      for (const id of w.deviceIds) dev.run(d.id, id, i + 1, versions.get(id) ?? null, now);
    });
    return this.require(d.id);
  }

  get(id: string): DeploymentRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM deployments WHERE id = ?').get(id);
    return r ? toDeployment(r) : null;
  }

  require(id: string): DeploymentRecord {
    const d = this.get(id);
    if (!d) throw new LoaError('LOA_ERR_DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { details: { deploymentId: id } });
    return d;
  }

  /** Newest first; `within`: only deployments whose zone lies in these subtrees. */
  list(within: readonly string[] | undefined, limit: number): DeploymentRecord[] {
    if (within && within.length === 0) return [];
    const sub = within ? inSubtrees('z.path', within) : null;
    return this.db.prepare<unknown[], Row>(`SELECT d.* FROM deployments d JOIN zones z ON z.id = d.zone_id ${sub ? `WHERE ${sub.sql}` : ''} ORDER BY d.created_at DESC, d.id LIMIT ?`)
      .all(...(sub?.args ?? []), limit).map(toDeployment);
  }

  /** Running and paused deployments (the rollout tick walks them). */
  open(): DeploymentRecord[] {
    return this.db.prepare<[], Row>("SELECT * FROM deployments WHERE state IN ('running', 'paused') ORDER BY created_at").all().map(toDeployment);
  }

  waves(id: string): WaveRecord[] {
    return this.db.prepare<[string], WaveRow>('SELECT * FROM deployment_waves WHERE deployment_id = ? ORDER BY idx').all(id)
      .map((w) => ({ index: w.idx, percent: w.percent, deviceCount: w.device_count, state: w.state, startedAt: w.started_at, endedAt: w.ended_at }));
  }

  /** Each targeted device; `version` is the agent version last seen (status, or its update.state reports). */
  devices(id: string, wave?: number): DeploymentDevice[] {
    return this.db.prepare<[string, number | null, number | null], DeviceRow>(`SELECT dd.device_id, dd.wave, dd.state, COALESCE(dv.agent_version, dd.version) AS version, dd.reason, dd.message, dd.updated_at
      FROM deployment_devices dd LEFT JOIN devices dv ON dv.id = dd.device_id WHERE dd.deployment_id = ? AND (? IS NULL OR dd.wave = ?) ORDER BY dd.wave, dd.device_id`)
      .all(id, wave ?? null, wave ?? null)
      .map((r) => ({ deviceId: r.device_id, wave: r.wave, state: r.state, version: r.version, reason: r.reason, message: r.message, updatedAt: r.updated_at }));
  }

  /** How many devices of the deployment (of one wave, when given) are in each state. */
  stateCounts(id: string, wave?: number): Map<string, number> {
    const rows = this.db.prepare<[string, number | null, number | null], { state: string; n: number }>(
      'SELECT state, COUNT(*) AS n FROM deployment_devices WHERE deployment_id = ? AND (? IS NULL OR wave = ?) GROUP BY state').all(id, wave ?? null, wave ?? null);
    return new Map(rows.map((r) => [r.state, r.n]));
  }

  /** Devices of `ids` already in a running or paused deployment (one rollout per device at a time). */
  busy(ids: readonly string[]): { deviceId: string; deploymentId: string }[] {
    const stmt = this.db.prepare<[string], { device_id: string; deployment_id: string }>(`SELECT dd.device_id, dd.deployment_id FROM deployment_devices dd
      JOIN deployments d ON d.id = dd.deployment_id WHERE dd.device_id = ? AND d.state IN ('running', 'paused') LIMIT 1`);
    return ids.flatMap((id) => stmt.all(id).map((r) => ({ deviceId: r.device_id, deploymentId: r.deployment_id })));
  }

  setState(id: string, state: DeploymentState, now: number, patch: { currentWave?: number; haltReason?: HaltReason } = {}): void {
    this.db.prepare('UPDATE deployments SET state = ?, current_wave = COALESCE(?, current_wave), halt_reason = COALESCE(?, halt_reason), updated_at = ? WHERE id = ?')
      .run(state, patch.currentWave ?? null, patch.haltReason ? JSON.stringify(patch.haltReason) : null, now, id);
  }

  /** Starts wave `idx`: its devices get the update offered (waiting), or healthy at once when they already run `version`. Returns their ids. */
  startWave(id: string, idx: number, version: string, now: number): string[] {
    this.db.prepare("UPDATE deployment_waves SET state = 'running', started_at = ? WHERE deployment_id = ? AND idx = ?").run(now, id, idx);
    // The newest offer replaces an older deployment's (a finished one's: running ones never share a device).
    this.db.prepare(`UPDATE deployment_devices SET offered = 0 WHERE offered = 1 AND deployment_id != ?
      AND device_id IN (SELECT device_id FROM deployment_devices WHERE deployment_id = ? AND wave = ?)`).run(id, id, idx);
    this.db.prepare(`UPDATE deployment_devices SET offered = 1, updated_at = ?,
      state = CASE WHEN (SELECT agent_version FROM devices WHERE id = device_id) = ? THEN 'healthy' ELSE 'waiting' END
      WHERE deployment_id = ? AND wave = ?`).run(now, version, id, idx);
    this.db.prepare('UPDATE deployments SET current_wave = ?, updated_at = ? WHERE id = ?').run(idx, now, id);
    return this.db.prepare<[string, number], { device_id: string }>('SELECT device_id FROM deployment_devices WHERE deployment_id = ? AND wave = ?').all(id, idx).map((r) => r.device_id);
  }

  endWave(id: string, idx: number, state: WaveState, now: number): void {
    this.db.prepare('UPDATE deployment_waves SET state = ?, ended_at = ? WHERE deployment_id = ? AND idx = ?').run(state, now, id, idx);
  }

  /** Waves not started yet are cancelled (halt, abort). */
  cancelPendingWaves(id: string, now: number): void {
    this.db.prepare("UPDATE deployment_waves SET state = 'cancelled', ended_at = ? WHERE deployment_id = ? AND state = 'pending'").run(now, id);
  }

  /** Devices of the wave that have not finished are marked timed out. */
  timeOut(id: string, idx: number, now: number): number {
    const placeholders = [...DONE_STATES].map(() => '?').join(', ');
    return this.db.prepare(`UPDATE deployment_devices SET state = 'timeout', reason = 'LOA_ERR_DEPLOYMENT_TIMEOUT', message = ?, updated_at = ?
      WHERE deployment_id = ? AND wave = ? AND state NOT IN (${placeholders})`)
      .run('no healthy report within the wave timeout', now, id, idx, ...DONE_STATES).changes;
  }

  /** Takes the update away from devices that have not switched yet (abort); returns their ids. */
  withdraw(id: string, now: number): string[] {
    const rows = this.db.prepare<[string], { device_id: string; state: string }>('SELECT device_id, state FROM deployment_devices WHERE deployment_id = ? AND offered = 1').all(id);
    const ids = rows.filter((r) => !SWITCHED_STATES.has(r.state)).map((r) => r.device_id);
    const stmt = this.db.prepare('UPDATE deployment_devices SET offered = 0, updated_at = ? WHERE deployment_id = ? AND device_id = ?');
    for (const d of ids) stmt.run(now, id, d);
    return ids;
  }

  /**
   * Folds one `update.state` report into the device's row of its deployment. A finished state (healthy or a
   * failure) is not overwritten by a late progress report. 'unknown' when no such row was offered to the device,
   * 'mismatch' when the report is about another version than the deployment's release.
   */
  foldUpdate(deviceId: string, s: UpdateStateData, now: number): 'folded' | 'unknown' | 'stale' | 'mismatch' {
    const row = this.db.prepare<[string, string], { state: string; version: string }>(`SELECT dd.state, r.version FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
      JOIN releases r ON r.sha256 = d.release_sha256 WHERE dd.deployment_id = ? AND dd.device_id = ?`).get(s.deploymentId, deviceId);
    if (!row || row.state === 'pending') return 'unknown';
    // A report about another version than the deployment's release (healthy or not) proves nothing about it.
    if (s.version !== row.version) return 'mismatch';
    if (DONE_STATES.has(row.state) && row.state !== 'timeout' && !DONE_STATES.has(s.state)) return 'stale';
    const running = s.state === 'healthy' ? s.version : s.state === 'rolled-back' || s.state === 'failed' ? s.from ?? null : null;
    this.db.prepare('UPDATE deployment_devices SET state = ?, reason = ?, message = ?, version = COALESCE(?, version), updated_at = ? WHERE deployment_id = ? AND device_id = ?')
      .run(s.state, s.reason ?? null, s.message ?? null, running, now, s.deploymentId, deviceId);
    if (running) this.setAgentVersion(deviceId, running);
    return 'folded';
  }

  /** The agent version a device reports (status, or an update it finished). */
  setAgentVersion(deviceId: string, version: string): void {
    this.db.prepare('UPDATE devices SET agent_version = ? WHERE id = ? AND agent_version IS NOT ?').run(version, deviceId, version);
  }

  /** The update each device is offered now (at most one offered row per device; the newest wins regardless). */
  offered(): Map<string, OfferedUpdate> {
    const rows = this.db.prepare<[], { device_id: string; id: string; envelope: string; sha256: string; allow_downgrade: number; windows: string | null; health_window_sec: number }>(
      `SELECT dd.device_id, d.id, r.envelope, r.sha256, d.allow_downgrade, d.windows, d.health_window_sec FROM deployment_devices dd
       JOIN deployments d ON d.id = dd.deployment_id JOIN releases r ON r.sha256 = d.release_sha256
       WHERE dd.offered = 1 ORDER BY d.created_at, d.id`).all();
    const out = new Map<string, OfferedUpdate>();
    for (const r of rows) {
      out.set(r.device_id, {
        deploymentId: r.id, envelope: JSON.parse(r.envelope) as SignedRelease, sha256: r.sha256, allowDowngrade: r.allow_downgrade === 1,
        windows: r.windows ? JSON.parse(r.windows) as MaintenanceWindow[] : null, healthWindowSec: r.health_window_sec,
      });
    }
    return out;
  }

  /**
   * Enrolled, live (not revoked, not decommissioned) devices in the zones' subtrees or named, with their agent
   * version and, when their pairing reported it, their processor architecture.
   */
  eligible(zonePaths: readonly string[], deviceIds: readonly string[]): { id: string; zonePath: string; agentVersion: string | null; arch: string | null }[] {
    const sub = zonePaths.length ? inSubtrees('z.path', zonePaths) : null;
    const named = deviceIds.length ? `d.id IN (${deviceIds.map(() => '?').join(', ')})` : null;
    const where = [sub?.sql, named].filter(Boolean).join(' OR ');
    if (!where) return [];
    return this.db.prepare<unknown[], { id: string; path: string; agent_version: string | null; arch: string | null }>(`SELECT d.id, z.path, d.agent_version,
        (SELECT json_extract(p.hardware, '$.arch') FROM pairing_requests p WHERE p.device_id = d.id AND p.keyid = d.keyid ORDER BY p.paired_at DESC LIMIT 1) AS arch
      FROM devices d JOIN zones z ON z.id = d.zone_id
      WHERE (${where}) AND d.public_key IS NOT NULL AND d.revoked_at IS NULL AND d.decommissioned_at IS NULL ORDER BY d.id`)
      .all(...(sub?.args ?? []), ...deviceIds)
      .map((r) => ({ id: r.id, zonePath: r.path, agentVersion: r.agent_version, arch: typeof r.arch === 'string' ? r.arch : null }));
  }
}
