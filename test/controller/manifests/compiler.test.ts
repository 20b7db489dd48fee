import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb } from '../../../agent/store/db.js';
import { verifyManifest } from '../../../agent/manifest/verify.js';
import { DataLayer } from '../../../controller/data/index.js';
import { CONTROLLER_MIGRATIONS } from '../../../controller/db/migrations.js';
import { canonicalManifest, ManifestCompiler } from '../../../controller/manifests/compiler.js';
import { canonicalize } from '../../../shared/crypto.js';
import { createLogger } from '../../../shared/log.js';
import type { SignedManifest } from '../../../shared/schemas/manifest.js';
import type { RootMetadata } from '../../../shared/schemas/root.js';
import { VirtualClock } from '../../../shared/virtual-clock.js';
import { initKeys } from '../../../scripts/cli/keys.js';

describe('manifest compiler', () => {
  let dir: string;
  let data: DataLayer;
  let compiler: ManifestCompiler;
  let root: RootMetadata;
  const notified: [string, number][] = [];
  const clock = new VirtualClock({ start: Date.parse('2026-11-23T03:00:00Z') });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'loa-compile-'));
    const keys = initKeys(join(dir, 'keys'), 1, 1, 1);
    root = keys.root;
    data = new DataLayer(openDb({ path: join(dir, 'c.db'), migrations: CONTROLLER_MIGRATIONS }));
    const now = clock.now();
    data.zones.create({ id: 'T01', parentId: null, level: 'province', code: 'T01', name: 'Tỉnh' }, now);
    for (const x of ['X1', 'X2']) {
      data.zones.create({ id: x, parentId: 'T01', level: 'commune', code: x, name: `Xã “${x}” \\ é` }, now);
      data.zones.create({ id: `${x}-C1`, parentId: x, level: 'cluster', code: 'C1', name: 'Cụm' }, now);
      for (const n of [1, 2]) data.devices.create({ id: `${x}-d${n}`, zoneId: `${x}-C1`, name: 'Loa', kind: 'speaker' }, now);
    }
    data.media.create({ id: 'm1', sha256: 'a'.repeat(64), size: 1000, durationMs: 5000, mime: 'audio/ogg', title: 'Bản tin', originalName: null, sourceSha256: null, loudnessLufs: -16, zoneId: 'T01', createdBy: 'u' }, now);
    data.programs.create({ id: 'p1', zoneId: 'T01', title: 'Bản tin “sáng” \\ \u0007', items: [{ kind: 'media', mediaId: 'm1' }, { kind: 'stream', url: 'http://radio.example/vov1', durationMs: 60_000 }], createdBy: 'u' }, now);
    data.programs.setStatus('p1', 'approved', 'u', now);
    compiler = new ManifestCompiler({
      data, scheduleKeyPem: readFileSync(keys.schedule, 'utf8'), clock, log: createLogger('test', { level: 'silent' }),
      validityMs: 14 * 86_400_000, renewBeforeMs: 7 * 86_400_000, debounceMs: 0,
      notify: (id, v) => { notified.push([id, v]); return Promise.resolve(); },
    });
  });
  after(() => {
    data.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const schedule = (id: string, zones: string[], status: 'draft' | 'approved' = 'approved'): void => {
    data.schedules.create({ id, zoneId: 'T01', programId: 'p1', title: id, dtstart: '2026-11-24T06:00:00', rrule: 'FREQ=DAILY;COUNT=10', validFrom: null, validUntil: null, priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 0, nightConfirmed: false, createdBy: 'u', targets: { zones, devices: [] } }, clock.now());
    if (status === 'approved') data.schedules.setStatus(id, 'approved', 'u', clock.now());
  };
  const manifestOf = (id: string): SignedManifest => JSON.parse(data.manifests.get(id)!.body) as SignedManifest;

  it('splices the same canonical JSON as canonicalize() would write', () => {
    const content = { media: [{ sha256: 'b'.repeat(64), size: 1, durationMs: 2, url: '/media/x', mime: 'audio/ogg' }], programs: [{ id: 'p', title: 'Ư “q” \\ \n \u2028 😀', items: [] }], schedule: [] };
    const h = { deviceId: 'dev-1', version: 1795400000, issuedAt: '2026-11-23T03:00:00Z', expiresAt: '2026-12-07T03:00:00Z' };
    const zones = ['T01', 'X1', 'X1-C1'];
    const spliced = canonicalManifest(h, { media: canonicalize(content.media), programs: canonicalize(content.programs), schedule: canonicalize(content.schedule), zones: canonicalize(zones) });
    assert.equal(spliced, canonicalize({ _type: 'manifest', schemaVersion: 1, timezone: 'Asia/Ho_Chi_Minh', ...h, ...content, zones }));
    // issue 11: a device's agentUpdate goes second in code-point order ('_type' < 'agentUpdate' < 'deviceId').
    const agentUpdate = { deploymentId: 'dep-1', url: 'releases/' + 'c'.repeat(64), healthWindowSec: 120, release: { signed: { version: '1.2.0' }, signatures: [] } };
    const withUpdate = canonicalManifest(h, { media: canonicalize(content.media), programs: canonicalize(content.programs), schedule: canonicalize(content.schedule), zones: canonicalize(zones) }, canonicalize(agentUpdate));
    assert.equal(withUpdate, canonicalize({ _type: 'manifest', schemaVersion: 1, timezone: 'Asia/Ho_Chi_Minh', ...h, ...content, zones, agentUpdate }));
  });

  it('signs a manifest per device that the agent accepts, with only approved schedules of its zone chain', async () => {
    schedule('s-all', ['T01']);
    schedule('s-x1', ['X1']);
    schedule('s-draft', ['T01'], 'draft');
    const r = await compiler.compile();
    assert.equal(r.changed, 4);
    const m = manifestOf('X1-d1');
    assert.deepEqual(m.signed.schedule.map((s) => s.id), ['s-all', 's-x1']);
    assert.deepEqual(manifestOf('X2-d1').signed.schedule.map((s) => s.id), ['s-all']);
    // The zone chain, for zone-addressed emergency orders.
    assert.deepEqual(m.signed.zones, ['T01', 'X1', 'X1-C1']);
    assert.deepEqual(manifestOf('X2-d2').signed.zones, ['T01', 'X2', 'X2-C1']);
    const ok = verifyManifest(JSON.parse(data.manifests.get('X1-d1')!.body), { root, deviceId: 'X1-d1', currentVersion: 0, now: clock.now() });
    assert.equal(ok.signed.deviceId, 'X1-d1');
    assert.throws(() => verifyManifest(JSON.parse(data.manifests.get('X1-d1')!.body), { root, deviceId: 'X2-d1', currentVersion: 0, now: clock.now() }), (e: { code?: string }) => e.code === 'LOA_ERR_MANIFEST_WRONG_DEVICE');
    assert.equal(notified.length, 4);
  });

  it('recompiles only the devices a change reaches, and keeps versions of unchanged content', async () => {
    const before = Object.fromEntries(['X1-d1', 'X1-d2', 'X2-d1', 'X2-d2'].map((id) => [id, data.manifests.get(id)!.version]));
    notified.length = 0;
    await clock.step(5000);
    schedule('s-x2', ['X2-C1']);
    compiler.markDirty(data.manifests.devicesOfTargets(['X2-C1'], []));
    const r = await compiler.flush();
    assert.deepEqual([r.devices, r.changed], [2, 2]);
    assert.deepEqual(notified.map(([id]) => id).sort(), ['X2-d1', 'X2-d2']);
    assert.equal(data.manifests.get('X1-d1')!.version, before['X1-d1']);
    assert.ok(data.manifests.get('X2-d1')!.version > before['X2-d1']!);
    const again = await compiler.compile();
    assert.equal(again.changed, 0, 'nothing changed: no new versions');
  });

  it('never lowers a version, even when the clock goes back', async () => {
    const v = data.manifests.get('X1-d1')!.version;
    await clock.step(-3_600_000);
    const r = await compiler.compile(['X1-d1'], new Set(['X1-d1']));
    assert.equal(r.changed, 1);
    assert.equal(data.manifests.get('X1-d1')!.version, v + 1);
  });

  it('re-signs manifests that near expiry', async () => {
    await clock.step(8 * 86_400_000);
    const v = data.manifests.get('X2-d2')!.version;
    compiler.start();
    compiler.renew();
    await compiler.flush();
    await compiler.stop();
    assert.ok(data.manifests.get('X2-d2')!.version > v);
    assert.ok(data.manifests.get('X2-d2')!.expiresAt > clock.now() + 13 * 86_400_000);
  });
});
