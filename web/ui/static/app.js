// Cronbox management UI: the shell (sign-in, navigation, count strip) and
// a small router over the views.

import { h, clear, debounce, link } from './dom.js';
import * as api from './api.js';
import { Live } from './events.js';
import { notify } from './widgets.js';
import { tasksView } from './views/tasks.js';
import { taskView } from './views/task.js';
import { runsView } from './views/runs.js';
import { runView } from './views/run.js';
import { instancesView } from './views/instances.js';
import { appsView } from './views/apps.js';
import { notificationsView } from './views/notifications.js';
import { auditView } from './views/audit.js';
import { nodesView } from './views/nodes.js';
import { overviewView } from './views/overview.js';

const ROLES = { viewer: 0, operator: 1, admin: 2 };

const routes = [
  [/^\/$/, overviewView, 'overview'],
  [/^\/tasks\/?$/, tasksView, 'tasks'],
  [/^\/tasks\/([^/]+)\/([^/]+)\/?$/, taskView, 'tasks'],
  [/^\/runs\/?$/, runsView, 'runs'],
  [/^\/runs\/(\d+)\/?$/, runView, 'runs'],
  [/^\/instances\/?$/, instancesView, 'instances'],
  [/^\/apps\/?$/, appsView, 'apps'],
  [/^\/notifications\/?$/, notificationsView, 'notifications'],
  [/^\/audit\/?$/, auditView, 'audit'],
  [/^\/nodes\/?$/, nodesView, 'nodes'],
];

const root = document.getElementById('app');
let session = null;
let live = null;
let current = null;
let shell = null;

function can(role) {
  return !!session && ROLES[session.role] >= ROLES[role];
}

// ---- sign-in ----

function showSignIn(message) {
  teardown();
  session = null;
  document.title = 'Sign in · Cronbox';
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', 'aria-describedby': 'signin-error',
  });
  const err = h('p', { id: 'signin-error', class: 'field-error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Cronbox'),
    h('p', { class: 'muted' }, 'Sign in with an API token.'),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), token),
    err,
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    err.textContent = '';
    try {
      const s = await api.post('/session', { token: token.value.trim() }, { quiet401: true });
      token.value = '';
      startSession(s);
    } catch (ex) {
      err.textContent = ex.status === 401 ? 'That token is not valid.' : ex.message;
      token.focus();
    } finally {
      submit.disabled = false;
    }
  });
  clear(root).append(h('main', { class: 'signin-page' }, form));
  token.focus();
}

async function signOut() {
  try {
    await api.request('DELETE', '/session', { quiet401: true });
  } catch (e) {
    if (e.status !== 401) notify(e.message, 'error');
  }
  api.setCSRF('');
  showSignIn('Signed out.');
}

// ---- shell ----

function teardown() {
  if (current) current.destroy();
  current = null;
  if (live) live.stop();
  live = null;
  shell = null;
}

function startSession(s) {
  teardown();
  session = s;
  api.setCSRF(s.csrf || sessionStorage.getItem('cronbox.csrf') || '');
  const sections = [['/', 'Overview', 'overview'], ['/tasks', 'Tasks', 'tasks'], ['/runs', 'Runs', 'runs'], ['/instances', 'Instances', 'instances'], ['/apps', 'Apps', 'apps'], ['/notifications', 'Notifications', 'notifications'], ['/nodes', 'Nodes', 'nodes']];
  if (ROLES[s.role] >= ROLES.admin) sections.push(['/audit', 'Audit', 'audit']);
  const navLinks = sections
    .map(([href, label, key]) => h('a', { href, dataset: { nav: '', section: key } }, label));
  const liveState = h('span', { class: 'live-state', role: 'status', title: 'Live updates' }, 'connecting');
  const counts = h('div', { class: 'counts', 'aria-label': 'Summary', role: 'group' });
  const scope = s.apps && s.apps.length ? `apps: ${s.apps.join(', ')}` : 'all apps';
  const signOutBtn = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOutBtn.addEventListener('click', signOut);
  const main = h('main', { id: 'main', tabindex: '-1' });
  shell = { main, navLinks, counts, liveState };
  clear(root).append(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('div', { class: 'layout' },
      h('aside', { class: 'side' },
        h('a', { href: '/', class: 'brand', dataset: { nav: '' } }, 'Cronbox'),
        h('nav', { 'aria-label': 'Main' }, navLinks),
        h('div', { class: 'who' },
          h('span', { class: 'role', dataset: { role: s.role } }, s.role),
          h('span', { class: 'scope muted' }, scope),
          signOutBtn)),
      h('div', { class: 'content' },
        h('div', { class: 'strip' }, counts, liveState),
        main)));

  live = new Live('/api/v1/events', (state) => {
    liveState.textContent = state === 'live' ? 'live' : state === 'down' ? 'offline' : 'reconnecting';
    liveState.dataset.state = state;
    // A stream the server refused may mean the session ended (a restart
    // forgets sessions): asking for it shows the sign-in page if so.
    if (state === 'down') api.get('/session').catch(() => {});
  });
  const refreshSummary = debounce(loadSummary, 400);
  live.on((ev) => {
    if (ev.type !== 'run.log' && ev.type !== 'run.progress') refreshSummary();
  });
  live.onReopen(refreshSummary);
  live.start();
  loadSummary();
  route();
}

