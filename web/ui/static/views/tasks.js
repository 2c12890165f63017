// The Tasks view: a page of tasks with their schedule, next run, last
// status, recent runs, an enabled switch and run-now; sorted and filtered
// by the server, paged by cursor, and switched on or off in bulk.

import { h, replace, reconcile, debounce, latest, time, badge, link, taskHref, table, td } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { chart, toggle, confirmDialog, notify } from '../widgets.js';
import { runNow, runLabel, setTaskEnabled, select, appOptions, fillSelect } from './common.js';

const SORTS = [
  ['', 'Name'], ['-name', 'Name, Z to A'], ['next', 'Next run'], ['status', 'Last status, worst first'],
  ['failures', 'Failures, most first'], ['duration', 'Duration, longest first'],
];
const PAGE = 50;
const num = new Intl.NumberFormat('en');

// broken reports a task that cannot run: it or its app has errors.
export const broken = (t) => Boolean(t.loadError || t.appLoadError);

// scheduleCell is what the list says of a task's schedule.
function scheduleCell(t) {
  if (t.schedule && t.schedule.cron) return [h('code', null, t.schedule.cron), t.scheduleText ? h('div', { class: 'desc muted' }, t.scheduleText) : null];
  if (t.schedule && t.schedule.at) return [h('span', null, 'once'), t.scheduleText ? h('div', { class: 'desc muted' }, t.scheduleText) : null];
  if (t.after && t.after.length) return h('span', null, `after ${t.after.join(', ')}`);
  return h('span', { class: 'muted' }, 'manual only');
}

