import type { NodeStatus } from './red.cjs';

/** What went wrong, in Vietnamese and English, for a node's status and its error message. */
export interface Problem {
  /** A stable code: the controller's LOA_ERR_… code, or UNREACHABLE, TIMEOUT, NOT_CONFIGURED, BAD_INPUT. */
  code: string;
  status: number;
  vi: string;
  en: string;
}

/** An API call that failed, with a message in both languages. Never holds the token. */
export class LoaApiError extends Error {
  override name = 'LoaApiError';
  constructor(readonly problem: Problem, options?: { cause?: unknown }) {
    super(`${problem.en} — ${problem.vi} (${problem.code}${problem.status ? ` ${problem.status}` : ''})`, options);
  }
}

const SHORT: Record<string, { vi: string; en: string }> = {
  LOA_ERR_API_TOKEN: { vi: 'Mã API sai/hết hạn', en: 'bad or expired API token' },
  LOA_ERR_UNAUTHENTICATED: { vi: 'Chưa có mã API', en: 'no API token' },
  LOA_ERR_FORBIDDEN: { vi: 'Không có quyền', en: 'not allowed' },
  LOA_ERR_NOT_FOUND: { vi: 'Không tìm thấy', en: 'not found' },
  UNREACHABLE: { vi: 'Không kết nối được bộ điều khiển', en: 'controller unreachable' },
  TIMEOUT: { vi: 'Bộ điều khiển không trả lời', en: 'controller timed out' },
  NOT_CONFIGURED: { vi: 'Chưa cấu hình', en: 'not configured' },
  BAD_INPUT: { vi: 'Dữ liệu vào sai', en: 'bad input' },
};

/** A red status with a short Vietnamese · English text. */
export function problemStatus(p: Problem): NodeStatus {
  const s = SHORT[p.code];
  return { fill: 'red', shape: 'ring', text: s ? `${s.vi} · ${s.en}` : `${p.vi} · ${p.en}`.slice(0, 80) };
}

export function problemOf(e: unknown): Problem {
  if (e instanceof LoaApiError) return e.problem;
  const msg = e instanceof Error ? e.message : String(e);
  return { code: 'BAD_INPUT', status: 0, vi: `Lỗi: ${msg}`, en: msg };
}

export function badInput(en: string, vi: string): LoaApiError {
  return new LoaApiError({ code: 'BAD_INPUT', status: 0, en, vi });
}

export interface LoaClientOptions {
  url: string;
  token: string;
  /** Per request (default 15 s). */
  timeoutMs?: number;
}

/**
 * The controller's HTTP API through the global fetch, with a timeout on every call and errors translated
 * into Vietnamese and English. The token only ever goes into the Authorization header.
 */
export class LoaClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly timeoutMs: number;

  constructor(o: LoaClientOptions) {
    this.baseUrl = o.url.replace(/\/+$/, '');
    this.#token = o.token;
    this.timeoutMs = o.timeoutMs ?? 15_000;
  }

  /** True when there is a URL and a token to call with. */
  get configured(): boolean {
    return /^https?:\/\/[^\s]+$/.test(this.baseUrl) && this.#token.length > 0;
  }

  /** Headers for a call (also used by the event stream). */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.#token}`, ...extra };
  }

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts: { contentType?: string; signal?: AbortSignal } = {}): Promise<T> {
    if (!this.configured) throw new LoaApiError({ code: 'NOT_CONFIGURED', status: 0, en: 'The loa-config node needs the controller URL and an API token', vi: 'Nút loa-config cần địa chỉ bộ điều khiển và mã API' });
    const signals = [AbortSignal.timeout(this.timeoutMs), ...(opts.signal ? [opts.signal] : [])];
    const headers = this.headers(body === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' });
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method, headers, signal: AbortSignal.any(signals),
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    } catch (e) {
      throw networkError(this.baseUrl, e);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string; vi?: string } } | null)?.error;
      throw new LoaApiError({ code: err?.code ?? `HTTP_${res.status}`, status: res.status, en: err?.message ?? (text.slice(0, 200) || res.statusText), vi: err?.vi ?? `Lỗi HTTP ${res.status}` });
    }
    return json as T;
  }
}

export function networkError(baseUrl: string, e: unknown): LoaApiError {
  const name = (e as { name?: string }).name;
  if (name === 'TimeoutError') return new LoaApiError({ code: 'TIMEOUT', status: 0, en: `The controller at ${baseUrl} did not answer in time`, vi: `Bộ điều khiển ${baseUrl} không trả lời kịp` }, { cause: e });
  const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e instanceof Error ? e.message : String(e));
  return new LoaApiError({ code: 'UNREACHABLE', status: 0, en: `Cannot reach the controller at ${baseUrl} (${cause})`, vi: `Không kết nối được bộ điều khiển ${baseUrl} (${cause})` }, { cause: e });
}
