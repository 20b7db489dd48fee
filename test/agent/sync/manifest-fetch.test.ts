import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult } from '../../../agent/sync/manifest-fetch.js';
import { topics } from '../../../shared/topics.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor } from '../../support/mqtt-broker.js';
import { DEVICE_ID, nextEvent, TestDevice } from '../../support/sync-harness.js';
import { makeTrust, signManifest } from '../../support/trust.js';

const installed = (v: number) => (r: CheckResult): boolean => r.status === 'installed' && r.version === v;

test('a notify makes the agent fetch, verify and install the new manifest, and the scheduler switches to it within 2 s', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const a = dev.addMedia(40_000);
    controller.setManifest(dev.manifest(1, [a]));
    const agent = await dev.startAgent();
    const sync = agent.sync;
    assert.ok(sync, 'controller.json starts sync');
    await waitFor(() => agent.status().manifestVersion === 1, 5000, 'manifest v1 installed at start');
    await waitFor(() => sync.connected, 5000, 'MQTT connected');

    const b = dev.addMedia(30_000);
    controller.setManifest(dev.manifest(2, [a, b]));
    const t0 = Date.now();
    const done = nextEvent<[CheckResult]>(sync, 'checked', installed(2), 2000);
    await broker.publish(topics.down(DEVICE_ID, 'notify'), JSON.stringify({ version: 2, at: Date.now() }));
    await done;
    assert.equal(agent.status().manifestVersion, 2, 'the scheduler plays v2');
    assert.ok(Date.now() - t0 < 2000);
    assert.ok(existsSync(join(dev.dataDir, 'media', b.sha256)), 'the new media is in the store');
    const fetched = controller.requests.filter((r) => r.path.startsWith('/media/')).map((r) => r.path);
    assert.deepEqual(fetched, [`/media/${a.sha256}`, `/media/${b.sha256}`], 'media already held is not fetched again');
    assert.ok(controller.requests.every((r) => r.authorized), 'every request carries a valid device token');

    // The accepted event is the ack of the applied version, and it reaches the broker.
    const ack = await waitFor(() => broker.messages.find((m) => m.topic === topics.up(DEVICE_ID, 'events') && (JSON.parse(m.payload.toString()) as { type: string; data: { version?: number } }).data.version === 2), 5000, 'manifest.accepted v2 published');
    assert.equal((JSON.parse(ack.payload.toString()) as { type: string }).type, 'manifest.accepted');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('an unchanged manifest is answered 304 and nothing is downloaded again, even after a restart', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const a = dev.addMedia(10_000);
    controller.setManifest(dev.manifest(1, [a]));
    let agent = await dev.startAgent();
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', installed(1), 5000);
    const before = controller.requests.length;

    const again = nextEvent<[CheckResult]>(agent.sync!, 'checked', () => true, 5000);
    agent.sync!.checkNow();
    assert.deepEqual((await again)[0], { status: 'unchanged' });
    await dev.stopAgent(agent);

    agent = await dev.startAgent();
    const [r] = await nextEvent<[CheckResult]>(agent.sync!, 'checked', () => true, 5000);
    assert.deepEqual(r, { status: 'unchanged' }, 'the ETag survives a restart');
    const later = controller.requests.slice(before);
    assert.ok(later.length >= 2);
    assert.ok(later.every((q) => q.path.endsWith('/manifest') && q.ifNoneMatch === controller.manifest!.etag), 'only conditional manifest requests');
    assert.equal(agent.status().manifestVersion, 1);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('a manifest signed by an unknown key is rejected with a coded event, the one in force stays, and it is not fetched again', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const a = dev.addMedia(10_000);
    controller.setManifest(dev.manifest(1, [a]));
    const agent = await dev.startAgent();
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', installed(1), 5000);

    const forged = signManifest(dev.manifest(2, [dev.addMedia(5000)]).signed, [makeTrust().schedule]); // another province's key
    controller.setManifest(forged);
    const mediaBefore = controller.requests.filter((r) => r.path.startsWith('/media/')).length;
    const rejected = nextEvent<[CheckResult]>(agent.sync!, 'checked', (r) => r.status === 'rejected', 5000);
    agent.sync!.checkNow();
    const [r] = await rejected;
    assert.deepEqual(r, { status: 'rejected', code: 'LOA_ERR_MANIFEST_UNKNOWN_KEY' });
    assert.equal(agent.status().manifestVersion, 1);
    assert.equal(controller.requests.filter((q) => q.path.startsWith('/media/')).length, mediaBefore, 'no media of an unverified manifest is downloaded');
    const ev = agent.events().find((e) => e.type === 'manifest.rejected');
    assert.equal(ev?.data.code, 'LOA_ERR_MANIFEST_UNKNOWN_KEY');

    const next = nextEvent<[CheckResult]>(agent.sync!, 'checked', () => true, 5000);
    agent.sync!.checkNow();
    assert.deepEqual((await next)[0], { status: 'unchanged' }, 'the refused bytes are not fetched again');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});
