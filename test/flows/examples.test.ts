import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { assembleNodePackage } from '../../scripts/flows/assemble.js';
import { startTestController, type TestController } from '../support/controller.js';
import { seedTree } from '../support/seed.js';
import { eventually } from '../support/wait.js';
import { CORE_NODES, helper, LOA_NODES, runtimeErrors, startMosquitto } from './rig.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../flows/examples');
type FlowNode = Record<string, unknown> & { id: string; type: string };
const load = (f: string): FlowNode[] => JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as FlowNode[];
/** The flow as stored (a tab and its nodes, with the shared config nodes). */
const flowOf = (nodes: FlowNode[]): FlowNode[] => nodes;

describe('the example flows', () => {
  let t: TestController;
  let broker: { port: number; stop(): Promise<void> };
  let token = '';
  before(async () => {
    [t, broker] = await Promise.all([startTestController(), startMosquitto()]);
    const as = await seedTree(t, [
      { id: 'X001', parentId: 'T01', level: 'commune', code: 'X001', name: 'Xã Tân Lập' },
      { id: 'X001-C1', parentId: 'X001', level: 'cluster', code: 'C1', name: 'Thôn Đông' },
    ], [['bientap', 'operator', 'X001']], 'examples-password-1');
    t.controller.data.devices.create({ id: 'loa-x001-c1', zoneId: 'X001-C1', name: 'Loa thôn Đông', kind: 'speaker' }, Date.now());
    token = (await as.bientap!.post<{ token: string }>('/api/v1/users/u-bientap/tokens', { name: 'Node-RED' })).token;
  });
  afterEach(async () => helper.unload());
  after(async () => {
    await broker.stop();
    await t.close();
  });

  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();

  it('are four, each a tab of nodes this package and Node-RED core provide, and the assembled package holds them with vi and en help', () => {
    assert.deepEqual(files, ['cap-feed-to-draft-emergency.json', 'device-offline-webhook.json', 'water-level-flood-warning.json', 'weather-morning-bulletin.json']);
    const pkg = assembleNodePackage();
    for (const type of Object.keys(pkg.nodes)) {
      for (const f of [`nodes/${type}.html`, `nodes/locales/vi/${type}.html`, `nodes/locales/en-US/${type}.html`]) {
        assert.match(readFileSync(join(pkg.dir, f), 'utf8'), new RegExp(`data-(template|help)-name="${type}"`), `${f} of ${type}`);
      }
    }
    assert.deepEqual(readdirSync(join(pkg.dir, 'examples')).sort(), files);
  });

  for (const f of files) {
    it(`loads ${f} into the Node-RED runtime without errors`, async () => {
      const flow = flowOf(load(f)).map((n) => (n.type === 'loa-config' ? { ...n, url: t.controller.httpUrl } : n.type === 'mqtt-broker' ? { ...n, port: String(broker.port) } : n));
      await helper.load([...LOA_NODES, ...CORE_NODES], flow, { 'loa-demo-config': { token } });
      for (const n of flow.filter((x) => x.type !== 'tab')) assert.ok(helper.getNode(n.id), `${n.type} ${n.id} started`);
      assert.deepEqual(runtimeErrors(), []);
    });
  }

  it('turns a water-level reading over the threshold, published to a real MQTT broker, into a flood warning order in the controller', async () => {
    const flow = flowOf(load('water-level-flood-warning.json')).map((n) => (n.type === 'loa-config' ? { ...n, url: t.controller.httpUrl } : n.type === 'mqtt-broker' ? { ...n, port: String(broker.port) } : n));
    await helper.load([...LOA_NODES, ...CORE_NODES], flow, { 'loa-demo-config': { token } });
    const sensor = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'tram-01' });
    try {
      // The flow's subscription is up once a retained-free probe round-trips through the broker to it: publish until an order shows.
      await sensor.publishAsync('sensors/water-level/TRAM-01', JSON.stringify({ stationId: 'TRAM-01', levelCm: 200 }), { qos: 1 });
      let orders: { id: string; title: string; status: string; zoneId: string; createdBy: string }[] = [];
      await eventually(async () => {
        await sensor.publishAsync('sensors/water-level/TRAM-01', JSON.stringify({ stationId: 'TRAM-01', levelCm: 372 }), { qos: 1 });
        orders = (await t.admin.get<{ orders: typeof orders }>('/api/v1/emergency')).orders;
        return orders.length > 0;
      }, 15_000, 'an emergency order from the sensor reading');
      assert.equal(orders.length, 1, 'one warning per station per hour, however many readings');
      const o = orders[0]!;
      assert.deepEqual([o.title, o.status, o.zoneId, o.createdBy], ['Cảnh báo lũ: Trạm thủy văn sông Đông', 'active', 'X001', 'u-bientap']);
      const full = await t.admin.get<{ order: { content: { kind: string; text: string }; zones: string[] } }>(`/api/v1/emergency/${o.id}`);
      assert.equal(full.order.content.kind, 'tts');
      assert.match(full.order.content.text, /3,72 mét/);
      assert.deepEqual(runtimeErrors(), []);
    } finally {
      await sensor.endAsync();
    }
  });
});
