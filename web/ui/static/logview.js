// A run's log viewer: the stored lines and the live ones merged by their
// number (seq), so that none is missing or shown twice; search, a level
// filter, a link to each line (#L12) and a download of the whole log.
//
// The page subscribes to the live lines before it loads the stored ones,
// and the two overlap: a line that arrives live and is then loaded from
// the store (or the other way round) shows once, at its number. A line
// logged before the page opened but not yet written by the engine
// arrives neither live nor stored: it is a gap in the numbers, which the
// viewer fills from the store once it is written. The store's copy of a
// line is the one kept.

import { h, clear } from './dom.js';
import * as api from './api.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];
const levelRank = (l) => Math.max(0, LEVELS.indexOf(l || 'info'));

// gapRetry is how long the viewer waits before asking the store again
// for lines missing from the numbers while the run runs.
const gapRetry = 500;

export function logViewer(ctx, id) {
  const list = h('ol', { class: 'logs', 'aria-label': 'Log lines' });
  const box = h('div', { class: 'log-box', tabindex: '0', role: 'log', 'aria-label': 'Logs', 'aria-live': 'polite' }, list);
  const note = h('p', { class: 'muted' });
  const follow = h('input', { type: 'checkbox', checked: true, id: 'follow' });
  const search = h('input', { type: 'search', id: 'log-search', placeholder: 'Text in messages', autocomplete: 'off', spellcheck: 'false' });
  const level = h('select', { id: 'log-level' },
    h('option', { value: '' }, 'All levels'),
    ...LEVELS.slice(1).map((l) => h('option', { value: l }, `${l} and above`)));
  const count = h('span', { class: 'log-count muted', role: 'status', id: 'log-count' });
  const download = h('a', { href: `/api/v1/runs/${encodeURIComponent(id)}/logs?format=text`, download: `run-${id}.log`, id: 'log-download' }, 'Download as text');
  const section = h('section', { 'aria-labelledby': 'logs-title' },
    h('div', { class: 'section-head' }, h('h2', { id: 'logs-title' }, 'Logs'),
      h('label', { class: 'inline' }, follow, ' Follow')),
    h('div', { class: 'log-tools', role: 'search', 'aria-label': 'Log lines' },
      h('label', { class: 'inline', for: 'log-search' }, 'Search '), search,
      h('label', { class: 'inline', for: 'log-level' }, 'Level '), level,
      count, download),
    box, note);

  const rows = new Map(); // seq → {li, stored, line}
  let top = 0; // the greatest seq shown
  let shownTo = 0; // every line from 1 to shownTo is shown
  let storedTo = 0; // every line from 1 to storedTo is the store's copy
  let running = true;
  let loading = null;
  let again = false;
  let retry = 0;
  let target = (/^#L(\d+)$/.exec(location.hash) || [])[1];
  ctx.cleanup(() => clearTimeout(retry));

  // marked puts the text in el, the matches of q marked.
  function marked(el, text, q) {
    clear(el);
    if (!q) {
      el.append(text);
      return;
    }
    const low = text.toLowerCase();
    let at = 0;
    for (let i = low.indexOf(q); i >= 0; i = low.indexOf(q, at)) {
      el.append(text.slice(at, i), h('mark', null, text.slice(i, i + q.length)));
      at = i + q.length;
    }
    el.append(text.slice(at));
  }

  function filter() {
    return { q: search.value.trim().toLowerCase(), min: level.value ? levelRank(level.value) : 0 };
  }

  // show applies the filter to one row.
  function show(row, f) {
    const l = row.line;
    const hit = levelRank(l.level) >= f.min && (!f.q || row.text.toLowerCase().includes(f.q));
    row.li.hidden = !hit;
    row.li.classList.toggle('hit', hit && !!f.q);
    marked(row.msg, row.text, hit ? f.q : '');
  }

  function counted() {
    const shown = [...rows.values()].filter((r) => !r.li.hidden).length;
    const f = filter();
    count.textContent = f.q || f.min ? `${shown} of ${rows.size} lines` : `${rows.size} lines`;
  }

  function applyFilter() {
    const f = filter();
    for (const row of rows.values()) show(row, f);
    counted();
  }
  search.addEventListener('input', applyFilter);
  level.addEventListener('change', applyFilter);

  function mark(seq, scroll) {
    for (const el of list.querySelectorAll('.log.target')) el.classList.remove('target');
    const row = rows.get(seq);
    if (!row) return false;
    row.li.classList.add('target');
    if (scroll) row.li.scrollIntoView({ block: 'center' });
    return true;
  }

  function node(l, stored) {
    const attrs = l.attrs && typeof l.attrs === 'object'
      ? Object.entries(l.attrs).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('')
      : '';
    const msg = h('span');
    const num = h('a', { class: 'log-num', href: `#L${l.seq}`, 'aria-label': `Line ${l.seq}` }, String(l.seq));
    num.addEventListener('click', (e) => {
      e.preventDefault();
      history.replaceState(null, '', `${location.pathname}${location.search}#L${l.seq}`);
      target = undefined;
      mark(l.seq, false);
    });
    const li = h('li', { class: `log ${l.level || 'info'}${stored ? '' : ' live'}`, id: `L${l.seq}`, dataset: { seq: String(l.seq), level: l.level || '' } },
      num,
      h('time', { datetime: l.time || '', class: 'log-time' }, l.time ? new Date(l.time).toLocaleTimeString() : ''),
      h('span', { class: 'log-level' }, l.level || ''),
      h('span', { class: 'log-msg' }, msg, attrs ? h('span', { class: 'muted' }, attrs) : null));
    return { li, msg, stored, line: l, text: l.message || '' };
  }

  function scrolled(fn) {
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    fn();
    if (follow.checked && atEnd) box.scrollTop = box.scrollHeight;
  }

  // add merges lines into the list by seq; stored lines replace live
  // copies.
  function add(lines, stored) {
    const f = filter();
    scrolled(() => {
      for (const l of lines || []) {
        if (typeof l.seq !== 'number' || l.seq < 1) continue;
        const have = rows.get(l.seq);
        if (have && (have.stored || !stored)) continue;
        const row = node(l, stored);
        show(row, f);
        if (have) {
          have.li.replaceWith(row.li);
        } else if (l.seq > top) {
          list.append(row.li);
          top = l.seq;
        } else {
          let next = l.seq + 1;
          while (!rows.has(next)) next++;
          rows.get(next).li.before(row.li);
        }
        rows.set(l.seq, row);
      }
    });
    while (rows.has(shownTo + 1)) shownTo++;
    while (rows.has(storedTo + 1) && rows.get(storedTo + 1).stored) storedTo++;
    counted();
    if (target && mark(Number(target), true)) target = undefined;
  }

  // backfill loads the stored lines after the last one the store's copy
  // of which is shown; calls coalesce. While the run runs and lines are
  // missing, it asks again shortly.
  function backfill() {
    if (loading) {
      again = true;
      return loading;
    }
    clearTimeout(retry);
    loading = (async () => {
      try {
        do {
          again = false;
          const r = await api.get(`/runs/${id}/logs`, { after: storedTo, limit: 1000 }, { signal: ctx.signal });
          add(r.logs, true);
          if ((r.logs || []).length >= 1000) again = true;
        } while (again);
      } catch (e) {
        ctx.fail(e);
      } finally {
        loading = null;
      }
      if (running && shownTo < top && !ctx.signal.aborted) retry = setTimeout(backfill, gapRetry);
    })();
    return loading;
  }

  return {
    section,
    // stored adds the lines of GET /runs/{id}, and follows with the rest
    // of the store's.
    stored(run) {
      running = run.status === 'running';
      add(run.logs, true);
      note.textContent = run.logsDropped ? `${run.logsDropped} log lines were dropped.` : '';
      return backfill();
    },
    // live adds a run.log event's line; one past a gap asks the store for
    // the lines missing.
    live(ev) {
      add([{ seq: ev.seq, time: ev.time, level: ev.level, message: ev.message, attrs: ev.attrs }], false);
      if (shownTo < top) backfill();
    },
    // follow reads the store's lines past those shown: for a run on
    // another node, whose lines reach this one only through the store.
    follow: backfill,
  };
}
