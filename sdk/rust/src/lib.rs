//! The Cronbox SDK for Rust.
//!
//! A Cronbox task is a WASI command: `main` does the work and returns; the
//! run succeeds when the process exits with status 0. This crate wraps the
//! host functions of the Cronbox ABI (`hostapi/ABI.md`, version 1): logging
//! with levels and attributes, progress, the run's input and the task's
//! configuration, the result payload, the app's key-value store and
//! allow-listed HTTP.
//!
//! Built for `wasm32` (`cargo build --target wasm32-wasi --release`) the
//! functions call the host. Built natively they call an in-process fake
//! host ([`fake`]), so `cargo test` runs a task's code without WebAssembly.
//!
//! ```no_run
//! fn main() {
//!     if let Err(e) = run() {
//!         cronbox::error!("failed", err = e);
//!         std::process::exit(1);
//!     }
//! }
//!
//! fn run() -> cronbox::Result<()> {
//!     let input = cronbox::input_json()?;
//!     let name = input.get("name").and_then(|v| v.as_str()).unwrap_or("world");
//!     cronbox::info!("greeting", name = name);
//!     cronbox::set_result(&format!("{{\"greeting\":\"hello {}\"}}", name))
//! }
//! ```
//!
//! The crate has no dependencies; [`json`] is a small JSON value type for
//! input, configuration and results.

use std::fmt;
use std::time::Duration;

pub mod json;

#[cfg(not(target_arch = "wasm32"))]
pub mod fake;
#[cfg(not(target_arch = "wasm32"))]
use fake::host;

#[cfg(target_arch = "wasm32")]
mod host;

/// The errno values of the ABI, as [`Error::code`] holds them.
pub mod errno {
    pub const FAULT: u32 = 1;
    pub const RANGE: u32 = 2;
    pub const NOT_FOUND: u32 = 3;
    pub const DENIED: u32 = 4;
    pub const TOO_LARGE: u32 = 5;
    pub const INVALID: u32 = 6;
    pub const IO: u32 = 7;
    pub const CANCELED: u32 = 8;
    pub const BAD_HANDLE: u32 = 9;
    pub const LIMIT: u32 = 10;
    pub const TIMED_OUT: u32 = 11;
}

/// The error of a failed host call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The ABI function that failed, such as "kv_get".
    pub op: &'static str,
    /// The errno it returned (see [`errno`]).
    pub code: u32,
    /// The host's explanation, from `last_error`; may be empty.
    pub message: String,
}

impl Error {
    /// Reports whether the call failed because there was nothing there
    /// (no such key).
    pub fn is_not_found(&self) -> bool {
        self.code == errno::NOT_FOUND
    }

    fn sdk(op: &'static str, code: u32, message: impl Into<String>) -> Error {
        Error { op, code, message: message.into() }
    }
}

/// A short description of an errno, such as "not found".
pub fn strerror(code: u32) -> &'static str {
    match code {
        0 => "ok",
        errno::FAULT => "bad address",
        errno::RANGE => "buffer too small",
        errno::NOT_FOUND => "not found",
        errno::DENIED => "permission denied",
        errno::TOO_LARGE => "too large",
        errno::INVALID => "invalid argument",
        errno::IO => "I/O error",
        errno::CANCELED => "run canceled",
        errno::BAD_HANDLE => "bad handle",
        errno::LIMIT => "limit reached",
        errno::TIMED_OUT => "timed out",
        _ => "unknown error",
    }
}

/// "op: description" or, when the host explained it, "op: description: message".
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, strerror(self.code))?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The result of the SDK's functions.
pub type Result<T> = std::result::Result<T, Error>;

/// The error of op that returned code, with the host's explanation.
fn call_error(op: &'static str, code: u32) -> Error {
    let message = fetch_raw(host::last_error).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    Error { op, code, message }
}

fn check(op: &'static str, code: u32) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(call_error(op, code))
    }
}

const INITIAL_BUFFER: usize = 4 << 10;
const MAX_BUFFER: u32 = 64 << 20;

