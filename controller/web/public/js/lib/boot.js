// The page's boot data (rendered by the server as JSON), strings, dates in Vietnam time, and the header's buttons.
const boot = JSON.parse(document.getElementById('loa-boot').textContent);
export const lang = boot.lang;
export const user = boot.user;
export const csrf = boot.csrf;

/** A string of the dictionary, with {name} placeholders filled. */
export function t(key, vars) {
  const s = boot.dict[key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (_m, k) => String(vars[k] ?? '')) : s;
}

const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
function pieces(v) {
  const d = typeof v === 'number' ? new Date(v) : new Date(String(v));
  if (Number.isNaN(d.getTime())) return null;
  return Object.fromEntries(parts.formatToParts(d).map((p) => [p.type, p.value]));
}
/** dd/MM/yyyy HH:mm (24 h, Asia/Ho_Chi_Minh), whatever the language. */
export function fmtDateTime(v) {
  if (v === null || v === undefined || v === '') return '—';
  const p = pieces(v);
  return p ? `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}` : '—';
}
export function fmtDate(v) {
  const p = v === null || v === undefined ? null : pieces(v);
  return p ? `${p.day}/${p.month}/${p.year}` : '—';
}
export function fmtTime(v) {
  const p = v === null || v === undefined ? null : pieces(v);
  return p ? `${p.hour}:${p.minute}` : '—';
}
/** The local date YYYY-MM-DD in Vietnam of a moment. */
export function localDate(v) {
  const p = pieces(v);
  return `${p.year}-${p.month}-${p.day}`;
}
/** 'dd/MM/yyyy' (what the date fields show) → 'yyyy-MM-dd', or null when it is not a real date. */
export function parseVnDate(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text);
  if (!m) return null;
  const iso = `${m[3]}-${m[2].padStart(2, '0')}-${m[1].padStart(2, '0')}`;
  return new Date(`${iso}T00:00:00Z`).toISOString().slice(0, 10) === iso ? iso : null;
}
/** 'yyyy-MM-dd' → 'dd/MM/yyyy'. */
export const vnDate = (iso) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
export function fmtNumber(n, digits = 0) {
  return n === null || n === undefined ? '—' : n.toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: digits });
}

/** Shows a message in the page's status line (read out by screen readers). */
export function flash(text, kind = 'info') {
  const el = document.getElementById('flash');
  el.textContent = text;
  el.dataset.kind = kind;
}

document.getElementById('lang')?.addEventListener('click', () => {
  document.cookie = `loa_lang=${lang === 'vi' ? 'en' : 'vi'}; path=/; max-age=31536000; samesite=strict`;
  location.reload();
});
document.getElementById('logout')?.addEventListener('click', async () => {
  await fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'x-csrf-token': csrf } });
  location.href = '/login';
});
