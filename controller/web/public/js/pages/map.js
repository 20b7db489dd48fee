// Map without a tile server: devices with coordinates as SVG points (green online, red offline); each cluster's
// outline is the convex hull of its devices (the data model holds no zone boundaries).
import { get } from '../lib/api.js';
import { t } from '../lib/boot.js';
import { h, mount, s } from '../lib/dom.js';

const { devices } = await get('/api/v1/devices?limit=10000');
const placed = devices.filter((d) => typeof d.lat === 'number' && typeof d.lon === 'number');
const W = 900, H = 600, PAD = 30;

function hull(pts) {
  const p = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [], upper = [];
  for (const x of p) { while (lower.length >= 2 && cross(lower.at(-2), lower.at(-1), x) <= 0) lower.pop(); lower.push(x); }
  for (const x of p.reverse()) { while (upper.length >= 2 && cross(upper.at(-2), upper.at(-1), x) <= 0) upper.pop(); upper.push(x); }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

const svg = s('svg', { class: 'chart', id: 'map', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': t('page.map') }, s('title', {}, t('page.map')));
if (placed.length) {
  const lats = placed.map((d) => d.lat), lons = placed.map((d) => d.lon);
  const [la0, la1, lo0, lo1] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
  const spanX = Math.max((lo1 - lo0) * k, 1e-4), spanY = Math.max(la1 - la0, 1e-4);
  const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
  const X = (lon) => PAD + (lon - lo0) * k * scale, Y = (lat) => H - PAD - (lat - la0) * scale;
  const byZone = new Map();
  for (const d of placed) (byZone.get(d.zoneId) ?? byZone.set(d.zoneId, []).get(d.zoneId)).push([X(d.lon), Y(d.lat)]);
  for (const [zone, pts] of byZone) {
    const hp = hull(pts);
    if (hp.length >= 3) svg.append(s('polygon', { points: hp.map((p) => p.map((v) => v.toFixed(1)).join(',')).join(' '), fill: 'rgba(11,87,208,.06)', stroke: '#5f6671', 'stroke-dasharray': '4 3' }, s('title', {}, zone)));
  }
  for (const d of placed) {
    svg.append(s('circle', { cx: X(d.lon).toFixed(1), cy: Y(d.lat).toFixed(1), r: 5, fill: d.online ? '#0b6b2e' : '#a50e0e', stroke: '#fff', 'data-id': d.id },
      s('title', {}, `${d.name} (${d.id}) — ${d.online ? t('online') : t('offline')}`)));
  }
}
mount(h('p', { class: 'muted' }, t('mapHelp')), svg, h('p', { class: 'muted', id: 'unplaced' }, t('noCoordinates', { n: devices.length - placed.length })));