/// Runs a call of the ERANGE protocol with a growing buffer; the error is
/// the bare errno.
fn fetch_raw(mut call: impl FnMut(&mut [u8]) -> (u32, u32)) -> std::result::Result<Vec<u8>, u32> {
    let mut buf = vec![0u8; INITIAL_BUFFER];
    for _ in 0..8 {
        let (n, code) = call(&mut buf);
        if code != 0 && code != errno::RANGE {
            return Err(code);
        }
        let fits = n as usize <= buf.len();
        if code == 0 && fits {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        if code == 0 || fits || n > MAX_BUFFER {
            return Err(errno::RANGE);
        }
        buf = vec![0u8; n as usize];
    }
    Err(errno::RANGE)
}

fn fetch(op: &'static str, call: impl FnMut(&mut [u8]) -> (u32, u32)) -> Result<Vec<u8>> {
    fetch_raw(call).map_err(|code| call_error(op, code))
}

/// The version of the host ABI: 1.
pub fn abi_version() -> i32 {
    host::abi_version()
}

/// The severity of a log line, numbered as in the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// Records the log line msg at level. Messages over 64 KiB are truncated
/// by the host.
pub fn log(level: Level, msg: &str) -> Result<()> {
    check("log", host::log(level as i32, msg.as_bytes()))
}

/// Logs msg followed by attributes, each written as ` key=value` and quoted
/// like a Go string when it is empty or holds a space, `=`, `"` or a control
/// character, as the Go SDK does:
///
/// ```
/// # let _fake = cronbox::fake::install();
/// cronbox::log_attrs(cronbox::Level::Info, "archived", &[("files", &12), ("dir", &"/data/old logs")]).unwrap();
/// // archived files=12 dir="/data/old logs"
/// # assert_eq!(_fake.logs()[0].1, "archived files=12 dir=\"/data/old logs\"");
/// ```
///
/// The macros [`debug!`], [`info!`], [`warn!`] and [`error!`] write the
/// same with `key = value` arguments.
pub fn log_attrs(level: Level, msg: &str, attrs: &[(&str, &dyn fmt::Display)]) -> Result<()> {
    log(level, &format_attrs(msg, attrs))
}

/// The line [`log_attrs`] logs.
pub fn format_attrs(msg: &str, attrs: &[(&str, &dyn fmt::Display)]) -> String {
    let mut s = String::from(msg);
    for (k, v) in attrs {
        s.push(' ');
        quote(&mut s, k);
        s.push('=');
        quote(&mut s, &v.to_string());
    }
    s
}

fn quote(out: &mut String, s: &str) {
    let needs = s.is_empty() || s.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if !needs {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Logs at a level with `key = value` attributes; errors are ignored, as
/// a task has nowhere better to report them.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $msg:expr $(, $key:ident = $val:expr)* $(,)?) => {{
        let _ = $crate::log_attrs($level, &$msg, &[$((stringify!($key), &$val as &dyn ::std::fmt::Display)),*]);
    }};
}

/// `cronbox::debug!("msg", key = value, ...)` logs at [`Level::Debug`].
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::log_at!($crate::Level::Debug, $($t)*) };
}

/// `cronbox::info!("msg", key = value, ...)` logs at [`Level::Info`].
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log_at!($crate::Level::Info, $($t)*) };
}

/// `cronbox::warn!("msg", key = value, ...)` logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log_at!($crate::Level::Warn, $($t)*) };
}

/// `cronbox::error!("msg", key = value, ...)` logs at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log_at!($crate::Level::Error, $($t)*) };
}

/// Reports progress: percent from 0 to 100 and a message ("" for none).
pub fn progress(percent: u32, msg: &str) -> Result<()> {
    if percent > 100 {
        return Err(Error::sdk("progress", errno::INVALID, format!("percent {} is outside 0..100", percent)));
    }
    check("progress", host::progress(percent as i32, msg.as_bytes()))
}

/// The run's input: the JSON text it was triggered with, `null` without one.
pub fn input() -> Result<Vec<u8>> {
    fetch("input_get", host::input_get)
}

/// The run's input, parsed.
pub fn input_json() -> Result<json::Value> {
    parse("input_get", &input()?)
}

/// The task's configuration as JSON text, `{}` when it has none.
pub fn config() -> Result<Vec<u8>> {
    fetch("config_get", host::config_get)
}

