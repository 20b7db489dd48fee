import { badInput } from './lib/client.cjs';
import { clientOf, idList, onInput, pick, startupCheck } from './lib/kit.cjs';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red.cjs';

interface SendResult { order: { id: string; status: string; title: string }; approvalRequired?: boolean; published?: number; action?: string; orderId?: string }

/**
 * loa-emergency: starts an emergency order (preview → the confirmation code → send), cancels one, or posts a
 * CAP alert. The controller decides whether the order goes out at once or waits for a second person's
 * approval (approval zones, Severe CAP alerts): the output says which.
 */
export = function register(RED: NodeAPI): void {
  function LoaEmergency(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED passes the node as `this`; closures need it
    const node = this;
    startupCheck(RED, node, def);
    onInput<SendResult>(node, async (msg) => {
      const api = clientOf(RED, def);
      const action = pick(msg, 'action', def) || 'start';
      if (action === 'cancel') {
        const id = pick(msg, 'orderId', def);
        if (!id) throw badInput('cancel needs msg.orderId', 'Hủy lệnh cần msg.orderId');
        return api.request<SendResult>('POST', `/api/v1/emergency/${encodeURIComponent(id)}/cancel`, {});
      }
      if (action === 'cap') {
        if (typeof msg.payload !== 'string' || !msg.payload.includes('<alert')) throw badInput('cap needs the CAP 1.2 XML in msg.payload', 'Cảnh báo CAP cần nội dung XML trong msg.payload');
        return api.request<SendResult>('POST', '/api/v1/cap', msg.payload, { contentType: 'application/cap+xml' });
      }
      if (action !== 'start') throw badInput(`unknown action ${action} (start, cancel, cap)`, `Thao tác không hợp lệ: ${action} (start, cancel, cap)`);
      const p = typeof msg.payload === 'object' && msg.payload !== null ? (msg.payload as Record<string, unknown>) : {};
      const zones = idList(p.zones ?? msg.zones ?? def.zones);
      const devices = idList(p.devices ?? msg.devices);
      const text = typeof msg.payload === 'string' ? msg.payload.trim() : pick(msg, 'text', def);
      const mediaId = pick(msg, 'mediaId', def);
      const title = pick(msg, 'title', def) || 'Cảnh báo khẩn cấp';
      if (zones.length + devices.length === 0) throw badInput('give target zones (node setting or msg.payload.zones)', 'Hãy chọn vùng nhận (cài đặt của nút hoặc msg.payload.zones)');
      if (!text && !mediaId) throw badInput('give the text to speak (msg.payload) or a mediaId', 'Hãy nhập nội dung cần đọc (msg.payload) hoặc mediaId');
      const num = (k: string): number | undefined => {
        const v = Number(pick(msg, k, def));
        return pick(msg, k, def) !== '' && Number.isInteger(v) ? v : undefined;
      };
      const preview = await api.request<{ confirmCode: string; targetedDevices: number }>('POST', '/api/v1/emergency/preview', { zones, ...(devices.length ? { devices } : {}) });
      const volume = num('volume');
      const body = {
        title, zones, ...(devices.length ? { devices } : {}),
        content: mediaId ? { kind: 'media', mediaId } : { kind: 'tts', text },
        repeat: num('repeat') ?? 1, ttlMinutes: num('ttlMinutes') ?? 60, ...(volume !== undefined ? { volume } : {}),
        confirm: preview.confirmCode,
      };
      return api.request<SendResult>('POST', '/api/v1/emergency', body);
    }, (r) => {
      const id = r.order?.id ?? r.orderId ?? '';
      if (r.approvalRequired || r.order?.status === 'pending_approval' || r.action === 'pending') return `chờ duyệt · awaiting approval ${id}`;
      if (r.order?.status === 'cancelled') return `đã hủy · cancelled ${id}`;
      return `đã gửi · sent ${id}${r.published !== undefined ? ` (${r.published})` : ''}`;
    }, (msg: NodeMessage, r) => ({ ...msg, payload: r, orderId: r.order?.id ?? r.orderId }));
  }
  RED.nodes.registerType('loa-emergency', LoaEmergency);
};
