/**
 * Self-update on the device (issue 11), end to end with real processes: real artifacts from `loa release
 * build`, real `loa agent run` processes through the sh launcher (restarted on exit as systemd does), a real
 * MQTT broker, and an HTTP server in the controller's role serving signed manifests and artifacts with Range.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentUpdate, SignedRelease } from '../../../shared/schemas/release.js';
import { generateKeyPair } from '../../../shared/crypto.js';
import { topics } from '../../../shared/topics.js';
import { startBroker, type TestBroker } from '../../support/mqtt-broker.js';
import { makeTrust } from '../../support/trust.js';
import { buildRelease, manifestWithUpdate, reversion, signArtifact, UpdateServer, UpdDevice } from '../../support/update-fleet.js';
import { eventually } from '../../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'loa-upd-'));
const trust = makeTrust();
let broker: TestBroker;
const server = new UpdateServer();
const rel: Record<'A' | 'B' | 'C', { path: string; signed: SignedRelease; sha256: string; version: string }> = {} as never;
const devices: UpdDevice[] = [];
let deviceSeq = 0;

before(async () => {
  const a = buildRelease(dir, '1.0.0');
  const b = await reversion(a, dir, '1.1.0');
  // C is broken for real: its agent module throws as soon as it is loaded.
  const c = await reversion(a, dir, '1.2.0', (top) => writeFileSync(join(top, 'dist', 'agent', 'agent.js'), 'throw new Error("release C is broken");\n'));
  for (const [k, path, version] of [['A', a, '1.0.0'], ['B', b, '1.1.0'], ['C', c, '1.2.0']] as const) {
    rel[k] = { path, version, signed: await signArtifact(path, trust.release.privateKeyPem), sha256: await server.addArtifact(path) };
  }
  broker = await startBroker();
  await server.start();
});

after(async () => {
  await Promise.all(devices.map((d) => d.stop()));
  await server.close();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function device(): Promise<UpdDevice> {
  const d = new UpdDevice(`dev-u${++deviceSeq}`, dir);
  devices.push(d);
  await d.provision({ trust, artifact: rel.A.path, version: '1.0.0', controllerUrl: server.url, mqttUrl: broker.url });
  return d;
}

/** Serves the device a new signed manifest with agentUpdate, and notifies it (as the controller's compiler does). */
async function deploy(d: UpdDevice, manifestVersion: number, deploymentId: string, signed: SignedRelease, over: Partial<AgentUpdate> = {}): Promise<void> {
  server.manifests.set(d.id, manifestWithUpdate(trust, d.id, manifestVersion, { deploymentId, release: signed, url: `releases/${signed.signed.sha256}`, healthWindowSec: 10, ...over }));
  await broker.publish(topics.down(d.id, 'notify'), JSON.stringify({ version: manifestVersion, at: Date.now() }), 1);
}

/** update.state events the device published through its outbox, as the broker received them. */
function updateEvents(d: UpdDevice): { state: string; version: string; reason?: string; deploymentId: string }[] {
  return broker.messages
    .filter((m) => m.topic === `loa/v1/dev/${d.id}/up/events`)
    .map((m) => JSON.parse(m.payload.toString('utf8')) as { type: string; data: { state: string; version: string; reason?: string; deploymentId: string } })
    .filter((e) => e.type === 'update.state').map((e) => e.data);
}

test('three agents on version A get version B, restart into it, pass the health check and report healthy', async () => {
  const ds = [await device(), await device(), await device()];
  for (const d of ds) {
    await deploy(d, 1, 'dep-b', rel.B.signed);
    d.run();
  }
  for (const d of ds) {
    await eventually(() => d.running === '1.1.0' && d.state().committed?.version === '1.1.0', 90_000, `${d.id} runs 1.1.0, committed`);
    await eventually(() => updateEvents(d).some((e) => e.state === 'healthy' && e.version === '1.1.0'), 30_000, `${d.id} reports healthy`);
    assert.equal(d.current, '1.1.0');
    assert.equal(d.layout.linkVersion('previous'), '1.0.0');
    assert.deepEqual([...new Set(updateEvents(d).map((e) => e.state))].filter((s) => s !== 'healthy'), ['downloading', 'downloaded', 'installing', 'switched']);
    assert.equal(d.starts[0]?.version, '1.0.0');
  }
});

