// Media library: upload with progress (XMLHttpRequest upload events to POST /api/v1/media), durations, preview player.
import { get } from '../lib/api.js';
import { csrf, flash, fmtDateTime, fmtDuration, lang, t } from '../lib/boot.js';
import { field, h, mount, select, table } from '../lib/dom.js';

const [{ zones }, { media }] = await Promise.all([get('/api/v1/zones'), get('/api/v1/media?limit=1000')]);
const bar = h('progress', { id: 'upload-progress', max: 100, value: 0, hidden: true });
const status = h('p', { id: 'upload-status', role: 'status' });
const form = h('form', { class: 'panel', id: 'upload' }, h('h2', {}, t('upload')),
  h('div', { class: 'row' },
    field(t('title'), h('input', { name: 'title', id: 'media-title', required: true, maxlength: 200 })),
    field(t('zone'), select('zoneId', zones.map((z) => [z.id, `${z.name} (${z.id})`]))),
    field(t('file'), h('input', { type: 'file', name: 'file', id: 'media-file', accept: 'audio/*', required: true }))),
  h('button', { type: 'submit', class: 'primary' }, t('upload')), bar, status);
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const fd = new FormData();
  fd.append('zoneId', form.querySelector('#zoneId').value);
  fd.append('title', form.querySelector('#media-title').value);
  fd.append('file', form.querySelector('#media-file').files[0]);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/v1/media');
  xhr.setRequestHeader('x-csrf-token', csrf);
  bar.hidden = false;
  xhr.upload.addEventListener('progress', (ev) => {
    if (!ev.lengthComputable) return;
    bar.value = Math.round((100 * ev.loaded) / ev.total);
    status.textContent = t('uploading', { p: bar.value });
  });
  xhr.addEventListener('load', () => {
    if (xhr.status >= 200 && xhr.status < 300) { status.textContent = t('uploaded'); location.reload(); return; }
    let msg = `HTTP ${xhr.status}`;
    try { const j = JSON.parse(xhr.responseText).error; msg = `${lang === 'vi' ? j.vi : j.message} (${j.code})`; } catch { /* not JSON */ }
    status.textContent = msg;
    flash(msg, 'error');
  });
  xhr.addEventListener('error', () => { status.textContent = t('error'); });
  xhr.send(fd);
});

const player = h('audio', { id: 'player', controls: true, preload: 'none' });
const rows = media.map((m) => h('tr', { 'data-id': m.id },
  h('td', { class: 'media-title' }, m.title), h('td', {}, m.zoneId), h('td', { class: 'num' }, fmtDuration(m.durationMs)), h('td', {}, fmtDateTime(m.createdAt)),
  h('td', {}, h('button', { type: 'button', 'aria-label': `${t('preview')}: ${m.title}`, onclick: () => { player.src = `/media/${m.sha256}`; void player.play().catch(() => {}); } }, t('preview')))));
mount(form, h('h2', {}, t('page.library')), player, table([t('title'), t('zone'), { label: t('duration'), num: true }, t('time'), t('actions')], rows, { id: 'media' }));
