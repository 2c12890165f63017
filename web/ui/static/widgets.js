// Shared widgets: dialogs, notices, switches and the recent-runs chart.

import { h, s, statusKind, fmtDuration, fmtTime } from './dom.js';

// notify shows a short message in the live region at the bottom.
export function notify(msg, kind = 'info') {
  const region = document.getElementById('notices');
  if (!region) return;
  const close = h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss' }, '×');
  const n = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', null, msg), close);
  close.addEventListener('click', () => n.remove());
  region.append(n);
  setTimeout(() => n.remove(), kind === 'error' ? 10000 : 5000);
}

// dialog opens a modal <dialog>. body is a node or a list of nodes; it
// resolves to the form's values (a FormData) when confirmed, or null.
// validate(formData) may return an error message to keep it open.
export function dialog({ title, body, confirm = 'OK', danger = false, validate }) {
  return new Promise((resolve) => {
    const err = h('p', { class: 'field-error', role: 'alert' });
    const form = h('form', { method: 'dialog' },
      h('h2', null, title),
      body,
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'),
        h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirm)));
    const dlg = h('dialog', { 'aria-label': title }, form);
    let result = null;
    form.addEventListener('submit', (e) => {
      if (!e.submitter || e.submitter.value !== 'ok') return;
      const fd = new FormData(form);
      const msg = validate && validate(fd);
      if (msg) {
        e.preventDefault();
        err.textContent = msg;
        return;
      }
      result = fd;
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('textarea, input, button.primary, button.danger');
    if (first) first.focus();
  });
}

export function confirmDialog(title, message, confirm, danger = true) {
  return dialog({ title, body: h('p', null, message), confirm, danger }).then((fd) => fd !== null);
}

// toggle is a labelled switch; onChange(checked) returns a promise and
// the switch goes back when it fails.
export function toggle(checked, label, onChange, fk) {
  const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch', 'aria-label': label, checked, dataset: fk ? { fk } : undefined });
  input.addEventListener('change', async () => {
    const want = input.checked;
    input.disabled = true;
    try {
      await onChange(want);
    } catch (e) {
      input.checked = !want;
      notify(e.message, 'error');
    } finally {
      input.disabled = false;
    }
  });
  return input;
}

// chart draws the recent runs of a task as bars: height by duration,
// colour by status, the newest on the right.
export function chart(recent, label) {
  const runs = (recent || []).slice(-20);
  const W = 100, H = 24, slot = W / 20;
  const svg = s('svg', {
    class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H,
    role: 'img', 'aria-label': label,
  });
  if (!runs.length) {
    svg.append(s('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'spark-axis' }));
    return svg;
  }
  const max = Math.max(1, ...runs.map((r) => r.durationMs || 0));
  const x0 = W - runs.length * slot;
  runs.forEach((r, i) => {
    const d = r.durationMs || 0;
    // Square root, so one slow run leaves the others visible.
    const hgt = Math.max(2, Math.sqrt(d / max) * (H - 2));
    const rect = s('rect', {
      x: (x0 + i * slot + 0.5).toFixed(2), y: (H - hgt).toFixed(2),
      width: (slot - 1).toFixed(2), height: hgt.toFixed(2),
      class: `spark-${statusKind(r.status)}`,
    });
    rect.append(s('title', null, `#${r.id} ${r.status} ${fmtDuration(d)} ${fmtTime(r.start)}`));
    svg.append(rect);
  });
  return svg;
}

// progressBar shows a run's progress as a <progress> element.
export function progressBar(pct, label) {
  const p = h('progress', { max: 100, 'aria-label': label });
  if (pct !== null && pct !== undefined && pct > 0) p.value = pct;
  return p;
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint || null);
}
