// Device detail: state, health charts (inline SVG), play history, manifest version, and commands (contract B).
import { ApiError, get, getOptional, post, qs, routeMissing } from '../lib/api.js';
import { flash, fmtDateTime, t } from '../lib/boot.js';
import { lineChart } from '../lib/chart.js';
import { field, h, mount, table } from '../lib/dom.js';

const id = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const base = `/api/v1/devices/${encodeURIComponent(id)}`;
const FINAL = new Set(['done', 'failed', 'expired']);
const now = Date.now();

const [{ device, manifest }, tel, series, plays, cmds] = await Promise.all([
  get(base), get(`${base}/telemetry`), get(`${base}/telemetry/series`),
  get(`${base}/plays${qs({ from: new Date(now - 7 * 86400000).toISOString(), to: new Date(now + 86400000).toISOString(), limit: 100 })}`).catch(() => ({ plays: [] })),
  getOptional(`${base}/commands?limit=10`).catch(() => null),
]);

const dl = (pairs) => h('dl', { class: 'panel', id: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
const facts = dl([
  [t('id'), device.id], [t('name'), device.name], [t('zone'), device.zoneId], [t('kind'), t(device.kind)],
  [t('status'), h('span', { class: device.online ? 'on' : 'off', id: 'dev-status' }, device.online ? t('online') : t('offline'))],
  [t('lastSeen'), fmtDateTime(device.lastSeen)],
  [t('manifest'), `${device.appliedVersion ?? 0} / ${manifest ? manifest.version : 0}${manifest ? ` (${fmtDateTime(manifest.compiledAt)})` : ''}`],
  [t('agentVersion'), device.agentVersion ?? '—'], [t('hardware'), device.hardwareProfile ?? '—'],
  [t('position'), device.lat !== null && device.lat !== undefined ? `${device.lat}, ${device.lon}` : '—'],
]);

const charts = h('div', { id: 'charts' });
const samples = series.samples.map((x) => ({ ...x, x: Date.parse(x.at) }));
if (samples.length === 0) charts.append(h('p', { class: 'muted' }, t('noData')));
for (const [key, unit] of [['tempC', '°'], ['cpuLoad', ''], ['rssiDbm', ''], ['diskFreeMb', '']]) {
  const pts = samples.filter((x) => typeof x[key] === 'number').map((x) => ({ x: x.x, y: x[key] }));
  if (pts.length) charts.append(h('figure', {}, lineChart(pts, { title: t(key), unit }), h('figcaption', {}, `${t(key)}: ${pts.at(-1).y}`)));
}

// ── commands (contract B) ──
const cmdState = h('p', { id: 'cmd-state', role: 'status' });
const cmdRows = h('tbody', { id: 'cmd-rows' });
const note = h('p', { id: 'cmd-note', class: 'warn', hidden: cmds !== null }, t('notAvailable'));
const cmdRow = (c) => h('tr', { 'data-id': c.id }, h('td', {}, fmtDateTime(c.createdAt)), h('td', {}, t(c.type === 'test_tone' ? 'testTone' : c.type === 'relay_check' ? 'relayCheck' : c.type)),
  h('td', { 'data-state': c.state }, c.state), h('td', {}, c.error ? c.error.message : ''));
if (cmds) cmdRows.append(...cmds.commands.map(cmdRow));

async function send(body) {
  cmdState.textContent = '…';
  let c;
  try {
    c = (await post(`${base}/commands`, body)).command;
  } catch (e) {
    if (routeMissing(e)) { note.hidden = false; cmdState.textContent = t('notAvailable'); return; }
    cmdState.textContent = e instanceof ApiError ? e.message : String(e);
    return;
  }
  cmdState.dataset.state = c.state;
  cmdState.textContent = `${t('commandState')}: ${c.state}`;
  cmdRows.prepend(cmdRow(c));
  while (!FINAL.has(c.state)) {
    await new Promise((r) => setTimeout(r, 1000));
    c = (await get(`${base}/commands/${encodeURIComponent(c.id)}`)).command;
    cmdState.dataset.state = c.state;
    cmdState.textContent = `${t('commandState')}: ${c.state}${c.error ? ` — ${c.error.message}` : ''}`;
    cmdRows.querySelector(`tr[data-id="${CSS.escape(c.id)}"]`)?.replaceWith(cmdRow(c));
  }
  flash(`${t('commandState')}: ${c.state}`);
}
const volume = h('input', { type: 'number', id: 'volume', min: 0, max: 100, value: 70 });
const commands = h('section', { class: 'panel', 'aria-labelledby': 'h-cmd' }, h('h2', { id: 'h-cmd' }, t('commands')), note,
  h('div', { class: 'row' },
    h('button', { type: 'button', id: 'cmd-test-tone', onclick: () => void send({ type: 'test_tone', durationS: 5 }) }, t('testTone')),
    field(t('volume'), volume), h('button', { type: 'button', id: 'cmd-volume', onclick: () => void send({ type: 'volume', volume: Number(volume.value) }) }, t('setVolume')),
    h('button', { type: 'button', id: 'cmd-relay', onclick: () => void send({ type: 'relay_check' }) }, t('relayCheck')),
    h('button', { type: 'button', id: 'cmd-reboot', class: 'danger', onclick: () => { if (confirm(t('confirmReboot'))) void send({ type: 'reboot' }); } }, t('reboot'))),
  cmdState, table([t('time'), t('actions'), t('status'), t('error')], [cmdRows]));

// ── boards: the latest low-resolution screenshot of the kiosk page (issue 8, contract D) ──
const screen = device.kind === 'board'
  ? h('figure', { class: 'panel', id: 'screenshot-panel' },
    h('img', {
      id: 'screenshot', src: `${base}/screenshot?t=${now}`, alt: t('screenshot'), width: 320,
      onerror: (e) => { e.target.hidden = true; e.target.nextElementSibling.textContent = t('noScreenshot'); },
    }),
    h('figcaption', {}, t('screenshot')))
  : null;

const playRows = plays.plays.map((p) => h('tr', {}, h('td', {}, fmtDateTime(p.scheduledAt ?? p.startedAt)), h('td', {}, p.programId ?? '—'), h('td', { class: p.status === 'completed' ? 'on' : p.status === 'failed' ? 'off' : '' }, p.status)));
const events = tel.events.slice(0, 20).map((e) => h('tr', {}, h('td', {}, fmtDateTime(e.at)), h('td', {}, e.type), h('td', {}, JSON.stringify(e.data).slice(0, 160))));

mount(
  h('h2', {}, device.name), facts, ...(screen ? [h('h2', {}, t('screenshot')), screen] : []), commands,
  h('h2', {}, t('health')), charts,
  h('h2', {}, t('playHistory')), table([t('time'), t('program'), t('status')], playRows.length ? playRows : [h('tr', {}, h('td', { colspan: 3 }, t('noData')))], { id: 'plays' }),
  h('h2', {}, t('events')), table([t('time'), t('kind'), t('details')], events, { id: 'events' }),
);
