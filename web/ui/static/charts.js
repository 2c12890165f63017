// Charts drawn as SVG from the server's aggregates (GET /overview, GET
// /tasks/{app}/{task}/stats). Every bar and point is a link to its run or
// to the list of its runs, names itself to a screen reader, and each chart
// has a text summary or a table with the same numbers. Charts are drawn at
// the width of their box, in pixels, and again when it changes, so that
// their text keeps its size on a phone.

import { h, s, clear, fmtDuration, fmtTime, statusKind, runHref, taskHref } from './dom.js';
import * as api from './api.js';

// The statuses in the order stacked bars and legends show them.
export const STATUSES = ['succeeded', 'failed', 'timed_out', 'out_of_memory', 'trapped', 'cancelled', 'interrupted', 'skipped', 'running'];

const label = (st) => st.replace(/_/g, ' ');

// sized calls draw(width) now and whenever box's width changes, until the
// view ends; draw returns the nodes to show in box.
export function sized(ctx, box, draw) {
  let last = -1;
  const paint = () => {
    const w = Math.max(240, Math.floor(box.clientWidth || 0));
    if (w === last) return;
    last = w;
    clear(box).append(...[draw(w)].flat());
  };
  const ro = new ResizeObserver(() => paint());
  ro.observe(box);
  ctx.cleanup(() => ro.disconnect());
  paint();
  return () => {
    last = -1;
    paint();
  };
}

// svgLink is an SVG link that the app's router follows.
function svgLink(href, name, ...children) {
  return s('a', { href, 'aria-label': name, dataset: { nav: '' } }, s('title', null, name), ...children);
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// runsHref is the runs list filtered as the object says.
export function runsHref(filter) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
  return `/runs?${q}`;
}

// legend names the colours of statuses.
export function legend(statuses) {
  return h('ul', { class: 'legend', 'aria-label': 'Legend' }, statuses.map((st) =>
    h('li', null, h('span', { class: `swatch chart-${statusKind(st)}`, 'aria-hidden': 'true' }), label(st))));
}

// durationChart draws a task's newest finished runs as points, oldest on
// the left, with lines at p50 and p95.
export function durationChart(stats, width, name) {
  const runs = stats.runs || [];
  const H = 200, L = 56, R = 12, T = 12, B = 24;
  const svg = s('svg', {
    class: 'chart', width, height: H, viewBox: `0 0 ${width} ${H}`, role: 'group',
    'aria-label': `Duration of the last ${runs.length} runs of ${name}`,
  });
  const max = niceMax(Math.max(stats.p95Ms || 0, ...runs.map((r) => r.durationMs)) * 1.05);
  const iw = width - L - R, ih = H - T - B;
  const y = (ms) => T + ih - (ms / max) * ih;
  const x = (i) => L + (runs.length <= 1 ? iw / 2 : (i / (runs.length - 1)) * iw);
  for (const v of [0, max / 2, max]) {
    svg.append(s('line', { x1: L, x2: width - R, y1: y(v), y2: y(v), class: 'chart-grid' }),
      s('text', { x: L - 6, y: y(v) + 4, class: 'chart-tick', 'text-anchor': 'end' }, fmtDuration(v)));
  }
  svg.append(s('text', { x: L, y: H - 6, class: 'chart-tick' }, 'older'),
    s('text', { x: width - R, y: H - 6, class: 'chart-tick', 'text-anchor': 'end' }, 'newer'));
  if (!runs.length) {
    svg.append(s('text', { x: L + iw / 2, y: T + ih / 2, class: 'chart-tick', 'text-anchor': 'middle' }, 'No finished runs yet.'));
    return svg;
  }
  svg.append(s('polyline', {
    class: 'chart-trace', 'aria-hidden': 'true',
    points: runs.map((r, i) => `${x(i).toFixed(1)},${y(r.durationMs).toFixed(1)}`).join(' '),
  }));
  // p50's label on the left, p95's on the right: close lines keep
  // their labels apart.
  for (const [key, cls, text, left] of [['p50Ms', 'chart-p50', 'p50', true], ['p95Ms', 'chart-p95', 'p95', false]]) {
    const v = stats[key] || 0;
    svg.append(s('g', { class: cls, 'aria-hidden': 'true', dataset: { line: text, value: String(v) } },
      s('line', { x1: L, x2: width - R, y1: y(v), y2: y(v) }),
      s('text', { x: left ? L + 4 : width - R - 2, y: y(v) - 4, 'text-anchor': left ? 'start' : 'end' }, `${text} ${fmtDuration(v)}`)));
  }
  runs.forEach((r, i) => {
    svg.append(svgLink(runHref(r.id), `Run #${r.id}, ${label(r.status)}, ${fmtDuration(r.durationMs)}, started ${fmtTime(r.start)}`,
      s('circle', { cx: x(i).toFixed(1), cy: y(r.durationMs).toFixed(1), r: 5, class: `chart-point chart-${statusKind(r.status)}`, dataset: { run: String(r.id), ms: String(r.durationMs) } })));
  });
  return svg;
}

