// Reports: the provincial plan indicators for a zone and period, with SVG charts and CSV/XLSX exports.
import { get, qs } from '../lib/api.js';
import { flash, fmtDateTime, fmtNumber, lang, localDate, parseVnDate, t } from '../lib/boot.js';
import { percentBars } from '../lib/chart.js';
import { dateInput, field, h, mount, select, table } from '../lib/dom.js';

const LABEL = { coverage: 'kpiCoverage', converted: 'kpiConverted', boards: 'kpiBoards', districtBoards: 'kpiDistrictBoards', uptime: 'kpiUptime', plays: 'kpiPlays' };
const { zones } = await get('/api/v1/zones');
const zoneSel = select('r-zone', zones.map((z) => [z.id, `${z.name} (${z.id})`]));
const from = dateInput('r-from', localDate(Date.now() - 30 * 86400000));
const to = dateInput('r-to', localDate(Date.now()));
const csv = h('a', { id: 'export-csv', download: '' }, t('exportCsv'));
const xlsx = h('a', { id: 'export-xlsx', download: '' }, t('exportXlsx'));
const out = h('div', { id: 'report' });

function query(format) {
  const f = parseVnDate(from.value), u = parseVnDate(to.value);
  return `/api/v1/reports/kpi${qs({ zoneId: zoneSel.value, from: new Date(`${f}T00:00:00+07:00`).toISOString(), to: new Date(Date.parse(`${u}T00:00:00+07:00`) + 86400000).toISOString(), format, lang })}`;
}
async function load() {
  if (!parseVnDate(from.value) || !parseVnDate(to.value)) { flash(`${t('from')} / ${t('to')}: dd/mm/yyyy`, 'error'); return; }
  csv.href = query('csv');
  xlsx.href = query('xlsx');
  const r = await get(query('json'));
  const ind = r.indicators.map((i) => h('tr', { 'data-key': i.key }, h('td', {}, t(LABEL[i.key])), h('td', { class: 'num' }, fmtNumber(i.numerator)), h('td', { class: 'num' }, fmtNumber(i.denominator)),
    h('td', { class: 'num' }, i.percent === null ? '—' : `${fmtNumber(i.percent, 1)}%`)));
  const communes = r.communes.map((c) => h('tr', {}, h('td', {}, c.name), h('td', { class: 'num' }, `${c.coveredClusters}/${c.clusters}`), h('td', {}, c.covered ? t('yes') : t('no')),
    h('td', { class: 'num' }, c.speakers), h('td', { class: 'num' }, c.boards), h('td', { class: 'num' }, c.legacyStations === null ? '—' : `${c.convertedStations ?? 0}/${c.legacyStations}`),
    h('td', { class: 'num' }, c.uptimePct === null ? '—' : `${c.uptimePct}%`), h('td', { class: 'num' }, `${c.completed}/${c.scheduled}`)));
  const em = r.emergency.map((o) => h('tr', {}, h('td', {}, fmtDateTime(o.issuedAt)), h('td', {}, o.title), h('td', { class: 'num' }, `${o.received}/${o.targeted}`),
    h('td', { class: 'num' }, o.medianS ?? '—'), h('td', { class: 'num' }, o.p95S ?? '—')));
  out.replaceChildren(
    percentBars(r.indicators.map((i) => ({ label: t(LABEL[i.key]), value: i.percent })), { title: t('page.reports') }),
    table([t('indicator'), { label: t('numerator'), num: true }, { label: t('denominator'), num: true }, { label: t('percent'), num: true }], ind, { id: 'indicators' }),
    h('h2', {}, t('perZone')),
    table([t('zone'), { label: t('kpiCoverage'), num: true }, '✓', { label: t('speaker'), num: true }, { label: t('board'), num: true }, { label: t('kpiConverted'), num: true }, { label: t('kpiUptime'), num: true }, { label: t('kpiPlays'), num: true }], communes, { id: 'communes' }),
    h('h2', {}, t('kpiEmergency')),
    table([t('time'), t('title'), { label: t('em.received'), num: true }, { label: t('medianS'), num: true }, { label: t('p95S'), num: true }], em, { id: 'emergency' }));
}
const form = h('form', { class: 'panel row', id: 'report-form' }, field(t('zone'), zoneSel), field(t('from'), from), field(t('to'), to), h('button', { type: 'submit', class: 'primary' }, t('show')), csv, xlsx);
form.addEventListener('submit', (e) => { e.preventDefault(); void load(); });
zoneSel.addEventListener('change', () => void load());
await load();
mount(form, out);
