// Charts as inline SVG (no library): a line chart of a series and a horizontal bar chart of percentages.
import { s } from './dom.js';

/** points: [{x: ms, y: number}]; returns an <svg> with a title for screen readers. */
export function lineChart(points, { title, width = 560, height = 160, unit = '' } = {}) {
  const pad = { l: 44, r: 10, t: 12, b: 22 };
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title }, s('title', {}, title));
  const pts = points.filter((p) => Number.isFinite(p.y));
  if (pts.length === 0) return svg;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const X = (x) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (width - pad.l - pad.r);
  const Y = (y) => height - pad.b - ((y - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  svg.append(
    s('line', { x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b, stroke: '#9aa0a6' }),
    s('text', { x: 2, y: pad.t + 8 }, `${Math.round(y1 * 10) / 10}${unit}`),
    s('text', { x: 2, y: height - pad.b }, `${Math.round(y0 * 10) / 10}${unit}`),
    s('polyline', { points: pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' '), fill: 'none', stroke: '#0b57d0', 'stroke-width': 2 }),
  );
  const last = pts.at(-1);
  svg.append(s('circle', { cx: X(last.x).toFixed(1), cy: Y(last.y).toFixed(1), r: 3, fill: '#0b57d0' }));
  return svg;
}

/** items: [{label, value (0..100 or null)}] → horizontal bars with their percentages. */
export function percentBars(items, { title, width = 640 } = {}) {
  const row = 26, labelW = 300, height = items.length * row + 10;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title }, s('title', {}, title));
  items.forEach((it, i) => {
    const y = 5 + i * row;
    const w = it.value === null ? 0 : (Math.max(0, Math.min(100, it.value)) / 100) * (width - labelW - 60);
    svg.append(
      s('text', { x: 4, y: y + 16 }, it.label.length > 44 ? `${it.label.slice(0, 43)}…` : it.label),
      s('rect', { x: labelW, y: y + 3, width: width - labelW - 60, height: row - 8, fill: '#eceef1' }),
      s('rect', { x: labelW, y: y + 3, width: w, height: row - 8, fill: '#a4161a' }),
      s('text', { x: width - 54, y: y + 16 }, it.value === null ? '—' : `${it.value}%`),
    );
  });
  return svg;
}
