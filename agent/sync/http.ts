import { ERRORS, LoaError, type ErrorCode } from '../../shared/errors.js';

export type FetchFn = typeof fetch;

export interface ControllerHttpOptions {
  /** Base URL of the controller (controller.json). */
  baseUrl: string;
  /** A fresh device token for each request. */
  token: () => string;
  fetch?: FetchFn;
  /** Time allowed until the response headers arrive (default 30 s). Bodies have their own idle timeouts. */
  headersTimeoutMs?: number;
}

/**
 * HTTP to the controller (DESIGN §3): each request carries a fresh `Authorization: Bearer <device token>`, but
 * only to the controller's own origin, so a media URL on a CDN never receives the token. Network failures and
 * refusals become LOA_ERR_SYNC_HTTP with the server's own code in `details`.
 */
export class ControllerHttp {
  readonly base: URL;
  private readonly fetchFn: FetchFn;

  constructor(private readonly o: ControllerHttpOptions) {
    this.base = new URL(o.baseUrl.endsWith('/') ? o.baseUrl : `${o.baseUrl}/`);
    this.fetchFn = o.fetch ?? fetch;
  }

  /** Resolves `path` (absolute URL, `/root-relative` or relative) against the controller URL. */
  url(path: string): URL {
    return new URL(path.startsWith('/') && this.base.pathname !== '/' ? `.${path}` : path, this.base);
  }

  async get(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const h: Record<string, string> = { accept: 'application/json, application/octet-stream', ...headers };
    if (url.origin === this.base.origin) h.authorization = `Bearer ${this.o.token()}`;
    const timeout = AbortSignal.timeout(this.o.headersTimeoutMs ?? 30_000);
    try {
      return await this.fetchFn(url, { method: 'GET', headers: h, signal: AbortSignal.any([signal, timeout]), redirect: 'follow' });
    } catch (e) {
      throw networkError(url, e, 'LOA_ERR_SYNC_HTTP');
    }
  }
}

/** A coded error for a request that never got an answer (refused, DNS, timeout, cut). Never includes headers. */
export function networkError(url: URL | string, e: unknown, code: ErrorCode): LoaError {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const why = typeof cause?.code === 'string' ? cause.code
    : typeof cause?.message === 'string' ? cause.message
      : e instanceof Error ? (e.name === 'TimeoutError' ? 'timed out' : e.message) : String(e);
  const where = typeof url === 'string' ? url : `${url.origin}${url.pathname}`;
  return new LoaError(code, `${ERRORS[code].en}: ${where}: ${why}`, { cause: e, details: { url: where, reason: why } });
}

/** Reads a body up to `max` bytes, refusing (and cancelling) beyond that while it streams. */
export async function readCapped(res: Response, max: number, what: string, tooLarge: ErrorCode = 'LOA_ERR_INPUT_TOO_LARGE'): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    throw new LoaError(tooLarge, `${what} is ${declared} bytes; the limit is ${max}`, { details: { size: declared, maxBytes: max } });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body) {
    const b = Buffer.from(chunk as Uint8Array);
    size += b.length;
    if (size > max) {
      await res.body.cancel().catch(() => undefined);
      throw new LoaError(tooLarge, `${what} is larger than ${max} bytes`, { details: { maxBytes: max } });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * The error for a non-2xx answer. The controller answers `{error: {code, message}}` (DESIGN §6); its code and
 * message go into `details` (and, when `adopt` allows it, become the error's own code).
 */
export async function responseError(res: Response, url: URL, code: ErrorCode, adopt: readonly ErrorCode[] = []): Promise<LoaError> {
  let server: { code?: string; message?: string } = {};
  try {
    const text = (await readCapped(res, 16 * 1024, 'error response')).toString('utf8');
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    server = {
      ...(typeof parsed.error?.code === 'string' ? { code: parsed.error.code.slice(0, 80) } : {}),
      ...(typeof parsed.error?.message === 'string' ? { message: parsed.error.message.slice(0, 300) } : {}),
    };
  } catch {
    // not JSON: the status says enough
  }
  const own = adopt.find((c) => c === server.code);
  const where = `${url.origin}${url.pathname}`;
  const said = server.code ? ` (${server.code}${server.message ? `: ${server.message}` : ''})` : '';
  return new LoaError(own ?? code, `${ERRORS[own ?? code].en}: ${where} answered HTTP ${res.status}${said}`, {
    details: { url: where, status: res.status, ...(server.code ? { serverCode: server.code } : {}), ...(server.message ? { serverMessage: server.message } : {}) },
  });
}

/**
 * One JSON POST to the controller by a device that has no token yet (enrollment, pairing). A network failure is
 * `code` with the controller's origin and the reason; the response is returned as it is.
 */
export async function postJson(url: URL, body: unknown, o: { fetch?: FetchFn | undefined; timeoutMs?: number | undefined; code: ErrorCode }): Promise<Response> {
  try {
    return await (o.fetch ?? fetch)(url, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
  } catch (e) {
    const err = networkError(url, e, o.code);
    throw new LoaError(o.code, `the controller cannot be reached: ${url.origin}: ${String(err.details?.reason)}`, { cause: e, details: err.details });
  }
}
