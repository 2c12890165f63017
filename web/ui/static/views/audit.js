// The Audit view: the audit log, newest first, with filters by app and
// actor, and older entries on request. Admins only.

import { h, clear, debounce, latest, time, table, td } from '../dom.js';
import * as api from '../api.js';
import { select, appOptions, fillSelect } from './common.js';

// change shows an entry's before and after, compactly.
function change(e) {
  const show = (v) => (v === null || v === undefined ? '–' : JSON.stringify(v));
  return h('code', { class: 'audit-change' }, `${show(e.before)} → ${show(e.after)}`);
}

export function auditView(main, _params, ctx) {
  ctx.title('Audit log');
  const q = ctx.query;
  const appSel = select('app', 'Filter the audit log by app', [['', 'All apps']], q.get('app') || '');
  const actorIn = h('input', { type: 'search', name: 'actor', 'aria-label': 'Filter the audit log by actor', placeholder: 'Actor, e.g. token:ops', value: q.get('actor') || '' });
  const { wrap, tbody } = table(['Time', 'Actor', 'Action', 'App', 'Target', 'Change'], [], { caption: 'Audit log entries, newest first' });
  const more = h('button', { type: 'button', hidden: true }, 'Older entries');
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Audit log')),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Audit log filters', onsubmit: (e) => e.preventDefault() }, appSel, actorIn),
    wrap, more);

  if (!ctx.can('admin')) {
    clear(tbody).append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'Only an admin token may read the audit log.')));
    return;
  }
  appOptions(ctx).then((names) => fillSelect(appSel, names, q.get('app') || ''));

  let cursor = null;
  const answer = latest();
  const filters = () => ({ app: appSel.value, actor: actorIn.value.trim() });

  async function load(append) {
    const f = filters();
    ctx.setQuery(f);
    const fresh = answer();
    try {
      const r = await api.get('/audit', { ...f, limit: 50, cursor: append ? cursor : '' }, { signal: ctx.signal });
      if (!fresh()) return;
      const list = r.entries || [];
      if (!append) clear(tbody);
      tbody.append(...list.map((e) => h('tr', { dataset: { entry: String(e.id), action: e.action } },
        td('Time', time(e.time)),
        td('Actor', e.actor + (e.tokenId ? ` (#${e.tokenId})` : '')),
        td('Action', e.action),
        td('App', e.app || '–'),
        td('Target', e.target || '–'),
        td('Change', change(e)))));
      if (!append && !list.length) tbody.append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No entries match.')));
      cursor = r.next || null;
      more.hidden = !cursor;
    } catch (e) {
      ctx.fail(e);
    }
  }

  more.addEventListener('click', () => load(true));
  const reload = debounce(() => load(false), 250);
  appSel.addEventListener('change', () => load(false));
  actorIn.addEventListener('input', reload);
  ctx.cleanup(() => reload.cancel());
  // A change made elsewhere shows without a reload.
  ctx.on((ev) => {
    if (ev.type === 'task.changed' || ev.type === 'app.reloaded') reload();
  });
  load(false);
}
