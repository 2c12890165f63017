// The Cronbox SDK for AssemblyScript: the host functions of a Cronbox task
// (hostapi/ABI.md, version 1) as AssemblyScript functions.
//
// A task imports it as "cronbox" (it is a library file: the build passes
// `--lib` with this folder) and does its work in top-level statements,
// which the build exports as the WASI `_start` function. The run succeeds
// when they finish; exit(code) ends it early, a failed assertion or
// `throw` ends it with status 1 after logging the message at the error
// level. The build routes AssemblyScript's `abort`, `trace` and `seed`
// (Math.random) here, so a module imports nothing Cronbox lacks.
//
// Errors: AssemblyScript has no catchable exceptions, so a call that can
// fail returns an errno (i32, 0 for success) or null, and lastErrno() and
// errorMessage() say why the last call failed.

// ---- The raw ABI --------------------------------------------------------

@external("cronbox", "abi_version") declare function hostAbiVersion(): i32;
@external("cronbox", "last_error") declare function hostLastError(out: usize, cap: usize, len: usize): i32;
@external("cronbox", "log") declare function hostLog(level: i32, msg: usize, len: usize): i32;
@external("cronbox", "progress") declare function hostProgress(percent: i32, msg: usize, len: usize): i32;
@external("cronbox", "result_set") declare function hostResultSet(p: usize, len: usize): i32;
@external("cronbox", "input_get") declare function hostInputGet(out: usize, cap: usize, len: usize): i32;
@external("cronbox", "config_get") declare function hostConfigGet(out: usize, cap: usize, len: usize): i32;
@external("cronbox", "kv_get") declare function hostKvGet(key: usize, keyLen: usize, out: usize, cap: usize, len: usize): i32;
@external("cronbox", "kv_set") declare function hostKvSet(key: usize, keyLen: usize, val: usize, valLen: usize): i32;
@external("cronbox", "kv_delete") declare function hostKvDelete(key: usize, keyLen: usize): i32;
@external("cronbox", "kv_list") declare function hostKvList(prefix: usize, prefixLen: usize, after: usize, afterLen: usize, out: usize, cap: usize, len: usize): i32;
@external("cronbox", "http_request") declare function hostHttpRequest(req: usize, reqLen: usize, body: usize, bodyLen: usize, handle: usize): i32;
@external("cronbox", "http_response_meta") declare function hostHttpResponseMeta(handle: u32, out: usize, cap: usize, len: usize): i32;
@external("cronbox", "http_response_body") declare function hostHttpResponseBody(handle: u32, offset: u32, out: usize, cap: usize, len: usize): i32;
@external("cronbox", "http_response_close") declare function hostHttpResponseClose(handle: u32): i32;
@external("wasi_snapshot_preview1", "proc_exit") declare function procExit(code: u32): void;
@external("wasi_snapshot_preview1", "random_get") declare function randomGet(buf: usize, len: usize): u16;

// ---- State -------------------------------------------------------------
// (declared before the functions that use them, as AssemblyScript needs)

// The errno and the host's message of the last call that failed.
let errno: i32 = 0;
let message: string = "";

// The calls of the ERANGE protocol.
const FETCH_LAST_ERROR: i32 = 0;
const FETCH_INPUT: i32 = 1;
const FETCH_CONFIG: i32 = 2;
const FETCH_KV_GET: i32 = 3;
const FETCH_KV_LIST: i32 = 4;
const FETCH_META: i32 = 5;

// Where the host writes a length or a response handle.
const lenCell: StaticArray<u32> = new StaticArray<u32>(1);
const handleCell: StaticArray<u32> = new StaticArray<u32>(1);

// The errno of fetchRaw's last failure.
let rawErrno: i32 = 0;

// ---- Errors -------------------------------------------------------------