/// The task's configuration, parsed.
pub fn config_json() -> Result<json::Value> {
    parse("config_get", &config()?)
}

fn parse(op: &'static str, b: &[u8]) -> Result<json::Value> {
    json::parse_bytes(b).map_err(|e| Error::sdk(op, errno::INVALID, e.to_string()))
}

/// Sets the run's result payload: one JSON value of at most 1 MiB
/// (`errno::INVALID` for text that is not JSON, `errno::TOO_LARGE` for a
/// larger one). A later call replaces an earlier one.
pub fn set_result(json: &str) -> Result<()> {
    check("result_set", host::result_set(json.as_bytes()))
}

/// Sets the run's result payload to v.
pub fn set_result_json(v: &json::Value) -> Result<()> {
    set_result(&v.to_string())
}

/// The value stored under key; an error with [`Error::is_not_found`] when
/// there is none, `errno::DENIED` without the kv permission.
pub fn kv_get(key: &str) -> Result<Vec<u8>> {
    fetch("kv_get", |out| host::kv_get(key.as_bytes(), out))
}

/// Stores value under key (1-512 bytes, no NUL), replacing any previous
/// value; `errno::LIMIT` when the app's KV quota would be exceeded.
pub fn kv_set(key: &str, value: &[u8]) -> Result<()> {
    check("kv_set", host::kv_set(key.as_bytes(), value))
}

/// Removes key; removing an absent key is not an error.
pub fn kv_delete(key: &str) -> Result<()> {
    check("kv_delete", host::kv_delete(key.as_bytes()))
}

/// An iterator over the keys that start with a prefix, in ascending byte
/// order, fetched from the host a page at a time; see [`kv_keys`].
pub struct Keys {
    prefix: String,
    after: String,
    page: std::vec::IntoIter<String>,
    done: bool,
}

/// The keys that start with prefix, in ascending byte order. When fetching
/// fails the iterator yields the error and stops.
pub fn kv_keys(prefix: &str) -> Keys {
    Keys { prefix: prefix.to_string(), after: String::new(), page: Vec::new().into_iter(), done: false }
}

impl Iterator for Keys {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        if let Some(k) = self.page.next() {
            return Some(Ok(k));
        }
        if self.done {
            return None;
        }
        let (prefix, after) = (self.prefix.as_bytes(), self.after.as_bytes());
        let page = match fetch("kv_list", |out| host::kv_list(prefix, after, out)) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if page.is_empty() {
            self.done = true;
            return None;
        }
        let keys: Vec<String> = if page.last() == Some(&0) {
            page[..page.len() - 1].split(|&b| b == 0).map(|k| String::from_utf8_lossy(k).into_owned()).collect()
        } else {
            Vec::new()
        };
        match keys.last() {
            Some(last) if *last > self.after => self.after = last.clone(),
            _ => {
                // A host that breaks the paging contract would make this
                // loop forever.
                self.done = true;
                return Some(Err(Error::sdk("kv_list", errno::IO, format!("malformed page of keys after {:?}", self.after))));
            }
        }
        self.page = keys.into_iter();
        self.page.next().map(Ok)
    }
}

/// The keys that start with prefix, in ascending byte order.
pub fn kv_list(prefix: &str) -> Result<Vec<String>> {
    kv_keys(prefix).collect()
}

/// An HTTP request for [`http`] to make.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The method, such as "POST"; "" means GET.
    pub method: String,
    /// The http or https URL, whose host must be in the app's allow-list.
    pub url: String,
    /// Header fields, one (name, value) pair per value. The fields the host
    /// sets itself (Host, Content-Length, Connection...) are left out.
    pub headers: Vec<(String, String)>,
    /// The body, at most 10 MiB; empty for none.
    pub body: Vec<u8>,
    /// The timeout of the whole exchange; None for the host's default of
    /// 30 s. The host caps it, and the run's deadline applies too.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A GET of url.
    pub fn get(url: &str) -> Request {
        Request { url: url.to_string(), ..Request::default() }
    }

    /// A request of method to url.
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_string(), url: url.to_string(), ..Request::default() }
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, d: Duration) -> Request {
        self.timeout = Some(d);
        self
    }

    fn to_json(&self) -> String {
        use fmt::Write;
        let mut s = String::from("{\"method\":");
        let method = if self.method.is_empty() { "GET" } else { &self.method };
        let _ = json::write_string(&mut s, method);
        s.push_str(",\"url\":");
        let _ = json::write_string(&mut s, &self.url);
        let mut first = true;
        for (name, value) in &self.headers {
            if host_owned(name) {
                continue;
            }
            s.push_str(if first { ",\"headers\":{" } else { "," });
            first = false;
            let _ = json::write_string(&mut s, name);
            s.push_str(":[");
            let _ = json::write_string(&mut s, value);
            s.push(']');
        }
        if !first {
            s.push('}');
        }
        if let Some(t) = self.timeout {
            let _ = write!(s, ",\"timeout_ms\":{}", t.as_millis().max(1));
        }
        s.push('}');
        s
    }
}

