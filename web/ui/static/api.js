// The REST client: JSON in and out, the session cookie for auth and the
// CSRF value on every mutation.

const BASE = '/api/v1';
const CSRF_KEY = 'cronbox.csrf';

export class ApiError extends Error {
  constructor(status, message, field, findings) {
    super(message);
    this.status = status;
    this.field = field || '';
    // findings are an app's problems when it was refused for them (422).
    this.findings = Array.isArray(findings) ? findings : [];
  }
}

function errorOf(status, statusText, data) {
  const msg = (data && typeof data.error === 'string' && data.error) || `${status} ${statusText}`;
  return new ApiError(status, msg, data && data.field, data && data.findings);
}

let csrf = sessionStorage.getItem(CSRF_KEY) || '';
let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function setCSRF(v) {
  csrf = v || '';
  if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
  else sessionStorage.removeItem(CSRF_KEY);
}

// request calls the API; path is below /api/v1; query is an object whose
// empty values are left out.
export async function request(method, path, { query, body, signal, quiet401 } = {}) {
  let url = BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const qs = q.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: 'application/json' };
  // The API's answers are never stored (no-store), and the browser is told
  // not to look in its cache at all: otherwise it lines requests for one
  // URL up behind the cache entry of the first, and a save would wait for
  // the answer to a load of the same task still under way.
  const init = { method, headers, credentials: 'same-origin', signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The server cannot be reached.');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = errorOf(res.status, res.statusText, data);
    if (res.status === 401 && !quiet401) onUnauthorized(err);
    throw err;
  }
  return data;
}

// upload sends a file as the "file" field of a form, with the CSRF value;
// onProgress(fraction) follows the upload. It resolves to the JSON answer.
// (XMLHttpRequest, as fetch reports no upload progress.)
export function upload(path, file, { query, onProgress } = {}) {
  let url = BASE + path;
  const qs = new URLSearchParams(query || {}).toString();
  if (qs) url += `?${qs}`;
  const form = new FormData();
  form.append('file', file);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Accept', 'application/json');
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
    }
    xhr.addEventListener('load', () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      const err = errorOf(xhr.status, xhr.statusText, data);
      if (xhr.status === 401) onUnauthorized(err);
      reject(err);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'The server cannot be reached.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'The upload was cancelled.')));
    xhr.send(form);
  });
}

export const get = (path, query, opts) => request('GET', path, { ...opts, query });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts) => request('PATCH', path, { ...opts, body });
export const del = (path, query, opts) => request('DELETE', path, { ...opts, query });

export const appPath = (app) => `/apps/${encodeURIComponent(app)}`;
// appExportURL is the download link of an app's archive; a GET with the
// session cookie, so no CSRF value is needed.
export const appExportURL = (app) => `${BASE}${appPath(app)}/export`;

export const taskPath = (app, task) => `/tasks/${encodeURIComponent(app)}/${encodeURIComponent(task)}`;