export const OK: i32 = 0;
export const EFAULT: i32 = 1;
export const ERANGE: i32 = 2;
export const ENOTFOUND: i32 = 3;
export const EDENIED: i32 = 4;
export const ETOOLARGE: i32 = 5;
export const EINVAL: i32 = 6;
export const EIO: i32 = 7;
export const ECANCELED: i32 = 8;
export const EBADHANDLE: i32 = 9;
export const ELIMIT: i32 = 10;
export const ETIMEDOUT: i32 = 11;


/** The errno of the last call that failed (0 if none has). */
export function lastErrno(): i32 {
  return errno;
}

/** The host's explanation of the last call that failed, such as
 * `host "evil.example" is not in this app's allow-list`; "" if none. */
export function errorMessage(): string {
  return message;
}

/** A short description of an errno, such as "not found". */
export function strerror(code: i32): string {
  switch (code) {
    case OK: return "ok";
    case EFAULT: return "bad address";
    case ERANGE: return "buffer too small";
    case ENOTFOUND: return "not found";
    case EDENIED: return "permission denied";
    case ETOOLARGE: return "too large";
    case EINVAL: return "invalid argument";
    case EIO: return "I/O error";
    case ECANCELED: return "run canceled";
    case EBADHANDLE: return "bad handle";
    case ELIMIT: return "limit reached";
    case ETIMEDOUT: return "timed out";
  }
  return "unknown error";
}

function fail(code: i32, msg: string): i32 {
  errno = code;
  message = msg;
  return code;
}

// check records the host's explanation of a failed code.
function check(code: i32): i32 {
  if (code == 0) return 0;
  const b = fetchRaw(FETCH_LAST_ERROR, 0, null, null);
  errno = code;
  message = b ? text(b!) : "";
  return code;
}


function call(kind: i32, handle: u32, a: ArrayBuffer | null, b: ArrayBuffer | null, out: usize, cap: usize): i32 {
  const len = changetype<usize>(lenCell);
  const ap = a ? changetype<usize>(a) : 0;
  const al = a ? <usize>a.byteLength : 0;
  const bp = b ? changetype<usize>(b) : 0;
  const bl = b ? <usize>b.byteLength : 0;
  switch (kind) {
    case FETCH_LAST_ERROR: return hostLastError(out, cap, len);
    case FETCH_INPUT: return hostInputGet(out, cap, len);
    case FETCH_CONFIG: return hostConfigGet(out, cap, len);
    case FETCH_KV_GET: return hostKvGet(ap, al, out, cap, len);
    case FETCH_KV_LIST: return hostKvList(ap, al, bp, bl, out, cap, len);
    case FETCH_META: return hostHttpResponseMeta(handle, out, cap, len);
  }
  return EINVAL;
}

// fetchRaw runs a call of the ERANGE protocol with a growing buffer; on
// failure it returns null with the errno in rawErrno.
function fetchRaw(kind: i32, handle: u32, a: ArrayBuffer | null, b: ArrayBuffer | null): Uint8Array | null {
  let buf = new Uint8Array(4096);
  for (let i = 0; i < 8; i++) {
    const code = call(kind, handle, a, b, buf.dataStart, <usize>buf.length);
    const n = lenCell[0];
    if (code != 0 && code != ERANGE) {
      rawErrno = code;
      return null;
    }
    const fits = n <= <u32>buf.length;
    if (code == 0 && fits) return buf.subarray(0, <i32>n);
    if (code == 0 || fits || n > (64 << 20)) break;
    buf = new Uint8Array(<i32>n);
  }
  rawErrno = ERANGE;
  return null;
}

function fetch(kind: i32, handle: u32, a: ArrayBuffer | null, b: ArrayBuffer | null): Uint8Array | null {
  const r = fetchRaw(kind, handle, a, b);
  if (!r) check(rawErrno);
  return r;
}

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function text(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length);
}

/** The version of the host ABI: 1. */
export function abiVersion(): i32 {
  return hostAbiVersion();
}

/** Ends the run with the exit status code (0: success). */
export function exit(code: i32): void {
  procExit(<u32>code);
}

// ---- Logging ------------------------------------------------------------

