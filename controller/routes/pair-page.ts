/**
 * `/pair?code=XXXX-XXXX`: what a device's pairing QR code opens (until the dashboard lands). Sign in, pick the
 * cluster, confirm: it calls POST /api/v1/pairing/claim with the session cookie. Vietnamese first, no
 * framework, no external assets. The code comes from the URL and is only ever put into an input's value.
 */
export const PAIR_PAGE = `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Loa phường — ghép nối thiết bị</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
header{background:#b3261e;color:#fff;padding:.8rem 1.2rem}main{padding:1.2rem;max-width:480px;margin:auto}
form{background:#fff;padding:1rem}label{display:block;margin:.5rem 0}
input,select,button{font:inherit;padding:.5rem;margin:.2rem 0;width:100%;box-sizing:border-box}
#code{font:700 1.6rem ui-monospace,monospace;letter-spacing:.15em;text-transform:uppercase}
.err{color:#a50e0e}.ok{color:#137333;font-weight:600}small{color:#5f6368}
</style></head><body>
<header><strong>Ghép nối thiết bị tại chỗ</strong> <small style="color:#fde">(on-site pairing)</small></header>
<main>
<form id="login" hidden><h2>Đăng nhập</h2>
<label>Tên đăng nhập<input name="username" autocomplete="username" required></label>
<label>Mật khẩu<input name="password" type="password" autocomplete="current-password" required></label>
<button>Đăng nhập</button><p class="err" id="loginErr"></p></form>
<form id="claim" hidden><h2>Nhập mã trên thiết bị</h2>
<label>Mã ghép nối <small>(XXXX-XXXX)</small><input id="code" name="code" maxlength="12" autocomplete="off" required></label>
<label>Cụm loa <small>(cluster)</small><select id="zone" name="zoneId"></select></label>
<label>Tên thiết bị <small>(không bắt buộc)</small><input name="name" maxlength="200"></label>
<label>Thay thế thiết bị (mã thiết bị cũ) <small>(không bắt buộc: phần cứng thay thế giữ mã, cụm và lịch sử)</small><input name="replaceDeviceId" maxlength="128"></label>
<button>Ghép nối</button><p class="err" id="claimErr"></p><p class="ok" id="claimOk"></p></form>
</main>
<script>
const $ = (id) => document.getElementById(id);
$('code').value = new URLSearchParams(location.search).get('code') || '';
async function load() {
  const r = await fetch('/api/v1/zones');
  if (r.status === 401) { $('login').hidden = false; $('claim').hidden = true; return; }
  const { zones } = await r.json();
  $('zone').replaceChildren(...zones.filter((z) => z.level === 'cluster' || z.level === 'commune').map((z) => new Option(z.name + ' (' + z.id + ')', z.id)));
  $('login').hidden = true; $('claim').hidden = false;
}
$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: f.get('username'), password: f.get('password') }) });
  if (!r.ok) { $('loginErr').textContent = (await r.json()).error.vi; return; }
  load();
});
$('claim').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('claimErr').textContent = ''; $('claimOk').textContent = '';
  const f = new FormData(e.target);
  const body = { code: f.get('code') };
  if (f.get('replaceDeviceId')) body.replaceDeviceId = f.get('replaceDeviceId'); else body.zoneId = f.get('zoneId');
  if (f.get('name')) body.name = f.get('name');
  const r = await fetch('/api/v1/pairing/claim', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) { $('claimErr').textContent = j.error.vi + ' (' + j.error.code + ')'; return; }
  $('claimOk').textContent = 'Đã ghép nối: ' + j.device.id + ' — ' + j.device.name + ' (' + j.device.zoneId + '). Thiết bị sẽ tự nhận cấu hình trong vài giây.';
  $('code').value = '';
});
load();
</script></body></html>`;
