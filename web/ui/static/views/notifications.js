// The Notifications view: every message sent to a channel (webhook, Slack,
// email), newest first, with how its delivery went.

import { h, clear, latest, time, link, runHref, taskHref, table, td, badge } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';

const statusBadge = { pending: 'running', sent: 'succeeded', failed: 'failed' };

export function notificationsView(main, _params, ctx) {
  ctx.title('Notifications');
  const t = table(['Queued', 'About', 'Event', 'Channel', 'Delivery', 'Attempts', 'Last error'], [], { caption: 'Notifications, newest first' });
  const more = h('button', { type: 'button', hidden: true }, 'Older notifications');
  main.append(
    h('div', { class: 'head' }, h('h1', null, 'Notifications')),
    h('p', { class: 'muted' }, 'Messages to the webhooks, chat channels and mail addresses that apps and the server configure.'),
    t.wrap, more);

  let cursor = null;
  const answer = latest();
  async function load(append) {
    const fresh = answer();
    try {
      const r = await api.get('/notifications', { limit: 50, before: append ? cursor : '' }, { signal: ctx.signal });
      if (!fresh()) return;
      const list = r.notifications || [];
      if (!append) clear(t.tbody);
      t.tbody.append(...list.map(row));
      if (!append && !list.length) t.tbody.append(h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No notification has been sent.')));
      cursor = r.next || null;
      more.hidden = !cursor;
    } catch (e) {
      ctx.fail(e);
    }
  }

  function row(n) {
    const about = n.task ? link(taskHref(n.app, n.task), `${n.app}/${n.task}`) : h('span', null, n.app);
    const event = n.event === 'summary' ? `summary of ${n.suppressed} held back` : String(n.event).replace(/_/g, ' ');
    const delivery = [badge(statusBadge[n.status] || n.status, n.status)];
    if (n.status === 'pending' && n.nextAttempt) delivery.push(' next ', time(n.nextAttempt));
    return h('tr', { dataset: { notification: String(n.id) } },
      td('Queued', time(n.created)),
      td('About', about, n.runId ? [' ', link(runHref(n.runId), `#${n.runId}`)] : []),
      td('Event', event),
      td('Channel', h('code', null, n.channel), ` (${n.kind})`),
      td('Delivery', ...delivery),
      td('Attempts', String(n.attempts)),
      td('Last error', h('span', { class: 'error-text' }, n.lastError || '')));
  }

  more.addEventListener('click', () => load(true));
  // A run's end may queue a notification; its delivery follows soon after.
  const refresh = batcher(() => load(false), 1000);
  ctx.on((ev) => {
    if (ev.type === 'run.finished' || ev.type === 'task.changed' || ev.type === 'app.reloaded') refresh('x');
  });
  ctx.onReopen(() => refresh('x'));
  ctx.cleanup(() => refresh.cancel());
  load(false);
}