export enum Level { Debug = 0, Info = 1, Warn = 2, Error = 3 }

/** Records the log line msg at level; the host truncates lines over
 * 64 KiB. EINVAL for an unknown level. */
export function log(level: i32, msg: string): i32 {
  const b = utf8(msg);
  return check(hostLog(level, changetype<usize>(b), <usize>b.byteLength));
}

function quote(s: string): string {
  let need = s.length == 0;
  for (let i = 0; i < s.length && !need; i++) {
    const c = s.charCodeAt(i);
    need = c == 0x20 || c == 0x3d || c == 0x22 || c < 0x20 || c == 0x7f;
  }
  if (!need) return s;
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c == 0x07) out += "\\a";
    else if (c == 0x08) out += "\\b";
    else if (c == 0x0c) out += "\\f";
    else if (c == 0x0b) out += "\\v";
    else if (c < 0x20 || c == 0x7f) out += "\\x" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** The line logAttrs logs: msg followed by " key=value" for each pair of
 * attrs ([key, value, key, value...]), quoted like a Go string when empty
 * or holding a space, '=', '"' or a control character, as the Go SDK does:
 *
 *     info("archived", ["files", "12", "dir", "/data/old logs"]);
 *     // archived files=12 dir="/data/old logs"
 */
export function formatAttrs(msg: string, attrs: string[]): string {
  let s = msg;
  for (let i = 0; i + 1 < attrs.length; i += 2) {
    s += " " + quote(attrs[i]) + "=" + quote(attrs[i + 1]);
  }
  if (attrs.length % 2 == 1) s += " " + quote(attrs[attrs.length - 1]) + "=\"\"";
  return s;
}

/** Logs msg with attributes at level; see formatAttrs. */
export function logAttrs(level: i32, msg: string, attrs: string[] = []): i32 {
  return log(level, formatAttrs(msg, attrs));
}

export function debug(msg: string, attrs: string[] = []): i32 { return logAttrs(Level.Debug, msg, attrs); }
export function info(msg: string, attrs: string[] = []): i32 { return logAttrs(Level.Info, msg, attrs); }
export function warn(msg: string, attrs: string[] = []): i32 { return logAttrs(Level.Warn, msg, attrs); }
export function error(msg: string, attrs: string[] = []): i32 { return logAttrs(Level.Error, msg, attrs); }

/** Where AssemblyScript's abort goes (the build passes
 * `--use abort=~lib/cronbox/abort`): logs the message at the error level
 * and ends the run with status 1. */
export function abort(msg: string | null, file: string | null, line: u32, column: u32): void {
  let s = "abort: " + (msg !== null ? msg : "");
  if (file !== null) s += " at " + file + ":" + line.toString() + ":" + column.toString();
  // Only host functions here: abort is compiled before the SDK's globals
  // are, since allocating one of them may abort.
  const b = String.UTF8.encode(s);
  hostLog(3, changetype<usize>(b), <usize>b.byteLength);
  procExit(1);
}

/** Where AssemblyScript's trace goes (`--use trace=~lib/cronbox/trace`):
 * a debug log line with the numbers given. */
export function trace(msg: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let s = "trace: " + msg;
  if (n > 0) s += " " + a0.toString();
  if (n > 1) s += " " + a1.toString();
  if (n > 2) s += " " + a2.toString();
  if (n > 3) s += " " + a3.toString();
  if (n > 4) s += " " + a4.toString();
  const b = String.UTF8.encode(s);
  hostLog(0, changetype<usize>(b), <usize>b.byteLength);
}

/** Where AssemblyScript's seed for Math.random comes from
 * (`--use seed=~lib/cronbox/seed`): WASI's random_get. */
export function seed(): f64 {
  const buf = memory.data(8);
  randomGet(buf, 8);
  return reinterpret<f64>(load<u64>(buf) >> 12 | 0x3ff0000000000000);
}

// ---- Progress, input, configuration, result ------------------------------

