// The Runs view: the running runs with their progress, elapsed time and a
// stop button, then the history with filters.

import { h, clear, reconcile, debounce, latest, time, badge, link, fmtDuration, runHref, taskHref, table, td } from '../dom.js';
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
  const { wrap, tbody } = table(['Run', 'Task', 'Status', 'Trigger', 'Started', 'Duration', 'Error'], [], { caption: 'Run history' });
  const more = h('button', { type: 'button', hidden: true }, 'Older runs');
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Runs')),
    h('section', { 'aria-labelledby': 'running-title' }, h('h2', { id: 'running-title' }, 'Running'), runningBody),
    h('section', { 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, 'History'),
      h('form', { class: 'filters', role: 'search', 'aria-label': 'Run filters', onsubmit: (e) => e.preventDefault() }, appSel, taskIn, statusSel),
      wrap, more));

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
  let cursor = null;
  const historyAnswer = latest();
  const filters = () => ({ app: appSel.value, task: taskIn.value.trim(), status: statusSel.value });

  async function loadHistory(append) {
    const f = filters();
    ctx.setQuery(f);
    const fresh = historyAnswer();
    try {
      const r = await api.get('/runs', { ...f, limit: 50, before: append ? cursor : '' }, { signal: ctx.signal });
      if (!fresh()) return;
      const runs = r.runs || [];
      if (!append) clear(tbody);
      tbody.append(...runs.map(historyRow));
      if (!append && !runs.length) tbody.append(h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No runs match.')));
      cursor = r.next || null;
      more.hidden = !cursor;
    } catch (e) {
      ctx.fail(e);
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
      td('Error', h('span', { class: 'error-text' }, run.error || run.reason || '')));
  }

  more.addEventListener('click', () => loadHistory(true));
  const reload = debounce(() => loadHistory(false), 250);
  appSel.addEventListener('change', () => loadHistory(false));
  statusSel.addEventListener('change', () => loadHistory(false));
  taskIn.addEventListener('input', reload);
  ctx.cleanup(() => reload.cancel());

  // ---- live ----
  const refreshAll = batcher((keys) => {
    loadRunning();
    if (keys.includes('history')) loadHistory(false);
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
    refreshAll(ev.type === 'run.started' || ev.type === 'run.overdue' ? 'running' : 'history');
  });
  ctx.onReopen(() => refreshAll('history'));
  ctx.cleanup(() => refreshAll.cancel());

  loadRunning();
  loadHistory(false);
}
