// JSON calls to the controller API with the session cookie and the page's CSRF token.
import { csrf, lang } from './boot.js';

export class ApiError extends Error {
  constructor(status, code, message, en) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.en = en ?? message;
  }
}

async function fail(r) {
  const j = await r.json().catch(() => null);
  const e = j && j.error;
  if (r.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  return new ApiError(r.status, e ? e.code : `HTTP_${r.status}`, e ? `${lang === 'vi' ? e.vi : e.message} (${e.code})` : `HTTP ${r.status}`, e ? e.message : undefined);
}

export async function api(method, url, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw await fail(r);
  return r.status === 204 ? null : r.json();
}
export const get = (url) => api('GET', url);
export const post = (url, body) => api('POST', url, body ?? {});

/** True for the controller's answer to a route it does not have (404 "no route …"). */
export const routeMissing = (e) => e instanceof ApiError && e.status === 404 && (e.code === 'HTTP_404' || /^no route /.test(e.en));

/** GET that answers null on 404 (a route another workstream adds; the page says "not available"). */
export async function getOptional(url) {
  try {
    return await get(url);
  } catch (e) {
    if (routeMissing(e)) return null;
    throw e;
  }
}

/** Query string from an object, leaving out empty values. */
export function qs(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