/** Reports progress: percent from 0 to 100 and an optional message. */
export function progress(percent: i32, msg: string = ""): i32 {
  if (percent < 0 || percent > 100) return fail(EINVAL, "percent " + percent.toString() + " is outside 0..100");
  const b = utf8(msg);
  return check(hostProgress(percent, changetype<usize>(b), <usize>b.byteLength));
}

/** The run's input as JSON text ("null" without one); null on failure. */
export function input(): string | null {
  const b = fetch(FETCH_INPUT, 0, null, null);
  return b ? text(b!) : null;
}

/** The task's configuration as JSON text ("{}" when it has none). */
export function config(): string | null {
  const b = fetch(FETCH_CONFIG, 0, null, null);
  return b ? text(b!) : null;
}

/** Sets the run's result payload: one JSON value of at most 1 MiB. EINVAL
 * for text that is not JSON. A later call replaces an earlier one. */
export function setResult(json: string): i32 {
  const b = utf8(json);
  return check(hostResultSet(changetype<usize>(b), <usize>b.byteLength));
}

// ---- Key-value store -------------------------------------------------------

/** The value stored under key, or null: lastErrno() is ENOTFOUND when
 * there is none, EDENIED without the kv permission. */
export function kvGet(key: string): Uint8Array | null {
  return fetch(FETCH_KV_GET, 0, utf8(key), null);
}

/** kvGet of a UTF-8 value. */
export function kvGetString(key: string): string | null {
  const b = kvGet(key);
  return b ? text(b!) : null;
}

/** Stores value under key, replacing any previous value; ELIMIT when the
 * app's KV quota would be exceeded. */
export function kvSet(key: string, value: Uint8Array): i32 {
  const k = utf8(key);
  return check(hostKvSet(changetype<usize>(k), <usize>k.byteLength, value.dataStart, <usize>value.length));
}

/** kvSet of a string, stored as UTF-8. */
export function kvSetString(key: string, value: string): i32 {
  return kvSet(key, Uint8Array.wrap(utf8(value)));
}

/** Removes key; removing an absent key is not an error. */
export function kvDelete(key: string): i32 {
  const k = utf8(key);
  return check(hostKvDelete(changetype<usize>(k), <usize>k.byteLength));
}

// compareBytes compares a and b as byte strings: <0, 0 or >0.
function compareBytes(a: Uint8Array, b: Uint8Array): i32 {
  const n = min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] != b[i]) return <i32>a[i] - <i32>b[i];
  }
  return a.length - b.length;
}

/** The keys that start with prefix, in ascending byte order, fetched a
 * page at a time; null on failure. */
export function kvList(prefix: string): string[] | null {
  const keys = new Array<string>();
  const p = utf8(prefix);
  let after = new ArrayBuffer(0);
  while (true) {
    const page = fetch(FETCH_KV_LIST, 0, p, after);
    if (!page) return null;
    const n = page!.length;
    if (n == 0) return keys;
    if (page![n - 1] != 0) {
      fail(EIO, "malformed page of keys");
      return null;
    }
    let start = 0;
    let last = -1;
    for (let i = 0; i < n; i++) {
      if (page![i] == 0) {
        keys.push(String.UTF8.decodeUnsafe(page!.dataStart + <usize>start, <usize>(i - start)));
        last = start;
        start = i + 1;
      }
    }
    const next = page!.slice(last, n - 1);
    if (compareBytes(next, Uint8Array.wrap(after)) <= 0) {
      // A host that breaks the paging contract would make this loop
      // forever.
      fail(EIO, "malformed page of keys");
      return null;
    }
    after = next.buffer;
  }
  return keys; // not reached
}

// ---- HTTP -------------------------------------------------------------------

export class Header {
  constructor(public name: string, public value: string) {}
}

