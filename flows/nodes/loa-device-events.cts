import { problemStatus } from './lib/client.cjs';
import { clientOf, idList } from './lib/kit.cjs';
import type { Node, NodeAPI, NodeDef } from './lib/red.cjs';
import { followStream } from './lib/sse.cjs';

const TYPES = ['device.status', 'device.event', 'emergency.progress'];

/**
 * loa-device-events: the controller's live event stream (device status, proof-of-play and other device events,
 * emergency progress), for the zones the token's user may see. One message per event: msg.topic is the event
 * name, msg.payload its data. Reconnects by itself; its status says whether it is connected.
 */
export = function register(RED: NodeAPI): void {
  function LoaDeviceEvents(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED passes the node as `this`; closures need it
    const node = this;
    const types = idList(def.types).filter((t) => TYPES.includes(t));
    const zone = typeof def.zone === 'string' ? def.zone.trim() : '';
    const q = new URLSearchParams({ ...(types.length && types.length < TYPES.length ? { types: types.join(',') } : {}), ...(zone ? { zone } : {}) }).toString();
    let stop: (() => void) | null = null;
    try {
      const api = clientOf(RED, def);
      node.status({ fill: 'yellow', shape: 'ring', text: 'đang kết nối · connecting' });
      let count = 0;
      stop = followStream(api, `/api/v1/events/stream${q ? `?${q}` : ''}`, {
        event: (name, data) => {
          count++;
          node.send({ topic: name, payload: data });
          if (count === 1 || count % 50 === 0) node.status({ fill: 'green', shape: 'dot', text: `đã kết nối · connected (${count})` });
        },
        state: (s) => {
          if (s.connected) node.status({ fill: 'green', shape: 'dot', text: 'đã kết nối · connected' });
          else {
            node.status(problemStatus(s.problem));
            node.warn(`${s.problem.en} — ${s.problem.vi}; retry in ${Math.round(s.retryMs / 1000)} s`);
          }
        },
      });
    } catch (e) {
      node.status({ fill: 'red', shape: 'ring', text: 'Chưa cấu hình · not configured' });
      node.error(e instanceof Error ? e.message : String(e));
    }
    node.on('close', (_removed, done) => {
      stop?.();
      done();
    });
  }
  RED.nodes.registerType('loa-device-events', LoaDeviceEvents);
};
