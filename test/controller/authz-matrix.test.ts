import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Permission } from '../../controller/auth/policy.js';
import { hashPassword } from '../../controller/auth/password.js';
import type { Role } from '../../controller/data/users.js';
import { pairingSecretHash } from '../../controller/data/pairing.js';
import { generateKeyPair } from '../../shared/crypto.js';
import { PAIRING_ALPHABET } from '../../shared/pairing.js';
import { toneWav } from '../../shared/wav.js';
import { ApiClient } from '../../scripts/lib/api-client.js';
import { startTestController, type TestController } from '../support/controller.js';
import { recordFigures } from '../reliability/support/mode.js';

/**
 * The authorization matrix (issue 4): every route × every role × in-zone and out-of-zone. Each user holds one
 * role on commune X1; X2 is a sibling commune. A route that is not in FIXTURES fails the test, so a new route
 * cannot skip the matrix.
 */
type Side = 'X1' | 'X2';
interface Probe { method: string; url: string; body?: unknown; headers?: Record<string, string>; form?: FormData; /** An endless stream (SSE): only the status is read. */ stream?: boolean }
type Fixture = (side: Side) => Probe | null;

const ROLES: { name: string; role: Role; canApprove: boolean }[] = [
  { name: 'admin', role: 'admin', canApprove: true },
  { name: 'approver', role: 'operator', canApprove: true },
  { name: 'operator', role: 'operator', canApprove: false },
  { name: 'technician', role: 'technician', canApprove: false },
  { name: 'viewer', role: 'viewer', canApprove: false },
];
const PASSWORD = 'matrix-password-1';
const PERMLESS = new Set(['POST /api/v1/auth/logout', 'GET /api/v1/auth/me']);

// The specification, written out independently of controller/auth/policy.ts so that a change there shows here.
const READ: Permission[] = ['zone.read', 'device.read', 'media.read', 'program.read', 'schedule.read', 'report.read', 'emergency.read'];
const EXPECTED: Record<string, readonly Permission[]> = {
  admin: [...READ, 'zone.write', 'user.read', 'user.write', 'device.write', 'media.write', 'program.write', 'schedule.write', 'approve', 'audit.read', 'emergency.send'],
  approver: [...READ, 'media.write', 'program.write', 'schedule.write', 'approve', 'emergency.send'],
  operator: [...READ, 'media.write', 'program.write', 'schedule.write', 'emergency.send'],
  technician: [...READ, 'device.write'],
  viewer: READ,
};
function allowed(r: (typeof ROLES)[number], p: Permission): boolean {
  return EXPECTED[r.name]!.includes(p);
}