async function loadSummary() {
  if (!shell) return;
  let sum;
  try {
    sum = await api.get('/summary');
  } catch (e) {
    return;
  }
  if (!shell) return;
  const item = (href, n, label, cls) => link(href, h('strong', null, String(n ?? 0)), ' ', label);
  const kids = [
    item('/tasks?status=enabled', sum.tasksEnabled, 'enabled'),
    item('/tasks?status=disabled', sum.tasksDisabled, 'disabled'),
  ];
  if (sum.tasksBroken) {
    const broken = item('/tasks?status=error', sum.tasksBroken, 'cannot run');
    broken.classList.add('bad');
    kids.push(broken);
  }
  kids.push(item('/runs', sum.running, 'running'));
  if (sum.queued) kids.push(item('/runs', sum.queued, 'queued'));
  const fail = item('/runs?status=failed,timed_out,out_of_memory,trapped', sum.failures24h, 'failures (24 h)');
  if (sum.failures24h) fail.classList.add('bad');
  kids.push(fail);
  kids.forEach((k) => k.classList.add('count'));
  clear(shell.counts).append(...kids);
}

// ---- router ----

function route() {
  if (!session || !shell) return;
  const path = location.pathname || '/';
  if (current) current.destroy();
  current = null;
  const main = clear(shell.main);
  let match = null;
  let view = null;
  let section = '';
  for (const [re, fn, sec] of routes) {
    match = path.match(re);
    if (match) {
      view = fn;
      section = sec;
      break;
    }
  }
  for (const a of shell.navLinks) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!view) {
    document.title = 'Not found · Cronbox';
    main.append(h('h1', null, 'Not found'), h('p', null, 'There is no page here. ', link('/tasks', 'Go to the tasks.')));
    return;
  }
  const params = match.slice(1).map(decodeURIComponent);
  const abort = new AbortController();
  const offs = [];
  const ctx = {
    session, can, signal: abort.signal,
    query: new URLSearchParams(location.search),
    title: (t) => { document.title = `${t} · Cronbox`; },
    navigate,
    // on subscribes to live events for the life of the view.
    on: (fn) => offs.push(live.on(fn)),
    onReopen: (fn) => offs.push(live.onReopen(fn)),
    cleanup: (fn) => offs.push(fn),
    // setQuery records the view's filters in the address.
    setQuery: (obj) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(obj)) if (v) q.set(k, v);
      const qs = q.toString();
      history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
    },
    fail: (e) => {
      if (e && e.name === 'AbortError') return;
      notify(e.message || String(e), 'error');
    },
  };
  current = {
    destroy() {
      abort.abort();
      offs.forEach((off) => off());
    },
  };
  try {
    view(main, params, ctx);
  } catch (e) {
    console.error(e);
    ctx.fail(e);
  }
}

function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  route();
  if (shell) shell.main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  // An SVG link's href and target are SVGAnimatedStrings.
  const target = a.target && a.target.baseVal !== undefined ? a.target.baseVal : a.target;
  if (target || a.hasAttribute('download')) return;
  const url = new URL(a.href && a.href.baseVal !== undefined ? a.href.baseVal : a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/ui/')) return;
  if (a.getAttribute('href').startsWith('#')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', route);

api.setUnauthorizedHandler(() => {
  if (session) showSignIn('Your session has ended. Sign in again.');
});

async function boot() {
  try {
    const s = await api.get('/session', null, { quiet401: true });
    startSession(s);
  } catch (e) {
    showSignIn(e.status === 401 ? '' : e.message);
  }
}

boot();
