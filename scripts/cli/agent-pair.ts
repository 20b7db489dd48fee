import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import QRCode from 'qrcode';
import { loadProfile } from '../../agent/config/profile.js';
import { startLocalUi, type LocalUi, type LocalUiStatus } from '../../agent/local-ui/server.js';
import { requestPairing, waitForPairing, type PairingTicket } from '../../agent/sync/pair.js';
import { isLoaError, LoaError, messageVi } from '../../shared/errors.js';
import type { PairingState } from '../../shared/schemas/pairing.js';
import { bigText } from './big-text.js';

export interface PairCliOptions {
  dataDir: string;
  controller: string;
  profile?: string;
  wait: boolean;
  timeout?: string;
  uiPort: string;
  uiHost: string;
  newKey?: boolean;
  /** Where the human-readable display goes (default stderr, so that stdout holds only the JSON result). */
  out?: (text: string) => void;
  fetch?: typeof fetch;
  /** Poll bounds, for tests. */
  pollMs?: { min?: number; max?: number };
}

/** The page's address as a phone on the LAN or hotspot sees it (every IPv4 address when bound to all). */
function pageUrls(ui: LocalUi, host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return ui.url;
  const lan = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => `http://${a.address}:${ui.port}`);
  return lan.length ? lan.join('  ') : ui.url;
}

const hanoiTime = (iso: string): string => `${new Date(Date.parse(iso) + 7 * 3_600_000).toISOString().slice(11, 16)}`;
const STATE_VI: Record<PairingState, string> = {
  pending: 'đang chờ kỹ thuật viên nhập mã (waiting for the code to be entered)',
  paired: 'đã ghép nối (paired)',
  expired: 'mã đã hết hạn (code expired)',
  locked: 'bị khóa do nhập sai quá nhiều lần (locked: too many wrong codes)',
};

async function show(ticket: PairingTicket, out: (t: string) => void, uiUrl: string | null): Promise<void> {
  const qr = await QRCode.toString(ticket.pairUrl, { type: 'terminal', small: true });
  out([
    '',
    '  MÃ GHÉP NỐI THIẾT BỊ  (device pairing code)',
    '',
    bigText(ticket.code),
    '',
    `      ${ticket.code.split('').join(' ')}`,
    '',
    `  Hết hạn lúc ${hanoiTime(ticket.expiresAt)} giờ Việt Nam (expires ${ticket.expiresAt}).`,
    '  Quét mã QR hoặc đăng nhập trang quản trị và nhập mã trên, chọn cụm loa cho thiết bị.',
    '  (Scan the QR code, or sign in to the controller, type the code and pick the cluster.)',
    '',
    qr.replace(/^/gm, '  '),
    `  ${ticket.pairUrl}`,
    ...(uiUrl ? [`  Trang trên thiết bị (device page): ${uiUrl}`] : []),
    '',
  ].join('\n'));
}

/**
 * `loa agent pair`: asks the controller for a pairing code, shows it (large, with a QR code, and on the local
 * page), then waits until a technician has entered it and completes enrollment. An expired code is renewed
 * automatically; a locked one is not (someone typed 20 wrong codes: look into it, then run again).
 * Resolves with the JSON result that is printed on stdout.
 */
export async function pairCommand(o: PairCliOptions): Promise<Record<string, unknown>> {
  const out = o.out ?? ((t: string) => process.stderr.write(`${t}\n`));
  const profileName = o.profile && o.profile.endsWith('.json') && existsSync(o.profile) ? loadProfile(o.profile).id : o.profile;
  const ask = (newKey: boolean): Promise<PairingTicket> => requestPairing({
    dataDir: o.dataDir, controllerUrl: o.controller, ...(profileName ? { hardwareProfile: profileName } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}), ...(newKey ? { newKey } : {}),
  });
  let ticket = await ask(o.newKey === true);
  if (!o.wait) {
    await show(ticket, out, null);
    return { ...ticket };
  }
  const timeoutS = o.timeout === undefined ? undefined : Number(o.timeout);
  if (timeoutS !== undefined && (!Number.isFinite(timeoutS) || timeoutS <= 0)) throw new LoaError('LOA_ERR_CONFIG_INVALID', `--timeout must be a number of seconds, not ${o.timeout}`);
  const uiPort = Number(o.uiPort);
  if (!Number.isInteger(uiPort) || uiPort < 0 || uiPort > 65535) throw new LoaError('LOA_ERR_CONFIG_INVALID', `--ui-port must be a port number (0 = no page), not ${o.uiPort}`);

  let status: LocalUiStatus = { state: 'pairing', pairing: ticket, health: { controller: new URL(o.controller).origin, ...(profileName ? { hardwareProfile: profileName } : {}) } };
  let ui: LocalUi | null = null;
  if (uiPort !== 0) {
    try {
      ui = await startLocalUi({ port: uiPort, host: o.uiHost, getStatus: () => status });
    } catch (e) {
      out(`  ! Không mở được trang trên thiết bị (local page not started): ${(e as Error).message}`);
    }
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const signal = timeoutS ? AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutS * 1000)]) : stop.signal;
  try {
    await show(ticket, out, ui ? pageUrls(ui, o.uiHost) : null);
    for (;;) {
      try {
        const res = await waitForPairing({
          dataDir: o.dataDir, controllerUrl: o.controller, ticket, signal, ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.pollMs ? { pollMs: o.pollMs } : {}),
          onState: (state) => out(`  [${new Date().toISOString().slice(11, 19)}Z] ${STATE_VI[state]}`),
        });
        status = { state: 'paired', deviceId: res.deviceId, health: { ...status.health } };
        out(`\n  ✔ Đã ghép nối: thiết bị ${res.deviceId}, cụm ${res.zoneId}. Chạy \`loa agent run\` để bắt đầu đồng bộ.\n    (Paired as ${res.deviceId} in ${res.zoneId}; \`loa agent run\` now syncs with the controller.)\n`);
        return { paired: true, deviceId: res.deviceId, zoneId: res.zoneId, controllerUrl: res.controllerUrl, mqttUrl: res.mqttUrl, rootVersion: res.root.signed.version };
      } catch (e) {
        if (isLoaError(e) && e.code === 'LOA_ERR_PAIRING_EXPIRED' && !signal.aborted) {
          out(`  ${messageVi(e.code)} — đang xin mã mới (asking for a new code)…`);
          ticket = await ask(false);
          status = { ...status, pairing: ticket };
          await show(ticket, out, ui ? pageUrls(ui, o.uiHost) : null);
          continue;
        }
        if (isLoaError(e)) status = { ...status, state: 'error', pairing: null, message: `${e.code}: ${messageVi(e.code)}` };
        throw e;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await ui?.close();
  }
}
