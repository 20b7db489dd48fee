// Software updates (issue 11): stored agent releases, and each deployment's waves and devices (version, state,
// failure reason), with pause, resume and abort. Refreshes every 5 s.
import { get, post, qs } from '../lib/api.js';
import { flash, fmtDateTime, fmtNumber, t } from '../lib/boot.js';
import { h, mount, table } from '../lib/dom.js';

const label = (prefix, key) => {
  const s = t(`${prefix}.${key}`);
  return s === `${prefix}.${key}` ? key : s;
};

function releasesTable(releases) {
  if (!releases.length) return h('p', { id: 'no-releases' }, t('noReleases'));
  return table([t('version'), t('arch'), { label: t('size'), num: true }, 'SHA-256', t('uploadedAt')], releases.map((r) => h('tr', {},
    h('td', {}, r.version), h('td', {}, r.arch), h('td', { class: 'num' }, r.size < 1048576 ? `${fmtNumber(r.size / 1024, 1)} KB` : `${fmtNumber(r.size / 1048576, 1)} MB`),
    h('td', {}, h('code', { title: r.sha256 }, `${r.sha256.slice(0, 12)}…`)), h('td', {}, fmtDateTime(r.uploadedAt)))), { id: 'releases' });
}

async function act(id, action) {
  if (action === 'abort' && !confirm(t('abortConfirm'))) return;
  try {
    await post(`/api/v1/deployments/${encodeURIComponent(id)}/${action}`);
    await refresh();
  } catch (e) {
    flash(e.message, 'error');
  }
}

function deploymentCard(d) {
  const buttons = [];
  if (d.state === 'running') buttons.push(h('button', { type: 'button', class: 'pause', onclick: () => void act(d.id, 'pause') }, t('pause')));
  if (d.state === 'paused') buttons.push(h('button', { type: 'button', class: 'resume', onclick: () => void act(d.id, 'resume') }, t('resume')));
  if (['running', 'paused', 'halted'].includes(d.state)) buttons.push(h('button', { type: 'button', class: 'abort danger', onclick: () => void act(d.id, 'abort') }, t('abort')));
  const rows = (d.devices ?? []).map((x) => h('tr', { dataset: { device: x.deviceId, state: x.state } },
    h('td', {}, h('a', { href: `/devices/${encodeURIComponent(x.deviceId)}` }, x.deviceId)), h('td', { class: 'num' }, x.wave),
    h('td', { class: 'state' }, label('upd', x.state)), h('td', { class: 'version' }, x.version ?? '—'),
    h('td', { class: 'reason' }, x.reason ?? ''), h('td', {}, x.message ?? ''), h('td', {}, fmtDateTime(x.updatedAt))));
  return h('section', { class: 'deployment', id: `dep-${d.id}`, dataset: { state: d.state } },
    h('h3', {}, `${d.release.version} (${d.release.arch}) → ${d.zoneId} · `, h('span', { class: 'dep-state' }, label('dep', d.state)), ` · ${d.id}`),
    h('ul', { class: 'waves' }, d.waves.map((w) => h('li', { dataset: { state: w.state } },
      t('waveLine', { n: w.index, p: w.percent, count: w.deviceCount, state: label('wave', w.state) }), w.startedAt ? ` (${fmtDateTime(w.startedAt)})` : ''))),
    d.haltReason ? h('div', { class: 'halt', role: 'alert' }, h('strong', {}, `${t('haltReason')}: `), `${d.haltReason.code} — ${d.haltReason.message}`) : null,
    h('p', { class: 'actions' }, buttons),
    table([t('device'), { label: t('wave'), num: true }, t('status'), t('version'), t('reason'), t('message'), t('updatedAt')], rows, { class: 'devices' }));
}

async function refresh() {
  const [{ releases }, { deployments }] = await Promise.all([get(`/api/v1/releases${qs({ limit: 50 })}`), get(`/api/v1/deployments${qs({ limit: 20 })}`)]);
  // The list carries waves and counts; each deployment's devices come from its own route.
  const full = await Promise.all(deployments.map((d) => get(`/api/v1/deployments/${encodeURIComponent(d.id)}`).then((r) => r.deployment)));
  mount(h('h2', {}, t('releases')), releasesTable(releases), h('h2', {}, t('deployments')),
    full.length ? full.map(deploymentCard) : h('p', { id: 'no-deployments' }, t('noDeployments')));
}

await refresh();
setInterval(() => void refresh().catch((e) => flash(e.message, 'error')), 5000);
