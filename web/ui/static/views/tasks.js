// The Tasks view: every task with its schedule, next run, last status,
// recent runs, an enabled switch and run-now.

import { h, replace, reconcile, debounce, latest, time, badge, link, taskHref, table, td } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { chart, toggle } from '../widgets.js';
import { runNow, runLabel, setTaskEnabled, select, appOptions, fillSelect } from './common.js';

export function tasksView(main, _params, ctx) {
  ctx.title('Tasks');
  const q = ctx.query;
  const appSel = select('app', 'Filter by app', [['', 'All apps']], q.get('app') || '');
  const statusSel = select('status', 'Filter by status', [
    ['', 'Any status'], ['enabled', 'Enabled'], ['disabled', 'Disabled'], ['running', 'Running'],
    ['failing', 'Failing'], ['error', 'Load error'],
  ], q.get('status') || '');
  const text = h('input', { type: 'search', name: 'q', 'aria-label': 'Search tasks', placeholder: 'Search', value: q.get('q') || '' });
  const count = h('p', { class: 'muted', role: 'status' });
  const { wrap, tbody } = table(['Task', 'Schedule', 'Next run', 'Last', 'Failures', 'Recent runs', 'Enabled', ''], [], { caption: 'Tasks', class: 'grid tasks' });
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Tasks')),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Task filters', onsubmit: (e) => e.preventDefault() }, appSel, statusSel, text),
    count, wrap);

  const rows = new Map();
  const filters = () => ({ app: appSel.value, status: statusSel.value, q: text.value.trim() });

  appOptions(ctx).then((names) => fillSelect(appSel, names, q.get('app') || ''));

  const answer = latest();
  async function load() {
    const f = filters();
    ctx.setQuery(f);
    const fresh = answer();
    try {
      const r = await api.get('/tasks', { ...f, limit: 1000 }, { signal: ctx.signal });
      if (!fresh()) return;
      // A row whose task shows the same is kept as it is.
      const old = new Map(rows);
      rows.clear();
      const list = r.tasks || [];
      const trs = list.map((t) => {
        const k = key(t.app, t.name);
        const prev = old.get(k);
        const tr = prev && prev.shows === JSON.stringify(t) ? prev : row(t);
        rows.set(k, tr);
        return tr;
      });
      reconcile(tbody, trs.length ? trs : [h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No tasks match.'))]);
      count.textContent = `${r.total ?? list.length} task${(r.total ?? list.length) === 1 ? '' : 's'}`;
    } catch (e) {
      ctx.fail(e);
    }
  }

  function row(t) {
    const name = `${t.app}/${t.name}`;
    const sched = t.schedule
      ? (t.schedule.cron ? h('code', null, t.schedule.cron) : t.schedule.at ? h('span', null, 'once') : null)
      : h('span', { class: 'muted' }, 'manual only');
    const problems = [t.loadError, t.appLoadError, t.disabledReason].filter(Boolean);
    const enabled = ctx.can('operator')
      ? toggle(t.enabled, `Enabled: ${name}`, (on) => setTaskEnabled(t.app, t.name, on), `en-${name}`)
      : h('span', { class: t.enabled ? '' : 'muted' }, t.enabled ? 'on' : 'off');
    const actions = [];
    if (ctx.can('operator')) {
      const run = runLabel(t);
      actions.push(h('button', {
        type: 'button', class: 'small', 'aria-label': `${run.label} ${name}`, dataset: { fk: `run-${name}` }, title: run.title,
        onclick: async () => {
          const r = await runNow(ctx, t.app, t.name);
          if (r) ctx.navigate(`/runs/${r.id}`);
        },
      }, run.label));
    }
    const tr = h('tr', { dataset: { task: name } },
      td('Task', h('div', null, link(taskHref(t.app, t.name), h('span', { class: 'muted' }, `${t.app}/`), t.name)),
        t.description ? h('div', { class: 'desc muted' }, t.description) : null,
        problems.map((p) => h('div', { class: 'problem' }, p))),
      td('Schedule', sched, t.scheduleText ? h('div', { class: 'desc muted' }, t.scheduleText) : null),
      td('Next run', t.next && t.enabled ? time(t.next, true) : h('span', { class: 'muted' }, '—')),
      td('Last', t.running ? badge('running', `running${t.running > 1 ? ` ×${t.running}` : ''}`) : badge(t.lastStatus)),
      td('Failures', h('span', { class: t.failures ? 'bad-text' : 'muted' }, String(t.failures || 0))),
      td('Recent runs', chart(t.recent, `Recent runs of ${name}`)),
      td('Enabled', enabled),
      td('Actions', actions));
    if (!t.enabled) tr.classList.add('off');
    tr.shows = JSON.stringify(t);
    return tr;
  }

  const refresh = batcher(async (keys) => {
    // With a status filter, an event may move a task in or out of the
    // list: fetch the list again.
    if (keys.includes('*') || keys.length > 10 || statusSel.value) return load();
    for (const k of keys) {
      const old = rows.get(k);
      if (!old) continue; // a new task arrives with app.reloaded
      const [a, t] = k.split('\u0000');
      try {
        const fresh = await api.get(api.taskPath(a, t), null, { signal: ctx.signal });
        const cur = rows.get(k);
        if (cur && cur.isConnected && cur.shows !== JSON.stringify(fresh)) rows.set(k, replace(cur, row(fresh)));
      } catch (e) {
        if (e.status === 404) {
          const cur = rows.get(k);
          if (cur) cur.remove();
          rows.delete(k);
        } else ctx.fail(e);
      }
    }
  }, 250);

  ctx.on((ev) => {
    if (ev.type === 'run.log' || ev.type === 'run.progress') return;
    if (ev.type === 'app.reloaded' || !ev.app || !ev.task) refresh('*');
    else refresh(key(ev.app, ev.task));
  });
  ctx.onReopen(() => refresh('*'));
  ctx.cleanup(() => refresh.cancel());

  const reload = debounce(load, 250);
  appSel.addEventListener('change', load);
  statusSel.addEventListener('change', load);
  text.addEventListener('input', reload);
  ctx.cleanup(() => reload.cancel());
  load();
}

function key(app, task) {
  return `${app}\u0000${task}`;
}
