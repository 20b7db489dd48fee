// Users and their role grants (per zone): admins create users, add and remove grants, and lock accounts here.
import { api, ApiError, get, post } from '../lib/api.js';
import { flash, t } from '../lib/boot.js';
import { field, h, mount, select, table } from '../lib/dom.js';

const [{ users }, { zones }] = await Promise.all([get('/api/v1/users'), get('/api/v1/zones')]);
const ROLES = ['admin', 'operator', 'technician', 'viewer'];
const zoneOptions = zones.map((z) => [z.id, `${z.name} (${z.id})`]);
const grantsOf = (u) => u.roles.map((r) => ({ role: r.role, zoneId: r.zoneId, ...(r.canApprove ? { canApprove: true } : {}) }));

/** PATCH /api/v1/users/:id (the controller checks that the caller administers every zone involved). */
async function save(u, body) {
  try {
    await api('PATCH', `/api/v1/users/${encodeURIComponent(u.id)}`, body);
    location.reload();
  } catch (err) { flash(err instanceof ApiError ? err.message : String(err), 'error'); }
}

function grantItem(u, r, i) {
  const label = `${t(`role.${r.role}`)} — ${r.zoneId}${r.canApprove ? ` (${t('canApprove')})` : ''}`;
  const remove = h('button', {
    type: 'button', class: 'link', 'data-action': 'remove-grant', 'aria-label': `${t('removeRole')}: ${label}`,
    onclick: () => void save(u, { roles: grantsOf(u).filter((_, j) => j !== i) }),
  }, '×');
  return h('li', {}, label, ' ', remove);
}

function grantForm(u) {
  const id = (k) => `g-${k}-${u.id}`;
  const f = h('form', { class: 'row', 'data-action': 'add-grant' },
    field(t('role'), select(id('role'), ROLES.map((r) => [r, t(`role.${r}`)]), 'viewer')),
    field(t('zone'), select(id('zone'), zoneOptions)),
    field(t('canApprove'), h('input', { type: 'checkbox', id: id('approve') })),
    h('button', { type: 'submit' }, t('addRole')));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = (k) => f.querySelector(`#${CSS.escape(id(k))}`);
    const grant = { role: v('role').value, zoneId: v('zone').value, ...(v('approve').checked ? { canApprove: true } : {}) };
    void save(u, { roles: [...grantsOf(u), grant] });
  });
  return f;
}

const rows = users.map((u) => h('tr', { 'data-id': u.id }, h('td', {}, u.username), h('td', {}, u.displayName),
  h('td', {}, h('ul', {}, u.roles.map((r, i) => grantItem(u, r, i))), grantForm(u)),
  h('td', {}, u.disabled ? t('yes') : t('no'), ' ',
    h('button', { type: 'button', 'data-action': 'toggle-disabled', onclick: () => void save(u, { disabled: !u.disabled }) }, u.disabled ? t('unlock') : t('lock')))));

const form = h('form', { class: 'panel', id: 'new-user' }, h('h2', {}, t('newUser')),
  h('div', { class: 'row' },
    field(t('username'), h('input', { id: 'u-username', required: true, maxlength: 100, autocomplete: 'off' })),
    field(t('displayName'), h('input', { id: 'u-name', required: true, maxlength: 200 })),
    field(t('password'), h('input', { id: 'u-password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' })),
    field(t('role'), select('u-role', ROLES.map((r) => [r, t(`role.${r}`)]), 'viewer')),
    field(t('zone'), select('u-zone', zoneOptions))),
  h('button', { type: 'submit', class: 'primary' }, t('create')));
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = (id) => form.querySelector(`#${id}`).value;
  try {
    await post('/api/v1/users', { username: v('u-username'), displayName: v('u-name'), password: v('u-password'), roles: [{ role: v('u-role'), zoneId: v('u-zone') }] });
    location.reload();
  } catch (err) { flash(err instanceof ApiError ? err.message : String(err), 'error'); }
});
mount(form, table([t('username'), t('displayName'), t('roles'), t('disabled')], rows, { id: 'users' }));
