/**
 * Issue 11 acceptance, end to end with real processes and no stand-ins: a real `loa controller run` (embedded
 * broker, SQLite) with keys from `loa keys init` (its release.key signs releases); artifacts from the real
 * `loa release build` and `loa release sign`, uploaded with `loa release upload`; three receivers enrolled with
 * `loa agent enroll`, installed with `loa release install` and run through the sh launcher (restarted on exit as
 * systemd's Restart=always does). Deployments go through the real API.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import type { DeploymentDevice, HaltReason, WaveRecord } from '../../controller/data/deployments.js';
import { loaOkAsync, startControllerProcess, stopAll } from '../support/loa-cli.js';
import { UpdDevice } from '../support/update-fleet.js';
import { releaseSet } from '../support/update-releases.js';
import { eventually } from '../support/wait.js';

interface Deployment { id: string; state: string; waves: WaveRecord[]; devices: DeploymentDevice[]; haltReason: HaltReason | null }

const dir = mkdtempSync(join(tmpdir(), 'loa-upd-e2e-'));
const PASSWORD = 'quan-tri-vien-1';
const art: Record<'A' | 'B' | 'C', string> = { A: '', B: '', C: '' };
const sha: Record<'B' | 'C', string> = { B: '', C: '' };
let ctl: { child: ChildProcess; http: string; api: ApiClient };
const devices: UpdDevice[] = [];

before(async () => {
  // Real `loa release build` artifacts of this checkout (built once per build of dist/, shared by the update
  // tests): A, B re-versioned from A, and C broken for real (its agent module throws when loaded). Copied here,
  // so that signing them for this controller's release key writes nothing beside the shared copies.
  const set = await releaseSet();
  for (const k of ['A', 'B', 'C'] as const) {
    art[k] = join(dir, basename(set[k]));
    copyFileSync(set[k], art[k]);
  }
  ctl = await startControllerProcess(dir, PASSWORD);
  const keys = join(dir, 'keys');
  for (const a of [art.A, art.B, art.C]) await loaOkAsync(['release', 'sign', '--key', join(keys, 'release.key'), a]);
  for (const k of ['B', 'C'] as const) {
    const out = await loaOkAsync(['release', 'upload', art[k], '--controller', ctl.http, '--username', 'admin', '--json'], { LOA_PASSWORD: PASSWORD });
    sha[k] = (JSON.parse(out) as { release: { sha256: string } }).release.sha256;
  }
  for (let i = 1; i <= 3; i++) {
    const d = new UpdDevice(`loa-upd-${i}`, dir);
    await ctl.api.post('/api/v1/devices', { id: d.id, zoneId: 'X01-C1', name: `Loa ${i}` });
    const { token } = await ctl.api.post<{ token: string }>(`/api/v1/devices/${d.id}/enrollment-token`);
    mkdirSync(d.dataDir, { recursive: true });
    await loaOkAsync(['agent', 'enroll', '--data-dir', d.dataDir, '--controller', ctl.http, '--token', token]);
    await loaOkAsync(['release', 'install', '--install-root', d.root, '--root', join(keys, 'root.json'), art.A]);
    devices.push(d);
  }
}, { timeout: 240_000 });

after(async () => {
  await Promise.all(devices.map((d) => d.stop()));
  if (ctl) await stopAll([ctl.child]);
  rmSync(dir, { recursive: true, force: true });
});

const deployment = async (id: string): Promise<Deployment> => (await ctl.api.get<{ deployment: Deployment }>(`/api/v1/deployments/${id}`)).deployment;
const agentVersion = async (id: string): Promise<string | null> => (await ctl.api.get<{ device: { agentVersion: string | null } }>(`/api/v1/devices/${id}`)).device.agentVersion;

test('three agents on version A get version B from a real controller, in two waves, and run it', { timeout: 300_000 }, async () => {
  for (const d of devices) d.run();
  for (const d of devices) await eventually(async () => d.running === '1.0.0' && (await agentVersion(d.id)) === '1.0.0', 60_000, `${d.id} online on 1.0.0`);

  const { deployment: created } = await ctl.api.post<{ deployment: Deployment }>('/api/v1/deployments', {
    releaseSha256: sha.B, target: { zoneIds: ['X01'] }, waves: [33, 100], healthWindowSec: 60,
  });
  let dep = created;
  await eventually(async () => (dep = await deployment(created.id)).state === 'completed', 240_000, 'the deployment completes');
  assert.deepEqual(dep.waves.map((w) => w.deviceCount), [1, 2], 'one device in the first wave, the other two in the second');
  assert.ok(dep.waves[1]!.startedAt! >= dep.waves[0]!.endedAt!, 'the second wave started only after the first one was healthy');
  assert.deepEqual(dep.devices.map((x) => x.state), ['healthy', 'healthy', 'healthy']);
  for (const d of devices) {
    assert.equal(d.running, '1.1.0', `${d.id} runs B`);
    assert.equal(d.current, '1.1.0');
    assert.equal(d.layout.linkVersion('previous'), '1.0.0', 'A stays beside B, for a rollback');
    assert.equal(d.state().committed?.version, '1.1.0');
    await eventually(async () => (await agentVersion(d.id)) === '1.1.0', 30_000, `the controller sees ${d.id} on 1.1.0`);
  }
});

test('a broken version C fails on the first wave, reverts by itself, and the rollout halts before the next wave with the reason in the API', { timeout: 300_000 }, async () => {
  const startsBefore = new Map(devices.map((d) => [d.id, d.starts.length]));
  const { deployment: created } = await ctl.api.post<{ deployment: Deployment }>('/api/v1/deployments', {
    releaseSha256: sha.C, target: { zoneIds: ['X01'] }, waves: [1, 100], healthWindowSec: 30,
  });
  let dep = created;
  await eventually(async () => (dep = await deployment(created.id)).state === 'halted', 240_000, 'the deployment halts');
  assert.equal(dep.waves[0]!.deviceCount, 1);
  assert.equal(dep.waves[1]!.startedAt, null, 'the second wave never started');
  const failure = dep.haltReason!.failures[0]!;
  assert.equal(failure.reason, 'LOA_ERR_UPDATE_CRASH_LOOP', `the failure reason is visible in the API: ${JSON.stringify(dep.haltReason)}`);
  const broken = devices.find((d) => d.id === failure.deviceId)!;
  await eventually(() => broken.running === '1.1.0', 60_000, `${broken.id} is back on B`);
  assert.equal(broken.current, '1.1.0');
  assert.equal(broken.state().failed[created.id]?.reason, 'LOA_ERR_UPDATE_CRASH_LOOP');
  for (const d of devices.filter((x) => x !== broken)) {
    assert.equal(d.running, '1.1.0', `${d.id} keeps running B`);
    assert.equal(d.starts.length, startsBefore.get(d.id), `${d.id} never restarted: C was not offered to the second wave`);
  }
  assert.equal(dep.devices.filter((x) => x.deviceId !== broken.id).every((x) => x.state === 'pending' || x.state === 'waiting'), true, JSON.stringify(dep.devices));
});
