import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { SystemClock } from '../../shared/clock.js';
import { signBytes } from '../../shared/crypto.js';
import { makeDeviceToken } from '../../shared/device-token.js';
import { ERRORS, LoaError, type ErrorCode } from '../../shared/errors.js';
import { pairUrlOf, pairingProofMessage } from '../../shared/pairing.js';
import { IsoDateTime, Id, KeyId } from '../../shared/schemas/common.js';
import { PairingCode, PairingStatus, PairingTicketResponse, type HardwareSummary, type PairingState } from '../../shared/schemas/pairing.js';
import type { EnrollResponse } from '../../shared/schemas/telemetry.js';
import { checker, parseJsonText } from '../../shared/validate.js';
import { ensureKey } from '../identity.js';
import { controllerConfigChecker } from './config.js';
import { completeEnrollment } from './enroll.js';
import { collectHardwareSummary } from './hardware-summary.js';
import { postJson, readCapped, responseError, type FetchFn } from './http.js';

/** What the device shows while it waits: the code, and the URL its QR code encodes. */
export interface PairingTicket {
  pairingId: string;
  code: string;
  /** ISO date-time. */
  expiresAt: string;
  /** `${controllerUrl}/pair?code=XXXX-XXXX`: what the QR code encodes. */
  pairUrl: string;
}

export interface RequestPairingOptions {
  dataDir: string;
  controllerUrl: string;
  /** Hardware profile id, sent so that the technician sees what kind of receiver this is. */
  hardwareProfile?: string;
  agentVersion?: string;
  fetch?: FetchFn;
  /** What the device says about its hardware (default: read from the system; null: send nothing). */
  hardware?: HardwareSummary | null;
  /** Retire the current key (kept as device.key.old-<time>) and make a new one first: after a revocation. */
  newKey?: boolean;
  now?: () => number;
  timeoutMs?: number;
}

export interface WaitForPairingOptions {
  dataDir: string;
  controllerUrl: string;
  ticket: PairingTicket;
  signal?: AbortSignal;
  onState?: (state: PairingState) => void;
  fetch?: FetchFn;
  /** Poll interval bounds (default: the controller's pollAfterMs, growing to 10 s; errors back off to 30 s). */
  pollMs?: { min?: number; max?: number };
  now?: () => number;
}

// pairing.json: the ticket, plus what makes it ours (controller and key), so a restart shows the same code.
const StoredTicket = Type.Object(
  { pairingId: Id, code: PairingCode, expiresAt: IsoDateTime, pairUrl: Type.String({ maxLength: 2100 }), controllerUrl: Type.String({ maxLength: 2048 }), keyid: KeyId, clockOffsetMs: Type.Optional(Type.Integer()) },
  { additionalProperties: false, title: 'pairing ticket file' },
);
type StoredTicket = Static<typeof StoredTicket>;
const storedChecker = checker(StoredTicket, 'LOA_ERR_CONFIG_INVALID');
const ticketChecker = checker(PairingTicketResponse, 'LOA_ERR_PAIRING_FAILED');
const statusChecker = checker(PairingStatus, 'LOA_ERR_PAIRING_FAILED');
const KNOWN_CODES = Object.keys(ERRORS) as ErrorCode[];
const MAX_BODY = 1024 * 1024;
/** A saved ticket is shown again only while it has at least this long to live. */
const MIN_REMAINING_MS = 30_000;

export const pairingTicketPath = (dataDir: string): string => join(dataDir, 'pairing.json');

function baseUrl(controllerUrl: string): URL {
  try {
    const u = new URL(controllerUrl.endsWith('/') ? controllerUrl : `${controllerUrl}/`);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
    return u;
  } catch (e) {
    throw new LoaError('LOA_ERR_PAIRING_FAILED', `the controller URL "${controllerUrl.slice(0, 200)}" is not an http(s) URL`, { cause: e });
  }
}

function readPem(dataDir: string): string {
  const p = join(dataDir, 'device.key');
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new LoaError('LOA_ERR_KEY_FILE', `the device key ${p} cannot be read: ${(e as Error).message}`, { cause: e });
  }
}

/** The saved ticket, or null when there is none or it cannot be read (then a new one is asked for). */
export function readSavedTicket(dataDir: string): StoredTicket | null {
  const p = pairingTicketPath(dataDir);
  if (!existsSync(p)) return null;
  try {
    return storedChecker.parse(parseJsonText(readFileSync(p), 64 * 1024, p), p);
  } catch {
    return null;
  }
}

