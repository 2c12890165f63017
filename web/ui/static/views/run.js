// A run's page: its state, live logs (run.log events merged by seq with
// /runs/{id}/logs, see logview.js), output and result, and "Run again".

import { h, clear, latest, time, badge, link, fmtDuration, fmtBytes, pretty, taskHref, runHref } from '../dom.js';
import * as api from '../api.js';
import { progressBar, confirmDialog, notify } from '../widgets.js';
import { logViewer } from '../logview.js';
import { stopRun, tick } from './common.js';

// fmtCPU shows a CPU time given in seconds.
function fmtCPU(seconds) {
  const ms = seconds * 1000;
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 2 : 0)} ms` : fmtDuration(ms);
}

// usageSection shows what a finished run consumed: what is metered and
// billed. Each value carries its raw number in data-value.
function usageSection(u) {
  const rows = [
    ['cpuSeconds', 'CPU time', fmtCPU],
    ['peakMemory', 'Peak memory (guest and host)', fmtBytes],
    ['outputBytes', 'Output', fmtBytes],
    ['logBytes', 'Logs', fmtBytes],
    ['httpSentBytes', 'HTTP sent', fmtBytes],
    ['httpReceivedBytes', 'HTTP received', fmtBytes],
    ['kvWrittenBytes', 'KV written', fmtBytes],
    ['filesWrittenBytes', 'Files written', fmtBytes],
  ];
  return h('section', { 'aria-labelledby': 'usage-title' }, h('h2', { id: 'usage-title' }, 'Usage'),
    h('dl', { class: 'facts', id: 'run-usage' }, rows.map(([key, label, fmt]) =>
      h('div', { class: 'kv', dataset: { usage: key, value: String(u[key] ?? 0) } },
        h('dt', null, label), h('dd', null, fmt(u[key] ?? 0))))));
}

export function runView(main, [idText], ctx) {
  const id = Number(idText);
  ctx.title(`Run #${id}`);
  const head = h('div', { class: 'head' });
  const facts = h('dl', { class: 'facts' });
  const progress = h('div', { class: 'run-progress' });
  // Subscribed (ctx.on below) before the first load: live lines and
  // stored ones overlap, and the viewer merges them by seq.
  const logs = logViewer(ctx, id);
  const extra = h('div');
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link('/runs', 'Runs'), ` / #${id}`),
    head, progress, facts, logs.section, extra);

  let run = null;
  let bar = null;
  let pctText = null;
  let msgText = null;

  const answer = latest();
  async function load() {
    const fresh = answer();
    let r;
    try {
      r = await api.get(`/runs/${id}`, null, { signal: ctx.signal });
    } catch (e) {
      if (e.status === 404) {
        clear(main).append(h('h1', null, 'Run not found'), h('p', null, link('/runs', 'Back to the runs.')));
        return;
      }
      ctx.fail(e);
      return;
    }
    if (!fresh()) return;
    run = r;
    render();
    logs.stored(run);
  }

  async function runAgain(r) {
    const input = r.input === undefined || r.input === null ? 'no input' : `the input ${JSON.stringify(r.input)}`;
    const ok = await confirmDialog(`Run ${r.app}/${r.task} again?`, `A new run of ${r.app}/${r.task} starts now, with ${input}, as run #${r.id} had.`, 'Run again', false);
    if (!ok) return;
    try {
      const again = await api.post(`/runs/${encodeURIComponent(r.id)}/again`);
      notify(`Run #${again.id} of ${r.app}/${r.task} started.`);
      ctx.navigate(runHref(again.id));
    } catch (e) {
      notify(e.message, 'error');
    }
  }

  function render() {
    const r = run;
    const running = r.status === 'running';
    const stop = running && ctx.can('operator')
      ? h('button', {
        type: 'button', class: 'danger', 'aria-label': `Stop run #${r.id}`,
        onclick: async () => {
          if (await stopRun(r)) load();
        },
      }, 'Stop')
      : null;
    const again = ctx.can('operator')
      ? h('button', { type: 'button', id: 'run-again', onclick: () => runAgain(r) }, 'Run again')
      : null;
    clear(head).append(
      h('div', null,
        h('h1', null, `Run #${r.id} `, badge(r.status), r.overdue ? h('span', { class: 'badge warn' }, 'overdue') : null),
        h('p', null, link(taskHref(r.app, r.task), `${r.app}/${r.task}`))),
      h('div', { class: 'controls' }, again, stop));
    clear(progress);
    if (running) {
      bar = progressBar(r.progress, `Progress of run #${r.id}`);
      pctText = h('span', { class: 'pct', id: 'run-pct' }, r.progress ? `${r.progress}%` : '');
      msgText = h('span', { class: 'muted progress-msg' }, r.progressMessage || '');
      progress.append(bar, pctText, msgText);
    } else {
      bar = pctText = msgText = null;
    }
    if (running && r.remote) {
      // Another node runs it: its live lines and progress stay there;
      // its stored lines and progress are read every second.
      progress.append(h('p', { class: 'muted', id: 'run-remote' },
        `This run executes on ${r.node ? `node ${r.node}` : 'another node'} of the cluster: its log lines and progress show here about a second after it writes them.`));
    }
    const f = [
      ['Status', badge(r.status)],
      ['Trigger', `${r.trigger || ''}${r.user ? ` by ${r.user}` : ''}${r.attempt ? ` (attempt ${r.attempt + 1})` : ''}`],
      ['Scheduled', r.scheduled ? time(r.scheduled) : null],
      ['Started', time(r.start)],
      ['Ended', r.end ? time(r.end) : null],
      ['Duration', running ? h('span', { class: 'elapsed', dataset: { start: r.start || '' } }) : fmtDuration(r.durationMs)],
      ['Exit code', r.exitCode ?? null],
      ['Node', r.node || null],
      ['Peak memory', r.peakMemory ? fmtBytes(r.peakMemory) : null],
      ['Error', r.error ? h('span', { class: 'error-text' }, r.error) : null],
      ['Cause', r.cause && r.cause !== r.error && r.cause !== r.reason ? h('span', { class: 'error-text', id: 'run-cause' }, r.cause) : null],
      ['Reason', r.reason || null],
    ].filter(([, v]) => v !== null && v !== undefined && v !== '');
    clear(facts).append(...f.map(([k, v]) => h('div', { class: 'kv' }, h('dt', null, k), h('dd', null, v))));
    updateElapsed();
    clear(extra);
    if (r.input !== undefined && r.input !== null) {
      extra.append(h('section', null, h('h2', null, 'Input'), h('pre', { class: 'json' }, pretty(r.input))));
    }
    if (r.usage) extra.append(usageSection(r.usage));
    if (!running) {
      extra.append(h('section', { 'aria-labelledby': 'result-title' }, h('h2', { id: 'result-title' }, 'Result'),
        r.result === undefined || r.result === null ? h('p', { class: 'muted' }, 'No result.') : h('pre', { class: 'json', id: 'run-result' }, pretty(r.result))));
      extra.append(h('section', { 'aria-labelledby': 'output-title' }, h('h2', { id: 'output-title' }, 'Output'),
        r.output ? h('pre', { class: 'output', id: 'run-output', tabindex: '0' }, r.output) : h('p', { class: 'muted' }, 'No output.')));
    }
  }

  function updateElapsed() {
    const el = facts.querySelector('.elapsed');
    if (!el) return;
    el.textContent = fmtDuration(Math.max(0, Date.now() - new Date(el.dataset.start).getTime()));
  }
  // showProgress shows a running run's progress, live or stored.
  function showProgress(pct, msg) {
    if (!bar) return;
    if (pct > 0) bar.value = pct;
    pctText.textContent = `${pct || 0}%`;
    msgText.textContent = msg || '';
  }

  // followProgress reads the progress of a run on another node, which
  // that node stores with its log lines; a run that ended is loaded
  // whole.
  const progressAnswer = latest();
  async function followProgress() {
    const fresh = progressAnswer();
    let r;
    try {
      r = await api.get(`/runs/${id}`, null, { signal: ctx.signal });
    } catch {
      return; // the next tick tries again
    }
    if (!fresh() || !run || run.status !== 'running') return;
    if (r.status !== 'running') {
      load();
      return;
    }
    showProgress(r.progress, r.progressMessage);
  }

  tick(ctx, updateElapsed);
  // A run on another node sends no run.log nor run.progress events here:
  // its lines and progress are followed in the store, where that node
  // writes them every second.
  tick(ctx, () => {
    if (run && run.status === 'running' && run.remote) {
      logs.follow();
      followProgress();
    }
  });

  ctx.on((ev) => {
    if (ev.run !== id) return;
    switch (ev.type) {
      case 'run.log':
        logs.live(ev);
        break;
      case 'run.progress':
        showProgress(ev.progress, ev.message);
        break;
      default:
        load();
    }
  });
  ctx.onReopen(load);
  load();
}
