import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Everything the benchmark starts or creates (child processes, temp folders), so that it is all cleaned up at
 * the end, after a failure, or on Ctrl+C. Children are ended one by one, by their own pid.
 */
export class Resources {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `loa-bench-${prefix}-`));
    this.dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Synchronous, so it also works from an exit handler. */
  cleanupSync(): void {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    this.children.clear();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.dirs.clear();
  }
}

export interface Started {
  child: ChildProcess;
  /** ms from just before spawn() to the first stdout line that matched. */
  readyMs: number;
  line: string;
}

/**
 * Spawns a process and resolves when a stdout line satisfies `isReady`. Rejects when the process exits first
 * or the timeout passes (stderr's tail is in the message). The child keeps running; stop it with `stopChild`.
 */
export function spawnUntil(res: Resources, cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; isReady: (line: string) => boolean; timeoutMs: number }): Promise<Started> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = res.track(spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    let done = false;
    const finish = (e: Error | null, s?: Started): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(s!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`${args.join(' ')}: not ready after ${opts.timeoutMs} ms; stderr: ${err.slice(-800)}`));
    }, opts.timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (done) return;
      out += chunk;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (opts.isReady(line)) {
          finish(null, { child, readyMs: performance.now() - t0, line });
          return;
        }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      err = (err + chunk).slice(-4000);
    });
    child.once('error', (e) => finish(e));
    child.once('exit', (code, signal) => finish(new Error(`${args.join(' ')} exited (${code ?? signal}) before it was ready; stderr: ${err.slice(-800)}`)));
  });
}

/** Asks a child to stop (SIGTERM), and kills it if it has not exited within `graceMs`. Resolves on exit. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, forced: false };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.kill('SIGTERM');
  const ac = new AbortController();
  const timeout = sleep(graceMs, null, { signal: ac.signal }).then(() => null, () => null);
  const first = await Promise.race([exited, timeout]);
  ac.abort();
  if (first) return { ...first, forced: false };
  child.kill('SIGKILL');
  return { ...(await exited), forced: true };
}

/** Resident set size and its peak, in bytes, from /proc/<pid>/status (Linux only). */
export function readRss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
