import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { killOnExit } from './socat.js';

/** The `loa` command of this checkout, and the file-sink profile real-process tests run agents with. */
export const LOA = join(process.cwd(), 'bin', 'loa.js');
export const SIM_PROFILE = join(process.cwd(), 'hardware-profiles', 'sim-file-sink.json');

const envOf = (level: string, env: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, LOA_LOG_LEVEL: level, ...env });

/** Runs `loa …` to completion (blocking: never while this process hosts what the command talks to). */
export function runLoa(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [LOA, ...args], { encoding: 'utf8', env: envOf('silent', env) });
}

/** `runLoa`, asserting success; returns stdout. */
export function loaOk(args: string[], env: Record<string, string> = {}): string {
  const r = runLoa(args, env);
  assert.equal(r.status, 0, `loa ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** `loaOk` without blocking this process (which may host the controller the command talks to). */
export function loaOkAsync(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: envOf('silent', env) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`loa ${args.join(' ')} failed (${String(code)}): ${err}`))));
  });
}

/** Starts a long-running `loa` process and resolves with the JSON of its first stdout line ({ready: true, …}). */
export function startLoa(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, [LOA, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: envOf('warn', env) });
  killOnExit(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (line) => resolve({ child, ready: JSON.parse(line) as Record<string, unknown> }));
    child.once('exit', (code) => reject(new Error(`loa ${args[0]} exited with ${String(code)}: ${stderr}`)));
  });
}

/** SIGTERM to each (last started first), waiting for each to exit. */
export async function stopAll(children: ChildProcess[]): Promise<void> {
  for (const c of [...children].reverse()) {
    const exited = new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)));
    c.kill('SIGTERM');
    await exited;
  }
}

/**
 * A real `loa controller run` process with its data in `dir`: 1-of-1 keys, admin `admin` with `password`,
 * province T01, commune X01 (code 19753) with cluster X01-C1 ("Cụm loa thôn Đông"). Returns the signed-in client.
 */
export async function startControllerProcess(dir: string, password: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; http: string; mqtt: string; api: ApiClient }> {
  loaOk(['keys', 'init', '--out', join(dir, 'keys'), '--count', '1', '--threshold', '1', '--years', '1']);
  const config = join(dir, 'controller.json');
  writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'controller'), keysDir: join(dir, 'keys'), http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, manifests: { debounceMs: 50 } }));
  loaOk(['controller', 'admin', 'create', '--config', config, '--username', 'admin', '--province', 'T01', '--province-name', 'Tỉnh Thử'], { LOA_ADMIN_PASSWORD: password });
  const ctl = await startLoa(['controller', 'run', '--config', config], env);
  const http = String(ctl.ready.http);
  const api = new ApiClient(http);
  await api.login('admin', password);
  await api.post('/api/v1/zones', { id: 'X01', parentId: 'T01', level: 'commune', code: '19753', name: 'Xã Tân Lập' });
  await api.post('/api/v1/zones', { id: 'X01-C1', parentId: 'X01', level: 'cluster', code: 'C1', name: 'Cụm loa thôn Đông' });
  return { child: ctl.child, http, mqtt: String(ctl.ready.mqtt), api };
}

/** A receiver as an installer makes one: a device record, a one-time token, `loa agent enroll`, then `loa agent run`. */
export async function startAgentProcess(api: ApiClient, http: string, dataDir: string, id: string, zoneId: string): Promise<ChildProcess> {
  await api.post('/api/v1/devices', { id, zoneId, name: `Loa ${id}` });
  const { token } = await api.post<{ token: string }>(`/api/v1/devices/${id}/enrollment-token`);
  mkdirSync(dataDir, { recursive: true });
  loaOk(['agent', 'enroll', '--data-dir', dataDir, '--controller', http, '--token', token]);
  return (await startLoa(['agent', 'run', '--data-dir', dataDir, '--profile', SIM_PROFILE])).child;
}
