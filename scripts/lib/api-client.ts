import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(`${status} ${code}: ${message}`);
  }
}

/** A small client for the controller's HTTP API (demo seeding, tests, scripts). */
export class ApiClient {
  token: string | null = null;
  constructor(readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: string | FormData | undefined;
    if (typeof body === 'string') payload = body;
    else if (body instanceof FormData) payload = body;
    else if (body !== undefined) { payload = JSON.stringify(body); h['content-type'] = 'application/json'; }
    const res = await fetch(new URL(path, this.baseUrl), { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    const json = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) as unknown : text;
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? text.slice(0, 200));
    }
    return json as T;
  }

  get<T = Record<string, unknown>>(path: string): Promise<T> { return this.request<T>('GET', path); }
  post<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> { return this.request<T>('POST', path, body ?? {}); }

  async login(username: string, password: string): Promise<void> {
    const r = await this.post<{ token: string }>('/api/v1/auth/login', { username, password });
    this.token = r.token;
  }

  /** Uploads an audio file to the media library. */
  async upload(file: string, fields: Record<string, string>): Promise<{ media: { id: string; sha256: string; durationMs: number } }> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([readFileSync(file)]), basename(file));
    return this.request('POST', '/api/v1/media', form);
  }
}
