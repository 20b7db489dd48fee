// Media library: upload with progress (XMLHttpRequest upload events to POST /api/v1/media), kinds, durations,
// a preview player, and a thumbnail of each picture (issue 8: pictures and videos for boards).
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
    field(t('mediaKind'), select('kind', ['auto', 'audio', 'image', 'video'].map((k) => [k, t(`kind.${k}`)]), 'auto')),
    field(t('file'), h('input', { type: 'file', name: 'file', id: 'media-file', accept: 'audio/*,video/*,image/png,image/jpeg,image/webp', required: true }))),
  h('button', { type: 'submit', class: 'primary' }, t('upload')), bar, status);
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const fd = new FormData();
  fd.append('zoneId', form.querySelector('#zoneId').value);
  fd.append('title', form.querySelector('#media-title').value);
  fd.append('kind', form.querySelector('#kind').value);
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
const video = h('video', { id: 'video-player', controls: true, muted: true, preload: 'none', hidden: true, width: 320 });
const play = (m) => {
  const [on, off] = m.kind === 'video' ? [video, player] : [player, video];
  off.pause();
  video.hidden = m.kind !== 'video';
  on.src = `/media/${m.sha256}`;
  void on.play().catch(() => {});
};
const kindCell = (m) => h('td', { class: 'media-kind' }, t(`kind.${m.kind || 'audio'}`), m.width ? ` ${m.width}×${m.height}` : '',
  m.kind === 'image' ? h('img', { class: 'thumb', src: `/media/${m.sha256}`, alt: m.title, loading: 'lazy', height: 48 }) : '');
const rows = media.map((m) => h('tr', { 'data-id': m.id },
  h('td', { class: 'media-title' }, m.title), kindCell(m), h('td', {}, m.zoneId), h('td', { class: 'num' }, m.kind === 'image' ? '' : fmtDuration(m.durationMs)), h('td', {}, fmtDateTime(m.createdAt)),
  h('td', {}, m.kind === 'image' ? '' : h('button', { type: 'button', 'aria-label': `${t('preview')}: ${m.title}`, onclick: () => play(m) }, t('preview')))));
mount(form, h('h2', {}, t('page.library')), player, video, table([t('title'), t('mediaKind'), t('zone'), { label: t('duration'), num: true }, t('time'), t('actions')], rows, { id: 'media' }));
