// Programs and schedules: create (draft), submit, approve; a weekly calendar of a device's plan with its conflicts
// (GET /api/v1/preview: the controller's own conflict model).
import { ApiError, get, post, qs } from '../lib/api.js';
import { flash, fmtDate, localDate, parseVnDate, t, user } from '../lib/boot.js';
import { dateInput, field, h, mount, select, table, timeInput } from '../lib/dom.js';

const [{ zones }, { media }, { programs }, { schedules }, { devices }] = await Promise.all([
  get('/api/v1/zones'), get('/api/v1/media?limit=500'), get('/api/v1/programs?limit=500'), get('/api/v1/schedules?limit=500'), get('/api/v1/devices?limit=500'),
]);
const programTitle = new Map(programs.map((p) => [p.id, p.title]));
const zoneOpts = zones.map((z) => [z.id, `${z.name} (${z.id})`]);
const stateLabel = (s) => t(`state.${s}`);
const report = (e) => flash(e instanceof ApiError ? e.message : String(e), 'error');

async function act(kind, id, action) {
  try {
    await post(`/api/v1/${kind}/${encodeURIComponent(id)}/${action}`);
    location.reload();
  } catch (e) { report(e); }
}
const actions = (kind, x) => h('td', {},
  x.status === 'draft' || x.status === 'rejected' ? h('button', { type: 'button', 'data-act': 'submit', onclick: () => void act(kind, x.id, 'submit') }, t('submit')) : null,
  x.status === 'pending' ? h('button', { type: 'button', 'data-act': 'approve', onclick: () => void act(kind, x.id, 'approve') }, t('approve')) : null);

// ── new program ──
const progForm = h('form', { class: 'panel', id: 'new-program' }, h('h2', {}, t('newProgram')),
  field(t('title'), h('input', { name: 'title', id: 'program-title', required: true, maxlength: 300 })),
  field(t('zone'), select('program-zone', zoneOpts)),
  field(t('media'), h('select', { name: 'media', id: 'program-media', multiple: true, size: 4, required: true }, media.map((m) => h('option', { value: m.id, 'data-kind': m.kind ?? 'audio' }, (m.kind ?? 'audio') === 'audio' ? m.title : `${m.title} (${t(`kind.${m.kind}`)})`)))),
  h('button', { type: 'submit', class: 'primary' }, t('create')));
progForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  // Audio plays through the loudspeakers; a picture is a 10-second board slide, a video a slide as long as itself.
  const items = [...progForm.querySelector('#program-media').selectedOptions].map((o) => (o.dataset.kind === 'image'
    ? { kind: 'image', mediaId: o.value, durationMs: 10_000 }
    : o.dataset.kind === 'video' ? { kind: 'video', mediaId: o.value } : { kind: 'media', mediaId: o.value }));
  try {
    await post('/api/v1/programs', { zoneId: progForm.querySelector('#program-zone').value, title: progForm.querySelector('#program-title').value, items });
    location.reload();
  } catch (err) { report(err); }
});

// ── new schedule ──
const RULES = { once: null, daily: 'FREQ=DAILY', weekdays: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', weekly: 'FREQ=WEEKLY' };
const today = localDate(Date.now());
const schedForm = h('form', { class: 'panel', id: 'new-schedule' }, h('h2', {}, t('newSchedule')),
  h('div', { class: 'row' },
    field(t('title'), h('input', { name: 'title', id: 'schedule-title', required: true, maxlength: 300 })),
    field(t('program'), select('schedule-program', programs.map((p) => [p.id, `${p.title} (${stateLabel(p.status)})`]))),
    field(t('zone'), select('schedule-zone', zoneOpts)),
    field(t('targets'), select('schedule-target', zoneOpts))),
  h('div', { class: 'row' },
    field(t('startAt'), dateInput('schedule-start-date', today)), field(t('time'), timeInput('schedule-start-time', '06:00')),
    field(t('repeat'), select('schedule-repeat', Object.keys(RULES).map((k) => [k, t(k)]), 'daily')),
    field(t('until'), dateInput('schedule-until', localDate(Date.now() + 30 * 86400000))),
    field(t('priority'), select('schedule-priority', [['normal', t('normal')], ['priority', t('priority.priority')]])),
    field(t('volume'), h('input', { type: 'number', id: 'schedule-volume', min: 0, max: 100, value: 80 }))),
  h('label', {}, h('input', { type: 'checkbox', id: 'schedule-night' }), ' ', t('confirmNight')),
  h('button', { type: 'submit', class: 'primary' }, t('create')));
schedForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = (id) => schedForm.querySelector(`#${id}`).value;
  const rule = RULES[v('schedule-repeat')];
  const day = parseVnDate(v('schedule-start-date'));
  const until = v('schedule-until') ? parseVnDate(v('schedule-until')) : null;
  const hm = /^(\d{1,2}):(\d{2})$/.exec(v('schedule-start-time'));
  if (!day || !hm || (v('schedule-until') && !until)) { flash(`${t('startAt')}: dd/mm/yyyy HH:mm`, 'error'); return; }
  const body = {
    zoneId: v('schedule-zone'), programId: v('schedule-program'), title: v('schedule-title'), dtstart: `${day}T${hm[1].padStart(2, '0')}:${hm[2]}`,
    priority: v('schedule-priority'), volume: Number(v('schedule-volume')), targets: { zones: [v('schedule-target')], devices: [] },
    ...(rule ? { rrule: rule } : {}), ...(rule && until ? { validUntil: new Date(`${until}T23:59:59+07:00`).toISOString() } : {}),
    ...(schedForm.querySelector('#schedule-night').checked ? { confirmNightHours: true } : {}),
  };
  try {
    const r = await post('/api/v1/schedules', body);
    flash(t('created'));
    location.href = `/schedules?created=${encodeURIComponent(r.schedule.id)}`;
  } catch (err) { report(err); }
});

