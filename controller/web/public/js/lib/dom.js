// Building the DOM without HTML strings: text is always text (user data can never become markup).
const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
/** h('td', {class: 'x'}, 'text', child…) */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

/** Replaces the page's content. */
export function mount(...nodes) {
  const app = document.getElementById('app');
  app.replaceChildren(...nodes.flat());
  app.dataset.state = 'ready';
  // ms from navigation start to this content on screen (the dashboard benchmark reads it)
  if (!app.dataset.rendered) app.dataset.rendered = String(Math.round(performance.now()));
  return app;
}

/** A labelled form control: label text, then the control. */
export function field(label, control) {
  return h('label', {}, label, ' ', control);
}

/** A table with a header row; `rows` is a list of <tr>, or one <tbody> the page keeps to update. */
/** A date field in the Vietnamese format (the browser's own date picker follows its locale, not the page's). */
export function dateInput(id, isoValue) {
  return h('input', { id, name: id, inputmode: 'numeric', pattern: '\\d{1,2}/\\d{1,2}/\\d{4}', placeholder: 'dd/mm/yyyy', size: 10, value: isoValue ? `${isoValue.slice(8, 10)}/${isoValue.slice(5, 7)}/${isoValue.slice(0, 4)}` : '' });
}
export function timeInput(id, value) {
  return h('input', { id, name: id, inputmode: 'numeric', pattern: '([01]?\\d|2[0-3]):[0-5]\\d', placeholder: 'HH:mm', size: 5, value });
}

export function table(head, rows, attrs = {}) {
  const body = rows.length === 1 && rows[0] instanceof HTMLTableSectionElement ? rows[0] : h('tbody', {}, rows);
  return h('table', attrs, h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.label ?? c)))), body);
}

export function select(name, options, value) {
  return h('select', { name, id: name }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}
