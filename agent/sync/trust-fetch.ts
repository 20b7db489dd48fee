import type { Clock } from '../../shared/clock.js';
import { canonicalize, sha256Hex } from '../../shared/crypto.js';
import { LoaError, toLoaError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { EventType } from '../../shared/schemas/events.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import { ROOT_MAX_BYTES } from '../../shared/trust.js';
import { parseJsonText } from '../../shared/validate.js';
import { readCapped, responseError, type ControllerHttp } from './http.js';

/** The part of the manifest manager that holds the trust root (installRoot checks the chain: verifyRootUpdate). */
export interface RootHolder {
  root(): RootMetadata | null;
  installRoot(input: unknown): RootMetadata;
}

export interface TrustUpdate {
  /** Versions installed, in order. */
  installed: number[];
  /** The version in force afterwards. */
  version: number;
  /** A root the controller served that this device refused (reported as a manifest.rejected event). */
  rejected?: { version: number; code: ErrorCode };
}

/**
 * The signed roots of a trust bundle (`loa keys export-trust`: a JSON array, oldest first; `{roots: […]}` and a
 * single signed root are accepted too), or null when `input` is none of these.
 */
export function rootsOfTrustBundle(input: unknown): unknown[] | null {
  if (Array.isArray(input)) return input as unknown[];
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    if (Array.isArray(o.roots)) return o.roots as unknown[];
    if ('signed' in o) return [input];
  }
  return null;
}

const versionOf = (r: unknown): unknown => (r as { signed?: { version?: unknown } } | null)?.signed?.version;

/**
 * Installs, in order, the roots of a chain that are newer than the one in force; each must chain from the one
 * before (installRoot → verifyRootUpdate). A device with no root yet trusts the first. A root of the version
 * in force that differs from it belongs to another key ceremony: LOA_ERR_TRUST_CHAIN.
 */
export function installRootChain(holder: RootHolder, chain: readonly unknown[]): TrustUpdate {
  if (chain.length === 0) throw new LoaError('LOA_ERR_TRUST_CHAIN', 'the trust bundle holds no root metadata');
  const installed: number[] = [];
  const sorted = [...chain].sort((a, b) => Number(versionOf(a)) - Number(versionOf(b)));
  for (const r of sorted) {
    const current = holder.root();
    const v = versionOf(r);
    if (current && typeof v === 'number' && v <= current.version) {
      if (v === current.version && canonicalize((r as { signed: unknown }).signed) !== canonicalize(current)) {
        throw new LoaError('LOA_ERR_TRUST_CHAIN', `the trust bundle's root v${v} differs from the v${v} this device trusts: it is from another key ceremony`);
      }
      continue;
    }
    installed.push(holder.installRoot(r).version);
  }
  return { installed, version: holder.root()?.version ?? 0 };
}

export interface TrustFetcherOptions {
  http: ControllerHttp;
  holder: RootHolder;
  clock: Clock;
  log: Logger;
  /** Where refusals are reported (the durable event outbox). */
  report: (type: EventType, dedupe: string, at: number, data: Record<string, unknown>) => void;
  /** At most this many versions per walk (default 64). */
  maxSteps?: number;
}

/**
 * Follows root rotations over HTTP (DESIGN §2): `GET /api/v1/trust/root/{v+1}` until 404, installing each
 * version through installRoot, which accepts it only when signed by the old root threshold and the new one.
 * The route is public and the controller is not trusted for it: every link is checked here. A refused root is
 * a verdict (reported as manifest.rejected, with the root code), not a failure to retry; a network failure
 * throws LOA_ERR_SYNC_HTTP.
 */
export class TrustFetcher {
  constructor(private readonly o: TrustFetcherOptions) {}

  async update(signal: AbortSignal): Promise<TrustUpdate> {
    const { http, holder, log } = this.o;
    const installed: number[] = [];
    const start = holder.root();
    if (!start) return { installed, version: 0 };
    for (let step = 0; step < (this.o.maxSteps ?? 64); step++) {
      const current = holder.root()!;
      const want = current.version + 1;
      const url = http.url(`api/v1/trust/root/${want}`);
      const res = await http.get(url, { accept: 'application/json' }, signal);
      if (res.status === 404) {
        await res.body?.cancel();
        break;
      }
      if (res.status !== 200) throw await responseError(res, url, 'LOA_ERR_SYNC_HTTP');
      let body: Buffer | null = null;
      try {
        body = await readCapped(res, ROOT_MAX_BYTES, `root metadata v${want}`, 'LOA_ERR_ROOT_INVALID');
        const raw = parseJsonText(body, ROOT_MAX_BYTES, `root metadata v${want}`, 'LOA_ERR_ROOT_INVALID');
        const claimed = versionOf(raw);
        if (claimed !== want) throw new LoaError('LOA_ERR_ROOT_INVALID', `asked for root metadata v${want}, the controller served v${String(claimed)}`);
        const next = holder.installRoot(raw);
        installed.push(next.version);
        log.info({ version: next.version, from: current.version }, 'trust root rotated: installed the next root version');
      } catch (e) {
        if (signal.aborted) throw e;
        let err = toLoaError(e, 'LOA_ERR_ROOT_INVALID');
        if (err.code === 'LOA_ERR_SYNC_HTTP') throw err;
        if (err.code === 'LOA_ERR_JSON_PARSE') err = new LoaError('LOA_ERR_ROOT_INVALID', err.message, { cause: err });
        const digest = body ? sha256Hex(body).slice(0, 16) : 'none';
        this.o.report('manifest.rejected', `root-rejected:${want}:${err.code}:${digest}`, this.o.clock.now(), {
          code: err.code, message: err.message, rootVersion: want, currentRoot: current.version,
        });
        log.warn({ code: err.code, rootVersion: want, current: current.version }, `root metadata v${want} refused; v${current.version} stays in force: ${err.message}`);
        return { installed, version: holder.root()?.version ?? 0, rejected: { version: want, code: err.code } };
      }
    }
    return { installed, version: holder.root()?.version ?? 0 };
  }
}
