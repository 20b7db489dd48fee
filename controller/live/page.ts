/**
 * The operator's microphone page (issue 6), served at /live: sign in, start a live broadcast for zones (or join a
 * session by its id), send the microphone over WebRTC, watch the level, end it. No external resources; the
 * dashboard will restyle it. State for tests is on `window.loaLive`.
 */
export const LIVE_PAGE = `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Phát trực tiếp</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:1rem auto;padding:0 1rem}
label{display:block;margin:.5rem 0}input,select{font-size:1rem;width:100%;box-sizing:border-box;padding:.3rem}
button{font-size:1.1rem;padding:.5rem 1rem;margin:.5rem 0}
#end{font-size:2rem;width:100%;padding:1.5rem;background:#b00020;color:#fff;border:0;border-radius:.5rem}
meter{width:100%;height:2rem}.hidden{display:none}#status{font-weight:bold}
</style></head><body>
<h1>Phát trực tiếp từ micrô</h1>
<form id="login" class="hidden"><h2>Đăng nhập</h2>
<label>Tên đăng nhập <input name="username" autocomplete="username" required></label>
<label>Mật khẩu <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Đăng nhập</button></form>
<form id="start" class="hidden"><h2>Lệnh phát trực tiếp mới</h2>
<label>Địa bàn (mã, cách nhau bởi dấu phẩy) <input name="zones" required></label>
<label>Tiêu đề <input name="title" value="Phát trực tiếp khẩn cấp" required></label>
<label>Thời hạn (phút) <input name="ttl" type="number" min="1" max="1440" value="30" required></label>
<label>Định dạng <select name="codec"><option value="opus">Opus</option><option value="mp3">MP3</option></select></label>
<label>Xác nhận: gõ lại tên địa bàn hoặc mã xác nhận <input name="confirm" required></label>
<button type="submit">Bắt đầu phát</button>
<p>hoặc nối micrô vào phiên đã tạo: <input name="session" placeholder="liv-…"> <button type="button" id="join">Nối micrô</button></p></form>
<section id="onair" class="hidden"><h2>Đang phát</h2>
<p>Mức âm thanh</p><meter id="level" min="0" max="1" value="0"></meter>
<button id="end" type="button">Kết thúc</button></section>
<p id="status" role="status"></p>
<script type="module">
const $ = (s) => document.querySelector(s);
const state = { state: 'idle', sessionId: null, orderId: null, error: null, onsets: [] };
window.loaLive = state;
const say = (t) => { $('#status').textContent = t; };
const show = (id) => { for (const s of ['#login', '#start', '#onair']) $(s).classList.toggle('hidden', s !== id); };
async function api(method, url, body) {
  const r = await fetch(url, { method, credentials: 'same-origin', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error ? (j.error.vi || j.error.message) + ' (' + j.error.code + ')' : 'HTTP ' + r.status);
  return j;
}
let pc = null, stream = null, audioCtx = null;
async function connect(sessionId) {
  state.sessionId = sessionId; state.state = 'connecting'; say('Đang nối micrô…');
  stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  pc = new RTCPeerConnection({ iceServers: [] });
  for (const t of stream.getAudioTracks()) pc.addTrack(t, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((res) => { if (pc.iceGatheringState === 'complete') res(); else { pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); }; setTimeout(res, 3000); } });
  const answer = await api('POST', '/api/v1/live/' + encodeURIComponent(sessionId) + '/offer', { sdp: pc.localDescription.sdp });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  pc.onconnectionstatechange = () => { if (pc && (pc.connectionState === 'failed' || pc.connectionState === 'disconnected')) say('Mất kết nối micrô (' + pc.connectionState + ')'); };
  audioCtx = new AudioContext();
  const an = audioCtx.createAnalyser(); an.fftSize = 512;
  audioCtx.createMediaStreamSource(stream).connect(an);
  const buf = new Float32Array(an.fftSize);
  // The level meter; it also notes when sound starts after a pause (wall-clock ms, for latency measurements).
  let quietSince = Date.now();
  const tick = () => {
    if (!audioCtx) { clearInterval(meter); return; }
    an.getFloatTimeDomainData(buf); let p = 0; for (const v of buf) p = Math.max(p, Math.abs(v));
    $('#level').value = p;
    if (p < 0.02) quietSince ??= Date.now();
    else if (p > 0.1 && quietSince !== null) { if (Date.now() - quietSince > 300) state.onsets.push(Date.now()); quietSince = null; }
  };
  const meter = setInterval(tick, 5);
  state.state = 'live'; show('#onair'); say('Đang phát trực tiếp. Phiên ' + sessionId);
  // The order may be cancelled or expire elsewhere: then the session is gone and the page hangs up.
  const watch = setInterval(async () => {
    if (state.state !== 'live' || state.sessionId !== sessionId) { clearInterval(watch); return; }
    const r = await fetch('/api/v1/live/' + encodeURIComponent(sessionId), { credentials: 'same-origin' }).catch(() => null);
    if (r && r.status === 404 && state.state === 'live') { clearInterval(watch); hangUp(); state.state = 'ended'; show('#start'); say('Buổi phát đã kết thúc (lệnh đã bị hủy hoặc hết hạn)'); }
  }, 2000);
}
function hangUp() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  if (pc) pc.close();
  if (audioCtx) void audioCtx.close();
  pc = null; stream = null; audioCtx = null;
}
async function fail(e) { hangUp(); state.state = 'error'; state.error = String(e.message || e); say('Lỗi: ' + state.error); show('#start'); }
$('#login').onsubmit = async (ev) => {
  ev.preventDefault(); const f = new FormData(ev.target);
  try { await api('POST', '/api/v1/auth/login', { username: f.get('username'), password: f.get('password') }); show('#start'); say('Đã đăng nhập'); } catch (e) { say('Lỗi: ' + e.message); }
};
$('#start').onsubmit = async (ev) => {
  ev.preventDefault(); const f = new FormData(ev.target);
  try {
    const zones = String(f.get('zones')).split(',').map((z) => z.trim()).filter(Boolean);
    const r = await api('POST', '/api/v1/live', { zones, title: f.get('title'), ttlMinutes: Number(f.get('ttl')), codec: f.get('codec'), confirm: f.get('confirm') });
    state.orderId = r.order.id;
    if (r.approvalRequired) { state.state = 'pending'; say('Lệnh đang chờ người thứ hai phê duyệt. Phiên ' + r.sessionId); return; }
    await connect(r.sessionId);
  } catch (e) { await fail(e); }
};
$('#join').onclick = async () => { try { await connect(String($('#start').elements.session.value).trim()); } catch (e) { await fail(e); } };
$('#end').onclick = async () => {
  try { await api('POST', '/api/v1/live/' + encodeURIComponent(state.sessionId) + '/end', {}); } catch (e) { say('Lỗi: ' + e.message); }
  hangUp(); state.state = 'ended'; show('#start'); say('Đã kết thúc phát trực tiếp');
};
api('GET', '/api/v1/auth/me').then(() => show('#start'), () => show('#login'));
</script></body></html>
`;
