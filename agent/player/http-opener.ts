import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';

/**
 * Opens one connection to a stream URL and resolves with the response body once a 2xx answer arrives.
 * Rejects with an Error whose message is the reason (it becomes the gap reason). Must honour the signal.
 */
export type StreamOpener = (url: URL, signal: AbortSignal) => Promise<Readable>;

export interface HttpOpenerOptions {
  /** Time allowed from connecting to the response headers, real ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Redirects followed (Icecast relays and load balancers redirect). Default 5. */
  maxRedirects?: number;
  userAgent?: string;
}

/** The default opener: node:http/https GET, follows redirects, treats non-2xx as a failed attempt. */
export function createHttpOpener(options: HttpOpenerOptions = {}): StreamOpener {
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const maxRedirects = options.maxRedirects ?? 5;
  const headers = { 'user-agent': options.userAgent ?? 'loaphuong-agent', accept: '*/*' };

  const once = (url: URL, signal: AbortSignal): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new Error(`unsupported protocol ${url.protocol}`));
        return;
      }
      const get = url.protocol === 'https:' ? https.get : http.get;
      const req = get(url, { headers, signal, timeout: timeoutMs });
      const cleanup = (): void => {
        req.off('response', onResponse);
        req.off('timeout', onTimeout);
        // Errors after the response are reported on the response itself; keep the request from crashing.
        req.off('error', onError);
        req.on('error', ignore);
      };
      const onResponse = (res: http.IncomingMessage): void => {
        cleanup();
        req.setTimeout(0);
        resolve(res);
      };
      const onTimeout = (): void => {
        req.destroy(new Error(`no answer within ${timeoutMs} ms`));
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      req.on('response', onResponse);
      req.on('timeout', onTimeout);
      req.on('error', onError);
    });

  return async (url, signal) => {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await once(current, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        res.destroy();
        if (hop >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects`);
        current = new URL(res.headers.location, current);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        res.destroy();
        throw new Error(`HTTP ${status}`);
      }
      return res;
    }
  };
}

function ignore(): void {
  /* errors after the response are handled on the response */
}
