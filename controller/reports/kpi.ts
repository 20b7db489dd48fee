import type { SignedManifest } from '../../shared/schemas/manifest.js';
import { Timeline } from '../../shared/timeline.js';
import type { ReportDevice, ReportsRepo, ReportZone, StatusChange } from '../data/reports.js';
import type { Play } from '../data/telemetry.js';

/**
 * The indicators of the provincial plans (issue 7), computed for one zone subtree and period [from, to).
 * Definitions (also in the README, "Dashboard"):
 * - a device counts when it is enrolled and neither revoked nor decommissioned;
 * - a device was online in the period when its status log shows it online for some time in the period, or the
 *   controller received anything from it in the period (its last_seen);
 * - coverage: a commune counts when every cluster (village) zone under it holds at least one loudspeaker that
 *   was online in the period (a commune without clusters: the commune's own loudspeakers);
 * - converted stations: Σ converted / Σ legacy wired/FM stations over the communes that recorded them;
 * - e-boards: communes (and wards) with at least one board device in their subtree;
 * - large boards: districts with at least one board device in their subtree that was online in the period
 *   (connected to the provincial controller, the province's source system); null when the tree has no districts;
 * - uptime: online time in the period (from the status log) over the time each device existed in it;
 * - plays: occurrences the devices' current manifests schedule in the period (up to now) vs those reported completed.
 */

export interface Indicator { key: 'coverage' | 'converted' | 'boards' | 'districtBoards' | 'uptime' | 'plays'; numerator: number; denominator: number; percent: number | null }
export interface CommuneRow {
  zoneId: string; name: string; clusters: number; coveredClusters: number; covered: boolean; speakers: number; boards: number;
  legacyStations: number | null; convertedStations: number | null; uptimePct: number | null; scheduled: number; completed: number;
}
export interface DeliveryRow { orderId: string; title: string; issuedAt: string; targeted: number; received: number; medianS: number | null; p95S: number | null; finished: number }
export interface KpiReport {
  zoneId: string; from: string; to: string;
  indicators: Indicator[];
  communes: CommuneRow[];
  districts: { zoneId: string; name: string; boardsOnline: number; connected: boolean }[];
  emergency: DeliveryRow[];
}

export interface KpiInput {
  repo: ReportsRepo;
  zoneId: string; zonePath: string; from: number; to: number; now: number;
  /** The current signed manifest of a device (for what was scheduled), and its plays in the period. */
  manifestOf: (deviceId: string) => string | null;
  playsOf: (deviceIds: readonly string[], from: number, to: number) => Play[];
}

const pct = (n: number, d: number): number | null => (d > 0 ? Math.round((1000 * n) / d) / 10 : null);
const quantile = (xs: readonly number[], q: number): number | null => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : null);

/** Online ms of each device in [from, end), from its state at `from` and its changes. */
export function onlineMs(devices: readonly ReportDevice[], log: { before: Map<string, boolean>; changes: StatusChange[] }, from: number, end: number): Map<string, { online: number; span: number }> {
  const byDevice = new Map<string, StatusChange[]>();
  for (const c of log.changes) (byDevice.get(c.deviceId) ?? byDevice.set(c.deviceId, []).get(c.deviceId)!).push(c);
  const out = new Map<string, { online: number; span: number }>();
  for (const d of devices) {
    const start = Math.max(from, d.enrolledAt ?? from);
    if (start >= end) { out.set(d.id, { online: 0, span: 0 }); continue; }
    let on = log.before.get(d.id) ?? false, since = start, total = 0;
    for (const c of byDevice.get(d.id) ?? []) {
      if (c.at >= end) break;
      const at = Math.max(c.at, start);
      if (on) total += at - since;
      on = c.online;
      since = at;
    }
    if (on) total += end - since;
    out.set(d.id, { online: total, span: end - start });
  }
  return out;
}

