import { join } from 'node:path';
import { canonicalize } from '../../shared/crypto.js';
import { ERRORS, LoaError, type ErrorCode } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { EnrollRequest, EnrollResponse } from '../../shared/schemas/telemetry.js';
import { checker, parseJsonText } from '../../shared/validate.js';
import { readIdentity, writeIdentity, type DeviceIdentity } from '../identity.js';
import { ManifestManager } from '../manifest/manager.js';
import { MediaStore } from '../media/store.js';
import { openDb } from '../store/db.js';
import { Outbox } from '../store/outbox.js';
import { controllerConfigChecker, writeControllerConfig, type ControllerConfig } from './config.js';
import { postJson, readCapped, responseError, type FetchFn } from './http.js';

const requestChecker = checker(EnrollRequest, 'LOA_ERR_ENROLL_FAILED');
const responseChecker = checker(EnrollResponse, 'LOA_ERR_ENROLL_FAILED');
const KNOWN_CODES = Object.keys(ERRORS) as ErrorCode[];

export interface EnrollRequestOptions {
  controllerUrl: string;
  /** One-time enrollment token from the controller. Never logged. */
  token: string;
  /** The device's public key (identity.ensureKey). */
  publicKey: string;
  hardwareProfile?: string;
  agentVersion?: string;
  fetch?: FetchFn;
  timeoutMs?: number;
}

/**
 * `POST {controller}/api/v1/enroll` (DESIGN §2): binds this device's public key to a device record with a
 * one-time token. Errors are coded: LOA_ERR_ENROLL_TOKEN for a token the controller refuses (or one that is
 * malformed), the controller's own code for other 4xx answers it explains, and LOA_ERR_ENROLL_FAILED for an
 * unreachable controller, a server error or an answer that is not an EnrollResponse.
 */
export async function requestEnrollment(o: EnrollRequestOptions): Promise<EnrollResponse> {
  if (o.token.length < 16 || o.token.length > 200) {
    throw new LoaError('LOA_ERR_ENROLL_TOKEN', `the enrollment token must have 16 to 200 characters; this one has ${o.token.length}`);
  }
  let url: URL;
  try {
    url = new URL('api/v1/enroll', o.controllerUrl.endsWith('/') ? o.controllerUrl : `${o.controllerUrl}/`);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch (e) {
    throw new LoaError('LOA_ERR_ENROLL_FAILED', `the controller URL "${o.controllerUrl.slice(0, 200)}" is not an http(s) URL`, { cause: e });
  }
  const body = requestChecker.parse({
    token: o.token, publicKey: o.publicKey,
    ...(o.hardwareProfile ? { hardwareProfile: o.hardwareProfile } : {}), ...(o.agentVersion ? { agentVersion: o.agentVersion } : {}),
  }, 'enroll request');
  const res = await postJson(url, body, { fetch: o.fetch, timeoutMs: o.timeoutMs, code: 'LOA_ERR_ENROLL_FAILED' });
  if (res.status >= 400 && res.status < 500) throw await responseError(res, url, 'LOA_ERR_ENROLL_FAILED', KNOWN_CODES);
  if (res.status !== 200 && res.status !== 201) throw await responseError(res, url, 'LOA_ERR_ENROLL_FAILED');
  const text = await readCapped(res, 1024 * 1024, 'enroll response', 'LOA_ERR_ENROLL_FAILED');
  let parsed: EnrollResponse;
  try {
    parsed = responseChecker.parse(parseJsonText(text, 1024 * 1024, 'enroll response', 'LOA_ERR_ENROLL_FAILED'), 'enroll response');
    controllerConfigChecker.parse({ controllerUrl: parsed.controllerUrl, mqttUrl: parsed.mqttUrl, zoneId: parsed.zoneId }, 'enroll response');
  } catch (e) {
    throw new LoaError('LOA_ERR_ENROLL_FAILED', `the controller's answer is not a valid enroll response: ${(e as Error).message}`, { cause: e });
  }
  return parsed;
}

/** A device already enrolled under another id is not silently renamed. */
export function checkSameDevice(existing: DeviceIdentity | null, enrolledAs: string, dataDir: string): void {
  if (existing && existing.deviceId !== enrolledAs) {
    throw new LoaError('LOA_ERR_ENROLL_FAILED', `${dataDir}/device.json says this device is ${existing.deviceId}, but the controller enrolled it as ${enrolledAs}; move the data folder aside to provision it again`, { details: { existing: existing.deviceId, enrolledAs } });
  }
}

/**
 * Installs the root from an enroll response: the first root on trust, a newer one only if it chains
 * (installRoot checks that). A root the device already has is kept; a different root with the same version is
 * refused.
 */
export function installEnrollmentRoot(manager: { root(): RootMetadata | null; installRoot(input: unknown): RootMetadata }, root: EnrollResponse['root']): RootMetadata {
  const current = manager.root();
  if (current && current.version >= root.signed.version) {
    if (current.version === root.signed.version && canonicalize(current) !== canonicalize(root.signed)) {
      throw new LoaError('LOA_ERR_ROOT_INVALID', `a different trust root v${current.version} is already installed on this device`);
    }
    return current;
  }
  return manager.installRoot(root);
}

export interface EnrollmentResult extends ControllerConfig {
  enrolled: true;
  deviceId: string;
  keyid: string;
  rootVersion: number;
}

/**
 * The device side of a successful enrollment or pairing (the answer is the same): refuses to rename a device
 * enrolled under another id, installs the trust root, writes device.json, and writes controller.json last,
 * since its presence is what makes the agent sync. The key must exist already (identity.ensureKey).
 */
export function completeEnrollment(dataDir: string, res: EnrollResponse): EnrollmentResult {
  checkSameDevice(readIdentity(dataDir), res.deviceId, dataDir);
  const db = openDb({ path: join(dataDir, 'agent.db') });
  let rootVersion: number;
  try {
    const log = createLogger('enroll');
    const outbox = new Outbox({ db, deviceId: () => res.deviceId });
    const media = new MediaStore({ dataDir, db, log, now: Date.now });
    media.init();
    const manager = new ManifestManager({ db, outbox, media, log, deviceId: res.deviceId, now: Date.now });
    rootVersion = installEnrollmentRoot(manager, res.root).version;
  } finally {
    db.close();
  }
  const id = writeIdentity(dataDir, res.deviceId);
  const cfg = writeControllerConfig(dataDir, { controllerUrl: res.controllerUrl, mqttUrl: res.mqttUrl, zoneId: res.zoneId });
  return { enrolled: true, deviceId: res.deviceId, keyid: id.keyid, rootVersion, ...cfg };
}
