import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult } from '../../../agent/sync/manifest-fetch.js';
import type { LoaError } from '../../../shared/errors.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor } from '../../support/mqtt-broker.js';
import { nextEvent, TestDevice } from '../../support/sync-harness.js';

test('a media download cut mid-way resumes with Range from exactly the byte where it stopped, and the stored file has the right sha256', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const big = dev.addMedia(300_000);
    const partial = join(dev.dataDir, 'media', '.partial', big.sha256);
    const cutAt = 123_457;
    controller.cut = {
      sha256: big.sha256, afterBytes: cutAt,
      // Cut only once the device has written every byte sent, so the resume point is known exactly.
      before: () => waitFor(() => existsSync(partial) && statSync(partial).size === cutAt, 5000, 'the partial to hold the sent bytes').then(() => undefined),
    };
    controller.setManifest(dev.manifest(1, [big]));
    const agent = await dev.startAgent();
    const [failure] = await nextEvent<[LoaError]>(agent.sync!, 'failed', () => true, 5000);
    assert.equal(failure.code, 'LOA_ERR_SYNC_DOWNLOAD');
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', (r) => r.status === 'installed' && r.version === 1, 5000);

    const media = controller.requests.filter((r) => r.path === `/media/${big.sha256}`);
    assert.equal(media.length, 2);
    assert.equal(media[0]!.range, null, 'the first attempt asks for the whole file');
    assert.equal(media[1]!.range, `bytes=${cutAt}-`, 'the second resumes where the first stopped');
    const stored = readFileSync(join(dev.dataDir, 'media', big.sha256));
    assert.equal(createHash('sha256').update(stored).digest('hex'), big.sha256);
    assert.equal(agent.status().manifestVersion, 1);
    assert.deepEqual(readdirSync(join(dev.dataDir, 'media', '.partial')), [], 'partials are deleted after the install');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('a partial left by a stopped agent is resumed by the next one', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const big = dev.addMedia(200_000);
    const partial = join(dev.dataDir, 'media', '.partial', big.sha256);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    controller.cut = { sha256: big.sha256, afterBytes: 50_000, before: () => held };
    controller.setManifest(dev.manifest(1, [big]));
    let agent = await dev.startAgent();
    await waitFor(() => existsSync(partial) && statSync(partial).size === 50_000, 5000, 'the first 50 000 bytes on disk');
    await dev.stopAgent(agent); // power cut in the middle of a download
    release();
    assert.equal(statSync(partial).size, 50_000, 'the partial survives');

    agent = await dev.startAgent();
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', (r) => r.status === 'installed', 5000);
    const last = controller.requests.filter((r) => r.path === `/media/${big.sha256}`).at(-1);
    assert.equal(last?.range, 'bytes=50000-');
    assert.equal(createHash('sha256').update(readFileSync(join(dev.dataDir, 'media', big.sha256))).digest('hex'), big.sha256);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('media that is served with the wrong bytes is refused before install and fetched again from the start', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const m = dev.addMedia(20_000);
    const good = controller.media.get(m.sha256)!;
    const bad = Buffer.from(good);
    bad[100] = bad[100]! ^ 0xff;
    controller.media.set(m.sha256, bad);
    controller.setManifest(dev.manifest(1, [m]));
    const agent = await dev.startAgent();
    const [failure] = await nextEvent<[LoaError]>(agent.sync!, 'failed', () => true, 5000);
    assert.equal(failure.code, 'LOA_ERR_MEDIA_HASH_MISMATCH');
    assert.equal(agent.status().manifestVersion, 0, 'nothing is installed');
    controller.media.set(m.sha256, good);
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', (r) => r.status === 'installed', 5000);
    const ranges = controller.requests.filter((r) => r.path === `/media/${m.sha256}`).map((r) => r.range);
    assert.ok(ranges.length >= 2 && ranges.every((r) => r === null), 'a corrupt partial is never resumed');
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});

test('a server that answers a Range request with 200 makes the download start over, and the file is still right', async () => {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    const big = dev.addMedia(100_000);
    const partial = join(dev.dataDir, 'media', '.partial', big.sha256);
    controller.ignoreRange = true;
    controller.cut = { sha256: big.sha256, afterBytes: 40_000, before: () => waitFor(() => existsSync(partial) && statSync(partial).size === 40_000, 5000, 'bytes on disk').then(() => undefined) };
    controller.setManifest(dev.manifest(1, [big]));
    const agent = await dev.startAgent();
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', (r) => r.status === 'installed', 5000);
    const ranges = controller.requests.filter((r) => r.path === `/media/${big.sha256}`).map((r) => r.range);
    assert.deepEqual(ranges, [null, 'bytes=40000-']);
    assert.equal(createHash('sha256').update(readFileSync(join(dev.dataDir, 'media', big.sha256))).digest('hex'), big.sha256);
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
});
