import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoaError } from '../../../shared/errors.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker } from '../../support/mqtt-broker.js';
import { nextEvent, TestDevice } from '../../support/sync-harness.js';

test('an agent whose controller and broker are unreachable starts at once, keeps its manifest, and keeps retrying in the background', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const a = dev.addMedia(5000);
    controller.setManifest(dev.manifest(1, [a]));
    let agent = await dev.startAgent();
    await nextEvent(agent.sync!, 'checked', () => true, 5000);
    await dev.stopAgent(agent);
    await broker.stop();
    await controller.close();

    const t0 = Date.now();
    agent = await dev.startAgent();
    assert.ok(Date.now() - t0 < 1500, 'start does not wait for the network');
    assert.equal(agent.status().manifestVersion, 1, 'the stored manifest is in force');
    const [err] = await nextEvent<[LoaError]>(agent.sync!, 'failed', () => true, 5000);
    assert.equal(err.code, 'LOA_ERR_SYNC_HTTP');
    await nextEvent(agent.sync!, 'retry', () => true, 5000);
    assert.equal(agent.sync!.connected, false);
    const s = agent.status().sync as { connected: boolean; lastError: { code: string } | null };
    assert.equal(s.connected, false);
    assert.equal(s.lastError?.code, 'LOA_ERR_SYNC_HTTP');
  } finally {
    await dev.close();
  }
});

test('an agent with a broken controller.json logs a coded error, does not sync, and plays on', async () => {
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, 'mqtt://127.0.0.1:9');
  try {
    writeFileSync(join(dev.dataDir, 'controller.json'), '{"controllerUrl":"nope"}');
    const agent = await dev.startAgent();
    assert.equal(agent.sync, null);
    assert.ok(dev.logs.lines.some((l) => l.includes('LOA_ERR_CONFIG_INVALID') && l.includes('sync is off')));
    await dev.stopAgent(agent);
  } finally {
    await dev.close();
    await controller.close();
  }
});
