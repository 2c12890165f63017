// The Apps view: each app's status and load errors, a switch to enable or
// disable it, its validation on demand, and for admins installing (a zip
// upload), exporting (a download) and uninstalling apps.

import { h, clear, reconcile, badge, link, table, td, latest, bar, fmtBytes } from '../dom.js';
import * as api from '../api.js';
import { batcher } from '../events.js';
import { toggle, dialog, notify, field } from '../widgets.js';
import { loadRoutes, routesBlock } from './approutes.js';

const COLUMNS = ['App', 'Version', 'Status', 'Tasks', 'Storage', 'Usage', 'Problems', 'Enabled', 'Actions'];

// storage shows what an app's tasks have stored against its quotas: its
// key-value store, its directory when it has the files permission, and
// its run history.
export function storage(name, st) {
  if (!st) return h('span', { class: 'muted' }, '—');
  const parts = [['KV', st.kv, st.kvQuota]];
  if (st.filesQuota) parts.push(['Files', st.files, st.filesQuota]);
  parts.push(['History', st.history, st.historyQuota]);
  return h('div', { class: 'storage' }, parts.map(([label, used, quota]) => h('div', { class: 'mem' },
    bar(quota ? used / quota : 1, `${label} storage of ${name}`),
    h('span', null, `${label} ${fmtBytes(used)} of ${fmtBytes(quota)}`))));
}

// usage shows what an app's runs consumed in the last 24 hours and in
// total: runs, CPU time, HTTP bytes and bytes written.
function usage(name, u) {
  if (!u) return h('span', { class: 'muted' }, '—');
  const line = (label, key, p) => h('div', { class: 'usage', dataset: { period: key } },
    h('strong', null, `${label}: `),
    `${p.runs} runs, ${p.cpuSeconds.toFixed(2)} s CPU, HTTP ${fmtBytes(p.httpSentBytes)} out / ${fmtBytes(p.httpReceivedBytes)} in, ` +
    `${fmtBytes(p.kvWrittenBytes + p.filesWrittenBytes)} written, ${fmtBytes(p.logBytes + p.outputBytes)} logged`);
  return h('div', { 'aria-label': `Usage of ${name}` }, line('24 h', 'last24h', u.last24h), line('Total', 'total', u.total));
}

// where says where a finding is: file:line:column, as far as known.
function where(f) {
  if (!f.file) return '';
  let s = f.file;
  if (f.line) {
    s += `:${f.line}`;
    if (f.column) s += `:${f.column}`;
  }
  return s;
}

// findingList lists an app's errors and warnings, each with its place.
export function findingList(findings, label) {
  return h('ul', { class: 'findings', 'aria-label': label },
    findings.map((f) => h('li', { class: `finding ${f.level === 'error' ? 'error' : 'warning'}`, dataset: { level: f.level || 'error' } },
      h('span', { class: 'level' }, f.level || 'error'), ' ',
      where(f) ? h('code', { class: 'where' }, where(f)) : null,
      f.task ? h('strong', null, ` ${f.task}`) : null,
      f.field ? h('span', { class: 'muted' }, ` ${f.field}`) : null,
      ': ', h('span', { class: 'msg' }, f.message || ''))));
}