export function kpiReport(i: KpiInput): KpiReport {
  const zones = i.repo.zones(i.zonePath);
  const devices = i.repo.activeDevices(i.zonePath);
  const end = Math.min(i.to, i.now);
  const up = onlineMs(devices, i.repo.statusChanges(i.zonePath, i.from, end), i.from, end);
  const wasOnline = (d: ReportDevice): boolean => (up.get(d.id)?.online ?? 0) > 0 || (d.lastSeen !== null && d.lastSeen >= i.from && d.lastSeen < i.to);
  const under = (z: ReportZone, d: ReportDevice): boolean => d.zonePath.startsWith(z.path);

  // scheduled vs completed per device, from the current manifests
  const plays = i.playsOf(devices.map((d) => d.id), i.from, i.to);
  const done = new Set(plays.filter((p) => p.status === 'completed').map((p) => `${p.deviceId} ${p.occurrence}`));
  const sched = new Map<string, { scheduled: number; completed: number }>();
  for (const d of devices) {
    const body = i.manifestOf(d.id);
    const occ = body && end > i.from ? new Timeline((JSON.parse(body) as SignedManifest).signed).between(i.from, end) : [];
    sched.set(d.id, { scheduled: occ.length, completed: occ.filter((o) => done.has(`${d.id} ${o.key}`)).length });
  }

  const communes: CommuneRow[] = zones.filter((z) => z.level === 'commune').map((c) => {
    const mine = devices.filter((d) => under(c, d));
    const speakersOnline = mine.filter((d) => d.kind === 'speaker' && wasOnline(d));
    const clusters = zones.filter((z) => z.parentId === c.id && z.level === 'cluster');
    const coveredClusters = clusters.filter((k) => speakersOnline.some((d) => d.zoneId === k.id)).length;
    const covered = clusters.length > 0 ? coveredClusters === clusters.length : speakersOnline.some((d) => d.zoneId === c.id);
    const u = mine.reduce((a, d) => { const x = up.get(d.id)!; return { online: a.online + x.online, span: a.span + x.span }; }, { online: 0, span: 0 });
    const s = mine.reduce((a, d) => { const x = sched.get(d.id)!; return { scheduled: a.scheduled + x.scheduled, completed: a.completed + x.completed }; }, { scheduled: 0, completed: 0 });
    return {
      zoneId: c.id, name: c.name, clusters: clusters.length, coveredClusters, covered,
      speakers: mine.filter((d) => d.kind === 'speaker').length, boards: mine.filter((d) => d.kind === 'board').length,
      legacyStations: c.legacyStations, convertedStations: c.convertedStations, uptimePct: pct(u.online, u.span), ...s,
    };
  });
  const districts = zones.filter((z) => z.level === 'district').map((z) => {
    const n = devices.filter((d) => under(z, d) && d.kind === 'board' && wasOnline(d)).length;
    return { zoneId: z.id, name: z.name, boardsOnline: n, connected: n > 0 };
  });
  const recorded = communes.filter((c) => c.legacyStations !== null);
  const legacy = recorded.reduce((a, c) => a + c.legacyStations!, 0);
  const converted = recorded.reduce((a, c) => a + (c.convertedStations ?? 0), 0);
  const uptime = [...up.values()].reduce((a, x) => ({ online: a.online + x.online, span: a.span + x.span }), { online: 0, span: 0 });
  const plan = [...sched.values()].reduce((a, x) => ({ scheduled: a.scheduled + x.scheduled, completed: a.completed + x.completed }), { scheduled: 0, completed: 0 });
  const ind = (key: Indicator['key'], numerator: number, denominator: number): Indicator => ({ key, numerator, denominator, percent: pct(numerator, denominator) });
  const secs = (ms: number): number => Math.round(uptime.span ? ms / 1000 : 0);
  return {
    zoneId: i.zoneId, from: new Date(i.from).toISOString(), to: new Date(i.to).toISOString(),
    indicators: [
      ind('coverage', communes.filter((c) => c.covered).length, communes.length),
      ind('converted', converted, legacy),
      ind('boards', communes.filter((c) => c.boards > 0).length, communes.length),
      ind('districtBoards', districts.filter((d) => d.connected).length, districts.length),
      ind('uptime', secs(uptime.online), secs(uptime.span)),
      ind('plays', plan.completed, plan.scheduled),
    ],
    communes, districts,
    emergency: i.repo.emergencyDelivery(i.zonePath, i.from, i.to).map((o) => ({
      orderId: o.id, title: o.title, issuedAt: new Date(o.issuedAt).toISOString(), targeted: o.targeted, received: o.received.length,
      medianS: quantile(o.received, 0.5) === null ? null : Math.round(quantile(o.received, 0.5)!) / 1000,
      p95S: quantile(o.received, 0.95) === null ? null : Math.round(quantile(o.received, 0.95)!) / 1000, finished: o.finished,
    })),
  };
}
