// A fake Cronbox host for Node: runs a task's WebAssembly module with the
// cronbox host functions of hostapi/ABI.md served from memory, so that an
// AssemblyScript task is tested with `node --test` without Cronbox. It
// holds what the host would give the run (input, configuration, KV data,
// canned HTTP responses), records what the run reports (logs, progress,
// result), and checks calls as the host does, with the ABI's default
// limits.
//
//   import { run } from "cronbox-sdk/fake";
//   const r = await run(wasmBytes, { input: { name: "Ada" } });
//   assert.equal(r.exitCode, 0);
//   assert.deepEqual(JSON.parse(r.result), { greeting: "hello Ada" });
//
// WASI: proc_exit, fd_write (standard output and error are collected),
// random_get, clock_time_get, environ and args (empty) are served; other
// WASI functions return ENOSYS.

const OK = 0, ERANGE = 2, ENOTFOUND = 3, EDENIED = 4, ETOOLARGE = 5, EINVAL = 6, EBADHANDLE = 9, ELIMIT = 10;
const LEVELS = ["debug", "info", "warn", "error"];
const HOST_OWNED = new Set(["connection", "content-length", "host", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

class Exit {
  constructor(code) { this.code = code; }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Runs the module bytes with a fake host and returns what the run did.
 * @param {BufferSource} wasm the module
 * @param {object} [opts]
 * @param {any} [opts.input] the run's input (a JSON value; default null)
 * @param {object} [opts.config] the task's configuration (default {})
 * @param {Map<string,string|Uint8Array>|null} [opts.kv] the KV store, changed in place; null: no kv permission
 * @param {Record<string, {status?: number, headers?: Record<string,string[]>, body?: string}>} [opts.http]
 *        answers by "METHOD URL" or "URL"; a request with none fails with EDENIED
 * @returns {Promise<{exitCode: number, logs: {level: string, msg: string}[], progress: {percent: number, msg: string}[],
 *          result: string|null, kv: Map|null, requests: {method: string, url: string, headers: object, body: string}[],
 *          stdout: string, stderr: string, openResponses: number, trap: Error|null}>}
 */
export async function run(wasm, opts = {}) {
  const input = enc.encode(JSON.stringify(opts.input === undefined ? null : opts.input));
  const config = enc.encode(JSON.stringify(opts.config === undefined ? {} : opts.config));
  const kv = opts.kv === null ? null : (opts.kv || new Map());
  const answers = opts.http || {};
  const r = { exitCode: 0, logs: [], progress: [], result: null, kv, requests: [], stdout: "", stderr: "", openResponses: 0, trap: null };
  const responses = new Map();
  let nextHandle = 0;
  let lastError = null;
  let memory;

  const mem = () => new Uint8Array(memory.buffer);
  const view = () => new DataView(memory.buffer);
  const bytes = (p, n) => mem().slice(p >>> 0, (p >>> 0) + (n >>> 0));
  const str = (p, n) => dec.decode(bytes(p, n));
  const fail = (code, msg) => { lastError = msg; return code; };
  const out = (data, p, cap, lenp) => {
    view().setUint32(lenp >>> 0, data.length, true);
    if (data.length > (cap >>> 0)) return ERANGE;
    mem().set(data, p >>> 0);
    return OK;
  };
  const keyOK = (k, emptyOK) => {
    if (kv === null) return fail(EDENIED, "the app does not have the kv permission");
    if (k.length === 0 && !emptyOK) return fail(EINVAL, "the key is empty");
    if (enc.encode(k).length > 512) return fail(ETOOLARGE, "the key exceeds 512 bytes");
    if (k.includes("\0")) return fail(EINVAL, "the key holds a NUL byte");
    return OK;
  };
  const value = (v) => (typeof v === "string" ? enc.encode(v) : v);
  const cmp = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

  const cronbox = {
    abi_version: () => 1,
    last_error: (p, cap, lenp) => (lastError === null ? ENOTFOUND : out(enc.encode(lastError), p, cap, lenp)),
    log: (level, p, n) => {
      if (level < 0 || level > 3) return fail(EINVAL, `unknown log level ${level}`);
      r.logs.push({ level: LEVELS[level], msg: str(p, Math.min(n >>> 0, 64 << 10)) });
      return OK;
    },
    progress: (pct, p, n) => {
      if (pct < 0 || pct > 100) return fail(EINVAL, `percent ${pct} is outside 0..100`);
      r.progress.push({ percent: pct, msg: str(p, Math.min(n >>> 0, 64 << 10)) });
      return OK;
    },
    result_set: (p, n) => {
      if ((n >>> 0) > 1 << 20) return fail(ETOOLARGE, "the result exceeds 1 MiB");
      const s = str(p, n);
      try { JSON.parse(s); } catch (e) { return fail(EINVAL, `the result is not JSON: ${e.message}`); }
      r.result = s;
      return OK;
    },
    input_get: (p, cap, lenp) => out(input, p, cap, lenp),
    config_get: (p, cap, lenp) => out(config, p, cap, lenp),
    kv_get: (kp, kn, p, cap, lenp) => {
      const k = str(kp, kn);
      const c = keyOK(k, false);
      if (c) return c;
      if (!kv.has(k)) return fail(ENOTFOUND, `no key ${JSON.stringify(k)}`);
      return out(value(kv.get(k)), p, cap, lenp);
    },
    kv_set: (kp, kn, vp, vn) => {
      const k = str(kp, kn);
      const c = keyOK(k, false);
      if (c) return c;
      if ((vn >>> 0) > 1 << 20) return fail(ETOOLARGE, "the value exceeds 1 MiB");
      kv.set(k, bytes(vp, vn));
      return OK;
    },
    kv_delete: (kp, kn) => {
      const k = str(kp, kn);
      const c = keyOK(k, false);
      if (c) return c;
      kv.delete(k);
      return OK;
    },
    kv_list: (pp, pn, ap, an, p, cap, lenp) => {
      const prefix = str(pp, pn), after = bytes(ap, an);
      const c = keyOK(prefix, true) || keyOK(dec.decode(after), true);
      if (c) return c;
      const keys = [...kv.keys()].map((k) => enc.encode(k)).filter((k) => cmp(k, after) > 0 && dec.decode(k).startsWith(prefix)).sort(cmp);
      const parts = [];
      let n = 0;
      for (const k of keys) {
        if (n + k.length + 1 > (cap >>> 0)) {
          if (n === 0) {
            view().setUint32(lenp >>> 0, k.length + 1, true);
            return ERANGE;
          }
          break;
        }
        parts.push(k, new Uint8Array([0]));
        n += k.length + 1;
      }
      const page = new Uint8Array(n);
      let off = 0;
      for (const part of parts) { page.set(part, off); off += part.length; }
      return out(page, p, cap, lenp);
    },
    http_request: (rp, rn, bp, bn, hp) => {
      let req;
      try { req = JSON.parse(str(rp, rn)); } catch { return fail(EINVAL, "the request is not JSON"); }
      if (typeof req !== "object" || req === null || Array.isArray(req)) return fail(EINVAL, "the request is not a JSON object");
      for (const k of Object.keys(req)) {
        if (!["method", "url", "headers", "timeout_ms"].includes(k)) return fail(EINVAL, `unknown request field ${JSON.stringify(k)}`);
      }
      const method = req.method || "GET", url = String(req.url || "");
      if (!/^https?:\/\//.test(url)) return fail(EINVAL, `${JSON.stringify(url)} is not an http or https URL`);
      for (const name of Object.keys(req.headers || {})) {
        if (HOST_OWNED.has(name.toLowerCase())) return fail(EINVAL, `the host sets the header ${name} itself`);
      }
      const a = answers[`${method} ${url}`] || answers[url];
      if (!a) return fail(EDENIED, `the fake has no answer for ${method} ${url}`);
      if (responses.size >= 16) return fail(ELIMIT, "16 responses are open");
      r.requests.push({ method, url, headers: req.headers || {}, body: str(bp, bn) });
      const body = enc.encode(a.body || "");
      responses.set(++nextHandle, { meta: enc.encode(JSON.stringify({ status: a.status || 200, headers: a.headers || {}, body_size: body.length, truncated: false })), body });
      view().setUint32(hp >>> 0, nextHandle, true);
      return OK;
    },
    http_response_meta: (h, p, cap, lenp) => {
      const resp = responses.get(h >>> 0);
      if (!resp) return fail(EBADHANDLE, `no open response ${h}`);
      return out(resp.meta, p, cap, lenp);
    },
    http_response_body: (h, off, p, cap, lenp) => {
      const resp = responses.get(h >>> 0);
      if (!resp) return fail(EBADHANDLE, `no open response ${h}`);
      const chunk = resp.body.subarray(Math.min(off >>> 0, resp.body.length)).subarray(0, cap >>> 0);
      mem().set(chunk, p >>> 0);
      view().setUint32(lenp >>> 0, chunk.length, true);
      return OK;
    },
    http_response_close: (h) => (responses.delete(h >>> 0) ? OK : fail(EBADHANDLE, `no open response ${h}`)),
  };

  const ENOSYS = 52;
  const wasi = new Proxy({
    proc_exit: (code) => { throw new Exit(code); },
    fd_write: (fd, iovs, n, nwritten) => {
      let s = "", total = 0;
      for (let i = 0; i < n; i++) {
        const p = view().getUint32(iovs + i * 8, true), len = view().getUint32(iovs + i * 8 + 4, true);
        s += str(p, len);
        total += len;
      }
      if (fd === 1) r.stdout += s; else if (fd === 2) r.stderr += s; else return 8; // EBADF
      view().setUint32(nwritten, total, true);
      return 0;
    },
    random_get: (p, n) => { crypto.getRandomValues(mem().subarray(p, p + n)); return 0; },
    clock_time_get: (id, precision, p) => { view().setBigUint64(p, BigInt(Date.now()) * 1000000n, true); return 0; },
    environ_sizes_get: (c, s) => { view().setUint32(c, 0, true); view().setUint32(s, 0, true); return 0; },
    environ_get: () => 0,
    args_sizes_get: (c, s) => { view().setUint32(c, 0, true); view().setUint32(s, 0, true); return 0; },
    args_get: () => 0,
  }, { get: (t, k) => t[k] || (() => ENOSYS) });

  const { instance } = await WebAssembly.instantiate(wasm, { cronbox, wasi_snapshot_preview1: wasi });
  memory = instance.exports.memory;
  try {
    instance.exports._start();
  } catch (e) {
    if (e instanceof Exit) r.exitCode = e.code;
    else { r.exitCode = 1; r.trap = e; }
  }
  r.openResponses = responses.size;
  return r;
}
