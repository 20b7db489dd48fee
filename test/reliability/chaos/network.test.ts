import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../support/wait.js';
import { checkDelivery, checkProofOfPlay, sinkRecords } from '../support/chaos-invariants.js';
import { DEVICE, localStamp, startChaosRig } from '../support/chaos-rig.js';
import type { ProxyMode } from '../support/fault-proxy.js';
import { pick, recordFigures } from '../support/mode.js';

const TIMEOUT = Number(process.env.LOA_TEST_TIMEOUT_MS ?? 120_000);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const MODES: ProxyMode[] = [
  { kind: 'cut' }, { kind: 'blackhole' }, { kind: 'latency', ms: 400 }, { kind: 'stall', rate: 0.3, ms: 700 }, { kind: 'bandwidth', bytesPerSecond: 2000 }, { kind: 'pass' },
];

test('network cuts, black holes, latency, stalls and a bandwidth cap between agent and controller never stop playback; after healing every event arrives once, in order, and a manifest change made during a cut is applied', { timeout: TIMEOUT * 2 }, async () => {
  const rig = await startChaosRig({ prefix: 'loa-chaos-net-', broker: 'embedded', proxy: true, spacingMs: 5000, programMs: 3000 });
  const proxies = rig.proxies!;
  try {
    await eventually(() => sinkRecords(rig.agentDir).some((r) => r.status === 'completed'), 40_000, 'the first scheduled play');
    const from = Date.now();
    const flaps = pick(10, 150);
    const used: Record<string, number> = {};
    let changedDuringCut = 0;
    for (let i = 0; i < flaps; i++) {
      const m = MODES[Math.floor(Math.random() * MODES.length)]!;
      used[m.kind] = (used[m.kind] ?? 0) + 1;
      proxies.http.setMode(m);
      proxies.mqtt.setMode(m);
      if (m.kind === 'cut' && changedDuringCut === 0) {
        // A manifest change while the device cannot be reached: a one-off schedule far ahead.
        const { schedule } = await rig.api.post<{ schedule: { id: string } }>('/api/v1/schedules', {
          zoneId: 'X01', programId: rig.programId, title: 'Đổi trong lúc mất mạng', dtstart: localStamp(Date.now() + 86_400_000), rrule: 'FREQ=DAILY;COUNT=1',
          priority: 'normal', volume: 60, targets: { zones: ['X01-C1'], devices: [] }, confirmNightHours: true,
        });
        await rig.api.post(`/api/v1/schedules/${schedule.id}/submit`);
        await rig.api.post(`/api/v1/schedules/${schedule.id}/approve`);
        changedDuringCut = Date.now();
      }
      // Hold the fault for a random 0.5–4 s (the chaos itself, not a synchronisation).
      await delay(500 + Math.random() * 3500);
    }
    const to = Date.now();
    proxies.http.setMode({ kind: 'pass' });
    proxies.mqtt.setMode({ kind: 'pass' });

    let delivery = checkDelivery({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
    let pop = checkProofOfPlay({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
    const healStart = Date.now();
    await eventually(() => {
      delivery = checkDelivery({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
      pop = checkProofOfPlay({ agentDir: rig.agentDir, controllerDb: rig.controllerDb, deviceId: DEVICE });
      return delivery.unsent === 0 && delivery.problems.length === 0 && pop.problems.length === 0;
    }, 60_000, 'every event delivered after healing').catch(() => undefined);
    const healMs = Date.now() - healStart;
    let versions = { applied: 0, manifest: 0 };
    await eventually(async () => {
      const d = (await rig.api.get<{ device: { appliedVersion: number; manifestVersion: number } }>(`/api/v1/devices/${DEVICE}`)).device;
      versions = { applied: d.appliedVersion, manifest: d.manifestVersion };
      return d.appliedVersion === d.manifestVersion;
    }, 60_000, 'the manifest changed during the cut is applied').catch(() => undefined);

    // No gap: every program due while the network flapped played to completion, none was skipped or cut.
    const due: number[] = [];
    for (let at = rig.firstAt; at + rig.spacingMs <= to; at += rig.spacingMs) if (at >= from - rig.spacingMs) due.push(at);
    const done = new Set(sinkRecords(rig.agentDir).filter((r) => r.status === 'completed').map((r) => Date.parse(r.key.split('@')[1] ?? '')));
    const gaps = due.filter((at) => !done.has(at)).map((at) => new Date(at).toISOString());

    recordFigures({
      suite: 'chaos', what: 'network faults through the TCP fault proxy', reproduce: 'npm test -- test/reliability/chaos/network',
      figures: {
        flaps, ...Object.fromEntries(Object.entries(used).map(([k, v]) => [`mode_${k}`, v])), connectionsReset: proxies.http.stats.reset + proxies.mqtt.stats.reset,
        programsDue: due.length, programsWithGap: gaps.length, eventsDelivered: delivery.events - delivery.unsent, lost: pop.lost, duplicated: pop.duplicated,
        orderViolations: delivery.problems.filter((p) => p.startsWith('order')).length, healToDeliveredMs: healMs, manifestChangedDuringCut: changedDuringCut > 0,
      },
    });
    assert.deepEqual(gaps, [], 'every program due during the faults played to completion');
    assert.ok(due.length >= 2, 'programs were due during the faults');
    assert.deepEqual(delivery.problems, [], 'every event delivered once and in per-device seq order');
    assert.equal(delivery.unsent, 0, 'the outbox drained after healing');
    assert.deepEqual(pop.problems, [], 'proof-of-play exactly once');
    if (changedDuringCut) assert.equal(versions.applied, versions.manifest, 'the manifest changed during a cut is applied after healing');
  } finally {
    await rig.close();
  }
});
