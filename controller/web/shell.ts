import type { Permission } from '../auth/policy.js';
import type { User } from '../data/users.js';
import type { Lang, StringKey } from './i18n.js';

export interface PageDef {
  /** URL pattern (Fastify). */
  url: string;
  /** Page module under public/js/pages/. */
  module: string;
  title: StringKey;
  /** Shown in the navigation when the user holds this somewhere (undefined: not in the navigation). */
  nav?: Permission;
}

export const PAGES: readonly PageDef[] = [
  { url: '/', module: 'overview', title: 'page.overview', nav: 'device.read' },
  { url: '/devices', module: 'devices', title: 'page.devices', nav: 'device.read' },
  { url: '/devices/:id', module: 'device', title: 'page.device' },
  { url: '/map', module: 'map', title: 'page.map', nav: 'device.read' },
  { url: '/library', module: 'library', title: 'page.library', nav: 'media.read' },
  { url: '/schedules', module: 'schedules', title: 'page.schedules', nav: 'schedule.read' },
  { url: '/emergency', module: 'emergency', title: 'page.emergency', nav: 'emergency.read' },
  { url: '/reports', module: 'reports', title: 'page.reports', nav: 'report.read' },
  { url: '/users', module: 'users', title: 'page.users', nav: 'user.read' },
  { url: '/audit', module: 'audit', title: 'page.audit', nav: 'audit.read' },
  // issue 11: agent releases and staged rollouts (admins)
  { url: '/updates', module: 'updates', title: 'page.updates', nav: 'release.manage' },
];

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON for a `<script type="application/json">` block: `<` is escaped, so no text can close the element. */
export function jsonBlock(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export interface ShellInput {
  lang: Lang;
  dict: Record<StringKey, string>;
  assets: string;
  page: PageDef;
  path: string;
  user: Pick<User, 'id' | 'username' | 'displayName' | 'roles'> | null;
  csrf: string;
  nav: readonly PageDef[];
}

/**
 * The page frame, rendered on the server: header, navigation, the page title, and an empty `#app` that the
 * page's ES module fills. No inline script or style (the Content-Security-Policy forbids them): the boot data
 * travels as JSON in a non-executable block.
 */
export function renderShell(s: ShellInput): string {
  const t = (k: StringKey): string => esc(s.dict[k]);
  const nav = s.nav.map((p) => {
    const current = p.url === '/' ? s.path === '/' : s.path === p.url || s.path.startsWith(`${p.url}/`);
    return `<li><a href="${esc(p.url)}"${current ? ' aria-current="page"' : ''}>${t(p.title)}</a></li>`;
  }).join('');
  const boot = { lang: s.lang, dict: s.dict, assets: s.assets, csrf: s.csrf, user: s.user, page: s.page.module };
  const userBox = s.user
    ? `<span class="who">${esc(s.user.displayName)} (${esc(s.user.username)})</span><button type="button" id="logout" class="link">${t('logout')}</button>`
    : '';
  return `<!doctype html>
<html lang="${s.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${t(s.page.title)} — Loa phường</title>
<link rel="stylesheet" href="${s.assets}app.css"><link rel="icon" href="${s.assets}favicon.svg" type="image/svg+xml">
<link rel="modulepreload" href="${s.assets}js/lib/boot.js">
<script type="application/json" id="loa-boot">${jsonBlock(boot)}</script>
<script type="module" src="${s.assets}js/pages/${s.page.module}.js"></script>
</head><body>
<a class="skip" href="#main">${t('skip')}</a>
<header class="top"><span class="brand">${t('app')}</span>
<span class="tools"><button type="button" id="lang" class="link" lang="${s.lang === 'vi' ? 'en' : 'vi'}" aria-label="${t('languageLabel')}">${t('language')}</button>${userBox}</span></header>
${s.user ? `<nav aria-label="${t('app')}"><ul>${nav}</ul></nav>` : ''}
<main id="main" tabindex="-1"><h1>${t(s.page.title)}</h1><div id="app" data-state="loading"><p>${t('loading')}</p></div>
<p id="flash" role="status" aria-live="polite"></p></main>
</body></html>`;
}
