import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scopes } from '../auth/policy.js';
import type { User } from '../data/users.js';
import { identify, SESSION_COOKIE } from '../http/auth.js';
import type { AppContext } from '../http/context.js';
import { registerDashboardApi } from '../routes/dashboard.js';
import { csrfTokenFor, registerCsrf } from './csrf.js';
import { dictionary, LANG_COOKIE, langOf, type Lang, type StringKey } from './i18n.js';
import { PAGES, renderShell, type PageDef } from './shell.js';

/** Where the static assets live: controller/web/public in the checkout (the build does not copy them). */
export function publicDir(): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../../controller/web/public/', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((d) => existsSync(join(d, 'app.css')));
  if (!found) throw new Error(`the dashboard assets are missing (looked in ${candidates.join(', ')})`);
  return found;
}

/** A hash of every asset: part of their URLs, so they can be cached for a year and change URL when they change. */
function assetsVersion(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p.slice(dir.length)).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 12);
}

/** No inline script or style, nothing from another origin, no framing (issue 7). */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin').header('x-frame-options', 'DENY');
}

/** A relative path inside this site (never `//host` or a scheme), for the login page's `next`. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) && next.length < 500 ? next : '/';
}

/**
 * The operator dashboard (issue 7): server-rendered page frames, one small ES module per page, assets under a
 * content-hashed URL, Vietnamese first with an English option (cookie), CSP on every page and the CSRF check
 * of cookie-authenticated changes.
 */
export function registerWeb(app: FastifyInstance, ctx: AppContext): void {
  const dir = publicDir();
  const assets = `/assets/${assetsVersion(dir)}/`;
  const dicts: Record<Lang, Record<StringKey, string>> = { vi: dictionary('vi'), en: dictionary('en') };
  registerCsrf(app);
  registerDashboardApi(app, ctx);
  void app.register(fastifyStatic, {
    root: dir, prefix: assets, maxAge: 365 * 86_400_000, immutable: true, etag: true, lastModified: false, decorateReply: false, index: false,
    setHeaders: (res) => { res.setHeader('x-content-type-options', 'nosniff'); },
  });

  const who = (req: FastifyRequest): User | null => {
    try {
      return identify(ctx, req).user;
    } catch {
      return null;
    }
  };

  const send = (req: FastifyRequest, reply: FastifyReply, page: PageDef, user: User | null): FastifyReply => {
    const lang = langOf((req.cookies as Record<string, string | undefined>)[LANG_COOKIE]);
    const session = (req.cookies as Record<string, string | undefined>)[SESSION_COOKIE];
    const html = renderShell({
      lang, dict: dicts[lang], assets, page, path: req.url.split('?')[0]!,
      user: user ? { id: user.id, username: user.username, displayName: user.displayName, roles: user.roles } : null,
      csrf: session && user ? csrfTokenFor(session) : '',
      nav: user ? PAGES.filter((p) => p.nav && scopes(user, p.nav).length > 0) : [],
    });
    const etag = `"${createHash('sha256').update(html).digest('base64url').slice(0, 22)}"`;
    securityHeaders(reply).header('cache-control', 'private, no-cache').header('etag', etag).header('vary', 'Cookie');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/html; charset=utf-8').send(html);
  };

  app.get('/login', { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
    const next = safeNext((req.query as Record<string, unknown>).next);
    if (who(req)) return reply.redirect(next, 303);
    return send(req, reply, { url: '/login', module: 'login', title: 'page.login' }, null);
  });
  for (const page of PAGES) {
    app.get(page.url, { config: { auth: 'public' }, schema: { hide: true } }, async (req, reply) => {
      const user = who(req);
      if (!user) return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      return send(req, reply, page, user);
    });
  }
}
