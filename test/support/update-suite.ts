/**
 * The common setup of the self-update test files (issue 11): the shared release artifacts (built once per build,
 * test/support/update-releases.ts) signed with this file's trust, a real aedes broker, the HTTP server in the
 * controller's role, and receivers provisioned on A that run through the real launcher.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentUpdate, SignedRelease } from '../../shared/schemas/release.js';
import { topics } from '../../shared/topics.js';
import { startBroker, type TestBroker } from './mqtt-broker.js';
import { makeTrust, type TestTrust } from './trust.js';
import { manifestWithUpdate, signArtifact, UpdateServer, UpdDevice } from './update-fleet.js';
import { releaseSet } from './update-releases.js';
import { eventually } from './wait.js';

export interface SuiteRelease {
  path: string;
  signed: SignedRelease;
  sha256: string;
  version: string;
}

export type UpdateEvent = { state: string; version: string; from?: string; reason?: string; message?: string; deploymentId: string };

export const A = '1.0.0';
export const B = '1.1.0';

export class UpdateSuite {
  readonly dir = mkdtempSync(join(tmpdir(), 'loa-upd-'));
  readonly trust: TestTrust = makeTrust();
  readonly server = new UpdateServer();
  broker!: TestBroker;
  readonly rel = {} as Record<'A' | 'B' | 'C' | 'lower', SuiteRelease>;
  private readonly devices: UpdDevice[] = [];
  private seq = 0;
  private template: Promise<UpdDevice> | null = null;

  /** Signs and serves the given releases (A always), then starts the broker and the server. */
  async start(which: ('B' | 'C' | 'lower')[]): Promise<this> {
    const t0 = Date.now();
    const set = await releaseSet();
    if (process.env.LOA_TEST_DEBUG) process.stderr.write(`release set after ${Date.now() - t0} ms\n`);
    const versions = { A, B, C: '1.2.0', lower: '0.9.0' } as const;
    for (const k of ['A', ...which] as const) {
      this.rel[k] = { path: set[k], version: versions[k], signed: await signArtifact(set[k], this.trust.release.privateKeyPem), sha256: await this.server.addArtifact(set[k]) };
    }
    this.broker = await startBroker();
    await this.server.start();
    return this;
  }

  async close(): Promise<void> {
    const t0 = Date.now();
    const step = (what: string): void => {
      if (process.env.LOA_TEST_DEBUG) process.stderr.write(`close: ${what} after ${Date.now() - t0} ms\n`);
    };
    await Promise.all(this.devices.map((d) => d.stop()));
    step('devices stopped');
    await this.server.close();
    step('server closed');
    await this.broker?.stop();
    step('broker stopped');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A receiver provisioned on A (not started: call run()). */
  async device(): Promise<UpdDevice> {
    // the first receiver of a file unpacks A for real; the others hard-link its unpacked tree (see provision)
    this.template ??= (async (): Promise<UpdDevice> => {
      const t = new UpdDevice('template', this.dir);
      await t.provision({ trust: this.trust, artifact: this.rel.A.path, version: A, controllerUrl: this.server.url, mqttUrl: this.broker.url });
      return t;
    })();
    const template = await this.template;
    const d = new UpdDevice(`dev-u${++this.seq}`, this.dir);
    this.devices.push(d);
    await d.provision({ trust: this.trust, artifact: this.rel.A.path, version: A, controllerUrl: this.server.url, mqttUrl: this.broker.url, cloneFrom: template });
    return d;
  }

  /** Serves the device a new signed manifest with agentUpdate, and notifies it (as the controller's compiler does). */
  async deploy(d: UpdDevice, manifestVersion: number, deploymentId: string, signed: SignedRelease, over: Partial<AgentUpdate> = {}): Promise<void> {
    this.server.manifests.set(d.id, manifestWithUpdate(this.trust, d.id, manifestVersion, { deploymentId, release: signed, url: `releases/${signed.signed.sha256}`, healthWindowSec: 10, ...over }));
    await this.broker.publish(topics.down(d.id, 'notify'), JSON.stringify({ version: manifestVersion, at: Date.now() }), 1);
  }

  /** update.state events the device published through its outbox, as the broker received them. */
  events(d: UpdDevice): UpdateEvent[] {
    return this.broker.messages
      .filter((m) => m.topic === `loa/v1/dev/${d.id}/up/events`)
      .map((m) => JSON.parse(m.payload.toString('utf8')) as { type: string; data: UpdateEvent })
      .filter((e) => e.type === 'update.state').map((e) => e.data);
  }
}

/**
 * The power-cut invariant: a live agent process runs A or B, and `current` points at the version it reports.
 * (Right after a switch `current` already names B while A is still exiting: hence eventually.)
 */
export async function runsAOrB(d: UpdDevice, timeoutMs: number): Promise<string> {
  await eventually(() => d.running !== null && [A, B].includes(d.running) && d.current === d.running && d.layout.has(d.running), timeoutMs,
    `${d.id} running A or B with current pointing at it (running ${d.running}, current ${d.current})`);
  const v = d.running!;
  assert.equal(d.current, v);
  return v;
}

/** The end state after healing: B running from `current`, committed. */
export async function endsOnB(d: UpdDevice, timeoutMs: number): Promise<void> {
  await eventually(() => d.running === B && d.current === B && d.state().committed?.version === B, timeoutMs, `${d.id} ends on ${B}, committed (running ${d.running}, current ${d.current})`);
}

/**
 * One power-cut test: the device's start number `startIndex` gets LOA_FAILPOINTS=`point` (a kill -9 there); the
 * start after it runs A (a cut before the switch) or B (after it), from `current`, and the device ends on B.
 */
export function powerCutTest(s: UpdateSuite, point: string, startIndex: number): void {
  const name = point.split('=')[0]!;
  const beforeSwitch = name === 'update.download-progress' || name === 'update.mid-unpack';
  test(`a power cut (kill -9) at ${name} leaves the device running ${beforeSwitch ? 'A' : 'B'}, and it ends on B`, async () => {
    const d = await s.device();
    d.envFor = (n): Record<string, string> => (n === startIndex ? { LOA_FAILPOINTS: point } : {});
    await s.deploy(d, 1, `dep-${name}`, s.rel.B.signed);
    d.run();
    await d.exited(startIndex, 90_000);
    assert.equal(d.exits[startIndex]?.signal, 'SIGKILL', `start ${startIndex} was killed at ${name}`);
    await runsAOrB(d, 60_000);
    assert.equal(d.starts.find((st) => st.spawn === startIndex + 1)?.version, beforeSwitch ? A : B, `the start after the cut at ${name}`);
    await endsOnB(d, 60_000);
    for (const st of d.starts) assert.ok([A, B].includes(st.version), `start on ${st.version}`);
    assert.ok(!existsSync(`${d.layout.releaseDir(B)}.tmp`), 'no half-unpacked folder is left');
    if (name === 'update.download-progress') {
      assert.ok(s.server.requests.some((r) => r.path === `/releases/${s.rel.B.sha256}` && r.range !== null && r.range !== 'bytes=0-'), 'the cut download resumed with a Range request');
    }
  });
}