// ── lists ──
const progRows = programs.map((p) => h('tr', { 'data-id': p.id }, h('td', {}, p.title), h('td', {}, p.zoneId), h('td', { 'data-status': p.status }, stateLabel(p.status)), actions('programs', p)));
const schedRows = schedules.map((s) => h('tr', { 'data-id': s.id }, h('td', {}, s.title), h('td', {}, s.dtstart.replace('T', ' ')), h('td', {}, s.rrule ?? t('once')),
  h('td', {}, s.targets.zones.concat(s.targets.devices).join(', ')), h('td', { 'data-status': s.status }, stateLabel(s.status)), actions('schedules', s)));

// ── weekly calendar ──
const weekEl = h('div', { class: 'week', id: 'week' });
const conflictsEl = h('div', { id: 'conflicts' });
let weekStart = Date.now() - ((new Date().getUTCDay() + 6) % 7) * 86400000;
const devSel = select('calendar-device', devices.map((d) => [d.id, `${d.name} (${d.id})`]));
async function week() {
  const id = devSel.value;
  if (!id) { weekEl.replaceChildren(h('p', {}, t('noDevices'))); return; }
  const days = Array.from({ length: 7 }, (_x, i) => localDate(weekStart + i * 86400000));
  const plans = await Promise.all(days.map((d) => get(`/api/v1/preview${qs({ deviceId: id, date: d })}`).then((r) => r.plan)));
  const all = [];
  weekEl.replaceChildren(...plans.map((p, i) => {
    const keys = new Set(p.conflicts.flatMap((c) => [c.winner.key, c.loser.key]));
    all.push(...p.conflicts.map((c) => ({ ...c, date: days[i] })));
    return h('section', { class: 'day', 'aria-label': fmtDate(`${days[i]}T12:00:00+07:00`) }, h('h3', {}, fmtDate(`${days[i]}T12:00:00+07:00`)),
      p.occurrences.map((o) => h('div', { class: `occ${keys.has(o.key) ? ' conflict' : ''}`, title: o.entryId }, `${o.localStart}–${o.localEnd} ${programTitle.get(o.programId) ?? o.programId}`)));
  }));
  conflictsEl.replaceChildren(h('h3', {}, t('conflicts')), all.length
    ? h('ul', {}, all.map((c) => h('li', { class: 'err' }, `${fmtDate(`${c.date}T12:00:00+07:00`)} ${c.localAt}: ${c.message}`)))
    : h('p', { class: 'ok' }, t('noConflicts')));
}
devSel.addEventListener('change', () => void week());
const nav = h('div', { class: 'row' }, field(t('calendarFor'), devSel),
  h('button', { type: 'button', id: 'week-prev', onclick: () => { weekStart -= 7 * 86400000; void week(); } }, t('prevWeek')),
  h('button', { type: 'button', id: 'week-next', onclick: () => { weekStart += 7 * 86400000; void week(); } }, t('nextWeek')));

const canWrite = user.roles.some((r) => r.role === 'admin' || r.role === 'operator');
mount(
  canWrite ? h('div', { class: 'split' }, progForm, schedForm) : null,
  h('h2', {}, t('programs')), table([t('title'), t('zone'), t('status'), t('actions')], progRows, { id: 'programs' }),
  h('h2', {}, t('schedules')), table([t('title'), t('startAt'), t('repeat'), t('targets'), t('status'), t('actions')], schedRows, { id: 'schedules' }),
  h('h2', {}, t('week')), nav, weekEl, conflictsEl,
);
await week();
