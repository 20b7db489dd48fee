import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeploymentView } from '../../../controller/releases/rollout.js';
import { outcome } from '../../support/outcome.js';
import { eventually } from '../../support/wait.js';
import { makeRelease, releaseForm, startRig, type Rig, type SimReceiver } from './rig.js';

/**
 * Staged rollouts against a real controller, with receivers simulated at the protocol level: real MQTT clients
 * with real device tokens, statuses carrying agentVersion, update.state events, and the signed manifest fetched
 * over HTTP and checked with the agent's verifier and verifyRelease.
 */
describe('deployments (issue 11): waves gated on health, halt with reasons, pause, resume, abort', () => {
  let rig: Rig;
  const sha: Record<string, string> = {};
  const envelopes: Record<string, unknown> = {};
  const byId = (id: string): SimReceiver => rig.receivers.find((r) => r.id === id)!;
  const get = async (id: string): Promise<DeploymentView> => (await rig.as.adminX!.get<{ deployment: DeploymentView }>(`/api/v1/deployments/${id}`)).deployment;
  const wave = (d: DeploymentView, i: number): SimReceiver[] => d.devices!.filter((x) => x.wave === i).map((x) => byId(x.deviceId));
  /** Waits until the receiver's verified manifest offers (or no longer offers) this deployment. */
  const offered = async (r: SimReceiver, deploymentId: string, yes = true): Promise<void> => {
    await eventually(async () => ((await r.agentUpdate(rig.root))?.deploymentId === deploymentId) === yes, 5000, `${r.id} ${yes ? 'offered' : 'no longer offered'} ${deploymentId}`);
  };
  const healthy = (r: SimReceiver, id: string, version: string, from: string): Promise<void> => r.report(
    { deploymentId: id, version, state: 'downloading', bytes: 0 }, { deploymentId: id, version, state: 'switched', from }, { deploymentId: id, version, state: 'healthy', from },
  );
  const create = (body: Record<string, unknown>): Promise<{ deployment: DeploymentView; excluded: unknown[] }> => rig.as.adminX!.post('/api/v1/deployments', body);

  before(async () => {
    rig = await startRig(12);
    for (const v of ['1.1.0', '1.2.0', '1.3.0', '1.4.0']) {
      const r = makeRelease(rig.releaseKey, v, { size: 4096 });
      envelopes[v] = r.signed;
      sha[v] = (await rig.t.admin.request<{ release: { sha256: string } }>('POST', '/api/v1/releases', releaseForm(r.signed, r.bytes))).release.sha256;
    }
  });
  after(async () => rig?.close());

  it('rolls out 1% → 10% → 100%, starting each wave only when every device of the one before is healthy', async () => {
    const { deployment: d0 } = await create({ releaseSha256: sha['1.1.0'], target: { zoneIds: ['X1'] }, waveTimeoutSec: 600 });
    assert.deepEqual(d0.waves.map((w) => [w.percent, w.deviceCount, w.state]), [[1, 1, 'running'], [10, 1, 'pending'], [100, 10, 'pending']]);
    const [w1, w2, w3] = [wave(d0, 1), wave(d0, 2), wave(d0, 3)];
    // Wave 1's manifest carries the update, signed for it, with the release's own signature and the artifact path.
    await offered(w1[0]!, d0.id);
    const au = (await w1[0]!.agentUpdate(rig.root))!;
    assert.deepEqual([au.deploymentId, au.url, au.healthWindowSec, au.allowDowngrade, au.windows], [d0.id, `releases/${sha['1.1.0']}`, 120, undefined, undefined]);
    assert.deepEqual(au.release, envelopes['1.1.0'], 'the signed release metadata, verbatim as uploaded');
    assert.equal(await w2[0]!.agentUpdate(rig.root), undefined, 'wave 2 has nothing yet');
    // Switched is not healthy: the next wave waits.
    await w1[0]!.report({ deploymentId: d0.id, version: '1.1.0', state: 'downloading', bytes: 0 }, { deploymentId: d0.id, version: '1.1.0', state: 'switched', from: '1.0.0' });
    // Ignored: healthy for another version, a device whose wave has not started, and malformed data.
    await w1[0]!.report({ deploymentId: d0.id, version: '9.9.9', state: 'healthy' });
    await w2[0]!.report({ deploymentId: d0.id, version: '1.1.0', state: 'healthy', from: '1.0.0' });
    await w2[0]!.report({ deploymentId: d0.id, version: '1.1.0', state: 'exploded' } as never);
    await eventually(async () => (await get(d0.id)).devices![0]!.state === 'switched', 5000, 'switched folded');
    await eventually(() => rig.t.controller.telemetryIngest.counters.stored >= 12 + 2 + 3, 5000, 'the 12 statuses and 5 reports ingested');
    rig.t.controller.deployments.tick();
    const held = await get(d0.id);
    assert.deepEqual(held.waves.map((w) => w.state), ['running', 'pending', 'pending']);
    assert.deepEqual([held.devices!.find((x) => x.deviceId === w1[0]!.id)?.state, held.devices!.find((x) => x.deviceId === w2[0]!.id)?.state], ['switched', 'pending']);
    await w1[0]!.report({ deploymentId: d0.id, version: '1.1.0', state: 'healthy', from: '1.0.0' });
    await eventually(async () => (await get(d0.id)).waves[1]!.state === 'running', 5000, 'wave 2 started');
    await offered(w2[0]!, d0.id);
    assert.equal(await w3[0]!.agentUpdate(rig.root), undefined, 'wave 3 has nothing yet');
    await healthy(w2[0]!, d0.id, '1.1.0', '1.0.0');
    await eventually(async () => (await get(d0.id)).waves[2]!.state === 'running', 5000, 'wave 3 started');
    for (const r of w3) await offered(r, d0.id);
    for (const r of w3.slice(0, 9)) await healthy(r, d0.id, '1.1.0', '1.0.0');
    await eventually(async () => (await get(d0.id)).counts.healthy === 11, 5000, '11 healthy');
    assert.equal((await get(d0.id)).state, 'running', 'one device of wave 3 is still installing');
    await healthy(w3[9]!, d0.id, '1.1.0', '1.0.0');
    await eventually(async () => (await get(d0.id)).state === 'completed', 5000, 'completed');
    const done = await get(d0.id);
    assert.deepEqual(done.waves.map((w) => w.state), ['done', 'done', 'done']);
    assert.ok(done.devices!.every((x) => x.version === '1.1.0' && x.state === 'healthy'), 'every device runs 1.1.0');
    const audit = await rig.t.admin.get<{ entries: { action: string }[] }>(`/api/v1/audit?targetId=${d0.id}`);
    assert.deepEqual(audit.entries.map((e) => e.action).reverse().filter((a) => a !== 'deployment.wave_end'),
      ['deployment.create', 'deployment.wave_start', 'deployment.wave_start', 'deployment.wave_start', 'deployment.complete']);
  });

  it('halts when a device of wave 1 rolls back, with the failure reason in GET /api/v1/deployments/:id, and starts no next wave', async () => {
    const { deployment: d } = await create({ releaseSha256: sha['1.2.0'], target: { zoneIds: ['X1'] } });
    const [canary] = wave(d, 1);
    await offered(canary!, d.id);
    await canary!.report({ deploymentId: d.id, version: '1.2.0', state: 'switched', from: '1.1.0' },
      { deploymentId: d.id, version: '1.2.0', state: 'rolled-back', from: '1.1.0', reason: 'LOA_ERR_UPDATE_HEALTH', message: 'the new agent did not pass its health check within 120 s' });
    await eventually(async () => (await get(d.id)).state === 'halted', 5000, 'halted');
    const h = await get(d.id);
    assert.equal(h.haltReason?.code, 'LOA_ERR_DEPLOYMENT_HALTED');
    assert.deepEqual(h.haltReason?.failures, [{ deviceId: canary!.id, reason: 'LOA_ERR_UPDATE_HEALTH', message: 'the new agent did not pass its health check within 120 s' }]);
    assert.deepEqual(h.waves.map((w) => w.state), ['failed', 'cancelled', 'cancelled']);
    assert.deepEqual(h.devices!.find((x) => x.deviceId === canary!.id)?.version, '1.1.0', 'the device went back to 1.1.0');
    rig.t.controller.deployments.tick();
    for (const r of wave(h, 2)) assert.notEqual((await r.agentUpdate(rig.root))?.deploymentId, d.id, 'wave 2 is never offered the broken release');
    assert.equal((await outcome(rig.as.adminX!.post(`/api/v1/deployments/${d.id}/resume`))).code, 'LOA_ERR_DEPLOYMENT_STATE');
  });

  it('holds the next wave while paused, goes on when resumed, and on abort takes the update away from devices that have not switched', async () => {
    const { deployment: d } = await create({ releaseSha256: sha['1.3.0'], target: { zoneIds: ['X1'] } });
    const [w1, w2] = [wave(d, 1)[0]!, wave(d, 2)[0]!];
    assert.equal((await rig.as.adminX!.post<{ deployment: DeploymentView }>(`/api/v1/deployments/${d.id}/pause`)).deployment.state, 'paused');
    await offered(w1, d.id);
    await healthy(w1, d.id, '1.3.0', '1.1.0');
    await eventually(async () => (await get(d.id)).waves[0]!.state === 'done', 5000, 'wave 1 done');
    rig.t.controller.deployments.tick();
    assert.deepEqual((await get(d.id)).waves.map((w) => w.state), ['done', 'pending', 'pending'], 'paused: wave 2 waits');
    assert.equal((await rig.as.adminX!.post<{ deployment: DeploymentView }>(`/api/v1/deployments/${d.id}/resume`)).deployment.waves[1]!.state, 'running');
    await offered(w2, d.id);
    await w2.report({ deploymentId: d.id, version: '1.3.0', state: 'downloading', bytes: 1024 });
    await eventually(async () => (await get(d.id)).devices!.find((x) => x.deviceId === w2.id)?.state === 'downloading', 5000, 'downloading folded');
    const aborted = (await rig.as.adminX!.post<{ deployment: DeploymentView }>(`/api/v1/deployments/${d.id}/abort`)).deployment;
    assert.deepEqual([aborted.state, aborted.waves.map((w) => w.state)], ['aborted', ['done', 'cancelled', 'cancelled']]);
    await offered(w2, d.id, false);
    assert.equal(await w2.agentUpdate(rig.root), undefined, 'no agentUpdate at all: the device keeps the version it runs');
    assert.equal((await w1.agentUpdate(rig.root))?.deploymentId, d.id, 'the device that switched keeps its release');
    assert.equal((await outcome(rig.as.adminX!.post(`/api/v1/deployments/${d.id}/pause`))).code, 'LOA_ERR_DEPLOYMENT_STATE');
    const audit = await rig.t.admin.get<{ entries: { action: string; actor: string }[] }>(`/api/v1/audit?targetId=${d.id}`);
    for (const a of ['deployment.pause', 'deployment.resume', 'deployment.abort']) assert.equal(audit.entries.find((e) => e.action === a)?.actor, 'u-adminX', a);
  });

  it('counts a device that stays silent past the wave timeout (injected clock) as failed and halts', async () => {
    const ids = [rig.receivers[0]!.id, rig.receivers[1]!.id];
    const windows = [{ start: '22:00', end: '04:00' }];
    const { deployment: d } = await create({ releaseSha256: sha['1.4.0'], target: { deviceIds: ids }, waves: [50, 100], waveTimeoutSec: 60, healthWindowSec: 60, windows, allowDowngrade: true });
    assert.deepEqual(d.waves.map((w) => w.deviceCount), [1, 1]);
    // The deployment's options reach the device in its signed manifest.
    const first = wave(d, 1)[0]!;
    await offered(first, d.id);
    const au = (await first.agentUpdate(rig.root))!;
    assert.deepEqual([au.healthWindowSec, au.windows, au.allowDowngrade], [60, windows, true]);
    rig.t.controller.deployments.tick();
    assert.equal((await get(d.id)).state, 'running');
    rig.clock.offsetMs += 61_000;
    rig.t.controller.deployments.tick();
    const h = await get(d.id);
    assert.equal(h.state, 'halted');
    assert.deepEqual(h.haltReason?.failures.map((f) => f.reason), ['LOA_ERR_DEPLOYMENT_TIMEOUT']);
    assert.equal(h.devices!.find((x) => x.wave === 1)?.state, 'timeout');
  });

  it('refuses bad targets with coded errors: waves, an unknown release, a device in a running deployment, and zones or devices outside the admin\'s subtree', async () => {
    const body = { releaseSha256: sha['1.4.0'], target: { zoneIds: ['X1-C1'] } };
    assert.deepEqual(await outcome(create({ ...body, waves: [10, 5] })), { status: 422, code: 'LOA_ERR_DEPLOYMENT_TARGET' });
    assert.deepEqual(await outcome(create({ ...body, waves: [10, 50] })), { status: 422, code: 'LOA_ERR_DEPLOYMENT_TARGET' });
    assert.deepEqual(await outcome(create({ ...body, releaseSha256: 'f'.repeat(64) })), { status: 404, code: 'LOA_ERR_RELEASE_NOT_FOUND' });
    assert.deepEqual(await outcome(rig.as.adminY!.post('/api/v1/deployments', { ...body, target: { zoneIds: ['Y1'] } })), { status: 422, code: 'LOA_ERR_DEPLOYMENT_TARGET' }, 'Y1 has no device');
    const running = await create({ ...body, waveTimeoutSec: 600 });
    assert.deepEqual(await outcome(create(body)), { status: 409, code: 'LOA_ERR_DEPLOYMENT_CONFLICT' });
    const adminY = rig.as.adminY!;
    assert.deepEqual(await outcome(adminY.post('/api/v1/deployments', body)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(adminY.post('/api/v1/deployments', { ...body, target: { deviceIds: [rig.receivers[0]!.id] } })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(adminY.get(`/api/v1/deployments/${running.deployment.id}`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(adminY.post(`/api/v1/deployments/${running.deployment.id}/abort`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual((await adminY.get<{ deployments: unknown[] }>('/api/v1/deployments')).deployments, []);
    assert.deepEqual(await outcome(rig.as.adminX!.get('/api/v1/deployments/dep-nothere')), { status: 404, code: 'LOA_ERR_DEPLOYMENT_NOT_FOUND' });
    assert.deepEqual(await outcome(rig.t.admin.request('DELETE', `/api/v1/releases/${sha['1.4.0']}`)), { status: 409, code: 'LOA_ERR_RELEASE_IN_USE' });
  });
});
