import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceTokenSource, loadIdentity } from '../../../agent/identity.js';
import { ManifestManager } from '../../../agent/manifest/manager.js';
import { MediaStore } from '../../../agent/media/store.js';
import { openDb } from '../../../agent/store/db.js';
import { Outbox } from '../../../agent/store/outbox.js';
import { loadControllerConfig } from '../../../agent/sync/config.js';
import { pairingTicketPath, requestPairing, waitForPairing, type PairingTicket } from '../../../agent/sync/pair.js';
import { pairCommand } from '../../../scripts/cli/agent-pair.js';
import { isLoaError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import type { PairingState } from '../../../shared/schemas/pairing.js';
import { startTestController, type TestController } from '../../support/controller.js';
import { OffsetClock, wrongCode } from '../../support/pairing.js';
import { eventually } from '../../support/wait.js';

const POLL = { min: 50, max: 200 };

const freePort = (): Promise<number> => new Promise((resolve) => {
  const srv = createServer();
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as AddressInfo;
    srv.close(() => resolve(port));
  });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isLoaError(e), `a coded error, got ${String(e)}`);
    return e.code;
  }
  return 'none';
}

function rootVersionIn(dataDir: string): number | undefined {
  const db = openDb({ path: join(dataDir, 'agent.db') });
  try {
    const log = createLogger('test', { level: 'silent' });
    return new ManifestManager({ db, outbox: new Outbox({ db, deviceId: () => 'x' }), media: new MediaStore({ dataDir, db, log, now: Date.now }), log, deviceId: 'x', now: Date.now }).root()?.version;
  } finally {
    db.close();
  }
}

