import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CheckResult } from '../../../agent/sync/manifest-fetch.js';
import type { FetchFn } from '../../../agent/sync/http.js';
import { openDb } from '../../../agent/store/db.js';
import { generateKeyPair, signEnvelope, type KeyPair } from '../../../shared/crypto.js';
import type { RootMetadata, SignedRoot } from '../../../shared/schemas/root.js';
import { topics } from '../../../shared/topics.js';
import { FakeController } from '../../support/fake-controller.js';
import { startBroker, waitFor, type TestBroker } from '../../support/mqtt-broker.js';
import { DEVICE_ID, nextEvent, TestDevice } from '../../support/sync-harness.js';
import { baseManifest, signManifest, type TestTrust } from '../../support/trust.js';

/** Root v+1 from `prev`: `edit` changes it; signed by `signers`. */
function nextRoot(prev: RootMetadata, signers: KeyPair[], edit: (r: RootMetadata) => void): SignedRoot {
  const r = structuredClone(prev);
  r.version = prev.version + 1;
  edit(r);
  return signEnvelope(r, signers.map((k) => k.privateKeyPem));
}

/** v2: a new schedule key, the old one revoked. v3: new root keys (2-of-2), signed by the old and new thresholds. */
function rotations(t: TestTrust): { s3: KeyPair; v2: SignedRoot; v3: SignedRoot; newRoot: KeyPair[] } {
  const s3 = generateKeyPair();
  const v2 = nextRoot(t.root, [t.rootKeys[0]!, t.rootKeys[1]!], (r) => {
    r.keys[s3.keyid] = { keytype: 'ed25519', public: s3.publicKey };
    r.roles.schedule = { keyids: [s3.keyid], threshold: 1 };
    r.revokedKeys = [t.schedule.keyid, t.schedule2.keyid];
  });
  const newRoot = [generateKeyPair(), generateKeyPair()];
  const v3 = nextRoot(v2.signed, [t.rootKeys[1]!, t.rootKeys[2]!, ...newRoot], (r) => {
    for (const k of newRoot) r.keys[k.keyid] = { keytype: 'ed25519', public: k.publicKey };
    r.roles.root = { keyids: newRoot.map((k) => k.keyid), threshold: 2 };
  });
  return { s3, v2, v3, newRoot };
}

