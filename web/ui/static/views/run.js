// A run's page: its state, live logs (run.log events, backfilled from
// /runs/{id}/logs), output and result.

import { h, clear, latest, time, badge, link, fmtDuration, fmtBytes, pretty, taskHref } from '../dom.js';
import * as api from '../api.js';
import { progressBar } from '../widgets.js';
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
  const logList = h('ol', { class: 'logs', 'aria-label': 'Log lines' });
  const logBox = h('div', { class: 'log-box', tabindex: '0', role: 'log', 'aria-label': 'Logs', 'aria-live': 'polite' }, logList);
  const logNote = h('p', { class: 'muted' });
  const follow = h('input', { type: 'checkbox', checked: true, id: 'follow' });
  const extra = h('div');
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link('/runs', 'Runs'), ` / #${id}`),
    head, progress, facts,
    h('section', { 'aria-labelledby': 'logs-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'logs-title' }, 'Logs'),
        h('label', { class: 'inline' }, follow, ' Follow')),
      logBox, logNote),
    extra);

  let run = null;
  let lastSeq = 0;
  let loading = null;
  let backfillAgain = false;
  let bar = null;
  let pctText = null;
  let msgText = null;

  // Stored lines carry a seq. Lines that arrive live (run.log events)
  // carry none while the engine batches its writes, so they show at once
  // and are confirmed by the stored copy that a later backfill brings:
  // the oldest unconfirmed live line with the same message.
  let live = [];
  let early = null; // live lines that arrive while the page loads

  function logNode(l, isLive) {
    const attrs = l.attrs && typeof l.attrs === 'object'
      ? Object.entries(l.attrs).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('')
      : '';
    const li = h('li', { class: `log ${l.level || 'info'}${isLive ? ' live' : ''}`, dataset: { seq: isLive ? '' : String(l.seq ?? '') } },
      h('time', { datetime: l.time || '', class: 'log-time' }, l.time ? new Date(l.time).toLocaleTimeString() : ''),
      h('span', { class: 'log-level' }, l.level || ''),
      h('span', { class: 'log-msg' }, l.message || '', attrs ? h('span', { class: 'muted' }, attrs) : null));
    li.message = l.message || '';
    return li;
  }

  function scrolled(fn) {
    const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 8;
    fn();
    if (follow.checked && atEnd) logBox.scrollTop = logBox.scrollHeight;
  }

  function addLogs(lines) {
    scrolled(() => {
      for (const l of lines || []) {
        if (typeof l.seq !== 'number' || l.seq <= lastSeq) continue;
        lastSeq = l.seq;
        const node = logNode(l, false);
        if (live.length && live[0].message === (l.message || '')) {
          live.shift().replaceWith(node);
        } else if (live.length) {
          live[0].before(node);
        } else {
          logList.append(node);
        }
      }
    });
  }

  function addLive(ev) {
    if (typeof ev.seq === 'number') {
      addLogs([ev]);
      return;
    }
    const node = logNode({ time: ev.time, level: ev.level, message: ev.message, attrs: ev.attrs }, true);
    live.push(node);
    scrolled(() => logList.append(node));
  }

  // resetLogs forgets the lines shown, for a reload from the store.
  function resetLogs() {
    clear(logList);
    lastSeq = 0;
    live = [];
  }

  // backfill fetches the stored lines after the last one shown; calls
  // coalesce.
  async function backfill() {
    if (loading) {
      backfillAgain = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          backfillAgain = false;
          const r = await api.get(`/runs/${id}/logs`, { after: lastSeq, limit: 1000 }, { signal: ctx.signal });
          addLogs(r.logs || []);
          if ((r.logs || []).length >= 1000) backfillAgain = true;
        } while (backfillAgain);
      } catch (e) {
        ctx.fail(e);
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  const answer = latest();
  async function load() {
    const fresh = answer();
    if (!run) early = early || [];
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
    const wasRunning = run && run.status === 'running';
    run = r;
    render();
    if (wasRunning && run.status !== 'running') {
      // Every line is stored once the run has ended: show the store's.
      resetLogs();
    }
    addLogs(run.logs || []);
    if (early) {
      // Lines that came live during the load and are stored already are
      // the first ones after the stored lines' longest matching tail.
      const shown = [...logList.children].map((li) => li.message);
      let skip = 0;
      for (let k = Math.min(early.length, shown.length); k > 0; k--) {
        if (early.slice(0, k).every((ev, i) => ev.message === shown[shown.length - k + i])) {
          skip = k;
          break;
        }
      }
      const rest = run.status === 'running' ? early.slice(skip) : [];
      early = null;
      rest.forEach(addLive);
    }
    logNote.textContent = run.logsDropped ? `${run.logsDropped} log lines were dropped.` : '';
    backfill();
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
    clear(head).append(
      h('div', null,
        h('h1', null, `Run #${r.id} `, badge(r.status), r.overdue ? h('span', { class: 'badge warn' }, 'overdue') : null),
        h('p', null, link(taskHref(r.app, r.task), `${r.app}/${r.task}`))),
      h('div', { class: 'controls' }, stop));
    clear(progress);
    if (running && r.remote) {
      // Another node runs it: its progress and live lines stay there;
      // its stored lines are read every second.
      bar = pctText = msgText = null;
      progress.append(h('p', { class: 'muted', id: 'run-remote' },
        `This run executes on ${r.node ? `node ${r.node}` : 'another node'} of the cluster: its log lines show here about a second after it writes them; its progress shows only there.`));
    } else if (running) {
      bar = progressBar(r.progress, `Progress of run #${r.id}`);
      pctText = h('span', { class: 'pct', id: 'run-pct' }, r.progress ? `${r.progress}%` : '');
      msgText = h('span', { class: 'muted progress-msg' }, r.progressMessage || '');
      progress.append(bar, pctText, msgText);
    } else {
      bar = pctText = msgText = null;
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
  tick(ctx, updateElapsed);
  // A run on another node sends no run.log events here: its lines are
  // followed in the store, where that node writes them every second.
  tick(ctx, () => {
    if (run && run.status === 'running' && run.remote) backfill();
  });

  ctx.on((ev) => {
    if (ev.run !== id) return;
    switch (ev.type) {
      case 'run.log':
        if (early) early.push(ev);
        else addLive(ev);
        break;
      case 'run.progress':
        if (bar) {
          if (ev.progress > 0) bar.value = ev.progress;
          pctText.textContent = `${ev.progress || 0}%`;
          msgText.textContent = ev.message || '';
        }
        break;
      default:
        load();
    }
  });
  ctx.onReopen(load);
  load();
}
