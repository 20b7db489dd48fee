import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { tokenSubject, verifyDeviceToken } from '../../shared/device-token.js';
import { LoaError } from '../../shared/errors.js';
import { LoginThrottle } from '../auth/login-throttle.js';
import { DUMMY_HASH, verifyPassword } from '../auth/password.js';
import { API_TOKEN_PREFIX } from '../data/api-tokens.js';
import type { User } from '../data/users.js';
import type { AppContext, AuthMode } from './context.js';

export const SESSION_COOKIE = 'loa_session';
const hash = (t: string): string => createHash('sha256').update(t).digest('hex');

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  const c = (req.cookies as Record<string, string | undefined> | undefined)?.[SESSION_COOKIE];
  return c ?? null;
}

/** Resolves the caller: a device (signed `loa1.` token) or a user session. Never logs the token. */
export function identify(ctx: AppContext, req: FastifyRequest): { user: User | null; deviceId: string | null } {
  const token = bearer(req);
  if (!token) return { user: null, deviceId: null };
  if (token.startsWith('loa1.')) {
    const sub = tokenSubject(token);
    const key = sub ? ctx.data.devices.keyOf(sub) : null;
    if (!sub || !key) throw new LoaError('LOA_ERR_UNAUTHENTICATED', 'unknown device');
    if (key.revoked) throw new LoaError('LOA_ERR_DEVICE_REVOKED', `device ${sub} has been revoked`);
    verifyDeviceToken(token, key.publicKey, ctx.clock.now());
    return { user: null, deviceId: sub };
  }
  if (token.startsWith(API_TOKEN_PREFIX)) {
    // An API token (contract C) acts as its user, with the same roles; it is looked up by its hash only.
    const now = ctx.clock.now();
    const t = ctx.data.apiTokens.authenticate(token, now, req.ip);
    const user = t ? ctx.data.users.get(t.userId) : null;
    if (!t || !user || user.disabled) throw new LoaError('LOA_ERR_API_TOKEN');
    req.apiTokenId = t.tokenId;
    return { user, deviceId: null };
  }
  return { user: ctx.data.users.sessionUser(hash(token), ctx.clock.now()), deviceId: null };
}

/** The API documentation and the dashboard's assets are public; everything else is authenticated unless marked public. */
export function authModeOf(url: string | undefined, mode: AuthMode | undefined): AuthMode {
  if (url === '/docs' || url?.startsWith('/docs/')) return 'public';
  if (url?.startsWith('/assets/')) return 'public'; // the dashboard's static files (issue 7)
  return mode ?? 'user';
}

/** Authentication for every route (deny by default) and the login/logout/me routes. */
export function registerAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('user', null);
  app.decorateRequest('deviceId', null);
  app.decorateRequest('apiTokenId', null);
  app.addHook('onRequest', async (req) => {
    const mode = authModeOf(req.routeOptions.url, req.routeOptions.config.auth);
    if (mode === 'public' || !req.routeOptions.url) return;
    const who = identify(ctx, req);
    req.user = who.user;
    req.deviceId = who.deviceId;
    const ok = (mode === 'user' && who.user) || (mode === 'device' && who.deviceId) || (mode === 'user-or-device' && (who.user || who.deviceId));
    if (!ok) throw new LoaError('LOA_ERR_UNAUTHENTICATED', mode === 'device' ? 'this route is for enrolled devices' : 'sign in first');
  });

  const ttlMs = ctx.config.auth.sessionTtlHours * 3_600_000;
  const throttle = new LoginThrottle({ now: () => ctx.clock.now(), freeAttempts: ctx.config.auth.loginFreeFailuresPerAccount });
  app.post('/api/v1/auth/login', {
    config: { auth: 'public', rateLimit: { max: ctx.config.auth.loginAttemptsPerMinute, timeWindow: 60_000 } },
    schema: {
      tags: ['auth'], summary: 'Sign in; returns a bearer token and sets a session cookie',
      body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 100 }), password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const { username, password } = req.body as { username: string; password: string };
    try {
      throttle.check(username);
    } catch (e) {
      void reply.header('retry-after', String(Number((e as LoaError).details?.retryAfterS ?? 1)));
      throw e;
    }
    const cred = ctx.data.users.credentials(username);
    const ok = await verifyPassword(password, cred?.passwordHash ?? DUMMY_HASH);
    if (!cred || !ok || cred.user.disabled) {
      ctx.data.audit.add({ actor: `login:${username.slice(0, 100)}`, ip: req.ip, action: 'auth.login_failed', targetType: 'user', targetId: cred?.user.id ?? null }, ctx.clock.now());
      if (throttle.fail(username)) ctx.data.audit.add({ actor: `login:${username.slice(0, 100)}`, ip: req.ip, action: 'auth.login_throttled', targetType: 'user', targetId: cred?.user.id ?? null }, ctx.clock.now());
      throw new LoaError('LOA_ERR_LOGIN_FAILED');
    }
    throttle.succeed(username);
    const token = randomBytes(32).toString('base64url');
    const now = ctx.clock.now();
    ctx.data.tx(() => {
      ctx.data.users.createSession(hash(token), cred.user.id, now, now + ttlMs, req.ip);
      ctx.data.audit.add({ actor: cred.user.id, ip: req.ip, action: 'auth.login', targetType: 'user', targetId: cred.user.id }, now);
    });
    void reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: Math.floor(ttlMs / 1000), secure: ctx.urls.http().startsWith('https:') });
    return { token, expiresAt: new Date(now + ttlMs).toISOString(), user: cred.user };
  });

  app.post('/api/v1/auth/logout', { schema: { tags: ['auth'], summary: 'End this session' } }, async (req, reply) => {
    const token = bearer(req);
    if (token) ctx.data.users.deleteSession(hash(token));
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/v1/auth/me', { schema: { tags: ['auth'], summary: 'The signed-in user and role grants' } }, async (req) => ({ user: req.user }));
}