/** A fetch that serves GET /api/v1/trust/root/:version from `served` (404 past the end), the rest from the fake controller. */
function trustRoutes(served: Map<number, unknown>, seen: string[]): FetchFn {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    seen.push(url.pathname);
    const m = /^\/api\/v1\/trust\/root\/(\d+)$/.exec(url.pathname);
    if (!m) return fetch(input, init);
    const env = served.get(Number(m[1]));
    return env === undefined
      ? new Response(JSON.stringify({ error: { code: 'LOA_ERR_NOT_FOUND', message: 'none' } }), { status: 404, headers: { 'content-type': 'application/json' } })
      : new Response(typeof env === 'string' ? env : JSON.stringify(env), { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

function rootVersion(dev: TestDevice): number {
  const db = openDb({ path: join(dev.dataDir, 'agent.db') });
  try {
    return db.prepare<[], { v: number }>('SELECT max(version) AS v FROM trust_root').get()!.v;
  } finally {
    db.close();
  }
}

function manifest(version: number, key: KeyPair): ReturnType<typeof signManifest> {
  return signManifest(baseManifest({ deviceId: DEVICE_ID, version, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString() }), [key]);
}

async function withRig(fn: (r: { broker: TestBroker; controller: FakeController; dev: TestDevice }) => Promise<void>): Promise<void> {
  const broker = await startBroker();
  const controller = await new FakeController().start();
  const dev = new TestDevice(controller, broker.url);
  try {
    await fn({ broker, controller, dev });
  } finally {
    await dev.close();
    await controller.close();
    await broker.stop();
  }
}

const is = (status: CheckResult['status'], v?: number) => (r: CheckResult): boolean => r.status === status && (v === undefined || ('version' in r && r.version === v));

test('a manifest signed by a rotated schedule key: the device walks the root chain (v2, v3: new root keys) and installs it; the revoked key is then refused', async () => {
  await withRig(async ({ controller, dev }) => {
    const { s3, v2, v3 } = rotations(dev.trust);
    const served = new Map<number, unknown>([[1, dev.trust.signedRoot], [2, v2], [3, v3]]);
    const seen: string[] = [];
    controller.setManifest(manifest(10, s3));
    const agent = await dev.startAgent({ fetch: trustRoutes(served, seen) });
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', is('installed', 10), 5000);
    assert.equal(agent.status().manifestVersion, 10);
    assert.equal(rootVersion(dev), 3);
    assert.deepEqual(seen.filter((p) => p.includes('/trust/')), ['/api/v1/trust/root/2', '/api/v1/trust/root/3', '/api/v1/trust/root/4'], 'walked v+1 until 404');

    // The old schedule key is revoked at v2: a newer manifest signed by it is refused with that code.
    controller.setManifest(manifest(11, dev.trust.schedule));
    const rejected = nextEvent<[CheckResult]>(agent.sync!, 'checked', is('rejected'), 5000);
    agent.sync!.checkNow();
    assert.deepEqual((await rejected)[0], { status: 'rejected', code: 'LOA_ERR_MANIFEST_REVOKED_KEY' });
    assert.equal(agent.status().manifestVersion, 10, 'the manifest in force stays');
    const ev = agent.events().filter((e) => e.type === 'manifest.rejected').pop();
    assert.equal(ev?.data.code, 'LOA_ERR_MANIFEST_REVOKED_KEY');
  });
});

test('a notify that announces a newer root makes the device fetch it before the manifest', async () => {
  await withRig(async ({ broker, controller, dev }) => {
    const { s3, v2 } = rotations(dev.trust);
    const served = new Map<number, unknown>([[2, v2]]);
    const seen: string[] = [];
    controller.setManifest(manifest(1, dev.trust.schedule));
    const agent = await dev.startAgent({ fetch: trustRoutes(served, seen) });
    let checks = 0;
    agent.sync!.on('checked', () => checks++);
    // The check at start and the one on MQTT connect (a notify may have been missed) are both done.
    await waitFor(() => agent.sync!.connected && checks >= 2, 5000, 'MQTT connected and the start-up checks done');
    assert.equal(agent.status().manifestVersion, 1);
    assert.deepEqual(seen.filter((p) => p.includes('/trust/')), [], 'no root fetch while nothing calls for one');

    controller.setManifest(manifest(2, s3));
    seen.length = 0;
    const done = nextEvent<[CheckResult]>(agent.sync!, 'checked', is('installed', 2), 5000);
    await broker.publish(topics.down(DEVICE_ID, 'notify'), JSON.stringify({ version: 2, at: Date.now(), rootVersion: 2 }));
    await done;
    assert.equal(rootVersion(dev), 2);
    assert.deepEqual(seen.slice(0, 3), ['/api/v1/trust/root/2', '/api/v1/trust/root/3', `/api/v1/devices/${DEVICE_ID}/manifest`], 'root first, then the manifest');
  });
});

test('a root signed by too few old root keys, or of the wrong version, is refused and reported; the root and manifest in force stay', async () => {
  await withRig(async ({ controller, dev }) => {
    const { s3 } = rotations(dev.trust);
    // v2 with the new schedule key, signed by one of the two root keys needed.
    const weak = nextRoot(dev.trust.root, [dev.trust.rootKeys[0]!], (r) => {
      r.keys[s3.keyid] = { keytype: 'ed25519', public: s3.publicKey };
      r.roles.schedule = { keyids: [s3.keyid], threshold: 1 };
    });
    const served = new Map<number, unknown>([[2, weak]]);
    controller.setManifest(manifest(1, dev.trust.schedule));
    const agent = await dev.startAgent({ fetch: trustRoutes(served, []) });
    await nextEvent<[CheckResult]>(agent.sync!, 'checked', is('installed', 1), 5000);

    controller.setManifest(manifest(2, s3));
    let r = nextEvent<[CheckResult]>(agent.sync!, 'checked', is('rejected'), 5000);
    agent.sync!.checkNow();
    assert.deepEqual((await r)[0], { status: 'rejected', code: 'LOA_ERR_MANIFEST_UNKNOWN_KEY' });
    assert.equal(rootVersion(dev), 1);
    assert.equal(agent.status().manifestVersion, 1);
    const rootEvent = agent.events().find((e) => e.type === 'manifest.rejected' && e.data.rootVersion === 2);
    assert.equal(rootEvent?.data.code, 'LOA_ERR_ROOT_THRESHOLD');
    assert.match(String(rootEvent?.data.message), /1 valid root signature\(s\), 2 required/);

    // The controller answers /root/2 with a valid-looking v3, or with junk.
    const { v3 } = rotations(dev.trust);
    served.set(2, v3);
    controller.setManifest(manifest(3, s3));
    r = nextEvent<[CheckResult]>(agent.sync!, 'checked', is('rejected'), 5000);
    agent.sync!.checkNow();
    await r;
    served.set(2, '{"signed": ');
    controller.setManifest(manifest(4, s3));
    r = nextEvent<[CheckResult]>(agent.sync!, 'checked', is('rejected'), 5000);
    agent.sync!.checkNow();
    await r;
    const codes = agent.events().filter((e) => e.type === 'manifest.rejected' && e.data.rootVersion === 2).map((e) => e.data.code);
    assert.deepEqual(codes, ['LOA_ERR_ROOT_THRESHOLD', 'LOA_ERR_ROOT_INVALID', 'LOA_ERR_ROOT_INVALID']);
    assert.equal(rootVersion(dev), 1);
  });
});
