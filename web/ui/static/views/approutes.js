// An app's page and routes on the Apps view: a link to the page its
// public/ folder serves, and each route with its roles, counts and
// latency, and the last failed requests.

import { h } from '../dom.js';
import * as api from '../api.js';

// loadRoutes fetches the routes of each app that is loaded, into
// app.routes; an app whose routes cannot be read shows none.
export async function loadRoutes(apps, signal) {
  await Promise.all(apps.filter((a) => a.status !== 'removed' && a.storage).map(async (a) => {
    try {
      a.routes = await api.get(`${api.appPath(a.name)}/routes`, null, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      a.routes = null;
    }
  }));
}

// routesBlock shows an app's page link and routes, or nothing when it
// has neither.
export function routesBlock(name, r) {
  if (!r || (!r.page && !r.routes.length)) return null;
  const parts = [];
  if (r.page) parts.push(h('div', null, h('a', { href: r.page, target: '_self', class: 'app-page', dataset: { page: name } }, `Open the page of ${name}`)));
  if (r.routes.length) {
    parts.push(h('ul', { class: 'routes', 'aria-label': `Routes of ${name}` }, r.routes.map((rt) => h('li', { dataset: { route: `${rt.method} ${rt.path}` } },
      h('code', null, `${rt.method} ${rt.url}`), ' ',
      h('span', { class: 'muted' }, `(${rt.roles.join(', ')})`), ' ',
      `${rt.requests} requests, ${rt.errors} errors`,
      rt.requests ? `, mean ${rt.meanMs.toFixed(1)} ms, p99 ≤ ${rt.p99Ms} ms` : ''))));
  }
  if (r.failed.length) {
    parts.push(h('details', { class: 'failed-requests' }, h('summary', null, `${r.failed.length} failed requests`),
      h('ul', null, r.failed.map((f) => h('li', null,
        h('code', null, `${f.status} ${f.method} ${f.path}`), ` ${f.error} (${f.durationMs} ms)`,
        f.logs.length ? h('pre', null, f.logs.join('\n')) : null)))));
  }
  return h('div', { class: 'app-routes' }, parts);
}