// durationSummary says in words what durationChart shows.
export function durationSummary(stats) {
  const runs = stats.runs || [];
  if (!runs.length) return h('p', { class: 'muted chart-summary' }, 'No finished runs yet.');
  const slowest = runs.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
  return h('p', { class: 'chart-summary', id: 'duration-summary' },
    `Last ${runs.length} runs: median (p50) `, h('strong', { dataset: { p50: String(stats.p50Ms) } }, fmtDuration(stats.p50Ms)),
    ', p95 ', h('strong', { dataset: { p95: String(stats.p95Ms) } }, fmtDuration(stats.p95Ms)),
    ', slowest ', h('a', { href: runHref(slowest.id), dataset: { nav: '' } }, `#${slowest.id}`), ` (${fmtDuration(slowest.durationMs)}).`);
}

// utcDays lists the UTC days from the one n-1 days before today to today,
// as "2006-01-02".
export function utcDays(n, now = new Date()) {
  const out = [];
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let i = n - 1; i >= 0; i--) out.push(new Date(today - i * 86400000).toISOString().slice(0, 10));
  return out;
}

// successChart draws each day's runs as a bar of 100%, succeeded below,
// failed above, linking to that day's runs.
export function successChart(days, n, width, filter, name) {
  const byDay = new Map((days || []).map((d) => [d.day, d]));
  const all = utcDays(n);
  const H = 150, L = 40, R = 8, T = 10, B = 22;
  const iw = width - L - R, ih = H - T - B, slot = iw / all.length;
  const svg = s('svg', {
    class: 'chart', width, height: H, viewBox: `0 0 ${width} ${H}`, role: 'group',
    'aria-label': `Success rate per day (UTC) of ${name}, the last ${n} days`,
  });
  for (const [v, t] of [[0, '0%'], [0.5, '50%'], [1, '100%']]) {
    const yy = T + ih - v * ih;
    svg.append(s('line', { x1: L, x2: width - R, y1: yy, y2: yy, class: 'chart-grid' }),
      s('text', { x: L - 6, y: yy + 4, class: 'chart-tick', 'text-anchor': 'end' }, t));
  }
  // Labels every so many days, the last one (today) among them.
  const every = Math.ceil(all.length / Math.max(1, Math.floor(iw / 56)));
  const shift = (all.length - 1) % every;
  all.forEach((day, i) => {
    const d = byDay.get(day);
    const bx = L + i * slot + 1, bw = Math.max(2, slot - 2);
    if ((i - shift) % every === 0) {
      svg.append(s('text', { x: L + i * slot + slot / 2, y: H - 6, class: 'chart-tick', 'text-anchor': 'middle' }, day.slice(5)));
    }
    if (!d) return;
    const total = d.succeeded + d.failed;
    const okH = (d.succeeded / total) * ih;
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86400000).toISOString();
    const pct = Math.round((d.succeeded / total) * 100);
    svg.append(svgLink(runsHref({ ...filter, since: `${day}T00:00:00Z`, until: next }),
      `${day}: ${pct}% of ${total} runs succeeded (${d.succeeded} succeeded, ${d.failed} not)`,
      s('rect', { x: bx, y: T, width: bw, height: ih - okH, class: 'chart-bad', dataset: { day, failed: String(d.failed) } }),
      s('rect', { x: bx, y: T + ih - okH, width: bw, height: okH, class: 'chart-ok', dataset: { day, succeeded: String(d.succeeded) } })));
  });
  return svg;
}

// dayTable is successChart's numbers as a table.
export function dayTable(days) {
  return h('table', { class: 'grid compact' },
    h('caption', null, 'Runs per day (UTC)'),
    h('thead', null, h('tr', null, ['Day', 'Succeeded', 'Not succeeded', 'Success rate'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, (days || []).length ? days.map((d) => h('tr', { dataset: { day: d.day } },
      h('td', { 'data-label': 'Day' }, d.day), h('td', { 'data-label': 'Succeeded' }, String(d.succeeded)),
      h('td', { 'data-label': 'Not succeeded' }, String(d.failed)),
      h('td', { 'data-label': 'Success rate' }, `${Math.round((d.succeeded / (d.succeeded + d.failed)) * 100)}%`)))
      : h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'No runs in these days.'))));
}