function saveTicket(dataDir: string, t: StoredTicket): void {
  const p = pairingTicketPath(dataDir);
  // The code is what a technician types: mode 0600, like the key, and written atomically.
  writeFileSync(`${p}.tmp`, JSON.stringify(storedChecker.parse(t, 'pairing ticket'), null, 2) + '\n', { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}

export function clearSavedTicket(dataDir: string): void {
  rmSync(pairingTicketPath(dataDir), { force: true });
}

const ticketOf = (t: StoredTicket): PairingTicket => ({ pairingId: t.pairingId, code: t.code, expiresAt: t.expiresAt, pairUrl: t.pairUrl });

/** Server time minus device time, from the Date header, when the two differ by more than a minute (else 0). */
function clockOffset(res: Response, deviceNow: number): number {
  const server = Date.parse(res.headers.get('date') ?? '');
  if (!Number.isFinite(server)) return 0;
  const off = server - deviceNow;
  return Math.abs(off) > 60_000 ? off : 0;
}

/**
 * `POST {controller}/api/v1/pairing`: asks for a pairing code, with a proof that this device holds its key
 * (made here if missing). The ticket is saved to `<dataDir>/pairing.json`, so that a restart shows the same
 * code until it expires. A device whose clock is more than 5 minutes off is corrected once from the
 * controller's Date header. Errors are coded: the controller's own code for refusals it explains
 * (LOA_ERR_PAIRING_KEY_REVOKED, LOA_ERR_RATE_LIMITED, …), LOA_ERR_PAIRING_FAILED otherwise.
 */
export async function requestPairing(o: RequestPairingOptions): Promise<PairingTicket> {
  const base = baseUrl(o.controllerUrl);
  const controllerUrl = base.href.replace(/\/+$/, '');
  const now = o.now ?? Date.now;
  if (o.newKey) retireKey(o.dataDir, now());
  const key = ensureKey(o.dataDir);
  const saved = readSavedTicket(o.dataDir);
  if (saved && saved.controllerUrl === controllerUrl && saved.keyid === key.keyid && Date.parse(saved.expiresAt) - (now() + (saved.clockOffsetMs ?? 0)) > MIN_REMAINING_MS) {
    return ticketOf(saved);
  }
  const pem = readPem(o.dataDir);
  const hardware = o.hardware === undefined ? collectHardwareSummary() : o.hardware;
  const request: Record<string, unknown> = {
    publicKey: key.publicKey,
    ...(o.hardwareProfile ? { hardwareProfile: o.hardwareProfile } : {}),
    ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}),
    ...(hardware && Object.keys(hardware).length ? { hardware } : {}),
  };
  const url = new URL('api/v1/pairing', base);
  let offset = 0;
  for (let attempt = 0; ; attempt++) {
    const at = now() + offset;
    const body = { ...request, proof: { at, sig: signBytes(pem, pairingProofMessage(request, at)) } };
    const res = await postJson(url, body, { fetch: o.fetch, timeoutMs: o.timeoutMs, code: 'LOA_ERR_PAIRING_FAILED' });
    if (res.status >= 400 && res.status < 500) {
      const err = await responseError(res, url, 'LOA_ERR_PAIRING_FAILED', KNOWN_CODES);
      const correction = clockOffset(res, now());
      if (err.code === 'LOA_ERR_PAIRING_CLOCK' && attempt === 0 && correction !== 0) {
        offset = correction;
        continue;
      }
      throw err;
    }
    if (res.status !== 201 && res.status !== 200) throw await responseError(res, url, 'LOA_ERR_PAIRING_FAILED');
    const parsed = ticketChecker.parse(parseJsonText(await readCapped(res, MAX_BODY, 'pairing answer', 'LOA_ERR_PAIRING_FAILED'), MAX_BODY, 'pairing answer', 'LOA_ERR_PAIRING_FAILED'), 'pairing answer');
    const stored: StoredTicket = {
      pairingId: parsed.pairingId, code: parsed.code, expiresAt: parsed.expiresAt, pairUrl: pairUrlOf(controllerUrl, parsed.code),
      controllerUrl, keyid: key.keyid, ...(offset ? { clockOffsetMs: Math.round(offset) } : {}),
    };
    saveTicket(o.dataDir, stored);
    return ticketOf(stored);
  }
}

