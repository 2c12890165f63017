// The Apps view: each app's status and load errors, and a switch to
// enable or disable it.

import { h, clear, badge, link, table, td } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { toggle } from '../widgets.js';

export function appsView(main, _params, ctx) {
  ctx.title('Apps');
  const t = table(['App', 'Version', 'Status', 'Tasks', 'Problems', 'Enabled'], [], { caption: 'Apps' });
  main.append(h('div', { class: 'head' }, h('h1', null, 'Apps')), t.wrap);

  async function load() {
    try {
      const r = await api.get('/apps', null, { signal: ctx.signal });
      const apps = r.apps || [];
      clear(t.tbody).append(...apps.map((a) => h('tr', { dataset: { app: a.name } },
        td('App', h('div', null, link(`/tasks?app=${encodeURIComponent(a.name)}`, a.name)),
          a.description ? h('div', { class: 'desc muted' }, a.description) : null),
        td('Version', a.version || '—'),
        td('Status', badge(a.status)),
        td('Tasks', String(a.tasks ?? 0)),
        td('Problems', (a.errors || []).length
          ? h('ul', { class: 'problems' }, a.errors.map((e) => h('li', { class: 'problem' },
            e.file ? h('code', null, `${e.file}${e.line ? `:${e.line}` : ''}`) : null,
            e.task ? h('strong', null, ` ${e.task}: `) : ' ',
            e.message || '')))
          : h('span', { class: 'muted' }, 'none')),
        td('Enabled', ctx.can('operator')
          ? toggle(a.enabled, `Enabled: app ${a.name}`, (on) => api.post(`/apps/${encodeURIComponent(a.name)}/${on ? 'enable' : 'disable'}`), `app-${a.name}`)
          : h('span', { class: a.enabled ? '' : 'muted' }, a.enabled ? 'on' : 'off')))));
      if (!apps.length) t.tbody.append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No apps.')));
    } catch (e) {
      ctx.fail(e);
    }
  }

  const refresh = batcher(load, 400);
  ctx.on((ev) => {
    if (ev.type === 'app.reloaded' || ev.type === 'task.changed') refresh('x');
  });
  ctx.onReopen(() => refresh('x'));
  ctx.cleanup(() => refresh.cancel());
  load();
}
