// Emergency console: zone → content → preview → confirm twice (retype the zone name) → live progress → cancel.
import { ApiError, get, post } from '../lib/api.js';
import { flash, fmtDateTime, t } from '../lib/boot.js';
import { field, h, mount, select, table } from '../lib/dom.js';

const [{ zones }, { media }, { orders }] = await Promise.all([get('/api/v1/zones'), get('/api/v1/media?limit=500'), get('/api/v1/emergency?limit=20')]);
const norm = (s) => s.normalize('NFC').trim().toLocaleLowerCase('vi');
const report = (e) => flash(e instanceof ApiError ? e.message : String(e), 'error');

const zoneSel = select('em-zone', zones.map((z) => [z.id, `${z.name} (${z.id})`]));
const title = h('input', { id: 'em-title', required: true, maxlength: 200, value: 'Thông báo khẩn cấp' });
const text = h('textarea', { id: 'em-text', rows: 3, maxlength: 5000 });
const mediaSel = select('em-media', [['', '—'], ...media.filter((m) => (m.kind ?? 'audio') === 'audio').map((m) => [m.id, m.title])]);
const repeat = h('input', { type: 'number', id: 'em-repeat', min: 1, max: 20, value: 1 });
const ttl = h('input', { type: 'number', id: 'em-ttl', min: 1, max: 1440, value: 30 });
const previewOut = h('div', { id: 'em-preview', role: 'status' });
const c1 = h('input', { id: 'em-confirm1', autocomplete: 'off', disabled: true });
const c2 = h('input', { id: 'em-confirm2', autocomplete: 'off', disabled: true });
const sendBtn = h('button', { type: 'button', id: 'em-send', class: 'danger big', disabled: true }, t('emSend'));
const confirmLabel = h('span', {}, t('emConfirm1', { name: '…' }));
const progress = h('section', { id: 'em-progress', class: 'panel', hidden: true, 'aria-live': 'polite' });
let zoneName = null;

const previewBtn = h('button', { type: 'button', id: 'em-preview-btn' }, t('emPreview'));
previewBtn.addEventListener('click', async () => {
  try {
    const p = await post('/api/v1/emergency/preview', { zones: [zoneSel.value] });
    zoneName = p.confirmByName;
    previewOut.replaceChildren(h('p', { class: 'big' }, t('emTargets', { n: p.targetedDevices, online: p.online })),
      h('ul', {}, p.zones.map((z) => h('li', {}, z.pathNames ? z.pathNames.join(' › ') : z.name))));
    confirmLabel.textContent = t('emConfirm1', { name: zoneName });
    c1.disabled = c2.disabled = false;
    c1.focus();
  } catch (e) { report(e); }
});
const check = () => { sendBtn.disabled = !(zoneName && norm(c1.value) === norm(zoneName) && norm(c2.value) === norm(zoneName)); };
c1.addEventListener('input', check);
c2.addEventListener('input', check);

async function watch(id) {
  progress.hidden = false;
  const cancel = h('button', { type: 'button', id: 'em-cancel', class: 'danger' }, t('emCancel'));
  const body = h('div', {});
  cancel.addEventListener('click', async () => { try { await post(`/api/v1/emergency/${encodeURIComponent(id)}/cancel`); } catch (e) { report(e); } });
  progress.replaceChildren(h('h2', {}, t('emProgress')), body, cancel);
  for (;;) {
    const { order, progress: p } = await get(`/api/v1/emergency/${encodeURIComponent(id)}`);
    body.replaceChildren(h('p', { 'data-status': order.status }, `${order.title} — ${order.status}`),
      h('div', { class: 'cards' }, ['targeted', 'received', 'started', 'finished', 'failed', 'offline'].map((k) =>
        h('div', { class: 'card', 'data-k': k, 'data-n': String(p[k] ?? 0) }, h('div', { class: 'n' }, String(p[k] ?? 0)), h('div', { class: 'l' }, t(`em.${k === 'started' ? 'playing' : k}`))))));
    if (order.status !== 'active' && order.status !== 'pending_approval') { cancel.disabled = true; break; }
    await new Promise((r) => setTimeout(r, 1500));
  }
}

sendBtn.addEventListener('click', async () => {
  const content = text.value.trim() ? { kind: 'tts', text: text.value.trim() } : mediaSel.value ? { kind: 'media', mediaId: mediaSel.value } : null;
  if (!content) { flash(t('emStep2'), 'error'); return; }
  if (!(zoneName && norm(c1.value) === norm(zoneName) && norm(c2.value) === norm(zoneName))) { flash(t('emMismatch'), 'error'); return; }
  sendBtn.disabled = true;
  try {
    const r = await post('/api/v1/emergency', { title: title.value, zones: [zoneSel.value], content, repeat: Number(repeat.value), ttlMinutes: Number(ttl.value), confirm: c1.value });
    void watch(r.order.id);
  } catch (e) { report(e); sendBtn.disabled = false; }
});

const orderRows = orders.map((o) => h('tr', {}, h('td', {}, fmtDateTime(o.createdAt)), h('td', {}, o.title), h('td', {}, o.zones.join(', ')), h('td', {}, o.status),
  h('td', {}, o.status === 'active' ? h('button', { type: 'button', onclick: () => void watch(o.id) }, t('emProgress')) : null)));
mount(
  h('section', { class: 'panel' }, h('h2', {}, t('emStep1')), field(t('zone'), zoneSel)),
  h('section', { class: 'panel' }, h('h2', {}, t('emStep2')), field(t('title'), title), field(t('emText'), text), field(t('emMedia'), mediaSel),
    h('div', { class: 'row' }, field(t('emRepeat'), repeat), field(t('emTtl'), ttl))),
  h('section', { class: 'panel' }, h('h2', {}, t('emStep3')), previewBtn, previewOut),
  h('section', { class: 'panel' }, h('h2', {}, t('emStep4')), h('label', {}, confirmLabel, ' ', c1), field(t('emConfirm2'), c2), sendBtn),
  progress,
  h('h2', {}, t('emOrders')), table([t('time'), t('title'), t('zone'), t('status'), t('actions')], orderRows, { id: 'orders' }),
);