export function tasksView(main, _params, ctx) {
  ctx.title('Tasks');
  const q = ctx.query;
  const wantApp = q.get('app') || '';
  // The app asked for is an option at once, so the filter holds before
  // the list of apps arrives.
  const appSel = select('app', 'Filter by app', [['', 'All apps'], ...(wantApp ? [[wantApp, wantApp]] : [])], wantApp);
  const statusSel = select('status', 'Filter by status', [
    ['', 'Any status'], ['enabled', 'Enabled'], ['disabled', 'Disabled'], ['running', 'Running'],
    ['failing', 'Failing'], ['error', 'Cannot run (errors)'],
  ], q.get('status') || '');
  const sortSel = select('sort', 'Sort tasks by', SORTS, q.get('sort') || '');
  const text = h('input', { type: 'search', name: 'q', 'aria-label': 'Search tasks', placeholder: 'Search app/task, description, tags', value: q.get('q') || '' });
  const count = h('p', { class: 'muted count', role: 'status' });
  const operator = ctx.can('operator');
  const selectAll = operator ? h('input', { type: 'checkbox', 'aria-label': 'Select every task on this page' }) : null;
  const headers = ['Task', 'Schedule', 'Next run', 'Last', 'Failures', 'Recent runs', 'Enabled', ''];
  const { wrap, tbody } = table(operator ? ['', ...headers] : headers, [], { caption: 'Tasks', class: 'grid tasks' });
  if (selectAll) wrap.querySelector('thead th').append(selectAll);
  const first = h('button', { type: 'button', class: 'small' }, 'First page');
  const prev = h('button', { type: 'button', class: 'small' }, 'Previous');
  const next = h('button', { type: 'button', class: 'small' }, 'Next');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of tasks' }, first, prev, next);
  const chosen = h('span', { class: 'muted' });
  const bulk = operator ? h('div', { class: 'bulk', role: 'group', 'aria-label': 'Switch tasks on or off' },
    chosen,
    h('button', { type: 'button', class: 'small', onclick: () => switchChosen(false) }, 'Disable selected'),
    h('button', { type: 'button', class: 'small', onclick: () => switchChosen(true) }, 'Enable selected'),
    h('button', { type: 'button', class: 'small danger', onclick: () => switchAll(false) }, 'Disable all matching'),
    h('button', { type: 'button', class: 'small', onclick: () => switchAll(true) }, 'Enable all matching')) : null;
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Tasks')),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Task filters', onsubmit: (e) => e.preventDefault() }, appSel, statusSel, sortSel, text),
    h('div', { class: 'list-bar' }, count, bulk),
    wrap, pager);

  const rows = new Map();
  const selected = new Set();
  // The cursors of the pages before this one, for Previous; after is
  // this page's.
  let after = q.get('after') || '';
  let before = [];
  let nextCursor = null;
  let total = 0;
  const filters = () => ({ app: appSel.value, status: statusSel.value, q: text.value.trim(), sort: sortSel.value });

  appOptions(ctx).then((names) => fillSelect(appSel, names, wantApp));

  const answer = latest();
  async function load() {
    const f = filters();
    ctx.setQuery({ ...f, after });
    const fresh = answer();
    try {
      const r = await api.get('/tasks', { ...f, after, limit: PAGE }, { signal: ctx.signal });
      if (!fresh()) return;
      // A row whose task shows the same is kept as it is.
      const old = new Map(rows);
      rows.clear();
      const list = r.tasks || [];
      const trs = list.map((t) => {
        const k = key(t.app, t.name);
        const prevRow = old.get(k);
        const tr = prevRow && prevRow.shows === JSON.stringify(t) ? prevRow : row(t);
        rows.set(k, tr);
        return tr;
      });
      reconcile(tbody, trs.length ? trs : [h('tr', null, h('td', { colspan: operator ? 9 : 8, class: 'empty' }, 'No tasks match.'))]);
      total = r.total || 0;
      nextCursor = r.next || null;
      const from = before.length * PAGE + 1;
      count.textContent = !list.length ? `0 of ${num.format(total)} tasks`
        : after && !before.length ? `${num.format(list.length)} of ${num.format(total)} tasks`
          : `${num.format(from)}–${num.format(from + list.length - 1)} of ${num.format(total)} task${total === 1 ? '' : 's'}`;
      first.disabled = !after;
      prev.disabled = !after;
      next.disabled = !nextCursor;
      pager.hidden = !after && !nextCursor;
      syncChosen();
    } catch (e) {
      if (e.field === 'after') {
        after = '';
        before = [];
        load();
        return;
      }
      ctx.fail(e);
    }
  }

  function row(t) {
    const name = `${t.app}/${t.name}`;
    const isBroken = broken(t);
    const problems = [t.loadError, t.appLoadError, t.disabledReason].filter(Boolean);
    let enabled;
    if (isBroken) enabled = h('span', { class: 'bad-text' }, 'cannot run');
    else if (operator) enabled = toggle(t.enabled, `Enabled: ${name}`, (on) => setTaskEnabled(t.app, t.name, on), `en-${name}`);
    else enabled = h('span', { class: t.enabled ? '' : 'muted' }, t.enabled ? 'on' : 'off');
    const actions = [];
    if (operator && !isBroken) {
      const run = runLabel(t);
      actions.push(h('button', {
        type: 'button', class: 'small', 'aria-label': `${run.label} ${name}`, dataset: { fk: `run-${name}` }, title: run.title,
        onclick: async () => {
          const r = await runNow(ctx, t.app, t.name);
          if (r) ctx.navigate(`/runs/${r.id}`);
        },
      }, run.label));
    }
    const cells = [
      td('Task', h('div', { class: 'name' }, link(taskHref(t.app, t.name), h('span', { class: 'muted' }, `${t.app}/`), t.name)),
        t.description ? h('div', { class: 'desc muted' }, t.description) : null,
        problems.map((p) => h('div', { class: 'problem' }, p))),
      td('Schedule', scheduleCell(t)),
      td('Next run', t.next && t.enabled ? time(t.next, true) : h('span', { class: 'muted' }, '—')),
      td('Last', isBroken ? badge('failed', 'error')
        : t.running ? badge('running', `running${t.running > 1 ? ` ×${t.running}` : ''}`) : badge(t.lastStatus)),
      td('Failures', h('span', { class: t.failures ? 'bad-text' : 'muted' }, String(t.failures || 0))),
      td('Recent runs', chart(t.recent, `Recent runs of ${name}`)),
      td('Enabled', enabled),
      td('Actions', actions),
    ];
    if (operator) {
      const box = h('input', {
        type: 'checkbox', 'aria-label': `Select ${name}`, checked: selected.has(name), dataset: { fk: `sel-${name}` },
        onchange: (e) => {
          if (e.target.checked) selected.add(name);
          else selected.delete(name);
          syncChosen();
        },
      });
      cells.unshift(td('Select', box));
    }
    const tr = h('tr', { dataset: { task: name } }, cells);
    if (!t.enabled || isBroken) tr.classList.add('off');
    tr.shows = JSON.stringify(t);
    return tr;
  }

  function syncChosen() {
    if (!operator) return;
    chosen.textContent = selected.size ? `${num.format(selected.size)} selected` : '';
    const boxes = [...tbody.querySelectorAll('input[type=checkbox]')];
    selectAll.checked = boxes.length > 0 && boxes.every((b) => b.checked);
  }

  async function bulkSwitch(on, body, what) {
    try {
      const r = await api.post(`/tasks/${on ? 'enable' : 'disable'}`, body);
      notify(`${num.format(r.changed.length)} task${r.changed.length === 1 ? '' : 's'} ${on ? 'enabled' : 'disabled'} (${what}).`);
      selected.clear();
      load();
    } catch (e) {
      notify(e.message, 'error');
    }
  }

  function switchChosen(on) {
    if (!selected.size) {
      notify('Select tasks first.', 'error');
      return;
    }
    bulkSwitch(on, { tasks: [...selected] }, 'selected');
  }

  async function switchAll(on) {
    const f = filters();
    const ok = await confirmDialog(`${on ? 'Enable' : 'Disable'} all ${num.format(total)} matching tasks?`,
      `Every task that matches the filters, on every page, will be switched ${on ? 'on' : 'off'}.`, `${on ? 'Enable' : 'Disable'} ${num.format(total)} tasks`, !on);
    if (ok) bulkSwitch(on, { filter: { app: f.app, status: f.status, q: f.q } }, 'all matching');
  }

  if (selectAll) {
    selectAll.addEventListener('change', () => {
      for (const box of tbody.querySelectorAll('input[type=checkbox]')) {
        box.checked = selectAll.checked;
        const name = box.closest('tr').dataset.task;
        if (box.checked) selected.add(name);
        else selected.delete(name);
      }
      syncChosen();
    });
  }

  const refresh = batcher(async (keys) => {
    // With a status filter or another order than by name, an event may
    // move a task in or out of the page: fetch the page again, from the
    // same cursor, so the page stays where the reader is.
    if (keys.includes('*') || keys.length > 10 || statusSel.value || sortSel.value) return load();
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

  // A new filter or order starts at the first page.
  const restart = () => {
    after = '';
    before = [];
    selected.clear();
    load();
  };
  first.addEventListener('click', restart);
  prev.addEventListener('click', () => {
    after = before.pop() || '';
    load();
  });
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    before.push(after);
    after = nextCursor;
    load();
  });
  const reload = debounce(restart, 250);
  appSel.addEventListener('change', restart);
  statusSel.addEventListener('change', restart);
  sortSel.addEventListener('change', restart);
  text.addEventListener('input', reload);
  ctx.cleanup(() => reload.cancel());
  load();
}

function key(app, task) {
  return `${app}\u0000${task}`;
}
