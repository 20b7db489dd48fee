/**
 * The minimal status page (until the dashboard issue lands): sign in, then a live device list. Vietnamese
 * first. No framework, no external assets; the session cookie authenticates the API calls.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Loa phường — trạng thái</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
header{background:#b3261e;color:#fff;padding:.8rem 1.2rem;display:flex;justify-content:space-between;align-items:center}
main{padding:1.2rem;max-width:1100px;margin:auto}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.45rem .6rem;border-bottom:1px solid #e3e5e8;text-align:left;font-size:.95rem}
.on{color:#137333;font-weight:600}.off{color:#a50e0e;font-weight:600}form{background:#fff;padding:1rem;max-width:320px}
input,button{font:inherit;padding:.4rem;margin:.2rem 0;width:100%;box-sizing:border-box}.err{color:#a50e0e}a{color:#fff}
</style></head><body>
<header><strong>Hệ thống thông tin nguồn — Loa phường</strong><span><a href="/docs">API</a></span></header>
<main>
<form id="login" hidden><h2>Đăng nhập</h2>
<label>Tên đăng nhập<input name="username" autocomplete="username" required></label>
<label>Mật khẩu<input name="password" type="password" autocomplete="current-password" required></label>
<button>Đăng nhập</button><p class="err" id="loginErr"></p></form>
<section id="status" hidden><h2>Thiết bị <small id="summary"></small></h2>
<table><thead><tr><th>Mã</th><th>Tên</th><th>Địa bàn</th><th>Trạng thái</th><th>Lần cuối</th><th>Lịch phát (áp dụng / mới nhất)</th></tr></thead><tbody id="rows"></tbody></table>
<p><button id="logout" style="width:auto">Đăng xuất</button></p></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
async function load() {
  const r = await fetch('/api/v1/devices?limit=1000');
  if (r.status === 401) { $('login').hidden = false; $('status').hidden = true; return; }
  const { devices } = await r.json();
  $('login').hidden = true; $('status').hidden = false;
  const online = devices.filter((d) => d.online).length;
  $('summary').textContent = '(' + online + '/' + devices.length + ' trực tuyến)';
  $('rows').innerHTML = devices.map((d) => '<tr><td>' + esc(d.id) + '</td><td>' + esc(d.name) + '</td><td>' + esc(d.zoneId) + '</td><td class="' + (d.online ? 'on">Trực tuyến' : 'off">Mất kết nối') + '</td><td>' + (d.lastSeen ? new Date(d.lastSeen).toLocaleString('vi-VN') : '—') + '</td><td>' + d.appliedVersion + ' / ' + d.manifestVersion + (d.stale ? ' (hết hạn)' : '') + '</td></tr>').join('');
}
$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: f.get('username'), password: f.get('password') }) });
  if (!r.ok) { $('loginErr').textContent = (await r.json()).error.vi; return; }
  load();
});
$('logout').addEventListener('click', async () => { await fetch('/api/v1/auth/logout', { method: 'POST' }); load(); });
load(); setInterval(load, 5000);
</script></body></html>`;