/** An HTTP request for http() to make. */
export class Request {
  /** The method, such as "POST"; "" means GET. */
  method: string = "GET";
  /** The http or https URL, whose host must be in the app's allow-list. */
  url: string = "";
  /** Header fields; those the host sets itself (Host, Content-Length...)
   * are left out. */
  headers: Header[] = [];
  /** The body, at most 10 MiB; null for none. */
  body: Uint8Array | null = null;
  /** The timeout of the whole exchange in ms; 0: the host's 30 s. */
  timeoutMs: u32 = 0;

  constructor(method: string, url: string) {
    this.method = method;
    this.url = url;
  }

  header(name: string, value: string): Request {
    this.headers.push(new Header(name, value));
    return this;
  }

  bodyString(s: string): Request {
    this.body = Uint8Array.wrap(utf8(s));
    return this;
  }
}

/** The response to a Request, read whole. */
export class Response {
  status: i32 = 0;
  headers: Header[] = [];
  body: Uint8Array = new Uint8Array(0);
  /** The body exceeded the host's limit (10 MiB) and was cut. */
  truncated: bool = false;

  /** The first value of the header field name (any case), or null. */
  header(name: string): string | null {
    const want = name.toLowerCase();
    for (let i = 0; i < this.headers.length; i++) {
      if (this.headers[i].name.toLowerCase() == want) return this.headers[i].value;
    }
    return null;
  }

  /** The body as text. */
  text(): string {
    return text(this.body);
  }
}

/** s as a JSON string. */
export function jsonString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

function hostOwned(name: string): bool {
  const n = name.toLowerCase();
  return n == "connection" || n == "content-length" || n == "host" || n == "keep-alive" ||
    n == "proxy-connection" || n == "te" || n == "trailer" || n == "transfer-encoding" || n == "upgrade";
}


/** Makes req through the host and reads its whole response; null on
 * failure (EDENIED for a host not on the allow-list, EIO for a network
 * failure, ETIMEDOUT, EINVAL for a malformed request). An HTTP error
 * status is a response, not a failure. */
export function http(req: Request): Response | null {
  let j = "{\"method\":" + jsonString(req.method.length > 0 ? req.method : "GET") + ",\"url\":" + jsonString(req.url);
  let first = true;
  for (let i = 0; i < req.headers.length; i++) {
    const h = req.headers[i];
    if (hostOwned(h.name)) continue;
    j += (first ? ",\"headers\":{" : ",") + jsonString(h.name) + ":[" + jsonString(h.value) + "]";
    first = false;
  }
  if (!first) j += "}";
  if (req.timeoutMs > 0) j += ",\"timeout_ms\":" + req.timeoutMs.toString();
  j += "}";
  const rb = utf8(j);
  const body = req.body;
  const bp = body ? body.dataStart : 0;
  const bl = body ? <usize>body.length : 0;
  if (bl > (10 << 20)) {
    fail(ETOOLARGE, "the request body exceeds the limit of 10 MiB");
    return null;
  }
  if (check(hostHttpRequest(changetype<usize>(rb), <usize>rb.byteLength, bp, bl, changetype<usize>(handleCell))) != 0) return null;
  const handle = handleCell[0];
  const resp = readResponse(handle);
  hostHttpResponseClose(handle); // closing an open handle cannot fail
  return resp;
}

/** http() of a GET of url. */
export function httpGet(url: string): Response | null {
  return http(new Request("GET", url));
}

function readResponse(handle: u32): Response | null {
  const m = fetch(FETCH_META, handle, null, null);
  if (!m) return null;
  const resp = new Response();
  const p = new MetaParser(text(m!), resp);
  if (!p.parse()) {
    fail(EIO, "malformed response metadata");
    return null;
  }
  if (p.size > <f64>(64 << 20)) {
    fail(ETOOLARGE, "the response body exceeds the SDK's limit of 64 MiB");
    return null;
  }
  const size = <i32>p.size;
  resp.body = new Uint8Array(size);
  let off = 0;
  while (off < size) {
    const code = hostHttpResponseBody(handle, <u32>off, resp.body.dataStart + <usize>off, <usize>(size - off), changetype<usize>(lenCell));
    if (check(code) != 0) return null;
    const n = <i32>lenCell[0];
    if (n == 0 || n > size - off) {
      fail(EIO, "the response body ended early");
      return null;
    }
    off += n;
  }
  return resp;
}

