import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { ApiClient } from '../../scripts/lib/api-client.js';
import { topics } from '../../shared/topics.js';
import { startTestController, type TestController } from '../support/controller.js';
import { pairNewDevice } from '../support/pairing.js';
import { seedTree } from '../support/seed.js';
import { eventually } from '../support/wait.js';
import { freePort, helper, lastStatus, LOA_NODES, type RedNode } from './rig.js';

const ZONES = [
  { id: 'X001', parentId: 'T01', level: 'commune', code: 'X001', name: 'Xã Tân Lập' },
  { id: 'X001-C1', parentId: 'X001', level: 'cluster', code: 'C1', name: 'Thôn Đông' },
  { id: 'X002', parentId: 'T01', level: 'commune', code: 'X002', name: 'Phường Hòa Bình' },
] as const;

/** Messages arriving at a helper node, collected. */
function collect(id: string): Record<string, unknown>[] {
  const got: Record<string, unknown>[] = [];
  helper.getNode(id)!.on('input', (m) => got.push(m));
  return got;
}

describe('the Node-RED nodes against a real controller', () => {
  let t: TestController;
  let as: Record<string, ApiClient>;
  let token = '';
  let deviceId = '';
  let device: MqttClient;
  const cfg = (url?: string): Record<string, unknown> => ({ id: 'cfg', type: 'loa-config', name: 'test', url: url ?? t.controller.httpUrl, timeoutS: 20 });
  const creds = (tok = token): Record<string, unknown> => ({ cfg: { token: tok } });

  before(async () => {
    t = await startTestController();
    as = await seedTree(t, ZONES, [['op', 'operator', 'X001']], 'flows-password-1');
    token = (await as.op!.post<{ token: string }>('/api/v1/users/u-op/tokens', { name: 'Node-RED test' })).token;
    const paired = await pairNewDevice(t, t.admin, 'X001-C1', 'Loa thôn Đông');
    deviceId = paired.deviceId;
    device = (await paired.device.connect(deviceId)) as MqttClient;
    assert.equal(typeof device, 'object', 'the receiver connects');
  });
  afterEach(async () => helper.unload());
  after(async () => {
    await device.endAsync(true);
    await t.close();
  });

  it('checks URL and token at deploy, then loa-emergency starts an order the controller lists and cancels it', async () => {
    await helper.load(LOA_NODES, [cfg(), { id: 'em', type: 'loa-emergency', server: 'cfg', action: 'start', title: 'Cảnh báo lũ', zones: 'X001', ttlMinutes: 30, wires: [['out']] }, { id: 'out', type: 'helper' }, { id: 'c', type: 'catch', scope: null, wires: [['out']] }], creds());
    const em = helper.getNode('em')!;
    const out = collect('out');
    await eventually(() => lastStatus(em)?.text === 'sẵn sàng · ready (op)', 5000, 'the ready status');
    em.receive({ payload: 'Nước sông lên nhanh, bà con di chuyển đến nơi an toàn.' });
    await eventually(() => out.length === 1, 10_000, 'the order');
    assert.equal(out[0]!.error, undefined, JSON.stringify(out[0]!.loaError));
    const orderId = out[0]!.orderId as string;
    const listed = await t.admin.get<{ order: { status: string; title: string; createdBy: string } }>(`/api/v1/emergency/${orderId}`);
    assert.deepEqual([listed.order.status, listed.order.title, listed.order.createdBy], ['active', 'Cảnh báo lũ', 'u-op']);
    assert.match(lastStatus(em)?.text ?? '', /đã gửi · sent/);
    em.receive({ action: 'cancel', orderId });
    await eventually(() => out.length === 2, 10_000, 'the cancellation');
    assert.equal((await t.admin.get<{ order: { status: string } }>(`/api/v1/emergency/${orderId}`)).order.status, 'cancelled');
  });

  it('loa-bulletin turns a text into spoken audio, a program and a one-off schedule submitted for approval', async () => {
    await helper.load(LOA_NODES, [cfg(), { id: 'bt', type: 'loa-bulletin', server: 'cfg', zoneId: 'X001', title: 'Bản tin sáng', mode: 'once', at: '06:00', workflow: 'submit', volume: 70, wires: [['out']] }, { id: 'out', type: 'helper' }], creds());
    const out = collect('out');
    helper.getNode('bt')!.receive({ payload: 'Kính thưa bà con, sau đây là bản tin sáng của xã Tân Lập.' });
    await eventually(() => out.length === 1, 20_000, 'the bulletin');
    const r = out[0]!.payload as { media: { id: string; durationMs: number }; program: { id: string; status: string }; schedule: { id: string; status: string; dtstart: string; programId: string } };
    assert.ok(r.media.durationMs > 500, 'the text was spoken');
    assert.deepEqual([r.program.status, r.schedule.status, r.schedule.programId], ['pending', 'pending', r.program.id]);
    assert.match(r.schedule.dtstart, /T06:00/);
    const m = await t.admin.get<{ media: { zoneId: string; createdBy: string } }>(`/api/v1/media/${r.media.id}`);
    assert.deepEqual([m.media.zoneId, m.media.createdBy], ['X001', 'u-op']);
  });

  it('loa-device-events passes on the status and events a receiver publishes over MQTT', async () => {
    await helper.load(LOA_NODES, [cfg(), { id: 'ev', type: 'loa-device-events', server: 'cfg', types: 'device.status,device.event', zone: '', wires: [['out']] }, { id: 'out', type: 'helper' }], creds());
    const ev = helper.getNode('ev')!;
    const out = collect('out');
    await eventually(() => lastStatus(ev)?.text === 'đã kết nối · connected', 5000, 'the stream to connect');
    await device.publishAsync(topics.up(deviceId, 'status'), JSON.stringify({ online: true, at: Date.now() }), { qos: 1, retain: true });
    await device.publishAsync(topics.up(deviceId, 'events'), JSON.stringify({ deviceId, seq: 1, key: `${deviceId}:1`, type: 'play.end', at: Date.now(), data: { entryId: 'ban-tin', status: 'completed' } }), { qos: 1 });
    await eventually(() => out.length >= 2, 5000, 'two events');
    assert.deepEqual(out.map((m) => m.topic).sort(), ['device.event', 'device.status']);
    const e = out.find((m) => m.topic === 'device.event')!.payload as { deviceId: string; type: string; zoneId: string };
    assert.deepEqual([e.deviceId, e.type, e.zoneId], [deviceId, 'play.end', 'X001-C1']);
  });

  it('loa-query reads one device, the devices of a zone, and reports an unknown one', async () => {
    await helper.load(LOA_NODES, [cfg(), { id: 'q', type: 'loa-query', server: 'cfg', what: 'device', target: '', online: '', wires: [['out']] }, { id: 'out', type: 'helper' }, { id: 'c', type: 'catch', scope: null, wires: [['caught']] }, { id: 'caught', type: 'helper' }], creds());
    const q = helper.getNode('q')!;
    const out = collect('out');
    const caught = collect('caught');
    q.receive({ payload: deviceId });
    q.receive({ what: 'devices', payload: 'X001' });
    q.receive({ payload: 'no-such-device' });
    await eventually(() => out.length === 2 && caught.length === 1, 5000, 'two answers and one error');
    assert.equal((out[0]!.payload as { device: { id: string; zoneId: string } }).device.id, deviceId);
    assert.deepEqual((out[1]!.payload as { devices: { id: string }[] }).devices.map((d) => d.id), [deviceId]);
    assert.equal((caught[0]!.loaError as { code: string }).code, 'LOA_ERR_NOT_FOUND');
    assert.equal(lastStatus(q)?.fill, 'red');
  });

  it('shows a wrong token and an unreachable controller in red, in Vietnamese and English, and the flow keeps running', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await helper.load(LOA_NODES, [
      cfg(), { id: 'cfg2', type: 'loa-config', name: 'dead', url: dead, timeoutS: 2 },
      { id: 'q', type: 'loa-query', server: 'cfg', what: 'zone', target: 'X001', online: '', wires: [['out']] },
      { id: 'q2', type: 'loa-query', server: 'cfg2', what: 'zone', target: 'X001', online: '', wires: [['out']] },
      { id: 'ev', type: 'loa-device-events', server: 'cfg', types: '', zone: '', wires: [['out']] },
      { id: 'c', type: 'catch', scope: null, wires: [['caught']] }, { id: 'caught', type: 'helper' }, { id: 'out', type: 'helper' },
    ], { cfg: { token: `${token.slice(0, -4)}xxxx` }, cfg2: { token } });
    const [q, q2, ev] = ['q', 'q2', 'ev'].map((id) => helper.getNode(id)!) as [RedNode, RedNode, RedNode];
    const caught = collect('caught');
    await eventually(() => lastStatus(q)?.text === 'Mã API sai/hết hạn · bad or expired API token', 5000, 'the wrong token shown at deploy');
    await eventually(() => lastStatus(q2)?.text === 'Không kết nối được bộ điều khiển · controller unreachable', 5000, 'the unreachable controller shown at deploy');
    await eventually(() => lastStatus(ev)?.text === 'Mã API sai/hết hạn · bad or expired API token', 5000, 'the event stream refused');
    for (const n of [q, q2, q, q2]) n.receive({ payload: 'X001' });
    await eventually(() => caught.length === 4, 8000, 'four errors caught');
    const errs = caught.map((m) => m.loaError as { code: string; message: string; vi: string });
    assert.deepEqual(errs.map((e) => e.code).sort(), ['LOA_ERR_API_TOKEN', 'LOA_ERR_API_TOKEN', 'UNREACHABLE', 'UNREACHABLE']);
    const unreachable = errs.find((e) => e.code === 'UNREACHABLE')!;
    assert.match(unreachable.message, /Cannot reach the controller at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(unreachable.vi, /Không kết nối được bộ điều khiển/);
    assert.equal(lastStatus(q)?.fill, 'red');
    assert.ok(!JSON.stringify(caught).includes(token), 'no message carries the token');
  });
});