describe('agent pairing (requestPairing, waitForPairing, loa agent pair) against a real controller', () => {
  const clock = new OffsetClock();
  let t: TestController;
  const dirs: string[] = [];
  const dataDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'loa-pair-'));
    dirs.push(d);
    return d;
  };
  const claim = (code: string, extra: Record<string, unknown> = {}): Promise<{ device: { id: string } }> => t.admin.post('/api/v1/pairing/claim', { code, zoneId: 'X1-C1', ...extra });

  before(async () => {
    // Code entries per user are limited (20 a minute); these tests type many codes as one admin.
    t = await startTestController({ pairing: { claimsPerMinute: 1000 } }, { clock });
    await t.admin.post('/api/v1/zones', { id: 'X1', parentId: 'T01', level: 'commune', code: 'X1', name: 'Xã Một' });
    await t.admin.post('/api/v1/zones', { id: 'X1-C1', parentId: 'X1', level: 'cluster', code: 'C1', name: 'Cụm thôn Đông' });
  });
  after(async () => {
    await t.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('makes the key, asks for a code, saves the ticket (0600), and shows the same code after a restart', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, hardwareProfile: 'sim-file-sink', agentVersion: '0.1.0' });
    assert.match(ticket.code, /^[2-9A-Z]{4}-[2-9A-Z]{4}$/);
    assert.equal(ticket.pairUrl, `${t.controller.httpUrl}/pair?code=${ticket.code}`);
    assert.deepEqual(Object.keys(ticket).sort(), ['code', 'expiresAt', 'pairUrl', 'pairingId']);
    assert.equal(statSync(join(dir, 'device.key')).mode & 0o777, 0o600);
    assert.equal(statSync(pairingTicketPath(dir)).mode & 0o777, 0o600);
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'written atomically');

    const again = await requestPairing({ dataDir: dir, controllerUrl: `${t.controller.httpUrl}/` });
    assert.deepEqual(again, ticket, 'a restart shows the same code');
    const pending = (await t.admin.get<{ pending: { pairingId: string; hardwareProfile: string; hardware: { cpus?: number } }[] }>('/api/v1/pairing?zoneId=X1')).pending.filter((p) => p.pairingId === ticket.pairingId);
    assert.equal(pending.length, 1, 'one request on the controller');
    assert.equal(pending[0]!.hardwareProfile, 'sim-file-sink');
    assert.ok((pending[0]!.hardware.cpus ?? 0) >= 1, 'the hardware summary was sent');
  });

  it('waits until the code is claimed, then writes device.json, controller.json and the root, removes pairing.json, and the device can fetch its manifest', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    const states: PairingState[] = [];
    const waiting = waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(15_000), onState: (s) => states.push(s) });
    await eventually(() => states.includes('pending'), 5000, 'the first poll');
    const { device } = await claim(ticket.code);
    const res = await waiting;
    assert.deepEqual(states, ['pending', 'paired']);
    assert.deepEqual([res.deviceId, res.zoneId, res.controllerUrl, res.mqttUrl], [device.id, 'X1-C1', t.controller.httpUrl, t.controller.mqttUrl]);
    assert.equal(loadIdentity(dir).deviceId, device.id);
    assert.deepEqual(loadControllerConfig(dir), { controllerUrl: t.controller.httpUrl, mqttUrl: t.controller.mqttUrl, zoneId: 'X1-C1' });
    assert.equal(rootVersionIn(dir), res.root.signed.version);
    assert.ok(!existsSync(pairingTicketPath(dir)));

    const token = deviceTokenSource(dir, device.id, Date.now);
    await eventually(async () => (await fetch(`${t.controller.httpUrl}/api/v1/devices/${device.id}/manifest`, { headers: { authorization: `Bearer ${token()}` } })).status === 200, 5000, 'the manifest');
  });

  it('throws LOA_ERR_PAIRING_EXPIRED for an expired code and forgets it, so the next request gets a new code', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    clock.offsetMs = 16 * 60_000;
    try {
      // The device's clock agrees with the controller's here (tokens are checked against it).
      const now = (): number => Date.now() + clock.offsetMs;
      assert.equal(await codeOf(waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(15_000), now })), 'LOA_ERR_PAIRING_EXPIRED');
      assert.ok(!existsSync(pairingTicketPath(dir)));
      const next = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, now });
      assert.notEqual(next.pairingId, ticket.pairingId);
    } finally {
      clock.offsetMs = 0;
    }
  });

  it('throws LOA_ERR_PAIRING_LOCKED once 20 wrong codes were typed', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    for (let n = 0; n < 20; n++) await assert.rejects(claim(wrongCode(ticket.code, n)), /LOA_ERR_PAIRING_CODE/);
    assert.equal(await codeOf(waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(10_000) })), 'LOA_ERR_PAIRING_LOCKED');
    assert.ok(!existsSync(pairingTicketPath(dir)));
  });

  it('stops with LOA_ERR_PAIRING_CANCELLED on abort and keeps the ticket for the next run', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    assert.equal(await codeOf(waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(300) })), 'LOA_ERR_PAIRING_CANCELLED');
    assert.ok(existsSync(pairingTicketPath(dir)));
  });

  it('pairs a device whose clock is two hours off, correcting from the controller\'s Date header', async () => {
    const dir = dataDir();
    const now = (): number => Date.now() - 2 * 3_600_000;
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, now });
    const states: PairingState[] = [];
    const waiting = waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(15_000), now, onState: (s) => states.push(s) });
    await eventually(() => states.includes('pending'), 5000, 'a poll that the controller accepts');
    await claim(ticket.code);
    assert.equal((await waiting).zoneId, 'X1-C1');
  });

  it('keeps trying while the controller cannot be reached, and gives up once the code would have expired', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    let calls = 0;
    const down: typeof fetch = () => {
      calls++;
      return Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    };
    const expired: PairingTicket = { ...ticket, expiresAt: new Date(Date.now() - 61_000).toISOString() };
    assert.equal(await codeOf(waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket: expired, pollMs: POLL, signal: AbortSignal.timeout(15_000), fetch: down })), 'LOA_ERR_PAIRING_EXPIRED');
    assert.equal(calls, 1);
    const unreachable = await codeOf(requestPairing({ dataDir: dataDir(), controllerUrl: 'http://127.0.0.1:9', hardware: null }));
    assert.equal(unreachable, 'LOA_ERR_PAIRING_FAILED');
  });

  it('refuses a revoked key with LOA_ERR_PAIRING_KEY_REVOKED; --new-key retires it and pairs again as the same device', async () => {
    const dir = dataDir();
    const ticket = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl });
    const { device } = await claim(ticket.code);
    await waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket, pollMs: POLL, signal: AbortSignal.timeout(15_000) });
    await t.admin.post(`/api/v1/devices/${device.id}/revoke`);
    const oldKey = readFileSync(join(dir, 'device.key'), 'utf8');
    assert.equal(await codeOf(requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl })), 'LOA_ERR_PAIRING_KEY_REVOKED');

    const fresh = await requestPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, newKey: true });
    assert.notEqual(readFileSync(join(dir, 'device.key'), 'utf8'), oldKey);
    assert.ok(readdirSync(dir).some((f) => f.startsWith('device.key.old-')), 'the old key is kept aside');
    await claim(fresh.code, { zoneId: undefined, replaceDeviceId: device.id });
    const res = await waitForPairing({ dataDir: dir, controllerUrl: t.controller.httpUrl, ticket: fresh, pollMs: POLL, signal: AbortSignal.timeout(15_000) });
    assert.equal(res.deviceId, device.id);
    assert.equal(loadIdentity(dir).keyid, (await t.admin.get<{ device: { keyid: string } }>(`/api/v1/devices/${device.id}`)).device.keyid);
  });

  it('loa agent pair shows the code large with a QR code, waits, and prints the result; --no-wait prints the ticket', async () => {
    const dir = dataDir();
    const shown: string[] = [];
    const out = (s: string): void => {
      shown.push(s);
    };
    const ticket = await pairCommand({ dataDir: dir, controller: t.controller.httpUrl, wait: false, uiPort: '0', uiHost: '127.0.0.1', out });
    const text = shown.join('\n');
    assert.ok(text.includes('MÃ GHÉP NỐI'), 'Vietnamese first');
    assert.ok(text.includes('█'), 'the code in block letters');
    assert.ok(/[▀▄█]/.test(text.split(String(ticket.pairUrl))[0]!), 'a QR code');
    assert.ok(text.includes(String(ticket.pairUrl)));

    shown.length = 0;
    const uiPort = await freePort();
    const waiting = pairCommand({ dataDir: dir, controller: t.controller.httpUrl, wait: true, timeout: '20', uiPort: String(uiPort), uiHost: '127.0.0.1', out, pollMs: POLL });
    await eventually(() => shown.some((l) => l.includes('(waiting')), 5000, 'the pending line');
    // While it waits, the local page shows the same code.
    const page = await (await fetch(`http://127.0.0.1:${uiPort}/status.json`)).json() as { state: string; pairing: { code: string } };
    assert.deepEqual([page.state, page.pairing.code], ['pairing', ticket.code]);
    assert.ok(shown.some((l) => l.includes(`http://127.0.0.1:${uiPort}`)), 'the page address is shown');
    const { device } = await claim(String(ticket.code));
    const res = await waiting;
    assert.deepEqual([res.paired, res.deviceId, res.zoneId], [true, device.id, 'X1-C1']);
    assert.ok(shown.some((l) => l.includes('Đã ghép nối')));
    assert.ok(!JSON.stringify(res).includes('BEGIN'), 'no key material in the result');
  });
});
