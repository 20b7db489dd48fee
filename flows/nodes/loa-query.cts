import { badInput } from './lib/client.cjs';
import { clientOf, onInput, pick, startupCheck } from './lib/kit.cjs';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red.cjs';

const WHAT = ['device', 'devices', 'zone', 'zones', 'emergency'] as const;

/**
 * loa-query: device and zone status from the controller. `device` (one device with its live status and
 * manifest), `devices` (devices of a zone, optionally only offline or online ones), `zone`, `zones`,
 * `emergency` (an order with its progress). The id comes from msg.payload (a string) or the node setting.
 */
export = function register(RED: NodeAPI): void {
  function LoaQuery(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED passes the node as `this`; closures need it
    const node = this;
    startupCheck(RED, node, def);
    onInput<Record<string, unknown>>(node, async (msg) => {
      const api = clientOf(RED, def);
      const what = pick(msg, 'what', def) || 'device';
      if (!(WHAT as readonly string[]).includes(what)) throw badInput(`unknown query ${what} (${WHAT.join(', ')})`, `Truy vấn không hợp lệ: ${what}`);
      const id = typeof msg.payload === 'string' && msg.payload.trim() ? msg.payload.trim() : pick(msg, 'target', def);
      const enc = encodeURIComponent(id);
      switch (what) {
        case 'devices': {
          const online = pick(msg, 'online', def);
          const q = new URLSearchParams({ limit: '1000', ...(id ? { zoneId: id } : {}), ...(online === 'true' || online === 'false' ? { online } : {}) });
          return api.request('GET', `/api/v1/devices?${q.toString()}`);
        }
        case 'zones':
          return api.request('GET', '/api/v1/zones');
        default:
          if (!id) throw badInput(`${what} needs an id (msg.payload or the node setting)`, `Truy vấn ${what} cần mã (msg.payload hoặc cài đặt của nút)`);
          return api.request('GET', what === 'device' ? `/api/v1/devices/${enc}` : what === 'zone' ? `/api/v1/zones/${enc}` : `/api/v1/emergency/${enc}`);
      }
    }, (r) => {
      const list = (r.devices ?? r.zones) as unknown[] | undefined;
      return list ? `${list.length} mục · items` : 'xong · done';
    }, (msg: NodeMessage, r) => ({ ...msg, payload: r }));
  }
  RED.nodes.registerType('loa-query', LoaQuery);
};
