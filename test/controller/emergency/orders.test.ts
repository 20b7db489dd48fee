import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { makeDeviceToken } from '../../../shared/device-token.js';
import { topics } from '../../../shared/topics.js';
import type { EmergencyProgress, EmergencyDeviceRow, EmergencyOrderRecord } from '../../../controller/data/emergency.js';
import { outcome, startRig, type Receiver, type Rig } from './rig.js';
import { eventually } from '../../support/wait.js';

interface Sent { order: EmergencyOrderRecord; published: number; progress: EmergencyProgress }
interface Shown { order: EmergencyOrderRecord; progress: EmergencyProgress; devices?: EmergencyDeviceRow[] }

describe('emergency orders (controller): sign once, publish to the targeted devices, follow their acks', () => {
  let rig: Rig;
  const seen = new Map<string, { nonces: Set<string>; seqs: Set<number> }>();
  const seenBy = (r: Receiver): { nonces: Set<string>; seqs: Set<number> } => {
    let s = seen.get(r.id);
    if (!s) seen.set(r.id, (s = { nonces: new Set(), seqs: new Set() }));
    return s;
  };
  let first: Sent;

  before(async () => {
    rig = await startRig();
  });
  after(async () => rig?.close());

  it('publishes an order to a commune: it verifies on each device of the commune with the agent\'s verifier, and reaches no other device', async () => {
    const { A, B, C, D } = rig.dev;
    first = await rig.as.op1!.post<Sent>('/api/v1/emergency', {
      title: 'Cảnh báo lũ quét', zones: ['X1'], content: { kind: 'media', mediaId: rig.mediaId }, repeat: 3, volume: 90, ttlMinutes: 30, confirm: 'Xã An Phú',
    });
    assert.equal(first.order.status, 'active');
    assert.deepEqual([first.published, first.progress.targeted, first.order.targeted], [3, 3, 3], 'A, B and D (which is offline) are targeted');
    await rig.received(A, 1);
    await rig.received(B, 1);
    const envs = [await rig.verify(A, A.inbox[0]!, seenBy(A)), await rig.verify(B, B.inbox[0]!, seenBy(B))];
    for (const env of envs) {
      const o = env.signed;
      assert.equal(o.orderId, first.order.id);
      assert.equal(o.action, 'start');
      assert.equal(o.seq, first.order.seq);
      assert.deepEqual(o.target, { zones: ['X1'], devices: [] });
      assert.deepEqual([o.title, o.repeat, o.volume, o.content?.kind], ['Cảnh báo lũ quét', 3, 90, 'media']);
      assert.ok(Date.parse(o.expiresAt) - Date.parse(o.issuedAt) === 30 * 60_000);
      assert.match(o.nonce, /^[A-Za-z0-9_-]{22}$/);
    }
    // One signature: the bytes are the same for every device.
    assert.ok(A.inbox[0]!.equals(B.inbox[0]!));
    // The device's replay check refuses the same bytes twice.
    await assert.rejects(rig.verify(A, A.inbox[0]!, seenBy(A)), /already received/);
    // C (another district) got nothing: its first order is the one for its own cluster, sent afterwards.
    const other = await rig.as.opY!.post<Sent>('/api/v1/emergency', { title: 'Thử', zones: ['Y1-C1'], content: { kind: 'media', mediaId: rig.mediaId }, confirm: 'thôn bắc' }).catch((e: unknown) => e);
    // opY cannot read X1's media: refused before anything is signed.
    assert.equal((other as { status?: number }).status, 403);
    const forC = await rig.t.admin.post<Sent>('/api/v1/emergency', { title: 'Thử', zones: ['Y1-C1'], content: { kind: 'media', mediaId: rig.mediaId }, confirm: 'Thôn Bắc' });
    await rig.received(C, 1);
    assert.equal(C.inbox.length, 1);
    assert.equal((await rig.verify(C, C.inbox[0]!, seenBy(C))).signed.orderId, forC.order.id);
    assert.ok(forC.order.seq! > first.order.seq!, 'seq grows across orders');
    assert.equal(D.inbox.length, 0);
    // The order is stored with its history and audited (who, from where), never with the nonce.
    const audit = await rig.t.admin.get<{ entries: { action: string; actor: string; ip: string | null; details: Record<string, unknown> }[] }>(`/api/v1/audit?targetId=${first.order.id}`);
    const sent = audit.entries.find((e) => e.action === 'emergency.send');
    assert.ok(sent, 'emergency.send is audited');
    assert.deepEqual([sent.actor, typeof sent.ip, sent.details.seq, sent.details.targeted], ['u-op1', 'string', first.order.seq, 3]);
    assert.ok(!JSON.stringify(audit.entries).includes(envs[0]!.signed.nonce));
    assert.deepEqual(first.order.history.map((h) => h.action), ['create', 'send']);
  });

  it('folds the devices\' acks into progress: received, started, finished, offline; ignores acks of unknown orders and of devices not targeted', async () => {
    const { A, B, C } = rig.dev;
    const id = first.order.id;
    const seq = first.order.seq!;
    const before = await rig.as.viewer1!.get<Shown>(`/api/v1/emergency/${id}`);
    assert.deepEqual(before.progress, { targeted: 3, acknowledged: 0, received: 0, started: 0, finished: 0, failed: 0, rejected: 0, cancelled: 0, offline: 1, pending: 2 });
    await rig.ack(A, [{ orderId: id, seq, state: 'received' }, { orderId: id, seq, state: 'started' }]);
    await rig.ack(B, [{ orderId: id, seq, state: 'received' }, { orderId: id, seq, state: 'started' }, { orderId: id, seq, state: 'finished' }]);
    await rig.ack(C, [{ orderId: id, seq, state: 'received' }]);
    await rig.ack(A, [{ orderId: 'emg-unknown', seq: 1, state: 'received' }, { orderId: id, state: 'nonsense' }]);
    const got: { shown?: Shown } = {};
    await eventually(async () => {
      got.shown = await rig.as.viewer1!.get<Shown>(`/api/v1/emergency/${id}?devices=1`);
      return got.shown.progress.acknowledged === 2;
    }, 5000, 'two devices acknowledged');
    const s = got.shown!;
    assert.deepEqual(s.progress, { targeted: 3, acknowledged: 2, received: 0, started: 1, finished: 1, failed: 0, rejected: 0, cancelled: 0, offline: 1, pending: 0 });
    const rows = new Map(s.devices!.map((r) => [r.deviceId, r]));
    assert.deepEqual([...rows.keys()].sort(), [A.id, B.id, rig.dev.D.id].sort());
    assert.equal(rows.get(A.id)!.state, 'started');
    assert.deepEqual(Object.keys(rows.get(A.id)!.acks).sort(), ['received', 'started']);
    assert.equal(rows.get(B.id)!.state, 'finished');
    assert.equal(rows.get(rig.dev.D.id)!.state, 'offline');
    // The refused acks travel in a fourth message, which ingest may still hold when progress already shows two devices.
    const counts = async (): Promise<number[]> => {
      const metrics = await (await fetch(`${rig.t.controller.httpUrl}/metrics`)).text();
      const count = (result: string): number => Number(new RegExp(`^loa_ingest_emergency_acks_total\\{result="${result}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
      return [count('stored'), count('not_targeted'), count('unknown_order'), count('malformed')];
    };
    await eventually(async () => (await counts()).join() === '5,1,1,1', 5000, 'ack metrics').catch(() => undefined);
    assert.deepEqual(await counts(), [5, 1, 1, 1]);
  });

  it('refuses a district operator who targets another district (403, audited), for a zone and for a device', async () => {
    const body = { title: 'Vượt quyền', content: { kind: 'media', mediaId: rig.mediaId }, confirm: 'Thôn Bắc' };
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['Y1-C1'] })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['X1-C1'], devices: [rig.dev.C.id], confirm: 'Thôn Đông' })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency/preview', { zones: ['D2'] })), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    assert.deepEqual(await outcome(rig.as.viewer1!.post('/api/v1/emergency/preview', { zones: ['X1'] })), { status: 403, code: 'LOA_ERR_FORBIDDEN' }, 'a viewer sends nothing');
    const audit = await rig.t.admin.get<{ entries: { action: string; actor: string; ip: string | null; details: { zones?: string[]; devices?: string[] } }[] }>('/api/v1/audit?limit=50');
    const refused = audit.entries.filter((e) => e.actor === 'u-op1' && e.action.endsWith('_refused'));
    assert.deepEqual(refused.map((e) => [e.action, e.details.zones, e.details.devices]).reverse(), [
      ['emergency.send_refused', ['Y1-C1'], []],
      ['emergency.send_refused', [], [rig.dev.C.id]],
      ['emergency.preview_refused', ['D2'], []],
    ]);
    assert.ok(refused.every((e) => typeof e.ip === 'string'));
    assert.equal(rig.dev.C.inbox.length, 1, 'nothing reached C');
  });

  it('asks for a confirmation: the zone name (NFC, trimmed, any case) or the preview code for these targets; otherwise 422 LOA_ERR_EMERGENCY_CONFIRM', async () => {
    const body = { title: 'Xác nhận', content: { kind: 'media', mediaId: rig.mediaId }, ttlMinutes: 5 };
    const wrong = await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['X1-C1'], confirm: 'Thôn Tây' }));
    assert.deepEqual(wrong, { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' });
    // Two zones: a name is not enough, the code is needed.
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['X1-C1', 'X1-C2'], confirm: 'Thôn Đông' })), { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' });
    const res = await fetch(`${rig.t.controller.httpUrl}/api/v1/emergency`, {
      method: 'POST', headers: { authorization: `Bearer ${rig.as.op1!.token!}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, zones: ['X1-C1'], confirm: 'nope' }),
    });
    const err = (await res.json()) as { error: { code: string; message: string; vi: string } };
    assert.equal(res.status, 422);
    assert.match(err.error.vi, /Xác nhận không khớp/);
    assert.match(err.error.message, /Thôn Đông/);

    const preview = await rig.as.op1!.post<{ targetedDevices: number; zones: { id: string; name: string; pathNames: string[] }[]; confirmCode: string; confirmByName: string | null }>('/api/v1/emergency/preview', { zones: ['X1-C2', 'X1-C1'] });
    assert.equal(preview.targetedDevices, 3);
    assert.match(preview.confirmCode, /^\d{6}$/);
    assert.equal(preview.confirmByName, null);
    assert.deepEqual(preview.zones.map((z) => z.pathNames), [['Tỉnh Thử Nghiệm', 'Huyện Một', 'Xã An Phú', 'Thôn Đông'], ['Tỉnh Thử Nghiệm', 'Huyện Một', 'Xã An Phú', 'Thôn Tây']]);
    // The code is bound to the target set and to the user.
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['X1-C1'], confirm: preview.confirmCode })), { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' });
    assert.deepEqual(await outcome(rig.as.op2!.post('/api/v1/emergency', { ...body, zones: ['X1-C1', 'X1-C2'], confirm: preview.confirmCode })), { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' });
    const ok = await rig.as.op1!.post<Sent>('/api/v1/emergency', { ...body, zones: ['X1-C1', 'X1-C2'], confirm: ` ${preview.confirmCode} ` });
    assert.equal(ok.order.status, 'active');
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...body, zones: ['X1-C1', 'X1-C2'], confirm: preview.confirmCode })), { status: 422, code: 'LOA_ERR_EMERGENCY_CONFIRM' }, 'a code confirms one order');
    // The zone's name typed in decomposed Unicode, upper case, with spaces.
    const byName = await rig.as.op1!.post<Sent>('/api/v1/emergency', { ...body, zones: ['X1-C1'], confirm: '  THÔN ĐÔNG '.normalize('NFD') });
    assert.equal(byName.order.status, 'active');
    const audit = await rig.t.admin.get<{ entries: { action: string; details: { code?: string } }[] }>('/api/v1/audit?limit=100');
    assert.ok(audit.entries.filter((e) => e.action === 'emergency.send_refused' && e.details.code === 'LOA_ERR_EMERGENCY_CONFIRM').length >= 5);
    await rig.received(rig.dev.A, 3);
    await rig.received(rig.dev.B, 2);
  });

  it('cancels: a signed cancel with a higher seq, the same order id and targets, to the same devices; the order is cancelled', async () => {
    const { A, B } = rig.dev;
    const nA = A.inbox.length;
    const nB = B.inbox.length;
    const r = await rig.as.op2!.post<Sent>(`/api/v1/emergency/${first.order.id}/cancel`);
    assert.equal(r.order.status, 'cancelled');
    assert.equal(r.order.cancelledBy, 'u-op2');
    assert.equal(r.published, 3);
    await rig.received(A, nA + 1);
    await rig.received(B, nB + 1);
    for (const [dev, n] of [[A, nA], [B, nB]] as const) {
      const env = await rig.verify(dev, dev.inbox[n]!, seenBy(dev));
      assert.deepEqual([env.signed.action, env.signed.orderId, env.signed.content], ['cancel', first.order.id, undefined]);
      assert.deepEqual(env.signed.target, { zones: ['X1'], devices: [] });
      assert.ok(env.signed.seq > first.order.seq!, `cancel seq ${env.signed.seq} > start seq ${first.order.seq}`);
      assert.equal(env.signed.seq, r.order.cancelSeq);
    }
    assert.deepEqual(await outcome(rig.as.op1!.post(`/api/v1/emergency/${first.order.id}/cancel`)), { status: 409, code: 'LOA_ERR_EMERGENCY_STATE' });
    assert.deepEqual(await outcome(rig.as.opY!.post(`/api/v1/emergency/${first.order.id}/cancel`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
    const shown = await rig.as.viewer1!.get<Shown>(`/api/v1/emergency/${first.order.id}`);
    assert.deepEqual(shown.order.history.map((h) => h.action), ['create', 'send', 'cancel']);
    const list = await rig.as.viewer1!.get<{ orders: EmergencyOrderRecord[] }>('/api/v1/emergency?status=cancelled');
    assert.deepEqual(list.orders.map((o) => o.id), [first.order.id]);
    // A district-2 user sees none of district 1's orders.
    const theirs = await rig.as.opY!.get<{ orders: EmergencyOrderRecord[] }>('/api/v1/emergency');
    assert.ok(theirs.orders.every((o) => o.zones.every((z) => z.startsWith('Y1'))), JSON.stringify(theirs.orders.map((o) => o.zones)));
    assert.deepEqual(await outcome(rig.as.opY!.get(`/api/v1/emergency/${first.order.id}`)), { status: 403, code: 'LOA_ERR_FORBIDDEN' });
  });

  it('speaks TTS content with espeak-ng into a media file that targeted devices may GET while the order is active', async () => {
    const { A, C } = rig.dev;
    const n = A.inbox.length;
    const text = 'Khẩn cấp: nước sông Hồng lên 12,5 m lúc 14h30, bà con di dời ngay.';
    const r = await rig.as.op1!.post<Sent>('/api/v1/emergency', { title: 'Lũ sông Hồng', zones: ['X1-C1'], content: { kind: 'tts', text }, confirm: 'Thôn Đông' });
    assert.equal(r.order.content.kind, 'tts');
    assert.ok(r.order.mediaId, 'stored as a media record');
    await rig.received(A, n + 1);
    const env = await rig.verify(A, A.inbox[n]!, seenBy(A));
    const c = env.signed.content!;
    assert.equal(c.kind, 'tts');
    assert.ok(c.kind === 'tts' && c.text === text && c.durationMs > 2000, JSON.stringify(c));
    const sha = c.kind === 'tts' ? c.sha256 : '';
    const get = (d: Receiver): Promise<Response> => fetch(`${rig.t.controller.httpUrl}/media/${sha}`, { headers: { authorization: `Bearer ${makeDeviceToken(d.device.key.privateKeyPem, d.id, Date.now(), 300)}` } });
    const res = await get(A);
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha);
    assert.equal(bytes.length, c.kind === 'tts' ? c.size : 0);
    assert.equal((await get(C)).status, 403, 'a device the order does not target');
    const media = await rig.as.op1!.get<{ media: { sha256: string; title: string; zoneId: string } }>(`/api/v1/media/${r.order.mediaId}`);
    assert.deepEqual([media.media.sha256, media.media.title, media.media.zoneId], [sha, 'Lũ sông Hồng', 'X1-C1']);
    await rig.as.op1!.post(`/api/v1/emergency/${r.order.id}/cancel`);
    assert.equal((await get(A)).status, 403, 'not once the order is cancelled');
  });

  it('reaches a receiver that was offline when it was sent, once it reconnects with its persistent session (QoS 1)', async () => {
    const { D } = rig.dev;
    const connect = (): Promise<mqtt.MqttClient> => mqtt.connectAsync(rig.t.controller.mqttUrl, {
      clientId: D.id, username: D.id, password: makeDeviceToken(D.device.key.privateKeyPem, D.id, Date.now(), 300), clean: false, reconnectPeriod: 0, protocolVersion: 4,
    });
    const first = await connect();
    await first.subscribeAsync(topics.deviceFilter(D.id), { qos: 1 });
    await first.endAsync();
    const sent = await rig.as.op1!.post<Sent>('/api/v1/emergency', { title: 'Khi mất kết nối', zones: [], devices: [D.id], content: { kind: 'media', mediaId: rig.mediaId },
      confirm: (await rig.as.op1!.post<{ confirmCode: string }>('/api/v1/emergency/preview', { zones: [], devices: [D.id] })).confirmCode });
    assert.deepEqual([sent.published, sent.progress.offline], [1, 1]);
    const inbox: Buffer[] = [];
    const again = await connect().then((c) => {
      c.on('message', (topic, payload) => { if (topic === topics.down(D.id, 'emergency')) inbox.push(payload); });
      return c;
    });
    try {
      await eventually(() => inbox.length > 0, 5000, 'the queued order');
      const env = await rig.verify(D, inbox[0]!);
      assert.deepEqual([env.signed.orderId, env.signed.target], [sent.order.id, { zones: [], devices: [D.id] }]);
    } finally {
      await again.endAsync(true);
    }
  });

  it('refuses an order that reaches no receiver, a start after the expiry, and an unknown zone, with coded errors', async () => {
    const base = { title: 'Trống', content: { kind: 'media', mediaId: rig.mediaId } };
    rig.t.controller.data.zones.create({ id: 'X1-C9', parentId: 'X1', level: 'cluster', code: 'C9', name: 'Thôn Mới' }, Date.now());
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, zones: ['X1-C9'], confirm: 'Thôn Mới' })), { status: 422, code: 'LOA_ERR_EMERGENCY_NO_TARGETS' });
    const late = new Date(Date.now() + 2 * 3_600_000).toISOString();
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, zones: ['X1-C1'], confirm: 'Thôn Đông', ttlMinutes: 60, startAt: late })), { status: 400, code: 'LOA_ERR_SCHEMA' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, zones: ['X1-C1'], confirm: 'Thôn Đông', ttlMinutes: 1441 })), { status: 400, code: 'LOA_ERR_SCHEMA' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, zones: ['NOPE'], confirm: 'x' })), { status: 404, code: 'LOA_ERR_NOT_FOUND' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, zones: [], confirm: 'x' })), { status: 400, code: 'LOA_ERR_SCHEMA' });
    assert.deepEqual(await outcome(rig.as.op1!.post('/api/v1/emergency', { ...base, content: { kind: 'tts', text: 'a\u0007b' }, zones: ['X1-C1'], confirm: 'Thôn Đông' })), { status: 400, code: 'LOA_ERR_SCHEMA' });
  });

  it('keeps the audio of an order in force: deleting its media is 409 until the orders are cancelled', async () => {
    const del = (): Promise<{ status: number; code: string }> => outcome(rig.t.admin.request('DELETE', `/api/v1/media/${rig.mediaId}`));
    assert.deepEqual(await del(), { status: 409, code: 'LOA_ERR_MEDIA_IN_USE' });
    const { orders } = await rig.t.admin.get<{ orders: { id: string; status: string; mediaId: string | null }[] }>('/api/v1/emergency?status=active&limit=100');
    for (const o of orders.filter((x) => x.mediaId === rig.mediaId)) await rig.t.admin.post(`/api/v1/emergency/${o.id}/cancel`);
    assert.deepEqual(await rig.t.admin.request('DELETE', `/api/v1/media/${rig.mediaId}`), { ok: true });
  });
});
