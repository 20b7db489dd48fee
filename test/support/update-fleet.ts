/**
 * Real receivers for the self-update tests (issue 11): each device has its own install root (release layout,
 * loa-launch) and data dir, and runs as a real `loa agent run` process through the launcher, restarted on
 * every exit like systemd's Restart=always does. A small node:http server plays the controller: per-device
 * signed manifests (with agentUpdate) and release artifacts with Range. The broker is a real aedes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { c as createTar, x as extract } from 'tar';
import { initIdentity } from '../../agent/identity.js';
import { ManifestManager } from '../../agent/manifest/manager.js';
import { MediaStore } from '../../agent/media/store.js';
import { openDb } from '../../agent/store/db.js';
import { Outbox } from '../../agent/store/outbox.js';
import { writeControllerConfig } from '../../agent/sync/config.js';
import { writeLauncher } from '../../agent/update/launcher.js';
import { InstallLayout } from '../../agent/update/layout.js';
import { installFirst } from '../../agent/update/unpack.js';
import { createLogger } from '../../shared/log.js';
import type { AgentUpdate, SignedRelease } from '../../shared/schemas/release.js';
import { hashFile, inspectArtifact, signRelease } from '../../scripts/lib/release-artifact.js';
import { killOnExit } from './socat.js';
import { LOA, SIM_PROFILE } from './loa-cli.js';
import { baseManifest, signManifest, type TestTrust } from './trust.js';

/** Builds release A with the real `loa release build` (blocking: call it before hosting servers). */
export function buildRelease(out: string, version: string): string {
  const r = spawnSync(process.execPath, [LOA, 'release', 'build', '--version', version, '--out', out], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
  if (r.status !== 0) throw new Error(`loa release build failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim()) as { artifact: string }).artifact;
}

/** Re-versions an artifact's tree as `version` (and optionally breaks it), packed like `loa release build` does. */
export async function reversion(artifact: string, out: string, version: string, edit?: (dir: string) => void): Promise<string> {
  const info = await inspectArtifact(artifact);
  const work = join(out, `.rev-${version}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await extract({ file: artifact, cwd: work });
  const top = join(work, `loaphuong-agent-${version}`);
  cpSync(join(work, `loaphuong-agent-${info.release.version}`), top, { recursive: true, verbatimSymlinks: true });
  rmSync(join(work, `loaphuong-agent-${info.release.version}`), { recursive: true, force: true });
  writeFileSync(join(top, 'release.json'), JSON.stringify({ ...info.release, version }, null, 2) + '\n');
  edit?.(top);
  const file = join(out, `loaphuong-agent-${version}-linux-${info.release.arch}.tar.gz`);
  await createTar({ gzip: true, file, cwd: work, portable: true }, [basename(top)]);
  rmSync(work, { recursive: true, force: true });
  return file;
}

export async function signArtifact(artifact: string, keyPem: string): Promise<SignedRelease> {
  return signRelease(await inspectArtifact(artifact), keyPem);
}

/** The controller's part: signed manifests per device, artifacts by sha256 with Range. */
export class UpdateServer {
  readonly manifests = new Map<string, string>();
  readonly artifacts = new Map<string, Buffer>();
  readonly requests: { path: string; range: string | null }[] = [];
  private server: Server | null = null;
  url = '';

  async addArtifact(path: string): Promise<string> {
    const { sha256 } = await hashFile(path);
    this.artifacts.set(sha256, readFileSync(path));
    return sha256;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.requests.push({ path, range: req.headers.range ?? null });
      const m = /^\/api\/v1\/devices\/([^/]+)\/manifest$/.exec(path);
      if (m) {
        const body = this.manifests.get(m[1]!);
        if (!body) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"LOA_ERR_NOT_FOUND","message":"no"}}');
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      }
      const a = /^\/releases\/([0-9a-f]{64})$/.exec(path);
      const file = a ? this.artifacts.get(a[1]!) : undefined;
      if (!file) return void res.writeHead(404).end();
      const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = r ? Number(r[1]) : 0;
      if (start >= file.length) return void res.writeHead(416).end();
      res.writeHead(r ? 206 : 200, { 'content-length': file.length - start, ...(r ? { 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` } : {}) });
      res.end(file.subarray(start));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** One receiver: install root + data dir, run through loa-launch and restarted on exit (systemd's Restart=always). */
export class UpdDevice {
  readonly root: string;
  readonly dataDir: string;
  readonly layout: InstallLayout;
  child: ChildProcess | null = null;
  /** Ready lines of every start, in order ({version, pid, …}). */
  readonly starts: { version: string; pid: number }[] = [];
  spawns = 0;
  stderr = '';
  private stopped = false;
  /** Extra environment for the n-th start (0-based): failpoints for one start only. */
  envFor: (n: number) => Record<string, string> = () => ({});

  constructor(readonly id: string, dir: string) {
    this.root = join(dir, id, 'opt');
    this.dataDir = join(dir, id, 'data');
    this.layout = new InstallLayout(this.root);
  }

  async provision(o: { trust: TestTrust; artifact: string; version: string; controllerUrl: string; mqttUrl: string }): Promise<void> {
    await installFirst(this.layout, o.artifact, { version: o.version, arch: process.arch });
    writeLauncher(this.root);
    initIdentity(this.dataDir, this.id);
    const db = openDb({ path: join(this.dataDir, 'agent.db') });
    const log = createLogger('test', { level: 'silent' });
    const media = new MediaStore({ dataDir: this.dataDir, db, log, now: Date.now });
    new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => this.id }), media, log, deviceId: this.id, now: Date.now }).installRoot(o.trust.signedRoot);
    db.close();
    writeControllerConfig(this.dataDir, { controllerUrl: o.controllerUrl, mqttUrl: o.mqttUrl, zoneId: 'cum-1' });
  }

  /** Starts the launcher, and starts it again whenever it exits, until stop(). */
  run(): void {
    const n = this.spawns++;
    const child = spawn('/bin/sh', [join(this.root, 'loa-launch'), 'agent', 'run', '--data-dir', this.dataDir, '--profile', SIM_PROFILE], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_NODE: process.execPath, LOA_LOG_LEVEL: 'warn', ...this.envFor(n) },
    });
    killOnExit(child);
    this.child = child;
    child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20_000); });
    createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        const r = JSON.parse(line) as { version: string; pid: number };
        this.starts.push({ version: r.version, pid: r.pid });
      } catch {
        // not the ready line
      }
    });
    child.once('exit', () => {
      if (!this.stopped) setTimeout(() => this.run(), 100); // RestartSec
    });
  }

  get current(): string | null {
    try {
      return basename(readlinkSync(join(this.root, 'current')));
    } catch {
      return null;
    }
  }

  /** The version of the latest start, when its process is still alive. */
  get running(): string | null {
    const last = this.starts[this.starts.length - 1];
    return last && this.child && this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined ? last.version : null;
  }

  state(): { failed: Record<string, { reason: string }>; committed?: { version: string } } {
    const p = join(this.dataDir, 'update', 'state.json');
    return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) as { failed: Record<string, { reason: string }> } : { failed: {} };
  }

  kill9(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  }
}

/** A signed manifest for `deviceId` carrying `agentUpdate`. */
export function manifestWithUpdate(trust: TestTrust, deviceId: string, version: number, update: AgentUpdate | undefined): string {
  const m = baseManifest({
    deviceId, version, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    ...(update ? { agentUpdate: update } : {}),
  });
  return JSON.stringify(signManifest(m, [trust.schedule]));
}
