// Sign in: POST /api/v1/auth/login sets the session cookie; then back to the page asked for.
import { t } from '../lib/boot.js';
import { field, h, mount } from '../lib/dom.js';

const next = (() => {
  const n = new URLSearchParams(location.search).get('next') || '/';
  return /^\/(?![/\\])/.test(n) ? n : '/';
})();
const err = h('p', { class: 'err', id: 'loginErr', role: 'alert' });
const form = h('form', { class: 'panel', id: 'login', method: 'post', action: '/login' },
  field(t('username'), h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true })),
  field(t('password'), h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true })),
  h('button', { class: 'primary', type: 'submit' }, t('signIn')), err);
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  err.textContent = '';
  const f = new FormData(form);
  const r = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: f.get('username'), password: f.get('password') }) });
  if (!r.ok) {
    const j = await r.json().catch(() => null);
    err.textContent = j?.error ? (document.documentElement.lang === 'vi' ? j.error.vi : j.error.message) : `HTTP ${r.status}`;
    return;
  }
  location.href = next;
});
mount(form);
document.getElementById('username').focus();
