// The Runs view: the running runs with their progress, elapsed time and a
// stop button, then the history with filters.

import { h, clear, replace, reconcile, debounce, latest, time, badge, link, fmtDuration, runHref, taskHref, table, td } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { progressBar } from '../widgets.js';
import { stopRun, select, tick, appOptions, fillSelect } from './common.js';

const HISTORY_STATUSES = [
  ['', 'Any status'], ['succeeded', 'Succeeded'], ['failed,timed_out,out_of_memory,trapped', 'Failed (any)'],
  ['failed', 'Failed'], ['timed_out', 'Timed out'], ['out_of_memory', 'Out of memory'], ['trapped', 'Trapped'],
  ['cancelled', 'Cancelled'], ['interrupted', 'Interrupted'], ['skipped', 'Skipped'], ['running', 'Running'],
];

export function runsView(main, _params, ctx) {
  ctx.title('Runs');
  const q = ctx.query;
  const runningBody = h('div', { class: 'running-list', 'aria-live': 'off' });
  const appSel = select('app', 'Filter runs by app', [['', 'All apps']], q.get('app') || '');
  const taskIn = h('input', { type: 'search', name: 'task', 'aria-label': 'Filter runs by task name', placeholder: 'Task', value: q.get('task') || '' });
  const statusSel = select('status', 'Filter runs by status', HISTORY_STATUSES, q.get('status') || '');
  if (q.get('status') && statusSel.value !== q.get('status')) {
    statusSel.append(h('option', { value: q.get('status') }, q.get('status')));
    statusSel.value = q.get('status');
  }
  const triggerSel = select('trigger', 'Filter runs by trigger', [
    ['', 'Any trigger'], ['schedule,catch-up', 'Schedule'], ['manual', 'Manual'], ['retry', 'Retry'], ['dependency', 'Dependency'],
  ], q.get('trigger') || '');
  const nodeIn = h('input', { type: 'search', name: 'node', 'aria-label': 'Filter runs by the node they ran on', placeholder: 'Node', value: q.get('node') || '' });
  const textIn = h('input', { type: 'search', name: 'q', 'aria-label': 'Search run errors and logs', placeholder: 'Text in error or logs', value: q.get('q') || '' });
  const sinceIn = h('input', { type: 'date', name: 'since', 'aria-label': 'Runs started on or after this day', value: dayOf(q.get('since')) });
  const untilIn = h('input', { type: 'date', name: 'until', 'aria-label': 'Runs started on or before this day', value: dayOf(q.get('until'), -1) });
  const { wrap, tbody } = table(['Run', 'Task', 'Status', 'Trigger', 'Started', 'Duration', 'Error'], [], { caption: 'Run history' });
  const more = h('button', { type: 'button', hidden: true }, 'Older runs');
  const fresh = h('button', { type: 'button', class: 'small', hidden: true });
  const freshNote = h('div', { role: 'status', class: 'fresh' }, fresh);
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Runs')),
    h('section', { 'aria-labelledby': 'running-title' }, h('h2', { id: 'running-title' }, 'Running'), runningBody),
    h('section', { 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, 'History'),
      h('form', { class: 'filters', role: 'search', 'aria-label': 'Run filters', onsubmit: (e) => e.preventDefault() },
        appSel, taskIn, statusSel, triggerSel, nodeIn, textIn,
        h('label', { class: 'inline' }, 'From ', sinceIn), h('label', { class: 'inline' }, 'to ', untilIn)),
      freshNote, wrap, more));

  appOptions(ctx).then((names) => fillSelect(appSel, names, q.get('app') || ''));

  // ---- running ----
  const cards = new Map();

  const runningAnswer = latest();
  async function loadRunning() {
    const fresh = runningAnswer();
    try {
      const r = await api.get('/runs', { status: 'running', limit: 1000 }, { signal: ctx.signal });
      if (!fresh()) return;
      const runs = r.runs || [];
      // The card of a run still running is kept, its progress brought up
      // to date: its stop button may be under the pointer.
      const old = new Map(cards);
      cards.clear();
      for (const run of runs) {
        let c = old.get(run.id);
        if (c && c.overdue === Boolean(run.overdue)) {
          if (run.progress > 0) c.bar.value = run.progress;
          c.pct.textContent = run.progress ? `${run.progress}%` : '';
          c.msg.textContent = run.progressMessage || '';
        } else {
          c = card(run);
        }
        cards.set(run.id, c);
      }
      reconcile(runningBody, runs.length
        ? [...cards.values()].map((c) => c.el)
        : [h('p', { class: 'muted empty' }, 'Nothing is running.')]);
    } catch (e) {
      ctx.fail(e);
    }
  }

  function card(run) {
    const label = `Progress of run #${run.id}`;
    const bar = progressBar(run.progress, label);
    const pct = h('span', { class: 'pct' }, run.progress ? `${run.progress}%` : '');
    const msg = h('span', { class: 'muted progress-msg' }, run.progressMessage || '');
    const elapsed = h('span', { class: 'elapsed', dataset: { start: run.start || '' } });
    const stop = ctx.can('operator')
      ? h('button', {
        type: 'button', class: 'danger small', 'aria-label': `Stop run #${run.id}`,
        onclick: async () => {
          if (await stopRun(run)) refreshAll('running');
        },
      }, 'Stop')
      : null;
    const el = h('div', { class: 'run-card', dataset: { run: String(run.id) } },
      h('div', { class: 'run-card-head' },
        link(runHref(run.id), `#${run.id}`), ' ',
        link(taskHref(run.app, run.task), `${run.app}/${run.task}`),
        run.overdue ? h('span', { class: 'badge warn' }, 'overdue') : null,
        h('span', { class: 'muted' }, ` ${run.trigger || ''}`),
        h('span', { class: 'spacer' }),
        elapsed, stop),
      h('div', { class: 'run-card-progress' }, bar, pct, msg));
    updateElapsed(elapsed);
    return { el, bar, pct, msg, overdue: Boolean(run.overdue) };
  }

  function updateElapsed(el) {
    const start = el.dataset.start ? new Date(el.dataset.start).getTime() : 0;
    el.textContent = start ? fmtDuration(Math.max(0, Date.now() - start)) : '';
  }
  tick(ctx, () => runningBody.querySelectorAll('.elapsed').forEach(updateElapsed));

  // ---- history ----
  // The history is read a page at a time, older pages appended; live
  // events never move it: a run shown is updated in place, new runs are
  // counted and announced, and shown when asked for.
  let cursor = null;
  let top = 0; // the newest run's ID shown
  const historyRows = new Map();
  const historyAnswer = latest();
  // A link may carry exact instants (a chart's hour): they hold until a
  // day is chosen in the form, which shows only their days.
  const exact = (v) => (v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : '');
  let exactSince = exact(q.get('since')), exactUntil = exact(q.get('until'));
  sinceIn.addEventListener('input', () => { exactSince = ''; });
  untilIn.addEventListener('input', () => { exactUntil = ''; });
  const filters = () => ({
    app: appSel.value, task: taskIn.value.trim(), status: statusSel.value, trigger: triggerSel.value, node: nodeIn.value.trim(), q: textIn.value.trim(),
    since: exactSince || (sinceIn.value ? new Date(`${sinceIn.value}T00:00`).toISOString() : ''),
    until: exactUntil || (untilIn.value ? new Date(new Date(`${untilIn.value}T00:00`).getTime() + 86400000).toISOString() : ''),
  });

  async function loadHistory(append) {
    const f = filters();
    ctx.setQuery(f);
    const isFresh = historyAnswer();
    try {
      const r = await api.get('/runs', { ...f, limit: 50, before: append ? cursor : '' }, { signal: ctx.signal });
      if (!isFresh()) return;
      const runs = r.runs || [];
      if (!append) {
        clear(tbody);
        historyRows.clear();
        top = runs.length ? runs[0].id : top;
        fresh.hidden = true;
      }
      for (const run of runs) {
        const tr = historyRow(run);
        historyRows.set(run.id, tr);
        tbody.append(tr);
      }
      if (!append && !runs.length) tbody.append(h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No runs match.')));
      cursor = r.next || null;
      more.hidden = !cursor;
    } catch (e) {
      ctx.fail(e);
    }
  }

  // countNew announces the runs that match the filters and started after
  // the newest one shown.
  async function countNew() {
    const f = filters();
    try {
      const r = await api.get('/runs', { ...f, after: top || '', limit: 1000 }, { signal: ctx.signal });
      const n = (r.runs || []).length;
      fresh.hidden = n === 0;
      fresh.textContent = `${n === 1000 ? '1,000+' : n} new run${n === 1 ? '' : 's'} — show`;
    } catch (e) {
      ctx.fail(e);
    }
  }

  // updateShown brings the rows of the runs shown that changed up to date.
  async function updateShown(ids) {
    for (const id of ids) {
      const cur = historyRows.get(id);
      if (!cur) continue;
      try {
        const run = await api.get(`/runs/${id}`, null, { signal: ctx.signal });
        const now = historyRows.get(id);
        if (now && now.isConnected) historyRows.set(id, replace(now, historyRow(run)));
      } catch (e) {
        if (e.status !== 404) ctx.fail(e);
      }
    }
  }

  function historyRow(run) {
    return h('tr', { dataset: { run: String(run.id) } },
      td('Run', link(runHref(run.id), `#${run.id}`)),
      td('Task', link(taskHref(run.app, run.task), `${run.app}/${run.task}`)),
      td('Status', badge(run.status)),
      td('Trigger', run.trigger || '', run.attempt ? ` (attempt ${run.attempt + 1})` : ''),
      td('Started', time(run.start)),
      td('Duration', run.status === 'running' ? '…' : fmtDuration(run.durationMs)),
      td('Error', h('span', { class: 'error-text' }, run.cause || run.error || run.reason || '')));
  }

  more.addEventListener('click', () => loadHistory(true));
  fresh.addEventListener('click', () => loadHistory(false));
  const reload = debounce(() => loadHistory(false), 250);
  for (const el of [appSel, statusSel, triggerSel, sinceIn, untilIn]) el.addEventListener('change', () => loadHistory(false));
  taskIn.addEventListener('input', reload);
  textIn.addEventListener('input', reload);
  nodeIn.addEventListener('input', reload);
  ctx.cleanup(() => reload.cancel());

  // ---- live ----
  const refreshAll = batcher((keys) => {
    loadRunning();
    if (keys.includes('history')) countNew();
    const ids = keys.filter((k) => typeof k === 'number');
    if (ids.length) updateShown(ids);
  }, 300);
  ctx.on((ev) => {
    if (ev.type === 'run.progress') {
      const c = cards.get(ev.run);
      if (!c) return refreshAll('running');
      if (ev.progress > 0) c.bar.value = ev.progress;
      c.pct.textContent = `${ev.progress || 0}%`;
      c.msg.textContent = ev.message || '';
      return;
    }
    if (ev.type === 'run.log' || ev.type === 'task.changed') return;
    if (ev.run && historyRows.has(ev.run)) refreshAll(ev.run);
    refreshAll(ev.type === 'run.overdue' ? 'running' : 'history');
  });
  ctx.onReopen(() => refreshAll('history'));
  ctx.cleanup(() => refreshAll.cancel());

  loadRunning();
  loadHistory(false);
}

// dayOf is the local day (YYYY-MM-DD) of an ISO time, shifted by shift
// days; "" for none.
function dayOf(iso, shift = 0) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  d.setDate(d.getDate() + shift);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
