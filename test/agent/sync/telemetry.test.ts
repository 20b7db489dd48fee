import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../agent/store/db.js';
import { Telemetry } from '../../../agent/sync/telemetry.js';
import { TelemetryQueue } from '../../../agent/sync/telemetry-queue.js';
import { SystemClock } from '../../../shared/clock.js';
import { createLogger } from '../../../shared/log.js';
import { DeviceTelemetry, type DeviceTelemetry as Sample } from '../../../shared/schemas/telemetry.js';
import { topics } from '../../../shared/topics.js';
import { checker } from '../../../shared/validate.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor } from '../../support/mqtt-broker.js';
import { DEVICE_ID, TestDevice } from '../../support/sync-harness.js';

const telemetryChecker = checker(DeviceTelemetry);

test('a telemetry sample is a valid DeviceTelemetry with the agent figures and the host health figures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-tel-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  try {
    const t = new Telemetry({
      dataDir: dir, queue: new TelemetryQueue({ db }), clock: new SystemClock(), log: createLogger('test', { level: 'silent' }),
      stats: () => ({ manifestVersion: 4, stale: true, nowPlaying: 'e1', outbox: 12 }),
    });
    const s = telemetryChecker.parse(await t.sample());
    assert.equal(s.manifestVersion, 4);
    assert.equal(s.stale, true);
    assert.equal(s.nowPlaying, 'e1');
    assert.equal(s.outbox, 12);
    for (const k of ['uptimeS', 'cpuLoad', 'memFreeMb', 'diskFreeMb'] as const) assert.equal(typeof s[k], 'number', k);
    assert.ok(s.diskFreeMb! > 0);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the telemetry queue keeps only the newest samples beyond its cap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loa-tel-'));
  const db = openDb({ path: join(dir, 'agent.db') });
  try {
    const q = new TelemetryQueue({ db, cap: 10 });
    for (let i = 1; i <= 25; i++) q.add({ at: i, manifestVersion: 1, stale: false });
    assert.equal(q.count(), 10);
    assert.deepEqual(q.next(100).map((r) => r.at), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('telemetry sampled while offline survives an agent restart and is published after the broker is reachable', async () => {
  const broker = await startBroker();
  const port = broker.port;
  await broker.stop(); // the device starts offline
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, `mqtt://127.0.0.1:${port}`);
  try {
    let agent = await dev.startAgent({ telemetryIntervalMs: 20 });
    await waitFor(() => (agent.sync!.state().telemetryQueued >= 3 ? true : undefined), 5000, 'three samples queued offline');
    await dev.stopAgent(agent);

    const db = openDb({ path: join(dev.dataDir, 'agent.db') });
    const offline = new TelemetryQueue({ db }).next(1000).map((r) => r.at);
    db.close();
    assert.ok(offline.length >= 3);

    const back = await startBroker({ port });
    try {
      agent = await dev.startAgent({ telemetryIntervalMs: 600_000 });
      const topic = topics.up(DEVICE_ID, 'telemetry');
      const published = (): Sample[] => back.messages.filter((m) => m.topic === topic).map((m) => telemetryChecker.parse(JSON.parse(m.payload.toString())));
      await waitFor(() => offline.every((at) => published().some((s) => s.at === at)), 5000, 'the offline samples on the broker');
      const ats = published().map((s) => s.at);
      assert.deepEqual(ats.filter((a) => offline.includes(a)), offline, 'in order, once each');
      await waitFor(() => agent.sync!.state().telemetryQueued === 0, 5000, 'the queue to empty after the PUBACKs');
    } finally {
      await dev.close();
      await back.stop();
    }
  } finally {
    await dev.close();
    await controller.close();
  }
});
