import { existsSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { AbortError, type Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import { writeFileDurably } from './durable-file.js';

export const RESERVE_FILE = 'disk-reserve';

/** True for the errors a full disk gives: SQLite's SQLITE_FULL and the file system's ENOSPC. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'LOA_ERR_DISK_FULL';
}

export interface DiskFault { since: number; until: number; failedWrites: number; freeBytes: number }

/**
 * Keeps the agent writing proof-of-play through a full data disk (issue 10). A reserve file of `reserveBytes`
 * is kept in the data dir; when free space falls under `lowBytes` or a write fails with SQLITE_FULL/ENOSPC, the
 * reserve is deleted, which gives SQLite room to go on committing events and play state while the disk stays
 * full of something else. Once there is room again for the reserve and the low mark, the reserve is made
 * again and the fault is reported (`onRecovered`, which the agent turns into a `store.recovered` event with
 * LOA_ERR_DISK_FULL): reported after the fact, since nothing can be written reliably while it lasts.
 */
export class DiskGuard {
  private fault: { since: number; failedWrites: number } | null = null;

  constructor(private readonly o: {
    dataDir: string; clock: Clock; log: Logger;
    onRecovered: (fault: DiskFault) => void;
    reserveBytes?: number; lowBytes?: number; checkMs?: number;
  }) {}

  private get reserve(): number { return this.o.reserveBytes ?? 4 * 1024 * 1024; }
  private get low(): number { return this.o.lowBytes ?? 1024 * 1024; }

  freeBytes(): number {
    const s = statfsSync(this.o.dataDir);
    return s.bavail * s.bsize;
  }

  get inFault(): boolean {
    return this.fault !== null;
  }

  /** Before the store opens: makes the reserve when there is room, or uses it when the disk is full already. */
  prepare(): void {
    try {
      const free = this.freeBytes();
      if (free < this.low) this.enterFault('low space at start');
      else if (!existsSync(this.reservePath()) && free >= this.reserve + this.low) writeFileDurably(this.reservePath(), Buffer.alloc(this.reserve));
    } catch (e) {
      this.o.log.warn({ reason: (e as Error).message }, 'disk reserve could not be prepared');
    }
  }

  /** A write failed: when the disk is full, the reserve is released (the caller may retry once). True if so. */
  onWriteError(e: unknown): boolean {
    if (!isDiskFull(e)) return false;
    if (this.fault) this.fault.failedWrites++;
    else this.enterFault((e as Error).message);
    return true;
  }

  /** Looks at the free space every checkMs until aborted. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.o.clock.sleep(this.o.checkMs ?? 2000, signal);
      } catch (e) {
        if (e instanceof AbortError) return;
        throw e;
      }
      this.check();
    }
  }

  check(): void {
    let free: number;
    try {
      free = this.freeBytes();
    } catch {
      return;
    }
    if (!this.fault) {
      if (free < this.low) this.enterFault('low space');
      return;
    }
    if (free < this.reserve + 2 * this.low) return;
    try {
      writeFileDurably(this.reservePath(), Buffer.alloc(this.reserve));
      const f = { since: this.fault.since, until: this.o.clock.now(), failedWrites: this.fault.failedWrites, freeBytes: free };
      this.o.onRecovered(f);
      this.fault = null;
      this.o.log.warn(f, 'the data disk has room again; disk reserve restored');
    } catch (e) {
      rmSync(this.reservePath(), { force: true });
      this.onWriteError(e);
    }
  }

  private reservePath(): string {
    return join(this.o.dataDir, RESERVE_FILE);
  }

  private enterFault(reason: string): void {
    this.fault = { since: this.o.clock.now(), failedWrites: 0 };
    rmSync(this.reservePath(), { force: true });
    this.o.log.error({ code: 'LOA_ERR_DISK_FULL', reason }, 'the data disk is full: disk reserve released so that proof-of-play can still be written');
  }
}