/** After a revocation the old key is refused for good: keep it aside (never deleted by us) and start afresh. */
function retireKey(dataDir: string, now: number): void {
  const p = join(dataDir, 'device.key');
  if (existsSync(p)) renameSync(p, `${p}.old-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
  clearSavedTicket(dataDir);
}

const cancelled = (signal: AbortSignal | undefined): LoaError =>
  new LoaError('LOA_ERR_PAIRING_CANCELLED', `stopped waiting for pairing${signal?.reason instanceof Error && signal.reason.name === 'TimeoutError' ? ' (timed out)' : ''}`, { cause: signal?.reason });

/**
 * Polls `GET {controller}/api/v1/pairing/:id` (signed with the device key) until a technician has claimed the
 * code, then completes enrollment exactly as `loa agent enroll` does (trust root, device.json,
 * controller.json) and deletes pairing.json. 'expired' and 'locked' throw LOA_ERR_PAIRING_EXPIRED or
 * LOA_ERR_PAIRING_LOCKED (ask for a new code); an abort throws LOA_ERR_PAIRING_CANCELLED. While the controller
 * cannot be reached it keeps trying, with backoff, until the code would have expired.
 */
export async function waitForPairing(o: WaitForPairingOptions): Promise<EnrollResponse> {
  const url = new URL(`api/v1/pairing/${encodeURIComponent(o.ticket.pairingId)}`, baseUrl(o.controllerUrl));
  const now = o.now ?? Date.now;
  const clock = new SystemClock();
  const pem = readPem(o.dataDir);
  const expiresAt = Date.parse(o.ticket.expiresAt);
  const maxPoll = o.pollMs?.max ?? 10_000;
  let offset = readSavedTicket(o.dataDir)?.clockOffsetMs ?? 0;
  let interval = o.pollMs?.min ?? 3000;
  let errorDelay = 0;
  let last: PairingState | null = null;
  const terminal = (code: ErrorCode, message: string): LoaError => {
    clearSavedTicket(o.dataDir);
    return new LoaError(code, message);
  };

  /** One poll: the status, or 'retry' when the controller cannot answer now (unreachable, busy, clock). */
  const poll = async (): Promise<PairingStatus | 'retry'> => {
    let res: Response;
    try {
      res = await (o.fetch ?? fetch)(url, {
        method: 'GET', headers: { accept: 'application/json', authorization: `Bearer ${makeDeviceToken(pem, o.ticket.pairingId, now() + offset, 300)}` },
        signal: o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000),
      });
      if (res.status === 200) {
        const text = await readCapped(res, MAX_BODY, 'pairing status', 'LOA_ERR_PAIRING_FAILED');
        return statusChecker.parse(parseJsonText(text, MAX_BODY, 'pairing status', 'LOA_ERR_PAIRING_FAILED'), 'pairing status');
      }
    } catch (e) {
      if (o.signal?.aborted) throw cancelled(o.signal);
      if (e instanceof LoaError) throw e;
      return 'retry';
    }
    const correction = clockOffset(res, now());
    const err = await responseError(res, url, 'LOA_ERR_PAIRING_FAILED', KNOWN_CODES);
    if (res.status === 404) throw terminal('LOA_ERR_PAIRING_EXPIRED', 'the controller no longer knows this pairing request; ask for a new code');
    if (err.code === 'LOA_ERR_DEVICE_REVOKED') throw terminal('LOA_ERR_DEVICE_REVOKED', 'this key was paired, then revoked; pair again with a new key (--new-key)');
    // A refused signature from a device whose clock is far off: take the controller's time and try again.
    if (res.status === 401 && correction !== 0 && correction !== offset) {
      offset = correction;
      return 'retry';
    }
    if (res.status === 429 || res.status >= 500) return 'retry';
    throw err;
  };

  for (;;) {
    if (o.signal?.aborted) throw cancelled(o.signal);
    const status = await poll();
    if (status === 'retry') {
      errorDelay = Math.min(Math.max(errorDelay * 2, 1000), 30_000);
      if (now() + offset > expiresAt + 60_000) throw terminal('LOA_ERR_PAIRING_EXPIRED', 'the controller could not be reached before the pairing code expired; ask for a new code');
    } else {
      errorDelay = 0;
      if (status.state !== last) {
        last = status.state;
        o.onState?.(status.state);
      }
      switch (status.state) {
        case 'pending':
          if (o.pollMs?.min === undefined && status.pollAfterMs) interval = Math.max(interval, status.pollAfterMs);
          break;
        case 'paired': {
          const enrollment = status.enrollment;
          if (!enrollment) throw new LoaError('LOA_ERR_PAIRING_FAILED', 'the controller says paired but sent no enrollment');
          controllerConfigChecker.parse({ controllerUrl: enrollment.controllerUrl, mqttUrl: enrollment.mqttUrl, zoneId: enrollment.zoneId }, 'pairing answer');
          completeEnrollment(o.dataDir, enrollment);
          clearSavedTicket(o.dataDir);
          return enrollment;
        }
        case 'expired':
          throw terminal('LOA_ERR_PAIRING_EXPIRED', 'the pairing code expired before it was used; ask for a new code');
        case 'locked':
          throw terminal('LOA_ERR_PAIRING_LOCKED', 'too many wrong codes were typed for this device; ask for a new code');
      }
    }
    const delay = status === 'retry' ? Math.max(interval, errorDelay) : interval;
    try {
      await clock.sleep(Math.round(delay * (0.8 + Math.random() * 0.4)), o.signal);
    } catch {
      throw cancelled(o.signal);
    }
    if (status !== 'retry') interval = Math.min(Math.round(interval * 1.25), maxPoll);
  }
}
