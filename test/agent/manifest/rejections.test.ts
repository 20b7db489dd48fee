import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { generateKeyPair, sha256Hex, signEnvelope } from '../../../shared/crypto.js';
import { isLoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import type { Manifest } from '../../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../../shared/schemas/root.js';
import { ManifestManager } from '../../../agent/manifest/manager.js';
import { MediaStore } from '../../../agent/media/store.js';
import { schedulerHarness } from '../../support/agent-harness.js';
import { baseManifest, makeTrust, signManifest, type TestTrust } from '../../support/trust.js';
import type { RecordingSink } from '../../support/doubles.js';

const vn = (s: string): number => Date.parse(`${s}:00+07:00`);
const audio = Buffer.from('RIFF-test-audio-'.repeat(64));
const SHA = sha256Hex(audio);

function validManifest(version: number, over: Partial<Manifest> = {}): Manifest {
  return baseManifest({
    version,
    media: [{ sha256: SHA, size: audio.length, durationMs: 30_000 }],
    programs: [{ id: `p${version}`, title: 'Bản tin', items: [{ kind: 'media', sha256: SHA }] }],
    schedule: [{ id: `daily-v${version}`, programId: `p${version}`, dtstart: '2026-11-23T06:00', rrule: 'FREQ=DAILY', priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 60_000 }],
    ...over,
  });
}

async function setup(trust: TestTrust = makeTrust()): Promise<{ h: ReturnType<typeof schedulerHarness>; mgr: ManifestManager; trust: TestTrust; install: (raw: unknown, media?: Buffer) => Promise<string> }> {
  const h = schedulerHarness({ start: vn('2026-11-23T05:00') });
  const log = createLogger('test', { level: 'silent' });
  const media = new MediaStore({ dataDir: h.dir, db: h.db, log, now: () => h.clock.now() });
  media.init();
  const mgr = new ManifestManager({ db: h.db, outbox: h.outbox, media, log, deviceId: 'dev-001', now: () => h.clock.now() });
  mgr.installRoot(trust.signedRoot);
  const install = async (raw: unknown, bytes: Buffer = audio): Promise<string> => {
    try {
      const env = await mgr.install(raw, () => Readable.from([bytes]));
      h.scheduler.setManifest(env.signed);
      return 'accepted';
    } catch (e) {
      assert.ok(isLoaError(e));
      return e.code;
    }
  };
  assert.equal(await install(signManifest(validManifest(1), [trust.schedule, trust.schedule2])), 'accepted');
  h.scheduler.start();
  return { h, mgr, trust, install };
}

/** After the rejection, the v1 entry still plays at 06:00 and the rejection is an event with its code. */
async function assertStillPlaysV1(h: ReturnType<typeof schedulerHarness>, mgr: ManifestManager, code: string): Promise<void> {
  assert.equal(mgr.currentVersion(), 1);
  await h.clock.advanceTo(vn('2026-11-23T06:01'));
  const plays = (h.sink as RecordingSink).plays;
  assert.equal(plays.length, 1);
  assert.match(plays[0]!.key, /^daily-v1@/);
  const rejected = h.outbox.list(['manifest.rejected']).map((e) => e.data.code);
  assert.ok(rejected.includes(code), `a manifest.rejected event carries ${code}`);
  await h.close();
}

const cases: [string, (t: TestTrust) => { raw: unknown; media?: Buffer; trust?: TestTrust; prep?: (mgr: ManifestManager, t: TestTrust) => void }, string][] = [
  ['rejects a manifest whose signed body was tampered with', (t) => {
    const env = signManifest(validManifest(2), [t.schedule]);
    return { raw: { ...env, signed: { ...env.signed, schedule: env.signed.schedule.map((e) => ({ ...e, volume: 100 })) } } };
  }, 'LOA_ERR_MANIFEST_SIGNATURE'],
  ['rejects a manifest signed by an unknown key', () => ({ raw: signManifest(validManifest(2), [generateKeyPair()]) }), 'LOA_ERR_MANIFEST_UNKNOWN_KEY'],
  ['rejects a manifest signed by a revoked key', (t) => ({
    raw: signManifest(validManifest(2), [t.schedule]),
    prep: (mgr, tt) => {
      const next: RootMetadata = { ...tt.root, version: 2, revokedKeys: [tt.schedule.keyid] };
      mgr.installRoot(signEnvelope(next, [tt.rootKeys[0]!.privateKeyPem, tt.rootKeys[2]!.privateKeyPem]));
    },
  }), 'LOA_ERR_MANIFEST_REVOKED_KEY'],
  ['rejects a manifest with fewer valid signatures than the threshold', () => {
    const t2 = makeTrust({ scheduleThreshold: 2 });
    return { trust: t2, raw: signManifest(validManifest(2), [t2.schedule]) };
  }, 'LOA_ERR_MANIFEST_THRESHOLD'],
  ['rejects a manifest for another device', (t) => ({ raw: signManifest(validManifest(2, { deviceId: 'dev-002' }), [t.schedule]) }), 'LOA_ERR_MANIFEST_WRONG_DEVICE'],
  ['rejects a manifest for a device that root metadata revokes', (t) => ({
    raw: signManifest(validManifest(2), [t.schedule]),
    prep: (mgr, tt) => mgr.installRoot(signEnvelope({ ...tt.root, version: 2, revokedDevices: ['dev-001'] }, [tt.rootKeys[1]!.privateKeyPem, tt.rootKeys[2]!.privateKeyPem])),
  }), 'LOA_ERR_MANIFEST_WRONG_DEVICE'],
  ['rejects a replay of the manifest in force', (t) => ({ raw: signManifest(validManifest(1, { schedule: [] }), [t.schedule]) }), 'LOA_ERR_MANIFEST_ROLLBACK'],
  ['rejects a rollback to an older version', (t) => ({ raw: signManifest(validManifest(0 + 1, { issuedAt: '2026-01-01T00:00:00Z' }), [t.schedule]) }), 'LOA_ERR_MANIFEST_ROLLBACK'],
  ['rejects a manifest that has already expired', (t) => ({ raw: signManifest(validManifest(2, { expiresAt: '2026-11-01T00:00:00Z' }), [t.schedule]) }), 'LOA_ERR_MANIFEST_EXPIRED'],
  ['rejects a manifest whose media does not match its sha256', (t) => ({ raw: signManifest(validManifest(2, { media: [{ sha256: sha256Hex(Buffer.from('other')), size: audio.length, durationMs: 1000 }], programs: [{ id: 'p2', title: 'x', items: [{ kind: 'media', sha256: sha256Hex(Buffer.from('other')) }] }] }), [t.schedule]) }), 'LOA_ERR_MEDIA_HASH_MISMATCH'],
  ['rejects a malformed manifest', () => ({ raw: Buffer.from('{"signed": {"_type": "manifest"}, "signatures": []}') }), 'LOA_ERR_MANIFEST_INVALID'],
  ['rejects an oversized manifest before parsing it', () => ({ raw: Buffer.alloc(5 * 1024 * 1024, 0x20) }), 'LOA_ERR_MANIFEST_TOO_LARGE'],
  ['rejects a manifest whose text is not JSON', () => ({ raw: Buffer.from('{"signed": ') }), 'LOA_ERR_JSON_PARSE'],
];

for (const [name, make, code] of cases) {
  test(`${name}, and keeps playing the previous valid manifest`, async () => {
    const probe = make(makeTrust());
    const { h, mgr, trust, install } = await setup(probe.trust);
    const c = probe.trust ? probe : make(trust);
    c.prep?.(mgr, trust);
    assert.equal(await install(c.raw, c.media), code);
    await assertStillPlaysV1(h, mgr, code);
  });
}

test('accepts a newer valid manifest and plays it instead', async () => {
  const { h, mgr, trust, install } = await setup();
  assert.equal(await install(signManifest(validManifest(2), [trust.schedule])), 'accepted');
  assert.equal(mgr.currentVersion(), 2);
  await h.clock.advanceTo(vn('2026-11-23T06:01'));
  assert.match((h.sink as RecordingSink).plays[0]!.key, /^daily-v2@/);
  await h.close();
});
