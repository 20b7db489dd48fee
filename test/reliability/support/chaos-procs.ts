/**
 * Real processes for the chaos tests (issue 10): a `loa` command or mosquitto that can be started, killed with
 * SIGKILL at any moment and started again on the same ports and files. Unlike test/support/loa-cli.ts `startLoa`,
 * a process here is expected to die: its exit is recorded, never turned into a test failure by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
export { freePort } from '../../support/ports.js';
import { createInterface } from 'node:readline';
import { LOA } from '../../support/loa-cli.js';
import { killOnExit } from '../../support/socat.js';
import { eventually } from '../../support/wait.js';

export interface Started {
  child: ChildProcess;
  /** Date.now() just before spawn. */
  spawnedAt: number;
  /** Date.now() when the ready line (or port) was seen. */
  readyAt: number;
  ready: Record<string, unknown>;
}

/** One restartable process: `start()` spawns it and waits until it is ready, `kill9()` SIGKILLs it. */
export class ChaosProcess {
  private current: ChildProcess | null = null;
  /** Everything the process wrote to stderr, over all its lives (for failure messages). */
  stderr = '';
  starts = 0;
  kills = 0;

  constructor(private readonly o: {
    name: string;
    command: string;
    args: string[];
    env?: Record<string, string>;
    /** Ready when the first stdout line is JSON with ready:true (loa) or when this TCP port accepts (mosquitto). */
    readyPort?: number;
    timeoutMs?: number;
  }) {}

  get running(): boolean {
    return this.current !== null && this.current.exitCode === null && this.current.signalCode === null;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  async start(extraEnv: Record<string, string> = {}): Promise<Started> {
    if (this.running) throw new Error(`${this.o.name} is already running`);
    const spawnedAt = Date.now();
    const child = spawn(this.o.command, this.o.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_LOG_LEVEL: 'warn', ...this.o.env, ...extraEnv } });
    killOnExit(child);
    this.current = child;
    this.starts++;
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    const timeout = this.o.timeoutMs ?? 30_000;
    if (this.o.readyPort !== undefined) {
      const port = this.o.readyPort;
      await eventually(() => this.running && canConnect(port), timeout, `${this.o.name} to listen on ${port}`);
      child.stdout?.resume();
      return { child, spawnedAt, readyAt: Date.now(), ready: { port } };
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.o.name} not ready within ${timeout} ms: ${this.stderr.slice(-2000)}`)), timeout);
      const rl = createInterface({ input: child.stdout });
      rl.once('line', (line) => {
        clearTimeout(timer);
        child.stdout?.resume();
        try {
          resolve({ child, spawnedAt, readyAt: Date.now(), ready: JSON.parse(line) as Record<string, unknown> });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`${this.o.name} exited (${String(code ?? sig)}) before it was ready: ${this.stderr.slice(-2000)}`));
      });
    });
  }

  /** SIGKILL (a power cut for this process); resolves once it has exited. */
  async kill9(): Promise<void> {
    const c = this.current;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    this.kills++;
    await exited;
  }

  /** SIGTERM and wait (the end of a test). */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A `loa …` process. */
export function loaProcess(name: string, args: string[], env: Record<string, string> = {}): ChaosProcess {
  return new ChaosProcess({ name, command: process.execPath, args: [LOA, ...args], env });
}
