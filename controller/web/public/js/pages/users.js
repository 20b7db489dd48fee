// Users and their role grants (per zone); admins create users here.
import { ApiError, get, post } from '../lib/api.js';
import { flash, t } from '../lib/boot.js';
import { field, h, mount, select, table } from '../lib/dom.js';

const [{ users }, { zones }] = await Promise.all([get('/api/v1/users'), get('/api/v1/zones')]);
const ROLES = ['admin', 'operator', 'technician', 'viewer'];
const rows = users.map((u) => h('tr', { 'data-id': u.id }, h('td', {}, u.username), h('td', {}, u.displayName),
  h('td', {}, h('ul', {}, u.roles.map((r) => h('li', {}, `${t(`role.${r.role}`)} — ${r.zoneId}${r.canApprove ? ` (${t('canApprove')})` : ''}`)))),
  h('td', {}, u.disabled ? t('yes') : t('no'))));
const form = h('form', { class: 'panel', id: 'new-user' }, h('h2', {}, t('newUser')),
  h('div', { class: 'row' },
    field(t('username'), h('input', { id: 'u-username', required: true, maxlength: 100, autocomplete: 'off' })),
    field(t('displayName'), h('input', { id: 'u-name', required: true, maxlength: 200 })),
    field(t('password'), h('input', { id: 'u-password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' })),
    field(t('role'), select('u-role', ROLES.map((r) => [r, t(`role.${r}`)]), 'viewer')),
    field(t('zone'), select('u-zone', zones.map((z) => [z.id, `${z.name} (${z.id})`])))),
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
