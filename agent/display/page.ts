/**
 * The board page (DESIGN §4 `display`), served by agent/display/server.ts to the kiosk Chromium. Vietnamese
 * first, no CDN, no web fonts: DejaVu Sans (Debian's fonts-dejavu-core) covers every Vietnamese letter with
 * its stacked diacritics, and the line height (1.45) leaves room for them so nothing is clipped.
 *
 * The page never goes blank: a new view is built in a hidden layer, auto-fitted there, and swapped in only once
 * it is ready (image decoded, video playing); a view that fails is reported and the old one stays. Text is
 * fitted by a binary search on the font size (never under the board's floor); text too long for the board
 * at the floor is split into pages that take turns within the slide's time.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bảng tin</title>
<link rel="stylesheet" href="/display.css">
</head>
<body>
<div id="stage" aria-live="polite"></div>
<div id="alert" class="hidden" role="alert"><div class="alert-head">KHẨN CẤP</div><div class="alert-box" data-fit><div class="alert-title"></div><div class="alert-text"></div></div></div>
<script src="/display.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
html, body { margin: 0; padding: 0; width: 100%; height: 100%; overflow: hidden; background: #000; color: #fff; }
body { font-family: "DejaVu Sans", "Noto Sans", "Liberation Sans", Arial, sans-serif; line-height: 1.45; text-rendering: optimizeLegibility; }
body.led { font-weight: bold; }
#stage { position: absolute; inset: 0; }
.layer { position: absolute; inset: 0; display: flex; flex-direction: column; box-sizing: border-box; background: #000; }
.layer.next { visibility: hidden; }
.fitwrap { flex: 1 1 auto; min-height: 0; position: relative; overflow: hidden; }
[data-fit] { position: absolute; inset: 0; overflow: hidden; overflow-wrap: anywhere; word-break: normal; hyphens: manual; padding: 0.12em 1.5% 0 1.5%; box-sizing: border-box; }
.title { font-size: 1.2em; color: #ffd24a; margin: 0 0 0.2em 0; }
.body { white-space: pre-line; }
.ticker { flex: 0 0 auto; overflow: hidden; white-space: nowrap; background: #b3001b; color: #fff; line-height: 1.45; }
.ticker span { display: inline-block; padding-left: 100%; animation: loa-ticker linear infinite; }
@keyframes loa-ticker { from { transform: translateX(0); } to { transform: translateX(-100%); } }
.media { width: 100%; height: 100%; object-fit: contain; background: #000; }
.media.cover { object-fit: cover; }
.clock { text-align: center; display: flex; flex-direction: column; justify-content: center; }
.clock .time { font-size: 2.4em; font-variant-numeric: tabular-nums; color: #ffd24a; }
.rows { display: table; width: 100%; }
.row { display: table-row; }
.row span { display: table-cell; padding: 0 0.3em 0.1em 0; }
.row .v { text-align: right; color: #ffd24a; }
.small { font-size: 0.6em; opacity: 0.8; }
#alert { position: absolute; inset: 0; background: #c00000; color: #fff; display: flex; flex-direction: column; z-index: 10; box-sizing: border-box; padding: 2%; border: 0.6vmin solid #ffd24a; }
#alert.hidden { display: none; }
#alert .alert-head { flex: 0 0 auto; text-align: center; font-weight: bold; letter-spacing: 0.08em; color: #ffd24a; font-size: 6vmin; line-height: 1.45; }
#alert .alert-box { position: relative; flex: 1 1 auto; inset: auto; min-height: 0; }
#alert .alert-title { font-weight: bold; font-size: 1.25em; color: #fff200; }
#alert .alert-text { white-space: pre-line; }
`;

export const PAGE_JS = String.raw`(function () {
  'use strict';
  var stage = document.getElementById('stage');
  var alertEl = document.getElementById('alert');
  var board = { name: '', width: 0, height: 0, kind: 'lcd', minFontPx: 10 };
  var pendingId = -1;
  var shown = null;
  var alertKey = null;
  var lastState = null;
  var TZ = 'Asia/Ho_Chi_Minh';
  var loa = window.loaDisplay = { viewId: -1, kind: 'boot', alertKey: null, fit: null, reports: [], errors: 0 };

  function post(body) {
    loa.reports.push(body);
    if (loa.reports.length > 50) loa.reports.shift();
    return fetch('/report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(function () {});
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fits(box) { return box.scrollWidth <= box.clientWidth && box.scrollHeight <= box.clientHeight; }
  /** The largest font size (px) at which the box shows all its content, never under the floor. */
  function fit(box) {
    var lo = board.minFontPx, hi = Math.max(lo, Math.floor(Math.min(box.clientHeight, box.clientWidth * 0.6))), best = lo;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      box.style.fontSize = mid + 'px';
      if (fits(box)) { best = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    box.style.fontSize = best + 'px';
    return { fontPx: best, overflow: !fits(box) };
  }
  /** Splits words into pages that each fit the box at the floor size (for long text on small boards). */
  function paginate(box, target, words) {
    box.style.fontSize = board.minFontPx + 'px';
    var pages = [], cur = [];
    for (var i = 0; i < words.length; i++) {
      cur.push(words[i]);
      target.textContent = cur.join(' ');
      if (!fits(box) && cur.length > 1) {
        cur.pop();
        pages.push(cur.join(' '));
        cur = [words[i]];
        target.textContent = words[i];
      }
    }
    if (cur.length) pages.push(cur.join(' '));
    return pages;
  }
  function fmtTime(d) {
    return new Intl.DateTimeFormat('vi-VN', { timeZone: TZ, hour: '2-digit', minute: '2-digit', hour12: false }).format(d);
  }
  function fmtDate(d) {
    return new Intl.DateTimeFormat('vi-VN', { timeZone: TZ, weekday: 'long', day: '2-digit', month: '2-digit', year: 'numeric' }).format(d);
  }

  function buildText(view, layer) {
    var s = view.slide;
    var wrap = el('div', 'fitwrap');
    var box = el('div', ''); box.setAttribute('data-fit', 'text');
    if (s.title) box.appendChild(el('div', 'title', s.title));
    var body = el('div', 'body', s.body);
    box.appendChild(body);
    wrap.appendChild(box);
    layer.appendChild(wrap);
    var ticker = null;
    if (s.ticker) {
      ticker = el('div', 'ticker');
      var span = el('span', '', s.ticker);
      ticker.appendChild(span);
      layer.appendChild(ticker);
    }
    return function () {
      if (ticker) {
        var th = Math.max(board.minFontPx, Math.round(board.height * 0.09));
        ticker.style.fontSize = th + 'px';
        ticker.firstChild.style.animationDuration = Math.max(6, Math.round(s.ticker.length * th * 0.55 / Math.max(40, board.width / 8))) + 's';
      }
      var f = fit(box);
      if (!f.overflow) return { fontPx: f.fontPx, pages: 1, overflow: false };
      // Too long for this board even at the floor: pages that take turns within the slide.
      var words = s.body.split(/\s+/).filter(Boolean);
      var pages = paginate(box, body, words);
      var n = 0;
      body.textContent = pages[0];
      var every = Math.max(2000, Math.floor(s.durationMs / pages.length));
      var t = setInterval(function () { n = (n + 1) % pages.length; body.textContent = pages[n]; loa.page = n; }, every);
      layer.loaStop = function () { clearInterval(t); };
      loa.page = 0;
      return { fontPx: board.minFontPx, pages: pages.length, overflow: !fits(box) };
    };
  }
  function buildClock(label, layer) {
    var wrap = el('div', 'fitwrap');
    var box = el('div', 'clock'); box.setAttribute('data-fit', 'clock');
    var time = el('div', 'time', fmtTime(new Date()));
    var date = el('div', 'date', fmtDate(new Date()));
    box.appendChild(time); box.appendChild(date);
    if (label) box.appendChild(el('div', 'small', label));
    wrap.appendChild(box); layer.appendChild(wrap);
    var t = setInterval(function () { time.textContent = fmtTime(new Date()); date.textContent = fmtDate(new Date()); }, 1000);
    layer.loaStop = function () { clearInterval(t); };
    return function () { var f = fit(box); return { fontPx: f.fontPx, pages: 1, overflow: f.overflow }; };
  }
  function buildWidget(view, layer) {
    var s = view.slide;
    var wrap = el('div', 'fitwrap');
    var box = el('div', ''); box.setAttribute('data-fit', 'widget');
    box.appendChild(el('div', 'title', s.title));
    var rows = el('div', 'rows');
    s.rows.forEach(function (r) { var row = el('div', 'row'); row.appendChild(el('span', 'k', r.label)); row.appendChild(el('span', 'v', r.value)); rows.appendChild(row); });
    box.appendChild(rows);
    var foot = [s.source, s.updatedAt ? 'Cập nhật ' + fmtTime(new Date(s.updatedAt)) + ' ' + new Intl.DateTimeFormat('vi-VN', { timeZone: TZ, day: '2-digit', month: '2-digit' }).format(new Date(s.updatedAt)) : null].filter(Boolean).join(' · ');
    if (foot) box.appendChild(el('div', 'small', foot));
    wrap.appendChild(box); layer.appendChild(wrap);
    return function () { var f = fit(box); return { fontPx: f.fontPx, pages: 1, overflow: f.overflow }; };
  }

  /** Builds a view in a hidden layer; resolves with its fit once it can be swapped in, rejects if it cannot be shown. */
  function build(view) {
    var layer = el('div', 'layer next');
    layer.setAttribute('data-view', String(view.id));
    layer.setAttribute('data-kind', view.kind);
    stage.appendChild(layer);
    var ready;
    if (view.kind === 'image') {
      var img = el('img', 'media' + (view.slide.fit === 'cover' ? ' cover' : ''));
      img.alt = '';
      img.src = view.mediaUrl;
      layer.appendChild(img);
      ready = img.decode().then(function () { return { fontPx: 0, pages: 1, overflow: false }; });
    } else if (view.kind === 'video') {
      var v = el('video', 'media');
      v.muted = view.slide.muted !== false; v.loop = true; v.autoplay = true; v.playsInline = true;
      layer.appendChild(v);
      ready = new Promise(function (resolve, reject) {
        var t = setTimeout(function () { reject(new Error('the video did not start within 8 s')); }, 8000);
        v.addEventListener('playing', function () { clearTimeout(t); resolve({ fontPx: 0, pages: 1, overflow: false }); }, { once: true });
        v.addEventListener('error', function () { clearTimeout(t); reject(new Error('the video cannot be decoded (' + (v.error ? v.error.code : '?') + ')')); }, { once: true });
        v.src = view.mediaUrl;
        var p = v.play(); if (p && p.catch) p.catch(function () {});
      });
      layer.loaStop = function () { v.pause(); v.removeAttribute('src'); v.load(); };
    } else {
      var fitter = view.kind === 'text' ? buildText(view, layer)
        : view.kind === 'widget' ? buildWidget(view, layer)
        : buildClock(view.kind === 'clock' ? (view.slide.label || '') : board.name, layer);
      ready = Promise.resolve().then(fitter);
    }
    return { layer: layer, ready: ready };
  }
  function drop(layer) { if (layer.loaStop) layer.loaStop(); if (layer.parentNode) layer.parentNode.removeChild(layer); }

  function render(view, force) {
    if (!force && (view.id === pendingId || (shown && shown.id === view.id))) return;
    pendingId = view.id;
    var b = build(view);
    b.ready.then(function (info) {
      if (pendingId !== view.id) { drop(b.layer); return; }
      var old = Array.prototype.slice.call(stage.children).filter(function (c) { return c !== b.layer; });
      b.layer.classList.remove('next');
      old.forEach(drop);
      shown = view; pendingId = -1;
      loa.viewId = view.id; loa.kind = view.kind; loa.fit = info;
      post({ viewId: view.id, status: 'shown', fit: info });
    }, function (err) {
      drop(b.layer);
      if (pendingId === view.id) pendingId = -1;
      loa.errors++;
      post({ viewId: view.id, status: 'error', code: 'LOA_ERR_DISPLAY_MEDIA', message: String(err && err.message || err).slice(0, 300) });
      if (!shown) render({ id: 0, kind: 'idle' }, true);
    });
  }
  function renderAlert(a) {
    if (!a) {
      alertEl.classList.add('hidden'); alertKey = null; loa.alertKey = null;
      return;
    }
    if (a.key === alertKey) return;
    alertEl.querySelector('.alert-title').textContent = a.title;
    alertEl.querySelector('.alert-text').textContent = a.text || '';
    alertEl.classList.remove('hidden');
    var f = fit(alertEl.querySelector('.alert-box'));
    alertKey = a.key; loa.alertKey = a.key;
    post({ alertKey: a.key, status: 'shown', fit: { fontPx: f.fontPx, pages: 1, overflow: f.overflow } });
  }
  function apply(s) {
    lastState = s;
    board = s.board;
    document.body.classList.toggle('led', board.kind === 'led');
    render(s.view, false);
    renderAlert(s.alert);
  }
  window.addEventListener('resize', function () {
    if (!lastState) return;
    if (shown) render(shown, true);
    if (lastState.alert) { alertKey = null; renderAlert(lastState.alert); }
  });
  render({ id: 0, kind: 'idle' }, true);
  var es = new EventSource('/events');
  es.onmessage = function (m) { try { apply(JSON.parse(m.data)); } catch (e) { loa.errors++; } };
})();
`;
