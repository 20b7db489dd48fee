/**
 * The updater's files under `<dataDir>/update/` (issue 11). Every write is atomic (temporary file, fsync,
 * rename, fsync of the folder), so a power cut leaves either the old or the new content.
 *
 *   pending.json       a switched version not yet committed: {deploymentId, version, from, switchedAt,
 *                      healthWindowSec}; written BEFORE `current` moves, removed when the health check passes
 *   attempts           starts of the pending version (the launcher counts them)
 *   rollback           why the pending version is being abandoned: a code line, then a message line (the
 *                      health check or the launcher writes it; the launcher then switches back)
 *   rolled-back.json   pending.json as the launcher left it after switching back; the old agent reports it
 *   state.json         deployments that failed here (never retried) and the last committed version
 *   download/<sha256>  the artifact being downloaded (resumed with a Range request)
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from './layout.js';

export interface PendingUpdate {
  deploymentId: string;
  version: string;
  from: string;
  switchedAt: number;
  healthWindowSec: number;
}

export interface UpdateStateFile {
  failed: Record<string, { version: string; reason: string; at: number }>;
  committed?: { version: string; deploymentId: string; at: number };
}

export class UpdateFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'update');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  writeAtomic(name: string, text: string): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = this.path(`.${name}.tmp`);
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path(name));
    fsyncDir(this.dir);
  }

  remove(...names: string[]): void {
    for (const n of names) rmSync(this.path(n), { force: true });
    if (existsSync(this.dir)) fsyncDir(this.dir);
  }

  readJson<T>(name: string): T | null {
    try {
      return JSON.parse(readFileSync(this.path(name), 'utf8')) as T;
    } catch {
      return null;
    }
  }

  pending(): PendingUpdate | null {
    return this.readJson<PendingUpdate>('pending.json');
  }

  rolledBack(): PendingUpdate | null {
    return this.readJson<PendingUpdate>('rolled-back.json');
  }

  /** The reason the pending version was abandoned: {code, message}, or null. */
  rollbackReason(): { code: string; message: string } | null {
    try {
      const [code = '', ...rest] = readFileSync(this.path('rollback'), 'utf8').split('\n');
      return { code: code.trim() || 'LOA_ERR_UPDATE_HEALTH', message: rest.join(' ').trim().slice(0, 500) };
    } catch {
      return null;
    }
  }

  writeRollbackReason(code: string, message: string): void {
    this.writeAtomic('rollback', `${code}\n${message.replace(/\n/g, ' ')}\n`);
  }

  state(): UpdateStateFile {
    return this.readJson<UpdateStateFile>('state.json') ?? { failed: {} };
  }

  markFailed(deploymentId: string, version: string, reason: string, at: number): void {
    const s = this.state();
    s.failed[deploymentId] = { version, reason, at };
    this.writeAtomic('state.json', JSON.stringify(s) + '\n');
  }

  markCommitted(deploymentId: string, version: string, at: number): void {
    const s = this.state();
    s.committed = { version, deploymentId, at };
    this.writeAtomic('state.json', JSON.stringify(s) + '\n');
  }
}
