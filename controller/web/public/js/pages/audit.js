// The audit log, newest first, with paging to older entries.
import { get, qs } from '../lib/api.js';
import { fmtDateTime, t } from '../lib/boot.js';
import { h, mount, table } from '../lib/dom.js';

const body = h('tbody', { id: 'audit-rows' });
const older = h('button', { type: 'button', id: 'older' }, t('older'));
let before = null;
async function load() {
  const { entries } = await get(`/api/v1/audit${qs({ limit: 100, before })}`);
  body.append(...entries.map((e) => h('tr', {}, h('td', {}, fmtDateTime(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
    h('td', {}, `${e.targetType}${e.targetId ? ` ${e.targetId}` : ''}`), h('td', {}, e.zoneId ?? ''), h('td', {}, e.ip ?? ''), h('td', {}, JSON.stringify(e.details ?? {}).slice(0, 200)))));
  before = entries.length ? entries.at(-1).id : before;
  older.hidden = entries.length < 100;
}
older.addEventListener('click', () => void load());
await load();
mount(table([t('time'), t('actor'), t('action'), t('target'), t('zone'), 'IP', t('details')], [body], { id: 'audit' }), older);
