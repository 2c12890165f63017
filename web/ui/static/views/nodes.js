// The Nodes view: every cronbox serve that shares this one's store, its
// state, runs against capacity, last heartbeat and loaded apps. Nothing
// sends events of heartbeats: the list is read again every few seconds,
// and when runs start or end.

import { h, clear, latest, time, bar, table, td } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';

// stateKind is the badge colour of a node's state.
const stateKind = { alive: 'ok', suspect: 'warn', dead: 'bad' };

// REFRESH is how often the list is read again, in ms.
const REFRESH = 5000;

export function nodesView(main, _params, ctx) {
  ctx.title('Nodes');
  const nodes = table(['Node', 'State', 'Runs', 'Last heartbeat', 'Started', 'Version', 'Apps'], [], { caption: 'Nodes of the cluster' });
  const note = h('p', { class: 'muted', id: 'nodes-note' });
  main.append(h('div', { class: 'head' }, h('h1', null, 'Nodes')), note, nodes.wrap);

  const answer = latest();
  async function load() {
    const fresh = answer();
    let r;
    try {
      r = await api.get('/nodes', null, { signal: ctx.signal });
    } catch (e) {
      ctx.fail(e);
      return;
    }
    if (!fresh()) return;
    const list = r.nodes || [];
    const alive = list.filter((n) => n.state === 'alive').length;
    note.textContent = list.length === 1 ? 'One node.' : `${list.length} nodes, ${alive} alive.`;
    clear(nodes.tbody).append(...list.map((n) => {
      // running is null to a token scoped to some apps.
      const known = typeof n.running === 'number';
      const frac = known && n.capacity ? n.running / n.capacity : 0;
      return h('tr', { dataset: { node: n.name, state: n.state } },
        td('Node', h('strong', null, n.name), n.self ? h('span', { class: 'muted' }, ' (this node)') : null,
          n.address ? h('div', { class: 'muted' }, n.address) : null),
        td('State', h('span', { class: `badge ${stateKind[n.state] || 'muted'}` }, n.state)),
        td('Runs', h('div', { class: 'mem' },
          bar(frac, `Runs of node ${n.name}`),
          h('span', null, known ? `${n.running} of ${n.capacity}` : `${n.capacity} at most`))),
        td('Last heartbeat', time(n.heartbeat, true)),
        td('Started', time(n.started)),
        td('Version', n.version || '—'),
        td('Apps', (n.apps || []).length
          ? h('ul', { class: 'plain' }, (n.apps || []).map((a) => h('li', null, a.name, ' ', h('span', { class: 'muted' }, a.version || ''))))
          : h('span', { class: 'muted' }, 'none')));
    }));
  }

  const refresh = batcher(load, 1000);
  ctx.on((ev) => {
    if (ev.type === 'run.started' || ev.type === 'run.finished') refresh('x');
  });
  ctx.onReopen(() => refresh('x'));
  ctx.cleanup(() => refresh.cancel());
  const t = setInterval(load, REFRESH);
  ctx.cleanup(() => clearInterval(t));
  load();
}
