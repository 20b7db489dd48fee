/**
 * Real receivers for the self-update tests (issue 11): each device has its own install root (release layout,
 * loa-launch) and data dir, and runs as a real `loa agent run` process through the launcher, restarted on
 * every exit like systemd's Restart=always does. A small node:http server plays the controller: per-device
 * signed manifests (with agentUpdate) and release artifacts with Range. The broker is a real aedes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
import { eventually } from './wait.js';
import { baseManifest, signManifest, type TestTrust } from './trust.js';

/** Builds release A with the real `loa release build` (blocking: call it before hosting servers). */
export function buildRelease(out: string, version: string): string {
  const r = spawnSync(process.execPath, [LOA, 'release', 'build', '--version', version, '--out', out], { encoding: 'utf8', env: { ...process.env, LOA_LOG_LEVEL: 'silent' } });
  if (r.status !== 0) throw new Error(`loa release build failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim()) as { artifact: string }).artifact;
}

/**
 * Re-versions an artifact's tree as each of `variants` (optionally editing it: C is broken this way), packed
 * like `loa release build` does. The tree is unpacked once and renamed from variant to variant; an edit must
 * be the last variant's (it stays in the tree).
 */
export async function reversions(artifact: string, out: string, variants: { version: string; edit?: (dir: string) => void }[]): Promise<string[]> {
  const info = await inspectArtifact(artifact);
  const work = join(out, '.rev');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await extract({ file: artifact, cwd: work });
  let top = join(work, `loaphuong-agent-${info.release.version}`);
  const files: string[] = [];
  for (const v of variants) {
    const next = join(work, `loaphuong-agent-${v.version}`);
    renameSync(top, next);
    top = next;
    writeFileSync(join(top, 'release.json'), JSON.stringify({ ...info.release, version: v.version }, null, 2) + '\n');
    v.edit?.(top);
    const file = join(out, `loaphuong-agent-${v.version}-linux-${info.release.arch}.tar.gz`);
    await createTar({ gzip: true, file, cwd: work, portable: true }, [basename(top)]);
    files.push(file);
  }
  rmSync(work, { recursive: true, force: true });
  return files;
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
  readonly starts: { version: string; pid: number; spawn: number }[] = [];
  spawns = 0;
  /** How each start ended, by start index. */
  readonly exits: { code: number | null; signal: NodeJS.Signals | null }[] = [];
  stderr = '';
  private stopped = false;
  private readonly children: ChildProcess[] = [];
  /** Extra environment for the n-th start (0-based): failpoints for one start only. */
  envFor: (n: number) => Record<string, string> = () => ({});

  constructor(readonly id: string, dir: string) {
    this.root = join(dir, id, 'opt');
    this.dataDir = join(dir, id, 'data');
    this.layout = new InstallLayout(this.root);
  }

  /**
   * Installs `artifact` as the first release (installFirst, as `loa release install` does), the launcher, an
   * identity, the trust root and the controller config. With `cloneFrom` (a device provisioned the same way)
   * the unpacked release is hard-linked from it instead of unpacked again (5,000 files: seconds on a loaded
   * machine); the links and the launcher are made the same way. Releases are never written to after unpack.
   */
  async provision(o: { trust: TestTrust; artifact: string; version: string; controllerUrl: string; mqttUrl: string; cloneFrom?: UpdDevice }): Promise<void> {
    if (o.cloneFrom) {
      mkdirSync(this.layout.releases, { recursive: true });
      const r = spawnSync('cp', ['-al', o.cloneFrom.layout.releaseDir(o.version), this.layout.releaseDir(o.version)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cp -al failed: ${r.stderr}`);
      this.layout.switchLink('current', o.version);
    } else {
      await installFirst(this.layout, o.artifact, { version: o.version, arch: process.arch });
    }
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
    if (this.stopped) return;
    const n = this.spawns++;
    const child = spawn('/bin/sh', [join(this.root, 'loa-launch'), 'agent', 'run', '--data-dir', this.dataDir, '--profile', SIM_PROFILE], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOA_NODE: process.execPath, LOA_LOG_LEVEL: 'warn', ...this.envFor(n) },
    });
    killOnExit(child);
    this.child = child;
    this.children.push(child);
    child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20_000); });
    createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        const r = JSON.parse(line) as { version: string; pid: number };
        this.starts.push({ version: r.version, pid: r.pid, spawn: n });
      } catch {
        // not the ready line
      }
    });
    child.once('exit', (code, signal) => {
      this.exits[n] = { code, signal };
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
    // the ready line of the process alive now (not of a killed one, while its successor is still starting)
    return last && last.spawn === this.spawns - 1 && this.child && this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined ? last.version : null;
  }

  state(): { failed: Record<string, { reason: string }>; committed?: { version: string } } {
    const p = join(this.dataDir, 'update', 'state.json');
    return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) as { failed: Record<string, { reason: string }> } : { failed: {} };
  }

  /** Waits until the n-th start (0-based) has exited. */
  async exited(n: number, timeoutMs: number): Promise<void> {
    await eventually(() => this.exits[n] !== undefined, timeoutMs, `${this.id}: start ${n} exits`);
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
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000); // an agent that does not stop in 5 s is cut off
      await exited;
      clearTimeout(t);
    }
    // a process the agent started (and a SIGKILL orphaned) may still hold a pipe: do not wait for it
    for (const ch of this.children) {
      ch.stdout?.destroy();
      ch.stderr?.destroy();
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
