// The REST client: JSON in and out, the session cookie for auth and the
// CSRF value on every mutation.

const BASE = '/api/v1';
const CSRF_KEY = 'cronbox.csrf';

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
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
  const init = { method, headers, credentials: 'same-origin', signal };
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
    const msg = (data && typeof data.error === 'string' && data.error) || `${res.status} ${res.statusText}`;
    const err = new ApiError(res.status, msg, data && data.field);
    if (res.status === 401 && !quiet401) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, query, opts) => request('GET', path, { ...opts, query });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts) => request('PATCH', path, { ...opts, body });

export const taskPath = (app, task) => `/tasks/${encodeURIComponent(app)}/${encodeURIComponent(task)}`;