// hourly groups GET /overview's hours by hour: [{hour, counts: {status: n}}]
// for each hour from since to now, empty ones included.
export function hourly(o) {
  const start = Date.parse(o.since), end = Date.parse(o.now);
  const out = [];
  for (let t = start; t <= end; t += 3600000) out.push({ hour: new Date(t).toISOString(), counts: {} });
  const at = new Map(out.map((x) => [Date.parse(x.hour), x]));
  for (const c of o.hours || []) {
    const slot = at.get(Date.parse(c.hour));
    if (slot) slot.counts[c.status] = c.runs;
  }
  return out;
}

// hourlyChart draws runs per hour as bars stacked by status.
export function hourlyChart(hours, width) {
  const H = 190, L = 40, R = 8, T = 10, B = 22;
  const iw = width - L - R, ih = H - T - B, slot = iw / hours.length;
  const max = Math.max(2, niceMax(Math.max(1, ...hours.map((x) => Object.values(x.counts).reduce((a, b) => a + b, 0)))));
  const svg = s('svg', {
    class: 'chart', width, height: H, viewBox: `0 0 ${width} ${H}`, role: 'group',
    'aria-label': `Runs per hour by status, the last ${hours.length} hours`,
  });
  for (const v of [0, max / 2, max].filter(Number.isInteger)) {
    const yy = T + ih - (v / max) * ih;
    svg.append(s('line', { x1: L, x2: width - R, y1: yy, y2: yy, class: 'chart-grid' }),
      s('text', { x: L - 6, y: yy + 4, class: 'chart-tick', 'text-anchor': 'end' }, String(v)));
  }
  const every = Math.ceil(hours.length / Math.max(1, Math.floor(iw / 72)));
  hours.forEach((x, i) => {
    const bx = L + i * slot + 1, bw = Math.max(2, slot - 2);
    const local = new Date(x.hour);
    if (i % every === 0) {
      svg.append(s('text', { x: bx + bw / 2, y: H - 6, class: 'chart-tick', 'text-anchor': 'middle' },
        local.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })));
    }
    let y0 = T + ih;
    const until = new Date(Date.parse(x.hour) + 3600000).toISOString();
    for (const st of STATUSES) {
      const n = x.counts[st];
      if (!n) continue;
      const bh = (n / max) * ih;
      y0 -= bh;
      svg.append(svgLink(runsHref({ status: st, since: x.hour, until }),
        `${n} ${label(st)} from ${fmtTime(x.hour)}`,
        s('rect', { x: bx, y: y0, width: bw, height: Math.max(1, bh), class: `chart-${statusKind(st)}`, dataset: { hour: x.hour, status: st, runs: String(n) } })));
    }
  });
  return svg;
}