fn host_owned(name: &str) -> bool {
    const OWNED: [&str; 9] =
        ["connection", "content-length", "host", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];
    OWNED.iter().any(|o| o.eq_ignore_ascii_case(name))
}

/// The response to a [`Request`], read whole.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// The HTTP status, such as 200 or 404.
    pub status: u16,
    /// Header fields, one (name, value) pair per value, names canonical.
    pub headers: Vec<(String, String)>,
    /// The body the host kept.
    pub body: Vec<u8>,
    /// The body exceeded the host's limit (10 MiB) and was cut.
    pub truncated: bool,
}

impl Response {
    /// The first value of the header field name, compared without regard
    /// to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<json::Value> {
        parse("http_response_body", &self.body)
    }
}

const MAX_REQUEST_BODY: usize = 10 << 20;

/// Makes req through the host and reads its whole response. An HTTP error
/// status such as 404 is a response, not an error. `errno::DENIED` for a
/// host not in the allow-list, `errno::IO` for a network failure,
/// `errno::TIMED_OUT` when the timeout passed, `errno::INVALID` for a
/// malformed request.
pub fn http(req: &Request) -> Result<Response> {
    if req.body.len() > MAX_REQUEST_BODY {
        return Err(Error::sdk("http_request", errno::TOO_LARGE, "the request body exceeds the limit of 10 MiB"));
    }
    let rj = req.to_json();
    let (handle, code) = host::http_request(rj.as_bytes(), &req.body);
    check("http_request", code)?;
    let resp = read_response(handle);
    host::http_response_close(handle); // closing an open handle cannot fail
    resp
}

/// A GET of url, as [`http`] makes it.
pub fn http_get(url: &str) -> Result<Response> {
    http(&Request::get(url))
}

fn read_response(handle: u32) -> Result<Response> {
    let meta = fetch("http_response_meta", |out| host::http_response_meta(handle, out))?;
    let bad = |what: &str| Error::sdk("http_response_meta", errno::IO, format!("malformed response metadata: {}", what));
    let meta = json::parse_bytes(&meta).map_err(|e| bad(&e.to_string()))?;
    let mut resp = Response {
        status: meta.get("status").and_then(|v| v.as_f64()).ok_or_else(|| bad("no status"))? as u16,
        truncated: meta.get("truncated").and_then(|v| v.as_bool()).unwrap_or(false),
        ..Response::default()
    };
    if let Some(json::Value::Object(h)) = meta.get("headers") {
        for (name, values) in h {
            for v in values.as_array().unwrap_or(&[]) {
                resp.headers.push((name.clone(), v.as_str().unwrap_or("").to_string()));
            }
        }
    }
    let size = meta.get("body_size").and_then(|v| v.as_f64()).ok_or_else(|| bad("no body_size"))?;
    if !(0.0..=MAX_BUFFER as f64).contains(&size) {
        return Err(bad("body_size out of range"));
    }
    let size = size as usize;
    resp.body = vec![0u8; size];
    let mut off = 0;
    while off < size {
        let (n, code) = host::http_response_body(handle, off as u32, &mut resp.body[off..]);
        check("http_response_body", code)?;
        if n == 0 || n as usize > size - off {
            return Err(Error::sdk("http_response_body", errno::IO, "the response body ended early"));
        }
        off += n as usize;
    }
    Ok(resp)
}
