import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoaError } from '../../shared/errors.js';
import { SESSION_COOKIE } from '../http/auth.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const CSRF_HEADER = 'x-csrf-token';

/** The CSRF token of a session: derived from the session token (which stays in its httpOnly cookie), so no state is kept. */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`loa-csrf:${sessionToken}`).digest('base64url');
}

const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Whether an Origin (or Referer) names this controller: the same host and port. The scheme is not compared, so
 * a TLS-terminating proxy that is not configured as trusted (the controller then sees http) does not break the
 * dashboard; a page on another port or host is still foreign.
 */
function sameHost(url: string, req: FastifyRequest): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === req.host;
  } catch {
    return false;
  }
}

/**
 * CSRF protection for cookie-authenticated changes (issue 7). The session cookie is SameSite=Strict already, but
 * pages on another port of the same host are same-site, so a POST, PUT, PATCH or DELETE that carries the session
 * cookie (and no Authorization header) must also prove it comes from this controller's pages: the dashboard's
 * X-CSRF-Token (derived from the session), or an Origin header naming this host and port (what browsers send with every
 * non-GET fetch: the live and pairing pages rely on it). A foreign Origin is refused on every unsafe request
 * without a bearer token, the login included. Bearer-token clients (the CLI, Node-RED, devices) are not
 * affected: a browser never adds that header on its own.
 */
export function registerCsrf(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    try {
      check(req);
      done();
    } catch (e) {
      done(e as Error);
    }
  });
}

function check(req: FastifyRequest): void {
  if (!UNSAFE.has(req.method)) return;
  if (req.headers.authorization?.startsWith('Bearer ')) return;
  const origin = req.headers.origin;
  const sameOrigin = origin !== undefined && sameHost(origin, req);
  if (origin !== undefined && !sameOrigin) {
    throw new LoaError('LOA_ERR_CSRF', `a request from ${origin.slice(0, 100)} may not change anything here`, { details: { reason: 'origin' } });
  }
  const session = (req.cookies as Record<string, string | undefined> | undefined)?.[SESSION_COOKIE];
  if (!session) return;
  const header = req.headers[CSRF_HEADER];
  if (typeof header === 'string' && same(header, csrfTokenFor(session))) return;
  if (sameOrigin) return;
  const referer = req.headers.referer;
  if (origin === undefined && typeof referer === 'string' && sameHost(referer, req)) return;
  throw new LoaError('LOA_ERR_CSRF', 'send the X-CSRF-Token header of the page (or call the API with a bearer token)', { details: { reason: header ? 'token' : 'missing' } });
}