// hourlyTable is hourlyChart's numbers as a table, the hours with runs.
export function hourlyTable(hours) {
  const used = STATUSES.filter((st) => hours.some((x) => x.counts[st]));
  const rows = hours.filter((x) => Object.keys(x.counts).length);
  return h('table', { class: 'grid compact' },
    h('caption', null, 'Runs per hour by status'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Hour'), used.map((st) => h('th', { scope: 'col' }, label(st))))),
    h('tbody', null, rows.length ? rows.map((x) => h('tr', { dataset: { hour: x.hour } },
      h('td', { 'data-label': 'Hour' }, fmtTime(x.hour)),
      used.map((st) => h('td', { 'data-label': label(st), dataset: { status: st } }, String(x.counts[st] || 0)))))
      : h('tr', null, h('td', { colspan: used.length + 1, class: 'empty' }, 'No runs in these hours.'))));
}

// timeline draws the runs since o.timelineSince as bars on a row per task,
// the most recently active tasks first, at most maxRows of them.
export function timeline(o, width, maxRows = 25) {
  const start = Date.parse(o.timelineSince), end = Date.parse(o.now);
  const byTask = new Map();
  for (const p of o.timeline || []) {
    const key = `${p.app}/${p.task}`;
    if (!byTask.has(key)) byTask.set(key, { app: p.app, task: p.task, runs: [] });
    byTask.get(key).runs.push(p);
  }
  const rows = [...byTask.values()].sort((a, b) => b.runs[b.runs.length - 1].id - a.runs[a.runs.length - 1].id);
  const shown = rows.slice(0, maxRows);
  const narrow = width < 560;
  const LW = narrow ? 0 : Math.min(200, Math.floor(width * 0.28)), R = 8, RH = narrow ? 34 : 22, T = 4, B = 22;
  const iw = width - LW - R;
  const H = T + shown.length * RH + B;
  const x = (t) => LW + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * iw;
  const svg = s('svg', {
    class: 'chart timeline', width, height: H, viewBox: `0 0 ${width} ${H}`, role: 'group',
    'aria-label': `Timeline of runs since ${fmtTime(o.timelineSince)}, a row per task`,
  });
  const hours = Math.max(1, Math.round((end - start) / 3600000));
  for (let i = 0; i <= hours; i++) {
    const t = start + ((end - start) * i) / hours;
    const xx = x(t);
    svg.append(s('line', { x1: xx, x2: xx, y1: T, y2: H - B, class: 'chart-grid' }),
      s('text', { x: Math.min(Math.max(xx, LW + 18), width - 22), y: H - 6, class: 'chart-tick', 'text-anchor': 'middle' },
        new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })));
  }
  shown.forEach((row, i) => {
    const y0 = T + i * RH;
    const name = `${row.app}/${row.task}`;
    const g = s('g', { role: 'group', 'aria-label': `Runs of ${name}`, dataset: { task: name } });
    const labelY = narrow ? y0 + 11 : y0 + RH / 2 + 4;
    // The task's name is the link's name: no title to repeat it.
    g.append(s('a', { href: taskHref(row.app, row.task), dataset: { nav: '' } },
      s('text', { x: narrow ? LW + 2 : 4, y: labelY, class: 'chart-label' }, name.length > 28 ? `${name.slice(0, 27)}…` : name)));
    const by = narrow ? y0 + 15 : y0 + 4, bh = narrow ? 14 : RH - 8;
    for (const p of row.runs) {
      const ps = Date.parse(p.start), pe = p.end ? Date.parse(p.end) : end;
      const x0 = x(ps), w = Math.max(3, x(pe) - x0);
      g.append(svgLink(runHref(p.id), `Run #${p.id} of ${name}, ${label(p.status)}, started ${fmtTime(p.start)}, ${p.end ? fmtDuration(p.durationMs) : 'still running'}`,
        s('rect', { x: x0, y: by, width: w, height: bh, rx: 2, class: `chart-${statusKind(p.status)}`, dataset: { run: String(p.id) } })));
    }
    svg.append(g);
  });
  const parts = [svg];
  if (!rows.length) parts.push(h('p', { class: 'muted' }, 'No runs in this window.'));
  if (rows.length > shown.length) parts.push(h('p', { class: 'muted' }, `And ${rows.length - shown.length} more tasks with runs in this window.`));
  return parts;
}

// taskCharts is the Charts section of a task's page: the duration of its
// last runs with p50 and p95, and its success rate per day. load fetches
// GET /tasks/{app}/{task}/stats and draws them again.
export function taskCharts(ctx, app, task, { runs = 50, days = 14 } = {}) {
  const name = `${app}/${task}`;
  const durBox = h('div', { class: 'chart-box', id: 'duration-chart' });
  const durText = h('div');
  const dayBox = h('div', { class: 'chart-box', id: 'success-chart' });
  const dayTableBox = h('details', { class: 'chart-table' });
  const section = h('section', { 'aria-labelledby': 'charts-title', id: 'task-charts' },
    h('h2', { id: 'charts-title' }, 'Charts'),
    h('div', { class: 'charts-grid' },
      h('div', null, h('h3', null, `Duration, last ${runs} runs`), durText, durBox),
      h('div', null, h('h3', null, `Success rate per day (UTC), last ${days} days`),
        legend(['succeeded', 'failed']), dayBox, dayTableBox)));
  let stats = null;
  let redraw = null;
  let fresh = 0;
  async function load() {
    const mine = ++fresh;
    let st;
    try {
      st = await api.get(`${api.taskPath(app, task)}/stats`, { runs, days }, { signal: ctx.signal });
    } catch (e) {
      ctx.fail(e);
      return;
    }
    if (mine !== fresh) return;
    stats = st;
    clear(durText).append(durationSummary(stats));
    clear(dayTableBox).append(h('summary', null, 'Show as a table'), dayTable(stats.days));
    if (redraw) {
      redraw.forEach((f) => f());
      return;
    }
    redraw = [
      sized(ctx, durBox, (w) => durationChart(stats, w, name)),
      sized(ctx, dayBox, (w) => successChart(stats.days, days, w, { app, task }, name)),
    ];
  }
  return { section, load };
}
