import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import QRCode from 'qrcode';

/**
 * What the device's local page shows (DESIGN §4 `local-ui`). Only these fields ever leave the device through
 * it: never a key, a token or a file path. The pairing code is shown on purpose: the technician on site reads
 * it (or scans its QR code) to pair the device, and it is useless without a technician account.
 */
export interface LocalUiStatus {
  /** 'pairing' while a code is shown, 'paired' once enrolled, 'unpaired' before a code was asked for. */
  state: 'unpaired' | 'pairing' | 'paired' | 'error';
  deviceId?: string | null;
  pairing?: { code: string; pairUrl: string; expiresAt: string } | null;
  manifestVersion?: number | null;
  /** Plain health figures: name → value. */
  health?: Record<string, string | number | boolean | null>;
  /** A short line for the technician, e.g. the last error code. */
  message?: string | null;
}

export interface LocalUiOptions {
  /** 0 = any free port. */
  port: number;
  host?: string;
  getStatus: () => LocalUiStatus | Promise<LocalUiStatus>;
}

export interface LocalUi {
  url: string;
  port: number;
  close(): Promise<void>;
}

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const esc = (s: string | number | boolean | null | undefined): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Vietnam time (UTC+7, no DST) without Intl, which the agent does not load. */
const hanoiTime = (iso: string): string => {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? `${new Date(ms + 7 * 3_600_000).toISOString().slice(11, 16)} (giờ Việt Nam)` : '—';
};

const STATE_VI: Record<LocalUiStatus['state'], string> = {
  unpaired: 'Chưa ghép nối', pairing: 'Đang chờ ghép nối', paired: 'Đã ghép nối', error: 'Có lỗi',
};

const HEALTH_VI: Record<string, string> = {
  uptimeS: 'Thời gian chạy (giây)', online: 'Kết nối hệ thống', tempC: 'Nhiệt độ (°C)', diskFreeMb: 'Dung lượng trống (MB)',
  memFreeMb: 'Bộ nhớ trống (MB)', agentVersion: 'Phiên bản phần mềm', hardwareProfile: 'Cấu hình phần cứng', controller: 'Hệ thống điều khiển',
};

/** Only the documented fields, with plain values: whatever else getStatus returns stays on the device. */
function publicStatus(s: LocalUiStatus): LocalUiStatus & { at: string } {
  const health: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(s.health ?? {})) {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') health[k.slice(0, 40)] = v;
    else if (typeof v === 'string') health[k.slice(0, 40)] = v.slice(0, 200);
  }
  return {
    state: s.state,
    deviceId: s.deviceId ?? null,
    pairing: s.pairing ? { code: s.pairing.code, pairUrl: s.pairing.pairUrl, expiresAt: s.pairing.expiresAt } : null,
    manifestVersion: s.manifestVersion ?? null,
    health,
    message: s.message ? s.message.slice(0, 300) : null,
    at: new Date().toISOString(),
  };
}

async function page(s: LocalUiStatus): Promise<string> {
  const qr = s.pairing ? await QRCode.toString(s.pairing.pairUrl, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }) : '';
  const rows = Object.entries(s.health ?? {}).map(([k, v]) => `<tr><th>${esc(HEALTH_VI[k] ?? k)}</th><td>${esc(v === null ? '—' : v)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="5"><title>Loa phường — thiết bị</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
header{background:#b3261e;color:#fff;padding:.8rem 1.2rem}main{padding:1.2rem;max-width:640px;margin:auto}
.code{font:700 2.6rem/1.2 ui-monospace,monospace;letter-spacing:.18em;background:#fff;border:3px solid #1b1f24;padding:.6rem 1rem;display:inline-block}
.qr{width:240px;max-width:80vw;background:#fff;margin:1rem 0}.qr svg{width:100%;height:auto}
table{border-collapse:collapse;background:#fff;width:100%}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e3e5e8}
small{color:#5f6368}.msg{color:#a50e0e}
</style></head><body>
<header><strong>Loa phường — thiết bị</strong> <small style="color:#fde">(device)</small></header>
<main>
<p>Trạng thái: <strong>${esc(STATE_VI[s.state])}</strong> <small>(${esc(s.state)})</small></p>
${s.deviceId ? `<p>Mã thiết bị: <strong>${esc(s.deviceId)}</strong> <small>(device id)</small></p>` : ''}
${s.pairing ? `<h2>Mã ghép nối <small>(pairing code)</small></h2>
<p class="code">${esc(s.pairing.code)}</p>
<div class="qr">${qr}</div>
<p>Quét mã QR hoặc đăng nhập trang quản trị và nhập mã trên. <small>Scan the QR code, or sign in to the controller and type the code.</small></p>
<p><small>${esc(s.pairing.pairUrl)}</small></p>
<p>Mã hết hạn lúc ${esc(hanoiTime(s.pairing.expiresAt))}.</p>` : ''}
<p>Phiên bản lịch phát: <strong>${s.manifestVersion ? esc(s.manifestVersion) : 'chưa có'}</strong> <small>(manifest version)</small></p>
${rows ? `<h2>Tình trạng <small>(health)</small></h2><table>${rows}</table>` : ''}
${s.message ? `<p class="msg">${esc(s.message)}</p>` : ''}
<p><small>Trang chỉ để xem; tự làm mới mỗi 5 giây. Read-only; refreshes every 5 s. <a href="/status.json">status.json</a></small></p>
</main></body></html>`;
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/**
 * The device's small local web page, on its LAN or hotspot (DESIGN §4): `/` (Vietnamese first: the device id
 * or the pairing code with its QR code as inline SVG, the manifest version, health) and `/status.json`.
 * Read-only: GET and HEAD only, no forms, no scripts, no secrets.
 */
export async function startLocalUi(o: LocalUiOptions): Promise<LocalUi> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Chỉ xem (GET). Read-only.\n', false);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/' && path !== '/status.json') {
      send(res, 404, 'text/plain; charset=utf-8', 'Không tìm thấy. Not found.\n', head);
      return;
    }
    try {
      const s = publicStatus(await o.getStatus());
      if (path === '/status.json') send(res, 200, 'application/json; charset=utf-8', JSON.stringify(s) + '\n', head);
      else send(res, 200, 'text/html; charset=utf-8', await page(s), head);
    } catch {
      send(res, 500, 'text/plain; charset=utf-8', 'Lỗi nội bộ. Internal error.\n', head);
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = !o.host || o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