test('a broken version C crash-loops, the launcher goes back to A by itself, A reports rolled-back and does not retry it', async () => {
  const d = await device();
  await deploy(d, 1, 'dep-c', rel.C.signed);
  d.run();
  await eventually(() => updateEvents(d).some((e) => e.state === 'rolled-back'), 120_000, 'a rolled-back report');
  const rb = updateEvents(d).find((e) => e.state === 'rolled-back')!;
  assert.equal(rb.reason, 'LOA_ERR_UPDATE_CRASH_LOOP');
  assert.equal(rb.version, '1.2.0');
  assert.equal(d.current, '1.0.0');
  await eventually(() => d.running === '1.0.0', 30_000, 'A running again');
  assert.equal(d.state().failed['dep-c']?.reason, 'LOA_ERR_UPDATE_CRASH_LOOP');
  assert.equal(updateEvents(d).filter((e) => e.state === 'switched').length, 1, 'C is switched to once, never again for dep-c');
});

for (const [point, startIndex] of [['update.download-progress=kill@5', 0], ['update.mid-unpack=kill@300', 0], ['update.after-switch=kill', 0], ['update.mid-health-check=kill', 1]] as const) {
  test(`a power cut (kill -9) at ${point.split('=')[0]!} leaves the device running A or B, and it ends on B`, async () => {
    const d = await device();
    d.envFor = (n): Record<string, string> => (n === startIndex ? { LOA_FAILPOINTS: point } : {});
    await deploy(d, 1, `dep-${point.split('=')[0]!}`, rel.B.signed);
    d.run();
    await eventually(() => d.running === '1.1.0' && d.state().committed?.version === '1.1.0', 120_000, `${d.id} ends on 1.1.0, committed`);
    assert.ok(d.spawns >= 2, `the failpoint killed a start (${d.spawns} starts)`);
    for (const s of d.starts) assert.ok(['1.0.0', '1.1.0'].includes(s.version));
    if (point.startsWith('update.download-progress')) {
      assert.ok(server.requests.some((r) => r.path === `/releases/${rel.B.sha256}` && r.range !== null && r.range !== 'bytes=0-'), 'the cut download resumed with a Range request');
    }
  });
}

test('kill -9 at random moments during an update never leaves the device without a running agent', async () => {
  const d = await device();
  await deploy(d, 1, 'dep-random', rel.B.signed);
  d.run();
  for (let i = 0; i < 4; i++) {
    const n = d.spawns;
    await eventually(() => d.running !== null, 60_000, 'an agent running');
    await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 1500))); // the moment of the power cut, not synchronisation
    d.kill9();
    await eventually(() => d.spawns > n, 10_000, 'restarted');
  }
  await eventually(() => d.running !== null && ['1.0.0', '1.1.0'].includes(d.running) && d.layout.has(d.current ?? ''), 120_000, 'A or B running');
  await eventually(() => d.running === '1.1.0' && d.state().committed?.version === '1.1.0', 120_000, 'B committed in the end');
});

test('a tampered artifact, a release signed by the wrong key and a lower version are each rejected with a coded reason', async () => {
  const d = await device();
  // tampered: the metadata signs B's bytes; the server serves B with one byte changed
  const bad = Buffer.from(server.artifacts.get(rel.B.sha256)!);
  const mid = bad.length >> 1;
  bad[mid] = bad[mid]! ^ 0xff;
  server.artifacts.set('f'.repeat(64), bad);
  await deploy(d, 1, 'dep-tampered', rel.B.signed, { url: `releases/${'f'.repeat(64)}` });
  d.run();
  await eventually(() => updateEvents(d).some((e) => e.deploymentId === 'dep-tampered' && e.state === 'failed'), 60_000, 'tampered rejected');
  assert.equal(updateEvents(d).find((e) => e.deploymentId === 'dep-tampered' && e.state === 'failed')?.reason, 'LOA_ERR_RELEASE_HASH');

  const stranger = generateKeyPair();
  await deploy(d, 2, 'dep-wrongkey', await signArtifact(rel.B.path, stranger.privateKeyPem));
  await eventually(() => updateEvents(d).some((e) => e.deploymentId === 'dep-wrongkey'), 60_000, 'wrong key rejected');
  assert.deepEqual(updateEvents(d).filter((e) => e.deploymentId === 'dep-wrongkey').map((e) => [e.state, e.reason]), [['rejected', 'LOA_ERR_RELEASE_UNKNOWN_KEY']]);

  const lower = await reversion(rel.A.path, dir, '0.9.0');
  await server.addArtifact(lower);
  await deploy(d, 3, 'dep-lower', await signArtifact(lower, trust.release.privateKeyPem));
  await eventually(() => updateEvents(d).some((e) => e.deploymentId === 'dep-lower'), 60_000, 'downgrade rejected');
  assert.deepEqual(updateEvents(d).filter((e) => e.deploymentId === 'dep-lower').map((e) => [e.state, e.reason]), [['rejected', 'LOA_ERR_RELEASE_DOWNGRADE']]);
  assert.equal(d.current, '1.0.0');
  assert.equal(d.running, '1.0.0');
});
