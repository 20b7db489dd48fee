import { LoaError } from '../../shared/errors.js';
import { redactUrl } from '../../shared/redact-url.js';

/**
 * The few controller calls `loa sim` makes as an operator (sign in, read a zone, import devices, read the
 * root). Failures become LOA_ERR_SYNC_HTTP carrying the controller's own code and message; the password and
 * the session token never appear in a message.
 */
export class SimApi {
  private token: string | null = null;

  constructor(readonly baseUrl: string, private readonly fetchFn: typeof fetch = fetch) {}

  async login(username: string, password: string): Promise<void> {
    const r = await this.request<{ token: string }>('POST', '/api/v1/auth/login', { username, password });
    this.token = r.token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const where = `${method} ${redactUrl(new URL(path, this.baseUrl).toString())}`;
    let res: Response;
    try {
      res = await this.fetchFn(new URL(path, this.baseUrl), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (e) {
      throw new LoaError('LOA_ERR_SYNC_HTTP', `${where}: the controller could not be reached (${(e as Error).message})`, { cause: e });
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) as unknown : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof err?.code === 'string' ? err.code : `HTTP ${res.status}`;
      const message = typeof err?.message === 'string' ? err.message : text.slice(0, 200);
      throw new LoaError('LOA_ERR_SYNC_HTTP', `${where} → ${res.status} ${code}: ${message}`, { details: { status: res.status, code } });
    }
    if (json === null) throw new LoaError('LOA_ERR_SYNC_HTTP', `${where} → ${res.status}: the answer is not JSON`);
    return json as T;
  }
}

/** The controller's error code inside a LOA_ERR_SYNC_HTTP from SimApi, if any. */
export function controllerCode(e: unknown): string | null {
  const d = e instanceof LoaError ? e.details : undefined;
  return typeof d?.code === 'string' ? d.code : null;
}
