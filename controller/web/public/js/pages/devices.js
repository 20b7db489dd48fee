// Zone tree + device list with filters; live status over SSE (contract A) or polling when the stream is absent.
import { get, qs } from '../lib/api.js';
import { fmtDateTime, t } from '../lib/boot.js';
import { field, h, mount, select, table } from '../lib/dom.js';
import { watchStatus } from '../lib/live.js';

const PAGE = 200;
const params = new URLSearchParams(location.search);
const state = { zoneId: params.get('zone') || '', q: params.get('q') || '', online: params.get('online') || '', after: null };
const body = h('tbody', { id: 'rows' });
const summary = h('p', { id: 'summary', class: 'muted', role: 'status' });
const modeEl = h('span', { id: 'live-mode', class: 'muted' });
const nextBtn = h('button', { type: 'button', id: 'next', hidden: true }, t('next'));
const firstBtn = h('button', { type: 'button', id: 'first', hidden: true }, t('prev'));
let shown = new Map();

function statusCell(d) {
  return h('td', { class: d.online ? 'on' : 'off', 'data-status': d.online ? 'online' : 'offline' }, d.online ? t('online') : d.lastSeen ? t('offline') : t('neverSeen'));
}
function row(d) {
  return h('tr', { 'data-id': d.id },
    h('td', {}, h('a', { href: `/devices/${encodeURIComponent(d.id)}` }, d.id)), h('td', {}, d.name), h('td', {}, d.zoneId),
    h('td', {}, t(d.kind)), statusCell(d), h('td', {}, fmtDateTime(d.lastSeen)),
    h('td', {}, `${d.appliedVersion} / ${d.manifestVersion}`, d.stale ? h('span', { class: 'warn' }, ` (${t('stale')})`) : null));
}

async function load() {
  const r = await get(`/api/v1/devices${qs({ zoneId: state.zoneId, q: state.q, online: state.online, limit: PAGE, after: state.after })}`);
  shown = new Map(r.devices.map((d) => [d.id, d]));
  body.replaceChildren(...(r.devices.length ? r.devices.map(row) : [h('tr', {}, h('td', { colspan: 7 }, t('noDevices')))]));
  const on = r.devices.filter((d) => d.online).length;
  summary.textContent = `${t('showing', { n: r.devices.length })} · ${t('online')}: ${on} · ${t('offline')}: ${r.devices.length - on}`;
  nextBtn.hidden = !r.next;
  nextBtn.dataset.after = r.next ?? '';
  firstBtn.hidden = !state.after;
}

function onStatus(ev) {
  const d = shown.get(ev.deviceId);
  if (!d) return;
  d.online = ev.online;
  d.lastSeen = ev.at;
  body.querySelector(`tr[data-id="${CSS.escape(ev.deviceId)}"]`)?.replaceWith(row(d));
}

function tree(zones) {
  const kids = new Map();
  for (const z of zones) (kids.get(z.parentId) ?? kids.set(z.parentId, []).get(z.parentId)).push(z);
  const ids = new Set(zones.map((z) => z.id));
  const branch = (list) => h('ul', {}, list.map((z) => h('li', {},
    h('button', { type: 'button', 'data-zone': z.id, 'aria-pressed': String(state.zoneId === z.id) }, z.name),
    kids.has(z.id) ? branch(kids.get(z.id)) : null)));
  const roots = zones.filter((z) => !z.parentId || !ids.has(z.parentId));
  return h('div', { class: 'tree panel', role: 'navigation', 'aria-label': t('filterZone') }, h('h2', {}, t('filterZone')),
    h('button', { type: 'button', 'data-zone': '', 'aria-pressed': String(!state.zoneId) }, t('all')), branch(roots));
}

const { zones } = await get('/api/v1/zones');
const treeEl = tree(zones);
treeEl.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-zone]');
  if (!b) return;
  state.zoneId = b.dataset.zone;
  state.after = null;
  for (const x of treeEl.querySelectorAll('button[data-zone]')) x.setAttribute('aria-pressed', String(x === b));
  void load();
});
const filters = h('form', { class: 'panel row', id: 'filters', role: 'search' },
  field(t('filterText'), h('input', { name: 'q', id: 'q', value: state.q, maxlength: 100 })),
  field(t('filterOnline'), select('online', [['', t('all')], ['true', t('online')], ['false', t('offline')]], state.online)),
  h('button', { type: 'submit' }, t('search')), modeEl);
filters.addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(filters);
  state.q = String(f.get('q') ?? '');
  state.online = String(f.get('online') ?? '');
  state.after = null;
  void load();
});
nextBtn.addEventListener('click', () => { state.after = nextBtn.dataset.after; void load(); });
firstBtn.addEventListener('click', () => { state.after = null; void load(); });
const head = [t('id'), t('name'), t('zone'), t('kind'), t('status'), t('lastSeen'), t('manifest')];
await load();
mount(h('div', { class: 'split' }, treeEl, h('div', {}, filters, summary, table(head, [body], { id: 'devices' }), h('p', { class: 'row' }, firstBtn, nextBtn))));
watchStatus({ onStatus, poll: load, onMode: (m) => { modeEl.textContent = m === 'sse' ? t('liveSse') : t('livePoll'); modeEl.dataset.mode = m; } });
