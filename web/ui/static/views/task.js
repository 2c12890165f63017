// A task's page: its configuration (overridden fields marked), a schedule
// editor that explains itself as you type, an editor of the other fields
// an override may set, and its run history.

import { h, clear, debounce, latest, time, badge, link, fmtDuration, fmtBytes, runHref, table, td, fmtTime } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { chart, toggle, notify, field } from '../widgets.js';
import { runNow, runLabel, setTaskEnabled } from './common.js';
import { taskCharts } from '../charts.js';

// yamlDuration spells milliseconds as config/tasks.yaml would: 90s, 2h.
function yamlDuration(ms) {
  if (!ms) return '';
  for (const [unit, n] of [['h', 3600000], ['m', 60000], ['s', 1000]]) {
    if (ms % n === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}

// yamlSize spells bytes as config/tasks.yaml would: 64MiB.
function yamlSize(b) {
  if (b == null) return '';
  for (const [unit, n] of [['GiB', 1 << 30], ['MiB', 1 << 20], ['KiB', 1 << 10]]) {
    if (b && b % n === 0) return `${b / n}${unit}`;
  }
  return `${b}B`;
}

// num reads a number field; what is not a number is sent as it is, for the
// server to name.
function num(v) {
  const n = Number(v);
  return v.trim() !== '' && Number.isInteger(n) ? n : v;
}

// envObject reads NAME=value lines.
function envObject(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf('=');
    if (i < 0) out[line.trim()] = '';
    else out[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return out;
}

export function taskView(main, [app, name], ctx) {
  const full = `${app}/${name}`;
  ctx.title(full);
  const path = api.taskPath(app, name);
  const header = h('div', { class: 'head' });
  const config = h('section', { 'aria-labelledby': 'cfg-title' });
  const sched = h('section', { 'aria-labelledby': 'sched-title' });
  const edit = h('section', { 'aria-labelledby': 'edit-title' });
  const hist = h('section', { 'aria-labelledby': 'hist-title' });
  const charts = taskCharts(ctx, app, name);
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link('/tasks', 'Tasks'), ' / ', full),
    header, sched, config, edit, charts.section, hist);

  let editing = false; // the schedule editor keeps what the user typed
  const dirty = new Set(); // the fields of the editor the user changed
  // Loads and saves of the task: only the latest one's answer is shown.
  const taskAnswer = latest();

  // The page is aria-busy while a load is under way: assistive
  // technology waits for the answer before it reads the changes.
  let loading = 0;
  async function load() {
    const fresh = taskAnswer();
    loading++;
    main.setAttribute('aria-busy', 'true');
    try {
      const t = await api.get(path, null, { signal: ctx.signal });
      if (!fresh()) return;
      show(t);
    } catch (e) {
      if (e.status === 404) {
        clear(main).append(h('h1', null, 'Task not found'), h('p', null, link('/tasks', 'Back to the tasks.')));
        return;
      }
      ctx.fail(e);
    } finally {
      if (--loading === 0) main.removeAttribute('aria-busy');
    }
  }

  // Each part of the page is drawn again only when what it shows changed:
  // the page loads the task at every run of it, and a part drawn again
  // under the pointer would swallow a click and lose the focus.
  const drawn = {};
  function draw(part, shows, fn) {
    const key = JSON.stringify(shows);
    if (drawn[part] === key) return;
    drawn[part] = key;
    fn();
  }

  function show(t) {
    draw('header', [t.enabled, t.description, t.loadError, t.appLoadError, t.disabledReason], () => renderHeader(t));
    draw('config', t, () => renderConfig(t));
    // The schedule editor keeps what the user is typing.
    if (!editing) {
      draw('schedule', [t.schedule, (t.overridden || []).includes('schedule'), t.scheduleText, t.nextTimes], () => renderSchedule(t));
    }
    if (!dirty.size && ctx.can('admin')) {
      draw('edit', [t.overridden, t.environment, t.termination, t.limits, t.retry, t.concurrency, t.misfire,
        t.misfireWindowMs, t.retention], () => renderEdit(t));
    }
  }

  // The fields an override may set besides the schedule, each with Save
  // and, when overridden, Reset to file. Values are spelled as in
  // config/tasks.yaml and checked by the server as the file's are; a
  // value refused shows the file's message.
  function renderEdit(t) {
    const over = new Set(t.overridden || []);
    const tm = t.termination || {};
    const lim = t.limits || {};
    const rt = t.retry || { max: 0, backoffMs: 0 };
    const rn = t.retention || {};
    const input = (name, value, attrs) => h('input', Object.assign({ name, value: value ?? '', spellcheck: 'false', autocomplete: 'off' }, attrs));
    const select = (name, value, options) => h('select', { name },
      options.map((o) => h('option', { value: o, selected: o === value }, o)));
    const check = (name, on) => h('input', { type: 'checkbox', name, checked: on });
    const env = Object.entries(t.environment || {}).map(([k, v]) => `${k}=${v}`).join('\n');
    const kinds = [
      ['termination', 'Termination', [
        ['Max runtime', input('maxRuntime', yamlDuration(tm.maxRuntimeMs))],
        ['Disable after failures in a row (0: never)', input('maxFailures', tm.maxFailures ?? 0, { type: 'number', min: 0 })],
        ['Kill on timeout', check('killOnTimeout', tm.killOnTimeout !== false)],
      ], (f) => ({
        maxRuntime: f.maxRuntime.value.trim(), maxFailures: num(f.maxFailures.value),
        killOnTimeout: f.killOnTimeout.checked,
      })],
      ['limits', 'Limits', [
        ['Memory', input('memory', yamlSize(lim.memory))],
        ['Output', input('output', yamlSize(lim.output))],
        ['Logs', input('logs', yamlSize(lim.logs))],
      ], (f) => ({ memory: f.memory.value.trim(), output: f.output.value.trim(), logs: f.logs.value.trim() })],
      ['retry', 'Retry', [
        ['Retries', input('max', rt.max, { type: 'number', min: 0 })],
        ['Backoff', input('backoff', rt.backoffMs ? yamlDuration(rt.backoffMs) : '')],
      ], (f) => ({ max: num(f.max.value), backoff: f.backoff.value.trim() })],
      ['concurrency', 'Concurrency', [
        ['Policy', select('concurrency', t.concurrency, ['forbid', 'allow', 'replace'])],
      ], (f) => f.concurrency.value],
      ['misfire', 'Misfire', [
        ['Policy', select('misfire', t.misfire, ['skip', 'run-once'])],
        ['Window', input('misfireWindow', yamlDuration(t.misfireWindowMs))],
      ], (f) => ({ misfire: f.misfire.value, misfireWindow: f.misfireWindow.value.trim() })],
      ['retention', 'Retention', [
        ['Runs kept', input('keep', rn.keep, { type: 'number', min: 0 })],
        ['Max age (empty: any)', input('maxAge', rn.maxAgeMs ? yamlDuration(rn.maxAgeMs) : '')],
      ], (f) => ({ keep: num(f.keep.value), maxAge: f.maxAge.value.trim() })],
      ['environment', 'Environment', [
        ['Variables, NAME=value a line; ${secret:NAME} names a secret', h('textarea', { name: 'env', rows: 3, spellcheck: 'false' }, env)],
      ], (f) => envObject(f.env.value)],
    ];
    const forms = kinds.map(([key, label, inputs, value]) => {
      const err = h('p', { class: 'field-error', role: 'alert', id: `edit-${key}-error` });
      const save = h('button', { type: 'submit', class: 'primary' }, `Save ${label.toLowerCase()}`);
      const patch = async (body, done) => {
        save.disabled = true;
        const fresh = taskAnswer();
        try {
          const t2 = await api.patch(path, body, { signal: ctx.signal });
          dirty.delete(key);
          delete drawn.edit;
          notify(done);
          if (fresh()) show(t2);
        } catch (ex) {
          if (ex.status === 422 || ex.status === 400) {
            err.textContent = ex.message;
            form.querySelectorAll('input, select, textarea').forEach((el) => el.setAttribute('aria-invalid', 'true'));
          } else ctx.fail(ex);
        } finally {
          save.disabled = false;
        }
      };
      const reset = over.has(key) ? h('button', {
        type: 'button', dataset: { action: `reset-${key}` }, 'aria-label': `Reset ${label.toLowerCase()} to file`,
        onclick: () => patch({ [key]: null }, `${full} follows config/tasks.yaml for ${label.toLowerCase()} again.`),
      }, 'Reset to file') : null;
      const legend = h('legend', null, label,
        over.has(key) ? h('span', { class: 'tag', title: 'Changed at runtime; differs from config/tasks.yaml' }, 'overridden') : null);
      const form = h('form', { class: over.has(key) ? 'override-form overridden' : 'override-form', dataset: { field: key } },
        h('fieldset', null, legend,
          h('div', { class: 'row' }, inputs.map(([l, el]) => {
            el.setAttribute('aria-describedby', err.id);
            return el.type === 'checkbox' ? h('label', { class: 'check' }, el, ` ${l}`) : field(l, el);
          })),
          err,
          h('div', { class: 'actions' }, reset, save)));
      form.addEventListener('input', () => dirty.add(key));
      form.addEventListener('change', () => dirty.add(key));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        err.textContent = '';
        patch({ [key]: value(form.elements) }, `Saved the ${label.toLowerCase()} of ${full}.`);
      });
      return form;
    });
    clear(edit).append(h('h2', { id: 'edit-title' }, 'Overrides'),
      h('p', { class: 'muted' }, 'Changes made here override config/tasks.yaml until reset; values are spelled as in the file.'),
      ...forms);
  }

  function renderHeader(t) {
    const controls = [];
    if (ctx.can('operator')) {
      controls.push(h('label', { class: 'switch-label' },
        toggle(t.enabled, `Enabled: ${full}`, (on) => setTaskEnabled(app, name, on).then(load), 'enabled'),
        ' Enabled'));
      const run = runLabel(t);
      controls.push(h('button', {
        type: 'button', class: 'primary', dataset: { fk: 'run' }, title: run.title,
        onclick: async () => {
          const r = await runNow(ctx, app, name);
          if (r) ctx.navigate(runHref(r.id));
        },
      }, run.label));
    } else {
      controls.push(badge(t.enabled ? 'ok' : 'removed', t.enabled ? 'enabled' : 'disabled'));
    }
    const problems = [['Load error', t.loadError], ['App load error', t.appLoadError], ['Disabled', t.disabledReason]]
      .filter(([, v]) => v)
      .map(([k, v]) => h('p', { class: 'problem' }, h('strong', null, `${k}: `), v));
    clear(header).append(
      h('div', null,
        h('h1', null, h('span', { class: 'muted' }, `${app}/`), name),
        t.description ? h('p', { class: 'muted' }, t.description) : null,
        problems),
      h('div', { class: 'controls' }, controls));
  }

  function renderConfig(t) {
    const over = new Set(t.overridden || []);
    const rows = [];
    const add = (key, label, value) => {
      rows.push(h('div', { class: over.has(key) ? 'kv overridden' : 'kv' },
        h('dt', null, label, over.has(key) ? h('span', { class: 'tag', title: 'Changed at runtime; differs from config/tasks.yaml' }, 'overridden') : null),
        h('dd', null, value)));
    };
    add('enabled', 'Enabled', t.enabled ? 'yes' : 'no');
    add('schedule', 'Schedule', t.schedule ? (t.schedule.cron ? `${t.schedule.cron} (${t.schedule.timezone || 'UTC'})` : `at ${t.schedule.at}`)
      : t.after && t.after.length ? `none (runs after ${t.after.join(', ')})` : 'none (manual only)');
    add('module', 'Module', t.module || '—');
    add('concurrency', 'Concurrency', t.concurrency || '—');
    add('misfire', 'Misfire', t.misfire || '—');
    add('after', 'Runs after', t.after && t.after.length ? t.after.join(', ') : '—');
    add('retry', 'Retry', t.retry ? `${t.retry.max} time(s), backoff ${fmtDuration(t.retry.backoffMs)}` : 'none');
    if (t.termination) {
      const tm = t.termination;
      add('termination', 'Termination',
        `max runtime ${tm.maxRuntimeMs ? fmtDuration(tm.maxRuntimeMs) : '—'}, ` +
        `${tm.killOnTimeout ? 'killed' : 'not killed'} on timeout, ` +
        (tm.maxFailures ? `disabled after ${tm.maxFailures} failures in a row` : 'never disabled by failures'));
    }
    if (t.limits) add('limits', 'Limits', `memory ${fmtBytes(t.limits.memory)}, output ${fmtBytes(t.limits.output)}`);
    const env = t.environment || {};
    add('environment', 'Environment', Object.keys(env).length
      ? h('ul', { class: 'env' }, Object.entries(env).map(([k, v]) => h('li', null, h('code', null, `${k}=${v}`))))
      : '—');
    add('tags', 'Tags', t.tags && t.tags.length ? t.tags.map((x) => h('span', { class: 'tag' }, x)) : '—');
    add('failures', 'Consecutive failures', String(t.failures || 0));
    add('recent', 'Recent runs', chart(t.recent, `Recent runs of ${full}`));
    clear(config).append(h('h2', { id: 'cfg-title' }, 'Configuration'), h('dl', { class: 'config' }, rows));
  }

  function renderSchedule(t) {
    const s = t.schedule || {};
    const unscheduled = t.after && t.after.length
      ? `No schedule: runs after ${t.after.join(', ')} succeeds, or when triggered.` : 'No schedule: runs only when triggered.';
    const desc = h('p', { class: 'describe', id: 'sched-desc', 'aria-live': 'polite' }, t.scheduleText || (t.schedule ? '' : unscheduled));
    const err = h('p', { class: 'field-error', id: 'sched-error', role: 'alert' });
    // The next times are shown in the schedule's zone, as its text is,
    // and say which.
    const nextTitle = h('p', { class: 'muted', id: 'next-title' });
    const nextOl = h('ol', { class: 'next-times', 'aria-labelledby': 'next-title' });
    const nextList = h('div', { class: 'next-times-box' }, nextTitle, nextOl);
    const showNext = (times, zone) => {
      let fmt;
      try {
        fmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone || 'UTC', dateStyle: 'medium', timeStyle: 'medium' });
      } catch {
        fmt = null; // a zone the browser does not know: its own
      }
      nextTitle.textContent = times.length ? `Next fire times (${fmt ? zone || 'UTC' : 'your time zone'})` : '';
      clear(nextOl).append(...times.map((x) => h('li', null,
        h('time', { datetime: x, title: fmtTime(x) }, fmt ? fmt.format(new Date(x)) : fmtTime(x)))));
    };
    showNext(t.nextTimes || [], s.timezone);
    const parts = [h('h2', { id: 'sched-title' }, 'Schedule')];
    if (s.at) {
      parts.push(h('p', null, `Once at ${fmtTime(s.at)}`), desc, nextList);
      clear(sched).append(...parts);
      return;
    }
    if (!ctx.can('admin')) {
      parts.push(h('p', null, s.cron ? h('code', null, s.cron) : 'none', s.timezone ? ` (${s.timezone})` : ''), desc, nextList);
      clear(sched).append(...parts);
      return;
    }
    const expr = h('input', { name: 'cron', class: 'mono', value: s.cron || '', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'sched-desc sched-error' });
    const tz = h('input', { name: 'timezone', value: s.timezone || 'UTC', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'sched-error', list: 'time-zones' });
    const zones = h('datalist', { id: 'time-zones' },
      (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : ['UTC']).map((z) => h('option', { value: z })));
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save schedule');
    const reset = h('button', { type: 'button', hidden: true }, 'Undo changes');
    // PATCH with a null schedule drops the override: the schedule of
    // config/tasks.yaml applies again.
    const defaults = (t.overridden || []).includes('schedule')
      ? h('button', {
        type: 'button', dataset: { action: 'reset-schedule' },
        onclick: async () => {
          const fresh = taskAnswer();
          try {
            const t2 = await api.patch(path, { schedule: null }, { signal: ctx.signal });
            editing = false;
            delete drawn.schedule;
            notify(`${full} follows the schedule of its app again.`);
            if (fresh()) show(t2); // else a later load shows the task
          } catch (ex) {
            ctx.fail(ex);
          }
        },
      }, 'Reset to default')
      : null;
    const describe = debounce(async () => {
      const e = expr.value.trim();
      if (!e) {
        desc.textContent = '';
        err.textContent = 'schedule: enter a cron expression (to stop the task firing, disable it)';
        showNext([], '');
        return;
      }
      try {
        const r = await api.get('/cron/describe', { expr: e, tz: tz.value.trim(), task: full, n: 5 }, { signal: ctx.signal });
        if (expr.value.trim() !== e) return;
        desc.textContent = r.description || '';
        err.textContent = '';
        expr.removeAttribute('aria-invalid');
        tz.removeAttribute('aria-invalid');
        showNext(r.next || [], tz.value.trim() || 'UTC');
      } catch (ex) {
        if (ex.name === 'AbortError') return;
        showError(ex);
      }
    }, 300);
    function showError(ex) {
      const bad = ex.field === 'tz' || ex.field === 'timezone' ? tz : expr;
      err.textContent = ex.field ? `${ex.field === 'expr' ? 'schedule' : ex.field}: ${ex.message}` : ex.message;
      bad.setAttribute('aria-invalid', 'true');
      desc.textContent = '';
      showNext([], '');
    }
    const changed = () => {
      editing = expr.value !== (s.cron || '') || tz.value !== (s.timezone || 'UTC');
      reset.hidden = !editing;
      describe();
    };
    expr.addEventListener('input', changed);
    tz.addEventListener('input', changed);
    reset.addEventListener('click', () => {
      editing = false;
      delete drawn.schedule; // the editor is drawn again, with the task's schedule
      load();
    });
    const form = h('form', { class: 'sched-form', 'aria-label': 'Edit schedule' },
      h('div', { class: 'row' },
        field('Cron expression', expr, h('small', { class: 'muted' }, 'Five fields, or six with seconds first; H for a stable spread, or @every 5m.')),
        field('Time zone', tz), zones),
      desc, err, nextList,
      h('div', { class: 'actions' }, defaults, reset, save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const cron = expr.value.trim();
      if (!cron) {
        describe();
        return;
      }
      save.disabled = true;
      const fresh = taskAnswer();
      try {
        const body = { schedule: { cron, timezone: tz.value.trim() || 'UTC' } };
        const t2 = await api.patch(path, body, { signal: ctx.signal });
        editing = false;
        delete drawn.schedule; // the editor is drawn again, as saved
        notify(`Saved the schedule of ${full}.`);
        if (fresh()) show(t2); // else a later load shows the task
      } catch (ex) {
        if (ex.status === 422 || ex.status === 400) showError(ex);
        else ctx.fail(ex);
      } finally {
        save.disabled = false;
      }
    });
    parts.push(form);
    clear(sched).append(...parts);
  }

  const { wrap, tbody } = table(['Run', 'Status', 'Trigger', 'Started', 'Duration', 'Error'], [], { caption: 'Run history' });
  hist.append(h('h2', { id: 'hist-title' }, 'Run history'), wrap,
    h('p', null, link(`/runs?app=${encodeURIComponent(app)}&task=${encodeURIComponent(name)}`, 'All runs of this task')));

  const runsAnswer = latest();
  async function loadRuns() {
    const fresh = runsAnswer();
    try {
      const r = await api.get('/runs', { app, task: name, limit: 20 }, { signal: ctx.signal });
      if (!fresh()) return;
      const runs = r.runs || [];
      clear(tbody).append(...runs.map((run) => h('tr', null,
        td('Run', link(runHref(run.id), `#${run.id}`)),
        td('Status', badge(run.status)),
        td('Trigger', run.trigger || ''),
        td('Started', time(run.start)),
        td('Duration', run.status === 'running' ? '…' : fmtDuration(run.durationMs)),
        td('Error', h('span', { class: 'error-text' }, run.cause || run.error || run.reason || '')))));
      if (!runs.length) tbody.append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No runs yet.')));
    } catch (e) {
      ctx.fail(e);
    }
  }

  const refresh = batcher((keys) => {
    load();
    if (keys.includes('runs')) {
      loadRuns();
      charts.load();
    }
  }, 300);
  ctx.on((ev) => {
    if (ev.type === 'run.log' || ev.type === 'run.progress') return;
    if (ev.type === 'app.reloaded' && (!ev.app || ev.app === app)) refresh('runs');
    else if (ev.app === app && ev.task === name) refresh(ev.type.startsWith('run.') ? 'runs' : 'task');
  });
  ctx.onReopen(() => refresh('runs'));
  ctx.cleanup(() => refresh.cancel());
  load();
  loadRuns();
  charts.load();
}
