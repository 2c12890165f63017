// Building DOM nodes, and formatting. Every text from the server goes through textContent or
// setAttribute, never through HTML parsing.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) {
      // Handlers are functions, never attribute strings.
      if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    }
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// h creates an HTML element: h('a', {href: '/x', class: 'y'}, 'text', child).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

// s creates an SVG element.
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// replace swaps old for fresh, keeping keyboard focus on the element with
// the same data-fk key when the focus was inside old.
export function replace(old, fresh) {
  const active = document.activeElement;
  const key = active && old.contains(active) ? active.dataset.fk : undefined;
  old.replaceWith(fresh);
  if (key) {
    const next = fresh.querySelector(`[data-fk="${CSS.escape(key)}"]`);
    if (next) next.focus();
  }
  return fresh;
}

// reconcile makes nodes the children of parent, in order, leaving in place
// the ones already there: a node taken out and put back would lose a click
// in progress and the focus.
export function reconcile(parent, nodes) {
  let cur = parent.firstChild;
  for (const n of nodes) {
    if (n === cur) {
      cur = cur.nextSibling;
      continue;
    }
    parent.insertBefore(n, cur);
  }
  while (cur) {
    const next = cur.nextSibling;
    cur.remove();
    cur = next;
  }
  return parent;
}

// latest orders a view's loads: each call returns a check that stays true
// only until latest is called again. A view applies an answer only while its
// check holds, so a slow answer to an older request never overwrites a newer
// one (the server may answer two requests in either order).
export function latest() {
  let n = 0;
  return () => {
    const mine = ++n;
    return () => mine === n;
  };
}

export function debounce(fn, ms) {
  let t;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

const units = [['d', 86400000], ['h', 3600000], ['m', 60000], ['s', 1000]];

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
  const parts = [];
  let rest = ms;
  for (const [u, n] of units) {
    if (rest >= n) {
      parts.push(Math.floor(rest / n) + u);
      rest %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${u[i]}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

// fmtRelative says how far iso is from now: "in 3m", "5s ago".
export function fmtRelative(iso) {
  if (!iso) return '';
  const diff = new Date(iso).getTime() - Date.now();
  const txt = fmtDuration(Math.abs(diff));
  return diff >= 0 ? `in ${txt}` : `${txt} ago`;
}

// time returns a <time> element showing iso, with the exact time as a tooltip.
export function time(iso, relative) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: fmtTime(iso), class: relative ? 'rel' : null },
    relative ? fmtRelative(iso) : fmtTime(iso));
}

const statusClass = {
  succeeded: 'ok', running: 'run', queued: 'run', failed: 'bad', timed_out: 'bad',
  out_of_memory: 'bad', trapped: 'bad', cancelled: 'warn', interrupted: 'warn',
  skipped: 'muted', error: 'bad', ok: 'ok', removed: 'muted',
};

export function statusKind(status) {
  return statusClass[status] || 'muted';
}

export function badge(status, label) {
  if (!status) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `badge ${statusKind(status)}` }, label || String(status).replace(/_/g, ' '));
}

// bar is a horizontal gauge; fraction from 0 to 1. Past 90% it takes the
// danger colour, unless plain (a share of the largest, not of a limit).
export function bar(fraction, label, { plain = false } = {}) {
  const f = Math.max(0, Math.min(1, Number(fraction) || 0));
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${(f * 100).toFixed(1)}%`;
  if (f > 0.9 && !plain) fill.classList.add('high');
  return h('span', {
    class: 'bar', role: 'meter', 'aria-label': label,
    'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(f * 100),
  }, fill);
}

export function pretty(v) {
  if (v === undefined || v === null) return 'null';
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export function taskHref(app, task) {
  return `/tasks/${encodeURIComponent(app)}/${encodeURIComponent(task)}`;
}

export function runHref(id) {
  return `/runs/${encodeURIComponent(id)}`;
}

// link makes an in-app link that the router follows without a reload.
export function link(href, ...children) {
  return h('a', { href, dataset: { nav: '' } }, ...children);
}

export function table(headers, rows, opts = {}) {
  const tbody = h('tbody', null, rows);
  const t = h('table', { class: opts.class || 'grid' },
    opts.caption ? h('caption', { class: 'sr-only' }, opts.caption) : null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    tbody);
  return { wrap: h('div', { class: 'table-wrap' }, t), table: t, tbody };
}

// cell builds a <td> whose data-label names its column in the stacked
// layout of narrow windows.
export function td(label, ...children) {
  return h('td', { 'data-label': label }, ...children);
}

// Relative times ("in 3m") stay current.
setInterval(() => {
  for (const el of document.querySelectorAll('time.rel')) el.textContent = fmtRelative(el.dateTime);
}, 5000);
