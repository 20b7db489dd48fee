/**
 * Starts `socat` with a pair of linked pseudo-terminals (a null-modem cable in software) and stops it.
 * Every process started here is also killed when the test process exits, so a failed test leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface SocatPair {
  /** Link to one end: the side the code under test opens. */
  a: string;
  /** Link to the other end: the side the emulator opens. */
  b: string;
  readonly pid: number;
  /** Whether socat is still running. */
  readonly running: boolean;
  /** Stops socat (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. The links go away. */
  stop(): Promise<void>;
  /** SIGKILL: the ptys vanish at once, the (dangling) links stay. */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Registers a child to be SIGKILLed if the test process exits without stopping it. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const killAll = (): void => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    process.once('exit', killAll);
    // The test runner ends a file that runs past its timeout with a signal, which skips 'exit': no orphans then either.
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(sig === 'SIGTERM' ? 143 : 130);
      });
    }
  }
}

/** Waits for a child to exit, sending SIGKILL if it has not after `graceMs`. */
export function waitExit(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function startSocat(options: { dir: string; names?: [string, string]; timeoutMs?: number }): Promise<SocatPair> {
  const a = join(options.dir, options.names?.[0] ?? 'a');
  const b = join(options.dir, options.names?.[1] ?? 'b');
  // Stale links from a SIGKILLed socat could point at a pty number another process now owns.
  await Promise.all([rm(a, { force: true }), rm(b, { force: true })]);
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);
  const ptys: string[] = [];
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not start within ${options.timeoutMs ?? 5000} ms: ${stderr}`)), options.timeoutMs ?? 5000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (install it: apt-get install socat): ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${code}) before it was ready: ${stderr}`));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      for (const m of chunk.matchAll(/PTY is (\S+)/g)) if (m[1]) ptys.push(m[1]);
      if (/starting data transfer loop/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await ready;
    // socat makes the links before the transfer loop starts; check they point at this socat's ptys.
    const [ta, tb] = await Promise.all([readlink(a), readlink(b)]);
    if (ta !== ptys[0] || tb !== ptys[1]) throw new Error(`socat links ${ta}, ${tb} do not match its ptys ${ptys.join(', ')}`);
  } catch (e) {
    child.kill('SIGKILL');
    await waitExit(child);
    throw e;
  }
  child.stderr?.resume();
  return {
    a,
    b,
    pid: child.pid ?? -1,
    get running(): boolean {
      return child.exitCode === null && child.signalCode === null;
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child);
    },
    async kill(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitExit(child);
    },
  };
}