// installForm uploads an app's archive; done(result) follows a success.
function installForm(done) {
  const file = h('input', { type: 'file', name: 'file', accept: '.zip,application/zip', required: true });
  const upgrade = h('input', { type: 'checkbox', name: 'upgrade' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Install');
  const progress = h('progress', { max: 100, 'aria-label': 'Upload progress', class: 'upload-progress' });
  progress.hidden = true;
  const result = h('div', { class: 'install-result', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'install-form', 'aria-labelledby': 'install-title' },
    h('h2', { id: 'install-title' }, 'Install app'),
    h('p', { class: 'muted' }, 'A zip archive of one app, as Export writes it. The app is checked before it goes in.'),
    h('div', { class: 'row' },
      field('Archive (.zip)', file),
      h('label', { class: 'inline' }, upgrade, ' Replace an installed app of the same name (upgrade; a backup is kept)')),
    h('div', { class: 'row' }, submit, progress),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    clear(result);
    delete result.dataset.state;
    if (!f) {
      result.append(h('p', { class: 'error-text' }, 'Choose a .zip file first.'));
      return;
    }
    submit.disabled = true;
    progress.hidden = false;
    progress.removeAttribute('value');
    result.append(h('p', { class: 'muted' }, `Uploading ${f.name}…`));
    try {
      const r = await api.upload('/apps', f, {
        query: upgrade.checked ? { upgrade: 'true' } : null,
        onProgress: (x) => { progress.value = Math.round(x * 100); },
      });
      const a = r.app || {};
      clear(result).append(h('p', { class: 'ok-text' },
        `${r.replaced ? 'Upgraded' : 'Installed'} ${a.name} ${r.version || ''}`.trim(),
        ` (${r.files} files${r.verified ? ', hashes verified' : ''}).`,
        r.backup ? ` The previous version is in the backup ${r.backup}.` : ''));
      if (r.warnings && r.warnings.length) result.append(findingList(r.warnings, `Warnings of ${a.name}`));
      result.dataset.state = 'ok';
      file.value = '';
      upgrade.checked = false;
      done(r);
    } catch (ex) {
      clear(result).append(h('p', { class: 'error-text', role: 'alert' }, ex.message));
      if (ex.findings && ex.findings.length) result.append(findingList(ex.findings, 'Why the app was refused'));
      if (ex.status === 409) result.append(h('p', { class: 'muted' }, 'Tick "Replace an installed app" to upgrade it.'));
      result.dataset.state = 'error';
    } finally {
      submit.disabled = false;
      progress.hidden = true;
    }
  });
  return form;
}

export function appsView(main, _params, ctx) {
  ctx.title('Apps');
  const admin = ctx.can('admin');
  const t = table(COLUMNS, [], { caption: 'Apps' });
  // validations holds the open validation panels, by app: {report} once
  // loaded, {error} when it failed, {} while it loads.
  const validations = new Map();
  let apps = [];

  main.append(h('div', { class: 'head' }, h('h1', null, 'Apps')),
    admin ? installForm((r) => {
      if (r.app && validations.has(r.app.name)) validate(r.app.name);
      load();
    }) : null,
    t.wrap);

  async function validate(name) {
    validations.set(name, {});
    render();
    let v;
    try {
      v = { report: await api.get(`${api.appPath(name)}/validation`, null, { signal: ctx.signal }) };
    } catch (e) {
      if (e.name === 'AbortError') return;
      v = { error: e.message };
    }
    if (validations.has(name)) {
      validations.set(name, v);
      render();
    }
  }

  function toggleValidation(name) {
    if (validations.has(name)) {
      validations.delete(name);
      render();
    } else {
      validate(name);
    }
  }

  async function uninstall(name) {
    const purge = h('input', { type: 'checkbox', name: 'purge', value: 'true' });
    const fd = await dialog({
      title: `Uninstall ${name}?`,
      body: [
        h('p', null, `The app ${name} and its tasks will be removed; runs under way finish. A backup of its files is kept in the home's data/backups folder, and Install takes it back.`),
        h('label', { class: 'inline' }, purge, ' Also delete its data: KV, run history and files (purge). The backup does not hold them.'),
      ],
      confirm: 'Uninstall',
      danger: true,
    });
    if (!fd) return;
    try {
      const r = await api.del(api.appPath(name), fd.get('purge') ? { purge: 'true' } : null);
      notify(`Uninstalled ${name}${r.purged ? ' and deleted its data' : ''}; the backup is ${r.backup}.`);
      validations.delete(name);
      load();
    } catch (e) {
      notify(e.message, 'error');
    }
  }

  function validationCell(name) {
    const v = validations.get(name);
    const cell = h('td', { colspan: COLUMNS.length, 'data-label': 'Validation', id: `validation-${name}` });
    const wrap = h('div', { class: 'validation', dataset: { app: name } });
    cell.append(wrap);
    if (!v.report && !v.error) {
      wrap.dataset.state = 'loading';
      wrap.append(h('p', { class: 'muted' }, `Checking ${name}…`));
      return cell;
    }
    if (v.error) {
      wrap.dataset.state = 'error';
      wrap.append(h('p', { class: 'error-text' }, v.error));
      return cell;
    }
    const r = v.report;
    const errors = r.errors || [], warnings = r.warnings || [];
    wrap.dataset.state = r.ok ? 'ok' : 'failed';
    const again = h('button', { type: 'button', class: 'small', dataset: { fk: `revalidate-${name}` } }, 'Check again');
    again.addEventListener('click', () => validate(name));
    wrap.append(h('p', { class: 'validation-head' },
      badge(r.ok ? 'ok' : 'error', r.ok ? 'passes' : 'fails'), ' ',
      `${r.tasks} ${r.tasks === 1 ? 'task' : 'tasks'}, ${errors.length} ${errors.length === 1 ? 'error' : 'errors'}, ${warnings.length} ${warnings.length === 1 ? 'warning' : 'warnings'}`, ' ',
      again));
    if (errors.length || warnings.length) wrap.append(findingList([...errors, ...warnings], `Validation of ${name}`));
    else wrap.append(h('p', { class: 'muted' }, 'No problems found.'));
    return cell;
  }

  function actions(a) {
    if (a.status === 'removed') return h('span', { class: 'muted' }, 'removed');
    const open = validations.has(a.name);
    const text = open ? 'Hide validation' : 'Validation';
    const val = h('button', {
      type: 'button', class: 'small', 'aria-expanded': open ? 'true' : 'false',
      'aria-controls': `validation-${a.name}`, 'aria-label': `${text} of ${a.name}`, dataset: { fk: `validate-${a.name}` },
    }, text);
    val.addEventListener('click', () => toggleValidation(a.name));
    if (!admin) return h('div', { class: 'row-actions' }, val);
    const exp = h('a', { href: api.appExportURL(a.name), download: '', class: 'button small', 'aria-label': `Export ${a.name}` }, 'Export');
    const rm = h('button', { type: 'button', class: 'small warn', 'aria-label': `Uninstall ${a.name}`, dataset: { fk: `uninstall-${a.name}` } }, 'Uninstall');
    rm.addEventListener('click', () => uninstall(a.name));
    return h('div', { class: 'row-actions' }, val, exp, rm);
  }

  // Rows drawn, by key, with what they show: a row that shows the same is
  // kept as it is (a row drawn again under the pointer loses the click).
  let drawn = new Map();

  function render() {
    const active = document.activeElement;
    const fk = active && t.tbody.contains(active) ? active.dataset.fk : undefined;
    const next = new Map();
    const keep = (key, shows, make) => {
      const text = JSON.stringify(shows);
      const old = drawn.get(key);
      const tr = old && old.text === text ? old.tr : make();
      next.set(key, { text, tr });
      return tr;
    };
    const rows = [];
    for (const a of apps) {
      rows.push(keep(`app:${a.name}`, [a, validations.has(a.name)], () => appRow(a)));
      if (validations.has(a.name)) {
        rows.push(keep(`validation:${a.name}`, validations.get(a.name),
          () => h('tr', { class: 'validation-row', dataset: { validation: a.name } }, validationCell(a.name))));
      }
    }
    drawn = next;
    if (!apps.length) rows.push(h('tr', null, h('td', { colspan: COLUMNS.length, class: 'empty' }, 'No apps.')));
    reconcile(t.tbody, rows);
    if (fk && !t.tbody.contains(document.activeElement)) {
      const el = t.tbody.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
      if (el) el.focus();
    }
  }

  function appRow(a) {
    return h('tr', { dataset: { app: a.name } },
      td('App', h('div', null, link(`/tasks?app=${encodeURIComponent(a.name)}`, a.name)),
        a.description ? h('div', { class: 'desc muted' }, a.description) : null, routesBlock(a.name, a.routes)),
      td('Version', a.version || '—'),
      td('Status', badge(a.status)),
      td('Tasks', String(a.tasks ?? 0)),
      td('Storage', storage(a.name, a.storage)),
      td('Usage', usage(a.name, a.usage)),
      td('Problems', (a.errors || []).length
        ? h('ul', { class: 'problems' }, a.errors.map((e) => h('li', { class: 'problem' },
          e.file ? h('code', null, `${e.file}${e.line ? `:${e.line}` : ''}`) : null,
          e.task ? h('strong', null, ` ${e.task}: `) : ' ',
          e.message || '')))
        : h('span', { class: 'muted' }, 'none')),
      td('Enabled', ctx.can('operator') && a.status !== 'removed'
        ? toggle(a.enabled, `Enabled: app ${a.name}`, (on) => api.post(`${api.appPath(a.name)}/${on ? 'enable' : 'disable'}`), `app-${a.name}`)
        : h('span', { class: a.enabled ? '' : 'muted' }, a.enabled ? 'on' : 'off')),
      td('Actions', actions(a)));
  }

  const answer = latest();
  async function load() {
    const fresh = answer();
    try {
      const r = await api.get('/apps', null, { signal: ctx.signal });
      await loadRoutes(r.apps || [], ctx.signal);
      if (!fresh()) return;
      apps = r.apps || [];
      for (const name of validations.keys()) {
        if (!apps.some((a) => a.name === name)) validations.delete(name);
      }
      render();
    } catch (e) {
      ctx.fail(e);
    }
  }

  // An app that reloads is checked again when its validation is open.
  const revalidate = batcher((names) => names.forEach((n) => validations.has(n) && validate(n)), 400);
  const refresh = batcher(load, 400);
  ctx.on((ev) => {
    if (ev.type === 'app.reloaded' || ev.type === 'task.changed') refresh('x');
    if (ev.type === 'app.reloaded' && ev.app) revalidate(ev.app);
  });
  ctx.onReopen(() => refresh('x'));
  ctx.cleanup(() => {
    refresh.cancel();
    revalidate.cancel();
  });
  load();
}
