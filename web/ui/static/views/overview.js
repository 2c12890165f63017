// The Overview, the home page: runs per hour by status over the last day,
// a timeline of the last hours' runs by task, the tasks failing now, the
// slowest and the most often late, and each app's storage against its
// quotas. Every number comes from GET /overview and GET /apps.

import { h, clear, latest, link, badge, table, td, time, fmtDuration, runHref, taskHref } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { sized, hourly, hourlyChart, hourlyTable, timeline, legend, runsHref, STATUSES } from '../charts.js';
import { storage } from './apps.js';

const taskLink = (x) => link(taskHref(x.app, x.task), `${x.app}/${x.task}`);

export function overviewView(main, _params, ctx) {
  ctx.title('Overview');
  const hoursBox = h('div', { class: 'chart-box', id: 'hourly' });
  const hoursTable = h('details', { class: 'chart-table', id: 'hourly-table' });
  const hoursLegend = h('div');
  const timelineBox = h('div', { class: 'chart-box', id: 'timeline' });
  const failing = h('div', { id: 'failing' });
  const slowest = h('div', { id: 'slowest' });
  const late = h('div', { id: 'late' });
  const quotas = h('div', { id: 'quotas' });
  const summary = h('p', { class: 'muted', id: 'overview-summary', 'aria-live': 'polite' });
  const section = (id, title, ...kids) => h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...kids);
  main.append(
    h('h1', null, 'Overview'), summary,
    section('hourly-title', 'Runs per hour, last 24 hours', hoursLegend, hoursBox, hoursTable),
    section('timeline-title', 'Timeline, last 3 hours', timelineBox),
    section('failing-title', 'Failing now', failing),
    h('div', { class: 'panels' },
      section('slowest-title', 'Slowest (mean, 24 h)', slowest),
      section('late-title', 'Most often late (24 h)', late)),
    section('quotas-title', 'Apps against their quotas', quotas),
    h('p', null, link('/tasks', 'All tasks'), ' · ', link('/runs', 'All runs')));

  let data = null;
  let redrawHours = null;
  let redrawTimeline = null;

  function list(box, headers, rows, empty, caption) {
    const { wrap, tbody } = table(headers, [], { caption });
    tbody.append(...(rows.length ? rows : [h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, empty))]));
    clear(box).append(wrap);
  }

  function render(o, apps) {
    data = o;
    const hrs = hourly(o);
    const total = hrs.reduce((n, x) => n + Object.values(x.counts).reduce((a, b) => a + b, 0), 0);
    const bad = hrs.reduce((n, x) => n + ['failed', 'timed_out', 'out_of_memory', 'trapped'].reduce((a, st) => a + (x.counts[st] || 0), 0), 0);
    summary.textContent = `${total} runs in the last 24 hours, ${bad} of them failed; ${o.failing.length} task${o.failing.length === 1 ? '' : 's'} failing now.`;
    const used = STATUSES.filter((st) => hrs.some((x) => x.counts[st]));
    clear(hoursLegend).append(legend(used.length ? used : ['succeeded', 'failed']));
    clear(hoursTable).append(h('summary', null, 'Show as a table'), hourlyTable(hrs));
    if (redrawHours) redrawHours();
    else redrawHours = sized(ctx, hoursBox, (w) => hourlyChart(hourly(data), w));
    if (redrawTimeline) redrawTimeline();
    else redrawTimeline = sized(ctx, timelineBox, (w) => timeline(data, w));

    list(failing, ['Task', 'Last run', 'Cause', 'Failures'], o.failing.map((f) => h('tr', { dataset: { task: `${f.app}/${f.task}` } },
      td('Task', taskLink(f)),
      td('Last run', link(runHref(f.run), `#${f.run}`), ' ', badge(f.status), ' ', time(f.start, true)),
      td('Cause', h('span', { class: 'error-text' }, f.cause || '—')),
      td('Failures', link(runsHref({ app: f.app, task: f.task, status: 'failed,timed_out,out_of_memory,trapped,cancelled,interrupted' }), String(f.failures))))),
    'No task is failing.', 'Tasks failing now');
    list(slowest, ['Task', 'Mean', 'Longest', 'Runs'], o.slowest.map((x) => h('tr', { dataset: { task: `${x.app}/${x.task}`, mean: String(x.meanMs) } },
      td('Task', taskLink(x)), td('Mean', fmtDuration(x.meanMs)),
      td('Longest', link(runHref(x.maxRun), fmtDuration(x.maxMs))), td('Runs', String(x.runs)))),
    'No finished runs.', 'Slowest tasks');
    list(late, ['Task', 'Late', 'Longest delay'], o.late.map((x) => h('tr', { dataset: { task: `${x.app}/${x.task}`, late: String(x.late) } },
      td('Task', taskLink(x)),
      td('Late', link(runsHref({ app: x.app, task: x.task, trigger: 'schedule' }), `${x.late} of ${x.scheduled}`)),
      td('Longest delay', fmtDuration(x.maxDelayMs)))),
    'No scheduled run was late.', 'Tasks most often late');
    list(quotas, ['App', 'Storage'], apps.map((a) => h('tr', { dataset: { app: a.name } },
      td('App', link(`/tasks?app=${encodeURIComponent(a.name)}`, a.name)), td('Storage', storage(a.name, a.storage)))),
    'No apps.', 'Apps against their quotas');
  }

  const answer = latest();
  async function load() {
    const fresh = answer();
    try {
      const [o, a] = await Promise.all([
        api.get('/overview', null, { signal: ctx.signal }),
        api.get('/apps', null, { signal: ctx.signal }),
      ]);
      if (!fresh()) return;
      render(o, a.apps || []);
    } catch (e) {
      ctx.fail(e);
    }
  }

  // Runs that start and end move every part: at most one load every two
  // seconds, whatever the rate of runs.
  const refresh = batcher(() => load(), 2000);
  ctx.on((ev) => {
    if (ev.type === 'run.log' || ev.type === 'run.progress') return;
    refresh('any');
  });
  ctx.onReopen(() => refresh('any'));
  ctx.cleanup(() => refresh.cancel());
  load();
}
