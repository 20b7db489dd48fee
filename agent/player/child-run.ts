import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';

/** child_process.spawn, or a stand-in for tests. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface ChildRunOptions {
  spawn: SpawnFn;
  clock: Clock;
  log: Logger;
  command: string;
  args: readonly string[];
  /** 'pipe' to feed the child's stdin. */
  stdin: 'pipe' | 'ignore';
  /** After SIGTERM, SIGKILL follows this many ms (on the clock) later. */
  killGraceMs: number;
  /** How many stderr lines to keep (the last ones). Default 20. */
  stderrLines?: number;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: Error;
  /** The last lines of stderr. */
  stderr: string[];
  /** Whether stop() had to escalate to SIGKILL. */
  killed: boolean;
}

export interface ChildRun {
  /** The child's stdin when stdin is 'pipe' (EPIPE errors on it are absorbed), else null. */
  readonly stdin: Writable | null;
  readonly pid: number | undefined;
  /** Resolves once the child has exited and its pipes are closed (it has been reaped). Never rejects. */
  readonly done: Promise<ChildExit>;
  /** SIGTERM now, SIGKILL after the grace period if it is still running. Idempotent. */
  stop(): void;
}

const MAX_LINE = 500;

/**
 * Runs one child process to completion: keeps the tail of its stderr, absorbs EPIPE on its stdin, stops it
 * with SIGTERM then SIGKILL, and always waits for it to be reaped. Every listener is removed when it exits.
 */
export function startChild(o: ChildRunOptions): ChildRun {
  const maxLines = o.stderrLines ?? 20;
  const tail: string[] = [];
  let partial = '';
  const pushText = (text: string): void => {
    partial += text;
    const lines = partial.split('\n');
    partial = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) {
      const t = line.trimEnd();
      if (!t) continue;
      tail.push(t.length > MAX_LINE ? `${t.slice(0, MAX_LINE)}…` : t);
      if (tail.length > maxLines) tail.shift();
    }
  };
  const lines = (): string[] => (partial.trim() ? [...tail, partial.trim().slice(0, MAX_LINE)].slice(-maxLines) : [...tail]);

  let child: ChildProcess;
  try {
    child = o.spawn(o.command, o.args, { stdio: [o.stdin, 'ignore', 'pipe'] });
  } catch (err) {
    const spawnError = err instanceof Error ? err : new Error(String(err));
    return {
      stdin: null,
      pid: undefined,
      done: Promise.resolve({ code: null, signal: null, spawnError, stderr: [], killed: false }),
      stop: () => undefined,
    };
  }

  let exited = false;
  let stopping = false;
  let killed = false;
  let spawnError: Error | undefined;
  const grace = new AbortController();
  const onStderr = (chunk: Buffer | string): void => pushText(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
  const onStdinError = (err: Error): void => {
    o.log.debug({ err: err.message }, 'child stdin closed');
  };
  const onError = (err: Error): void => {
    if (child.pid === undefined) spawnError ??= err;
    else o.log.warn({ err }, 'child process error');
  };
  const onExit = (): void => {
    exited = true;
    grace.abort();
  };
  child.stderr?.on('data', onStderr);
  child.stdin?.on('error', onStdinError);
  child.on('error', onError);
  child.on('exit', onExit);

  const done = new Promise<ChildExit>((resolve) => {
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      exited = true;
      grace.abort();
      child.off('close', onClose);
      child.off('error', onError);
      child.off('exit', onExit);
      child.stderr?.off('data', onStderr);
      // A late EPIPE on a destroyed stdin must not crash the process: keep absorbing it.
      child.stdin?.off('error', onStdinError);
      child.stdin?.on('error', absorb);
      resolve({ code: spawnError ? null : code, signal, ...(spawnError ? { spawnError } : {}), stderr: lines(), killed });
    };
    child.on('close', onClose);
  });

  const stop = (): void => {
    if (exited || stopping) return;
    stopping = true;
    child.kill('SIGTERM');
    o.clock.sleep(o.killGraceMs, grace.signal).then(
      () => {
        if (exited) return;
        killed = true;
        o.log.warn({ pid: child.pid, graceMs: o.killGraceMs }, 'child ignored SIGTERM, sending SIGKILL');
        child.kill('SIGKILL');
      },
      () => undefined,
    );
  };

  return { stdin: child.stdin, pid: child.pid, done, stop };
}

function absorb(): void {
  /* the child is gone; nothing to do with its stdin's errors */
}