describe('authorization matrix', () => {
  let t: TestController;
  const clients = new Map<string, ApiClient>();
  let n = 0;
  let pairings = 0;
  const uniq = (p: string): string => `${p}${++n}`;

  before(async () => {
    t = await startTestController();
    const d = t.controller.data;
    const now = Date.now();
    for (const z of ['X1', 'X2'] as const) {
      d.zones.create({ id: z, parentId: 'T01', level: 'commune', code: z, name: `Xã ${z}` }, now);
      d.zones.create({ id: `${z}-C1`, parentId: z, level: 'cluster', code: 'C1', name: `Cụm ${z}` }, now);
    }
    const hash = await hashPassword(PASSWORD);
    for (const r of ROLES) {
      d.users.create({ id: `u-${r.name}`, username: `m-${r.name}`, displayName: r.name, passwordHash: hash }, now);
      d.users.setRoles(`u-${r.name}`, [{ role: r.role, zoneId: 'X1', canApprove: r.canApprove }]);
      const c = t.client();
      await c.login(`m-${r.name}`, PASSWORD);
      clients.set(r.name, c);
    }
  });
  // issue 10: the matrix's counts are the attack suite's authorization rows (suite 'attacks').
  const tally = { probes: 0, refused: 0, allowed: 0, wrong: 0 };
  after(async () => {
    recordFigures({ suite: 'attacks', what: 'HTTP authorization matrix: every route × role × in/out of zone', figures: { routes: t.controller.routes.length, roles: ROLES.length, ...tally }, reproduce: 'npm test -- test/controller/authz-matrix' });
    await t.close();
  });

  // Fresh objects per probe, written straight into the data layer, so one probe never depends on another.
  const mk = {
    zone: (s: Side): string => t.controller.data.zones.create({ id: uniq(`${s}-Z`), parentId: s, level: 'cluster', code: 'C', name: 'Cụm' }, Date.now()).id,
    device: (s: Side): string => t.controller.data.devices.create({ id: uniq(`dev-${s}-`), zoneId: `${s}-C1`, name: 'Loa', kind: 'speaker' }, Date.now()).id,
    media: (s: Side): { id: string; sha256: string } => {
      const sha256 = (uniq('') + 'a'.repeat(64)).slice(0, 64).replace(/[^0-9a-f]/g, 'b');
      return t.controller.data.media.create({ id: uniq(`med-${s}-`), sha256, size: 10, durationMs: 1000, mime: 'audio/ogg', title: 'T', originalName: null, sourceSha256: null, loudnessLufs: null, zoneId: s, createdBy: 'x' }, Date.now());
    },
    program: (s: Side, status: 'draft' | 'pending' | 'approved' = 'draft'): string => {
      const m = mk.media(s);
      const p = t.controller.data.programs.create({ id: uniq(`prg-${s}-`), zoneId: s, title: 'P', items: [{ kind: 'media', mediaId: m.id }], createdBy: 'x' }, Date.now());
      if (status !== 'draft') t.controller.data.programs.setStatus(p.id, status, 'x', Date.now());
      return p.id;
    },
    schedule: (s: Side, status: 'draft' | 'pending' | 'approved' = 'draft'): string => {
      const sc = t.controller.data.schedules.create({
        id: uniq(`sch-${s}-`), zoneId: s, programId: mk.program(s, 'approved'), title: 'S', dtstart: '2026-12-01T06:00:00', rrule: 'FREQ=DAILY;COUNT=3', validFrom: null, validUntil: null,
        priority: 'normal', volume: 80, outputs: [], onPreempt: 'resume', maxDelayMs: 0, nightConfirmed: false, createdBy: 'x', targets: { zones: [`${s}-C1`], devices: [] },
      }, Date.now());
      if (status !== 'draft') t.controller.data.schedules.setStatus(sc.id, status, 'x', Date.now());
      return sc.id;
    },
    /** A pending pairing request straight in the data layer; returns the code the device would show. */
    pairingCode: (): string => {
      const key = generateKeyPair();
      const n = ++pairings;
      const locator = [0, 1, 2].map((i) => PAIRING_ALPHABET[Math.floor(n / PAIRING_ALPHABET.length ** i) % PAIRING_ALPHABET.length]!).join('');
      const secret = 'ACDEF';
      const id = uniq('pair-');
      t.controller.data.pairing.create({ id, locator, secretHash: pairingSecretHash(id, secret), publicKey: key.publicKey, keyid: key.keyid, hardwareProfile: null, agentVersion: null, hardware: {}, ip: null, expiresAt: Date.now() + 600_000 }, Date.now());
      return `${(locator + secret).slice(0, 4)}-${(locator + secret).slice(4)}`;
    },
    /** An emergency order of another user on the side's cluster: waiting for approval, or sent to one device there. */
    emergency: (s: Side, status: 'pending' | 'active'): string => {
      const d = t.controller.data;
      const now = Date.now();
      const m = mk.media(s);
      const device = mk.device(s);
      const sent = status === 'active' ? { signed: { seq: d.emergency.nextSeq(now), issuedAt: now, expiresAt: now + 3_600_000, body: '{}' }, deviceIds: [device] } : undefined;
      return d.emergency.create({
        id: uniq(`emg-${s}-`), zoneId: `${s}-C1`, title: 'Khẩn cấp', zones: [`${s}-C1`], devices: [], content: { kind: 'media', sha256: m.sha256, size: 10, durationMs: 1000 },
        mediaId: m.id, repeat: 1, volume: null, startAt: null, ttlMs: 3_600_000, expiresAt: now + 3_600_000, createdBy: 'x',
      }, now, sent).id;
    },
    /** An enrolled device (its key bound), which takes commands. */
    liveDevice: (s: Side): string => {
      const id = mk.device(s);
      const k = generateKeyPair();
      t.controller.data.devices.bindKey(id, { publicKey: k.publicKey, keyid: k.keyid, hardwareProfile: null, agentVersion: null }, Date.now());
      return id;
    },
    /** A device command already sent to a device of the side. */
    command: (s: Side): { deviceId: string; id: string } => {
      const deviceId = mk.device(s);
      const now = Date.now();
      const c = t.controller.data.commands.create({ id: uniq('cmd-'), deviceId, zoneId: `${s}-C1`, type: 'relay_check', params: {}, seq: t.controller.data.commands.nextSeq(now), expiresAt: now + 300_000, createdBy: 'x', signedBody: '{}' }, now);
      return { deviceId, id: c.id };
    },
    user: (s: Side): string => {
      const id = uniq('usr-');
      t.controller.data.users.create({ id, username: id, displayName: id, passwordHash: 'x' }, Date.now());
      t.controller.data.users.setRoles(id, [{ role: 'viewer', zoneId: s }]);
      return id;
    },
  };
  const scheduleBody = (s: Side): Record<string, unknown> => ({
    zoneId: s, programId: mk.program(s, 'approved'), title: 'Lịch', dtstart: '2026-12-01T06:00', rrule: 'FREQ=DAILY;COUNT=5', priority: 'normal', volume: 70, targets: { zones: [`${s}-C1`], devices: [] },
  });
  const workflow = (kind: 'programs' | 'schedules', action: string): Fixture => (s) => {
    const state = action === 'submit' ? 'draft' : action === 'approve' || action === 'reject' ? 'pending' : 'approved';
    const id = kind === 'programs' ? mk.program(s, state) : mk.schedule(s, state);
    return { method: 'POST', url: `/api/v1/${kind}/${id}/${action}`, body: {} };
  };
  const wav = toneWav({ seconds: 1, hz: 440 });
  /** A Severe (so never auto-started) CAP alert for the commune whose code is `code`. */
  const capAlert = (identifier: string, code: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>${identifier}</identifier><sender>matrix@example.vn</sender>
<sent>2026-11-23T10:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><language>vi-VN</language><category>Met</category><event>Lũ</event><urgency>Expected</urgency><severity>Severe</severity><certainty>Likely</certainty>
<headline>Cảnh báo lũ</headline><description>Nước sông lên.</description>
<area><areaDesc>Xã</areaDesc><geocode><valueName>VN-ADMIN</valueName><value>${code}</value></geocode></area></info></alert>`;

  const FIXTURES: Record<string, Fixture> = {
    'GET /api/v1/zones': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/zones' } : null),
    'GET /api/v1/zones/:id': (s) => ({ method: 'GET', url: `/api/v1/zones/${s}` }),
    'POST /api/v1/zones': (s) => ({ method: 'POST', url: '/api/v1/zones', body: { id: uniq('new-'), parentId: s, level: 'cluster', code: 'N', name: 'Cụm mới' } }),
    'PATCH /api/v1/zones/:id': (s) => ({ method: 'PATCH', url: `/api/v1/zones/${mk.zone(s)}`, body: { name: 'Đổi tên' } }),
    'DELETE /api/v1/zones/:id': (s) => ({ method: 'DELETE', url: `/api/v1/zones/${mk.zone(s)}` }),
    'GET /api/v1/zones/export': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/zones/export' } : null),
    'POST /api/v1/zones/import': (s) => ({ method: 'POST', url: '/api/v1/zones/import', body: `id,parent_id,level,code,name\n${uniq('imp-')},${s},cluster,I,Cụm nhập\n`, headers: { 'content-type': 'text/csv' } }),
    'GET /api/v1/users': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/users' } : null),
    'POST /api/v1/users': (s) => ({ method: 'POST', url: '/api/v1/users', body: { username: uniq('user'), displayName: 'Người dùng', password: 'long-enough-pw', roles: [{ role: 'viewer', zoneId: s }] } }),
    'PATCH /api/v1/users/:id': (s) => ({ method: 'PATCH', url: `/api/v1/users/${mk.user(s)}`, body: { displayName: 'Đổi' } }),
    'GET /api/v1/devices': (s) => ({ method: 'GET', url: `/api/v1/devices?zoneId=${s}` }),
    'GET /api/v1/devices/:id': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.device(s)}` }),
    'POST /api/v1/devices': (s) => ({ method: 'POST', url: '/api/v1/devices', body: { zoneId: `${s}-C1`, name: 'Loa mới' } }),
    'POST /api/v1/devices/import': (s) => ({ method: 'POST', url: '/api/v1/devices/import', body: { devices: [{ id: uniq('imp-dev-'), zoneId: `${s}-C1`, name: 'Loa nhập', publicKey: generateKeyPair().publicKey }] } }),
    'PATCH /api/v1/devices/:id': (s) => ({ method: 'PATCH', url: `/api/v1/devices/${mk.device(s)}`, body: { name: 'Đổi' } }),
    'POST /api/v1/devices/:id/enrollment-token': (s) => ({ method: 'POST', url: `/api/v1/devices/${mk.device(s)}/enrollment-token`, body: {} }),
    'POST /api/v1/devices/:id/revoke': (s) => ({ method: 'POST', url: `/api/v1/devices/${mk.device(s)}/revoke`, body: {} }),
    // issue 5: pairing and the device lifecycle (device.write on the cluster the device goes to or is in)
    'POST /api/v1/devices/:id/decommission': (s) => ({ method: 'POST', url: `/api/v1/devices/${mk.device(s)}/decommission`, body: {} }),
    'GET /api/v1/pairing': (s) => ({ method: 'GET', url: `/api/v1/pairing?zoneId=${s}` }),
    'POST /api/v1/pairing/claim': (s) => ({ method: 'POST', url: '/api/v1/pairing/claim', body: { code: mk.pairingCode(), zoneId: `${s}-C1` } }),
    'GET /api/v1/devices/:id/plays': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.device(s)}/plays?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z` }),
    'GET /api/v1/devices/:id/telemetry': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.device(s)}/telemetry` }),
    // issue 8: a board's latest screenshot (device.read in the device's zone; 404 when it has sent none)
    'GET /api/v1/devices/:id/screenshot': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.device(s)}/screenshot` }),
    'POST /api/v1/media': (s) => {
      const form = new FormData();
      form.append('zoneId', s);
      form.append('title', 'Âm báo');
      form.append('file', new Blob([wav]), 'tone.wav');
      return { method: 'POST', url: '/api/v1/media', form };
    },
    'GET /api/v1/media': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/media' } : null),
    'GET /api/v1/media/:id': (s) => ({ method: 'GET', url: `/api/v1/media/${mk.media(s).id}` }),
    'DELETE /api/v1/media/:id': (s) => ({ method: 'DELETE', url: `/api/v1/media/${mk.media(s).id}` }),
    'GET /media/:sha256': (s) => ({ method: 'GET', url: `/media/${mk.media(s).sha256}` }),
    'GET /api/v1/programs': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/programs' } : null),
    'GET /api/v1/programs/:id': (s) => ({ method: 'GET', url: `/api/v1/programs/${mk.program(s)}` }),
    'POST /api/v1/programs': (s) => ({ method: 'POST', url: '/api/v1/programs', body: { zoneId: s, title: 'Chương trình', items: [{ kind: 'media', mediaId: mk.media(s).id }] } }),
    'PATCH /api/v1/programs/:id': (s) => ({ method: 'PATCH', url: `/api/v1/programs/${mk.program(s)}`, body: { title: 'Đổi' } }),
    'DELETE /api/v1/programs/:id': (s) => ({ method: 'DELETE', url: `/api/v1/programs/${mk.program(s)}` }),
    'GET /api/v1/schedules': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/schedules' } : null),
    'GET /api/v1/schedules/:id': (s) => ({ method: 'GET', url: `/api/v1/schedules/${mk.schedule(s)}` }),
    'POST /api/v1/schedules': (s) => ({ method: 'POST', url: '/api/v1/schedules', body: scheduleBody(s) }),
    'PUT /api/v1/schedules/:id': (s) => ({ method: 'PUT', url: `/api/v1/schedules/${mk.schedule(s)}`, body: scheduleBody(s) }),
    'DELETE /api/v1/schedules/:id': (s) => ({ method: 'DELETE', url: `/api/v1/schedules/${mk.schedule(s)}` }),
    'GET /api/v1/preview': (s) => ({ method: 'GET', url: `/api/v1/preview?zoneId=${s}&date=2026-12-01` }),
    'GET /api/v1/reports/scheduled-vs-played': (s) => ({ method: 'GET', url: `/api/v1/reports/scheduled-vs-played?zoneId=${s}&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z` }),
    'GET /api/v1/audit': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/audit' } : null),
    // Not zone-scoped: it needs trust.reload over every top-level zone, which no user here holds (they are on
    // commune X1). test/controller/trust.test.ts checks it: province admin yes; commune admin, operator, no.
    'POST /api/v1/trust/reload': () => null,
    // issue 6: emergency orders (emergency.send: admins and operators, over every target; emergency.read: every role)
    'POST /api/v1/emergency/preview': (s) => ({ method: 'POST', url: '/api/v1/emergency/preview', body: { zones: [`${s}-C1`] } }),
    'POST /api/v1/emergency': (s) => {
      mk.device(s);
      return { method: 'POST', url: '/api/v1/emergency', body: { title: 'Cảnh báo bão', zones: [`${s}-C1`], content: { kind: 'media', mediaId: mk.media(s).id }, confirm: `Cụm ${s}` } };
    },
    'POST /api/v1/emergency/:id/approve': (s) => ({ method: 'POST', url: `/api/v1/emergency/${mk.emergency(s, 'pending')}/approve`, body: {} }),
    'POST /api/v1/emergency/:id/cancel': (s) => ({ method: 'POST', url: `/api/v1/emergency/${mk.emergency(s, 'active')}/cancel`, body: {} }),
    'GET /api/v1/emergency': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/emergency' } : null),
    'GET /api/v1/emergency/:id': (s) => ({ method: 'GET', url: `/api/v1/emergency/${mk.emergency(s, 'active')}?devices=1` }),
    // issue 6: live broadcasts (a session lives in memory: its routes check the role first, then answer 404 for an unknown one)
    'POST /api/v1/live': (s) => ({ method: 'POST', url: '/api/v1/live', body: { title: 'Phát trực tiếp', zones: [`${s}-C1`], ttlMinutes: 5, confirm: `Cụm ${s}` } }),
    'POST /api/v1/live/:id/offer': (s) => (s === 'X1' ? { method: 'POST', url: '/api/v1/live/liv-none/offer', body: { sdp: 'v=0 (no session)' } } : null),
    'POST /api/v1/live/:id/end': (s) => (s === 'X1' ? { method: 'POST', url: '/api/v1/live/liv-none/end', body: {} } : null),
    'GET /api/v1/live/:id': (s) => (s === 'X1' ? { method: 'GET', url: '/api/v1/live/liv-none' } : null),
    // issue 6: CAP alerts (emergency.send, over the zones the alert's areas reach: here the commune by its code)
    'POST /api/v1/cap': (s) => {
      mk.device(s);
      return { method: 'POST', url: '/api/v1/cap', headers: { 'content-type': 'application/cap+xml' }, body: capAlert(uniq('MATRIX-'), s) };
    },
    // issue 9: API tokens of another user (user.write over that user's zones), the live event stream, text to speech
    'POST /api/v1/users/:id/tokens': (s) => ({ method: 'POST', url: `/api/v1/users/${mk.user(s)}/tokens`, body: { name: 'Node-RED' } }),
    'GET /api/v1/users/:id/tokens': (s) => ({ method: 'GET', url: `/api/v1/users/${mk.user(s)}/tokens` }),
    'DELETE /api/v1/users/:id/tokens/:tokenId': (s) => {
      const userId = mk.user(s);
      const tok = t.controller.data.apiTokens.create({ id: uniq('tok-'), userId, name: 'Node-RED', token: `loat_${uniq('matrix')}`, createdBy: 'x', expiresAt: Date.now() + 86_400_000 }, Date.now());
      return { method: 'DELETE', url: `/api/v1/users/${userId}/tokens/${tok.id}` };
    },
    'GET /api/v1/events/stream': (s) => ({ method: 'GET', url: `/api/v1/events/stream?zone=${s}`, stream: true }),
    'POST /api/v1/media/tts': (s) => ({ method: 'POST', url: '/api/v1/media/tts', body: { zoneId: s, title: 'Bản tin', text: 'Xin chào bà con.' } }),
    // issue 7: device commands (contract B; device.write to send, device.read to read, in the device's zone)
    'POST /api/v1/devices/:id/commands': (s) => ({ method: 'POST', url: `/api/v1/devices/${mk.liveDevice(s)}/commands`, body: { type: 'relay_check' } }),
    'GET /api/v1/devices/:id/commands': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.command(s).deviceId}/commands?limit=10` }),
    'GET /api/v1/devices/:id/commands/:commandId': (s) => {
      const c = mk.command(s);
      return { method: 'GET', url: `/api/v1/devices/${c.deviceId}/commands/${c.id}` };
    },
    // issue 7: the dashboard's API (overview, KPI report and its exports, health series)
    'GET /api/v1/reports/overview': (s) => ({ method: 'GET', url: `/api/v1/reports/overview?zoneId=${s}` }),
    'GET /api/v1/reports/kpi': (s) => ({ method: 'GET', url: `/api/v1/reports/kpi?zoneId=${s}&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&format=csv` }),
    'GET /api/v1/devices/:id/telemetry/series': (s) => ({ method: 'GET', url: `/api/v1/devices/${mk.device(s)}/telemetry/series` }),
  };
  for (const kind of ['programs', 'schedules'] as const) {
    for (const a of ['submit', 'approve', 'reject', 'archive', 'reopen']) FIXTURES[`POST /api/v1/${kind}/:id/${a}`] = workflow(kind, a);
  }

  it('has a fixture for every authenticated route, and a permission on each', () => {
    const missing = t.controller.routes
      .filter((r) => r.auth === 'user' || r.auth === 'user-or-device')
      .map((r) => `${r.method} ${r.url}`)
      .filter((k) => !FIXTURES[k] && !PERMLESS.has(k));
    assert.deepEqual(missing, []);
    const noPerm = t.controller.routes.filter((r) => (r.auth === 'user' || r.auth === 'user-or-device') && !r.perm && !PERMLESS.has(`${r.method} ${r.url}`));
    assert.deepEqual(noPerm, []);
  });

  it('asks device.write for pairing and the device lifecycle (admin and technician, in their subtree); the device side is public', () => {
    const want: Record<string, string> = {
      'GET /api/v1/pairing': 'user device.write', 'POST /api/v1/pairing/claim': 'user device.write', 'POST /api/v1/devices/:id/decommission': 'user device.write',
      'POST /api/v1/devices/:id/revoke': 'user device.write', 'POST /api/v1/pairing': 'public -', 'GET /api/v1/pairing/:pairingId': 'public -',
    };
    const got = Object.fromEntries(Object.keys(want).map((k) => {
      const r = t.controller.routes.find((x) => `${x.method} ${x.url}` === k);
      return [k, r ? `${r.auth} ${r.perm ?? '-'}` : 'missing'];
    }));
    assert.deepEqual(got, want);
  });

  it('refuses every authenticated route without a session (401)', async () => {
    for (const r of t.controller.routes.filter((x) => x.auth !== 'public')) {
      const url = r.url.replace(/:(\w+)/g, (_m, p: string) => (p === 'sha256' ? 'a'.repeat(64) : 'x1'));
      const res = await fetch(new URL(url, t.controller.httpUrl), { method: r.method, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }) });
      assert.equal(res.status, 401, `${r.method} ${r.url} → ${res.status}`);
      await res.arrayBuffer();
    }
  });

  for (const r of ROLES) {
    it(`gives the ${r.name} exactly its role's rights, in its zone only`, async () => {
      const client = clients.get(r.name)!;
      const failures: string[] = [];
      for (const route of t.controller.routes.filter((x) => x.perm && (x.auth === 'user' || x.auth === 'user-or-device'))) {
        const key = `${route.method} ${route.url}`;
        for (const side of ['X1', 'X2'] as const) {
          const probe = FIXTURES[key]!(side);
          if (!probe) continue;
          const headers: Record<string, string> = { authorization: `Bearer ${client.token!}`, ...probe.headers };
          let body: string | FormData | undefined;
          if (probe.form) body = probe.form;
          else if (typeof probe.body === 'string') body = probe.body;
          else if (probe.body !== undefined) { body = JSON.stringify(probe.body); headers['content-type'] = 'application/json'; }
          const abort = new AbortController();
          const res = await fetch(new URL(probe.url, t.controller.httpUrl), { method: probe.method, headers, signal: abort.signal, ...(body !== undefined ? { body } : {}) });
          const text = probe.stream && res.ok ? (abort.abort(), '') : await res.text();
          const expectOk = side === 'X1' && allowed(r, route.perm as Permission);
          const ok = res.status !== 401 && res.status !== 403;
          tally.probes++;
          tally[ok ? 'allowed' : 'refused']++;
          if (ok !== expectOk) tally.wrong++;
          if (ok !== expectOk) failures.push(`${key} [${side}] → ${res.status} (expected ${expectOk ? 'allowed' : '403'}) ${text.slice(0, 160)}`);
          if (ok && res.status >= 500) failures.push(`${key} [${side}] → ${res.status} ${text.slice(0, 160)}`);
          // Lists never leak the other commune.
          if (ok && route.method === 'GET' && !route.url.includes(':') && text.includes('"X2')) failures.push(`${key} [${side}] leaks X2: ${text.slice(0, 160)}`);
        }
      }
      assert.deepEqual(failures, []);
    });
  }
});
