import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
export { freePort } from '../support/ports.js';
import { freePort } from '../support/ports.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The parts of node-red-node-test-helper (CommonJS, untyped) these tests use. */
export interface RedNode {
  id: string;
  type: string;
  receive(msg: Record<string, unknown>): void;
  on(ev: 'input', fn: (msg: Record<string, unknown>) => void): void;
}
interface Spy { getCalls(): { thisValue: unknown; args: unknown[] }[] }
export interface Helper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  load(nodes: unknown[], flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RedNode | null;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  log(): Spy & { args: unknown[][] };
}

export const helper = require('node-red-node-test-helper') as Helper;
helper.init(require.resolve('node-red'));

/** Our five nodes, as Node-RED loads them (the compiled CommonJS files). */
export const LOA_NODES: unknown[] = ['loa-config', 'loa-emergency', 'loa-bulletin', 'loa-device-events', 'loa-query']
  .map((n) => require(join(DIST, 'flows', 'nodes', `${n}.cjs`)) as unknown);

/** The core nodes the example flows use. */
const core = (p: string): unknown => require(`@node-red/nodes/core/${p}`) as unknown;
export const CORE_NODES: unknown[] = [
  core('common/20-inject.js'), core('common/21-debug.js'), core('function/10-function.js'), core('function/89-trigger.js'),
  core('network/21-httprequest.js'), core('network/10-mqtt.js'), core('network/05-tls.js'), core('network/06-httpproxy.js'),
];

/** The last status a node set (the helper spies on Node.prototype.status). */
export function lastStatus(node: RedNode): { fill?: string; shape?: string; text?: string } | undefined {
  const spy = (node as unknown as { status: Spy }).status;
  const calls = spy.getCalls().filter((c) => c.thisValue === node);
  return calls[calls.length - 1]?.args[0] as { fill?: string; text?: string } | undefined;
}

/** Log lines Node-RED wrote at error level (the runtime's own errors, e.g. a node that failed to start). */
export function runtimeErrors(): string[] {
  return helper.log().args.map((a) => a[0] as { level?: number; msg?: unknown; type?: string; id?: string })
    .filter((e) => e.level === 20)
    .map((e) => `${e.type ?? '?'} ${e.id ?? ''}: ${String(e.msg)}`);
}

/** A real mosquitto (the sensors' broker, separate from the controller's) on a random port. */
export async function startMosquitto(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('mosquitto', ['-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      if (err.includes('Error')) process.stderr.write(`mosquitto: ${err}\n`);
    },
  };
}