// MetaParser reads http_response_meta's JSON: {"status": N, "headers":
// {"Name": ["v", ...]}, "body_size": N, "truncated": bool}, skipping other
// members.
class MetaParser {
  i: i32 = 0;
  size: f64 = 0;
  constructor(public s: string, public resp: Response) {}

  ws(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }
  eat(c: i32): bool {
    this.ws();
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == c) {
      this.i++;
      return true;
    }
    return false;
  }
  peek(): i32 {
    this.ws();
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }
  // str returns the string at i, or null when there is none.
  str(): string | null {
    if (!this.eat(0x22)) return null;
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i++);
      if (c == 0x22) return out;
      if (c != 0x5c) { out += String.fromCharCode(c); continue; }
      if (this.i >= this.s.length) return null;
      const e = this.s.charCodeAt(this.i++);
      if (e == 0x75) {
        if (this.i + 4 > this.s.length) return null;
        const v = I32.parseInt(this.s.substring(this.i, this.i + 4), 16);
        this.i += 4;
        out += String.fromCharCode(v);
      } else if (e == 0x6e) out += "\n";
      else if (e == 0x74) out += "\t";
      else if (e == 0x72) out += "\r";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else out += String.fromCharCode(e);
    }
    return null;
  }
  num(): f64 {
    this.ws();
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (!((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45)) break;
      this.i++;
    }
    if (this.i == start) return NaN;
    return F64.parseFloat(this.s.substring(start, this.i));
  }
  lit(w: string): bool {
    this.ws();
    if (this.s.substr(this.i, w.length) != w) return false;
    this.i += w.length;
    return true;
  }
  // skip skips one value of any kind, at most 64 levels deep.
  skip(depth: i32): bool {
    if (depth > 64) return false;
    const c = this.peek();
    if (c == 0x22) return this.str() !== null;
    if (c == 0x7b || c == 0x5b) {
      const close = c == 0x7b ? 0x7d : 0x5d;
      this.i++;
      if (this.eat(close)) return true;
      for (;;) {
        if (c == 0x7b && (this.str() === null || !this.eat(0x3a))) return false;
        if (!this.skip(depth + 1)) return false;
        if (this.eat(0x2c)) continue;
        return this.eat(close);
      }
    }
    if (this.lit("true") || this.lit("false") || this.lit("null")) return true;
    return !isNaN(this.num());
  }
  parse(): bool {
    if (!this.eat(0x7b)) return false;
    if (this.eat(0x7d)) return true;
    for (;;) {
      const k = this.str();
      if (k === null || !this.eat(0x3a)) return false;
      if (k == "status") {
        const v = this.num();
        if (isNaN(v)) return false;
        this.resp.status = <i32>v;
      } else if (k == "body_size") {
        const v = this.num();
        if (isNaN(v) || v < 0) return false;
        this.size = v;
      } else if (k == "truncated") {
        if (this.lit("true")) this.resp.truncated = true;
        else if (!this.lit("false")) return false;
      } else if (k == "headers") {
        if (!this.eat(0x7b)) return false;
        if (!this.eat(0x7d)) {
          for (;;) {
            const name = this.str();
            if (name === null || !this.eat(0x3a) || !this.eat(0x5b)) return false;
            if (!this.eat(0x5d)) {
              for (;;) {
                const v = this.str();
                if (v === null) return false;
                this.resp.headers.push(new Header(name, v));
                if (this.eat(0x2c)) continue;
                if (!this.eat(0x5d)) return false;
                break;
              }
            }
            if (this.eat(0x2c)) continue;
            if (!this.eat(0x7d)) return false;
            break;
          }
        }
      } else if (!this.skip(0)) {
        return false;
      }
      if (this.eat(0x2c)) continue;
      return this.eat(0x7d);
    }
  }
}
