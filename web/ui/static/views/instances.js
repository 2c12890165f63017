// The Instances view: live wazero instances with their memory, and the
// compiled modules.

import { h, clear, latest, time, link, fmtDuration, fmtBytes, runHref, taskHref, table, td, bar } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { tick } from './common.js';

export function instancesView(main, _params, ctx) {
  ctx.title('Instances');
  const inst = table(['Run', 'Task', 'Memory', 'Started', 'Age'], [], { caption: 'Live instances' });
  const mods = table(['Module', 'Apps', 'Size', 'Compile time', 'Cache', 'Instances'], [], { caption: 'Compiled modules' });
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Instances')),
    h('section', { 'aria-labelledby': 'inst-title' }, h('h2', { id: 'inst-title' }, 'Live instances'), inst.wrap),
    h('section', { 'aria-labelledby': 'mod-title' }, h('h2', { id: 'mod-title' }, 'Compiled modules'), mods.wrap));

  const answer = latest();
  async function load() {
    const fresh = answer();
    try {
      const [ri, rm] = await Promise.all([
        api.get('/instances', null, { signal: ctx.signal }),
        api.get('/modules', null, { signal: ctx.signal }),
      ]);
      if (!fresh()) return;
      const list = ri.instances || [];
      clear(inst.tbody).append(...list.map((i) => {
        const frac = i.memoryLimit ? i.memory / i.memoryLimit : 0;
        return h('tr', null,
          td('Run', link(runHref(i.run), `#${i.run}`)),
          td('Task', link(taskHref(i.app, i.task), `${i.app}/${i.task}`)),
          td('Memory', h('div', { class: 'mem' },
            bar(frac, `Memory of run #${i.run}`),
            h('span', null, `${fmtBytes(i.memory)}${i.memoryLimit ? ` of ${fmtBytes(i.memoryLimit)}` : ''}`))),
          td('Started', time(i.started)),
          td('Age', h('span', { class: 'age', dataset: { start: i.started || '', age: String(i.ageMs || 0) } }, fmtDuration(i.ageMs))));
      }));
      if (!list.length) inst.tbody.append(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No instance is running.')));
      const ms = rm.modules || [];
      const maxSize = Math.max(1, ...ms.map((m) => m.size || 0));
      clear(mods.tbody).append(...ms.map((m) => {
        // A module is named by its tasks; its hash tells modules apart.
        const hash = String(m.id || '').slice(0, 12);
        const tasks = m.tasks || [];
        const more = (m.taskCount || 0) - tasks.length;
        const name = tasks.length ? `${tasks.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : `module ${hash}`;
        return h('tr', null,
          td('Module', h('div', null, tasks.length ? tasks.map((k, i) => [i ? ', ' : '', link(taskHref(...k.split('/')), k)]) : 'no task now',
            more > 0 ? ` and ${more} more` : ''), h('code', { class: 'muted', title: m.id }, hash)),
          td('Apps', (m.apps || []).join(', ')),
          // Relative size is no danger: the gauge keeps its plain colour.
          td('Size', h('div', { class: 'mem' }, bar((m.size || 0) / maxSize, `Size of ${name}`, { plain: true }), h('span', null, fmtBytes(m.size)))),
        td('Compile time', fmtDuration(m.compileMs)),
        td('Cache', m.cacheHit ? 'hit' : 'compiled'),
          td('Instances', String(m.instances || 0)));
      }));
      if (!ms.length) mods.tbody.append(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No module is compiled.')));
    } catch (e) {
      ctx.fail(e);
    }
  }

  tick(ctx, () => {
    for (const el of inst.tbody.querySelectorAll('.age')) {
      if (el.dataset.start) el.textContent = fmtDuration(Math.max(0, Date.now() - new Date(el.dataset.start).getTime()));
    }
  });
  // Progress events also say the memory may have changed; a second is
  // often enough for a gauge.
  const refresh = batcher(load, 1000);
  ctx.on((ev) => {
    if (ev.type === 'run.log') return;
    refresh('x');
  });
  ctx.onReopen(() => refresh('x'));
  ctx.cleanup(() => refresh.cancel());
  load();
}
