// Pieces shared by several views.

import { h } from '../dom.js';
import * as api from '../api.js';
import { dialog, confirmDialog, notify, field } from '../widgets.js';

// runLabel is the run button's label and tooltip for task t. A disabled
// task (by hand, or automatically after maxFailures) may still be run by
// hand: the run does not switch it back on, which the label says.
export function runLabel(t) {
  if (t.enabled) return { label: 'Run now', title: '' };
  const why = t.disabledReason ? ` (${t.disabledReason})` : '';
  return {
    label: 'Run once',
    title: `This task is disabled${why}. A manual run is allowed; the task stays disabled until you switch it on.`,
  };
}

// runNow asks for an optional input and triggers app/task; it resolves to
// the new run, or null.
export async function runNow(ctx, app, task) {
  const input = h('textarea', { name: 'input', rows: 5, spellcheck: 'false', placeholder: '{"name": "world"}' });
  const fd = await dialog({
    title: `Run ${app}/${task} now`,
    body: [field('Input (JSON, optional)', input)],
    confirm: 'Run',
    validate: (f) => {
      const v = String(f.get('input') || '').trim();
      if (!v) return '';
      try {
        JSON.parse(v);
      } catch (e) {
        return `The input is not valid JSON: ${e.message}`;
      }
      return '';
    },
  });
  if (!fd) return null;
  const raw = String(fd.get('input') || '').trim();
  try {
    const run = await api.post(`${api.taskPath(app, task)}/trigger`, raw ? { input: JSON.parse(raw) } : undefined);
    notify(`Run #${run.id} of ${app}/${task} started.`);
    return run;
  } catch (e) {
    notify(e.message, 'error');
    return null;
  }
}

// stopRun confirms and cancels a run.
export async function stopRun(run) {
  const ok = await confirmDialog(`Stop run #${run.id}?`,
    `Run #${run.id} of ${run.app}/${run.task} will be stopped and marked cancelled.`, 'Stop run');
  if (!ok) return false;
  try {
    await api.post(`/runs/${encodeURIComponent(run.id)}/cancel`);
    notify(`Run #${run.id} is stopping.`);
    return true;
  } catch (e) {
    notify(e.message, 'error');
    return false;
  }
}

export async function setTaskEnabled(app, task, on) {
  return api.post(`${api.taskPath(app, task)}/${on ? 'enable' : 'disable'}`);
}

export const FINISHED = ['succeeded', 'failed', 'timed_out', 'out_of_memory', 'trapped', 'cancelled', 'interrupted', 'skipped'];

export function select(name, label, options, value) {
  const sel = h('select', { name, 'aria-label': label },
    options.map(([v, t]) => h('option', { value: v }, t)));
  sel.value = value;
  return sel;
}

// tick calls fn every second until the view goes away.
export function tick(ctx, fn) {
  const t = setInterval(fn, 1000);
  ctx.cleanup(() => clearInterval(t));
}

// appOptions loads the apps the token may see for a filter.
export async function appOptions(ctx) {
  try {
    const r = await api.get('/apps', null, { signal: ctx.signal });
    return (r.apps || []).map((a) => a.name);
  } catch {
    return [];
  }
}

export function fillSelect(sel, values, current) {
  const want = sel.value || current;
  for (const v of values) {
    if ([...sel.options].some((o) => o.value === v)) continue;
    sel.append(h('option', { value: v }, v));
  }
  if (want) sel.value = want;
}
