// Overview: devices online / offline / stale, plays today, failed plays, open alarms (GET /api/v1/reports/overview).
import { get } from '../lib/api.js';
import { fmtDateTime, fmtNumber, t } from '../lib/boot.js';
import { h, mount } from '../lib/dom.js';

const card = (id, n, label, cls, help) => h('div', { class: 'card', id }, h('div', { class: `n ${cls ?? ''}` }, fmtNumber(n)), h('div', { class: 'l' }, label), help ? h('small', { class: 'muted' }, help) : null);

async function load() {
  const o = await get('/api/v1/reports/overview');
  mount(
    h('div', { class: 'cards', id: 'overview' },
      card('c-total', o.enrolled, t('devicesTotal')),
      card('c-online', o.online, t('online'), 'on'),
      card('c-offline', o.offline, t('offline'), o.offline ? 'off' : ''),
      card('c-stale', o.stale, t('stale'), o.stale ? 'warn' : ''),
      card('c-never', o.neverSeen, t('neverSeen')),
      card('c-plays', o.plays, t('playsToday')),
      card('c-failed', o.failed, t('failedPlays'), o.failed ? 'off' : ''),
      card('c-alarms', o.alarms, t('openAlarms'), o.alarms ? 'off' : '', t('alarmsHelp')),
      card('c-emergency', o.activeEmergencies, t('activeEmergencies'), o.activeEmergencies ? 'warn' : '')),
    h('p', { class: 'muted' }, `${t('time')}: ${fmtDateTime(o.at)} · `, h('a', { href: '/devices' }, t('page.devices'))),
  );
}
await load();
setInterval(() => { void load().catch(() => {}); }, 15000);
