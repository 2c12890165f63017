//! The fake host of native builds: a task's code runs and is tested with
//! `cargo test`, without WebAssembly. It holds what the host would give the
//! run (input, configuration, KV data, canned HTTP responses), records what
//! the run reports (logs, progress, result), and checks each call as the
//! host does, with the ABI's default limits.
//!
//! Each thread has its own fake, so tests that run in parallel do not see
//! each other's. [`install`] gives a test a fresh one:
//!
//! ```
//! let fake = cronbox::fake::install();
//! fake.set_input(r#"{"name": "Ada"}"#);
//! fake.http("GET", "https://api.example.com/x", 200, "application/json", r#"{"n": 1}"#);
//! // ... run the task's code ...
//! # cronbox::set_result("true").unwrap();
//! assert_eq!(fake.result().as_deref(), Some("true"));
//! ```
//!
//! Without `install`, calls go to a fake with the input `null`, the
//! configuration `{}` and an empty KV store.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::errno;
use crate::Level;

#[derive(Clone)]
struct Route {
    method: String,
    url: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

struct State {
    input: Vec<u8>,
    config: Vec<u8>,
    result: Option<String>,
    last_error: Option<String>,
    kv: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
    logs: Vec<(Level, String)>,
    progress: Vec<(u32, String)>,
    routes: Vec<Route>,
    responses: Vec<Option<Route>>,
    requests: Vec<(String, Vec<u8>)>,
    echo: bool,
}

impl State {
    fn new() -> State {
        State {
            input: b"null".to_vec(),
            config: b"{}".to_vec(),
            result: None,
            last_error: None,
            kv: Some(BTreeMap::new()),
            logs: Vec::new(),
            progress: Vec::new(),
            routes: Vec::new(),
            responses: Vec::new(),
            requests: Vec::new(),
            echo: false,
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::new());
}

fn with<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// The fake of this thread, fresh from [`install`]; dropping it resets the
/// fake again.
pub struct Fake {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Resets this thread's fake (input `null`, configuration `{}`, an empty KV
/// store with the kv permission, no HTTP answers, nothing recorded) and
/// returns the handle to set it up and inspect it.
pub fn install() -> Fake {
    with(|s| *s = State::new());
    Fake { _not_send: std::marker::PhantomData }
}

impl Drop for Fake {
    fn drop(&mut self) {
        with(|s| *s = State::new());
    }
}

impl Fake {
    /// Sets the run's input, JSON text.
    pub fn set_input(&self, json: &str) {
        with(|s| s.input = json.as_bytes().to_vec());
    }

    /// Sets the task's configuration, a JSON object.
    pub fn set_config(&self, json: &str) {
        with(|s| s.config = json.as_bytes().to_vec());
    }

    /// Without the kv permission every KV call fails with `errno::DENIED`.
    pub fn set_kv_permission(&self, allowed: bool) {
        with(|s| s.kv = if allowed { Some(BTreeMap::new()) } else { None });
    }

    /// Stores a value directly in the fake's KV store.
    pub fn kv_put(&self, key: &str, value: &[u8]) {
        with(|s| {
            if let Some(kv) = s.kv.as_mut() {
                kv.insert(key.as_bytes().to_vec(), value.to_vec());
            }
        });
    }

    /// The value stored under key, read directly.
    pub fn kv(&self, key: &str) -> Option<Vec<u8>> {
        with(|s| s.kv.as_ref().and_then(|kv| kv.get(key.as_bytes()).cloned()))
    }

    /// The log lines recorded, oldest first.
    pub fn logs(&self) -> Vec<(Level, String)> {
        with(|s| s.logs.clone())
    }

    /// The progress reports recorded, oldest first.
    pub fn progress(&self) -> Vec<(u32, String)> {
        with(|s| s.progress.clone())
    }

    /// The result payload set, if any.
    pub fn result(&self) -> Option<String> {
        with(|s| s.result.clone())
    }

    /// Answers requests of method ("" for any) to exactly url with status,
    /// a Content-Type ("" for none) and body. A request to a URL with no
    /// answer fails with `errno::DENIED`, as one to a host outside the
    /// allow-list does.
    pub fn http(&self, method: &str, url: &str, status: u16, content_type: &str, body: &str) {
        let r = Route {
            method: method.to_string(),
            url: url.to_string(),
            status,
            content_type: content_type.to_string(),
            body: body.as_bytes().to_vec(),
        };
        with(|s| s.routes.push(r));
    }

    /// The requests made, as (URL, body), oldest first.
    pub fn requests(&self) -> Vec<(String, Vec<u8>)> {
        with(|s| s.requests.clone())
    }

    /// The number of responses not closed.
    pub fn open_responses(&self) -> usize {
        with(|s| s.responses.iter().filter(|r| r.is_some()).count())
    }

    /// Also writes log lines and progress reports to standard error.
    pub fn echo(&self, on: bool) {
        with(|s| s.echo = on);
    }
}

const MAX_MESSAGE: usize = 64 << 10;

fn fail(s: &mut State, code: u32, msg: String) -> u32 {
    s.last_error = Some(msg);
    code
}

fn out_copy(data: &[u8], out: &mut [u8]) -> (u32, u32) {
    if data.len() > out.len() {
        return (data.len() as u32, errno::RANGE);
    }
    out[..data.len()].copy_from_slice(data);
    (data.len() as u32, 0)
}

fn truncate(msg: &[u8]) -> String {
    String::from_utf8_lossy(&msg[..msg.len().min(MAX_MESSAGE)]).into_owned()
}

fn check_key(s: &mut State, key: &[u8], empty_ok: bool) -> u32 {
    if s.kv.is_none() {
        return fail(s, errno::DENIED, "the app does not have the kv permission".into());
    }
    if key.is_empty() && !empty_ok {
        return fail(s, errno::INVALID, "the key is empty".into());
    }
    if key.len() > 512 {
        return fail(s, errno::TOO_LARGE, format!("the key is {} bytes, over the limit of 512", key.len()));
    }
    if key.contains(&0) || std::str::from_utf8(key).is_err() {
        return fail(s, errno::INVALID, "the key is not UTF-8 without NUL bytes".into());
    }
    0
}

/// The host functions of host.rs, served by this thread's fake.
pub(crate) mod host {
    use super::*;

    pub fn abi_version() -> i32 {
        1
    }

    pub fn last_error(out: &mut [u8]) -> (u32, u32) {
        with(|s| match &s.last_error {
            None => (0, errno::NOT_FOUND),
            Some(m) => out_copy(m.as_bytes(), out),
        })
    }

    pub fn log(level: i32, msg: &[u8]) -> u32 {
        with(|s| {
            let level = match level {
                0 => Level::Debug,
                1 => Level::Info,
                2 => Level::Warn,
                3 => Level::Error,
                _ => return fail(s, errno::INVALID, format!("unknown log level {}", level)),
            };
            let m = truncate(msg);
            if s.echo {
                eprintln!("[{:?}] {}", level, m);
            }
            s.logs.push((level, m));
            0
        })
    }

    pub fn progress(percent: i32, msg: &[u8]) -> u32 {
        with(|s| {
            if !(0..=100).contains(&percent) {
                return fail(s, errno::INVALID, format!("percent {} is outside 0..100", percent));
            }
            let m = truncate(msg);
            if s.echo {
                eprintln!("[progress {}%] {}", percent, m);
            }
            s.progress.push((percent as u32, m));
            0
        })
    }

    pub fn result_set(b: &[u8]) -> u32 {
        with(|s| {
            if b.len() > 1 << 20 {
                return fail(s, errno::TOO_LARGE, "the result exceeds 1 MiB".into());
            }
            if let Err(e) = crate::json::parse_bytes(b) {
                return fail(s, errno::INVALID, format!("the result is not JSON: {}", e));
            }
            s.result = Some(String::from_utf8_lossy(b).into_owned());
            0
        })
    }

    pub fn input_get(out: &mut [u8]) -> (u32, u32) {
        with(|s| out_copy(&s.input, out))
    }

    pub fn config_get(out: &mut [u8]) -> (u32, u32) {
        with(|s| out_copy(&s.config, out))
    }

    pub fn kv_get(key: &[u8], out: &mut [u8]) -> (u32, u32) {
        with(|s| {
            let code = check_key(s, key, false);
            if code != 0 {
                return (0, code);
            }
            match s.kv.as_ref().and_then(|kv| kv.get(key)).cloned() {
                Some(v) => out_copy(&v, out),
                None => (0, fail(s, errno::NOT_FOUND, format!("no key {:?}", String::from_utf8_lossy(key)))),
            }
        })
    }

    pub fn kv_set(key: &[u8], val: &[u8]) -> u32 {
        with(|s| {
            let code = check_key(s, key, false);
            if code != 0 {
                return code;
            }
            if val.len() > 1 << 20 {
                return fail(s, errno::TOO_LARGE, "the value exceeds 1 MiB".into());
            }
            if let Some(kv) = s.kv.as_mut() {
                kv.insert(key.to_vec(), val.to_vec());
            }
            0
        })
    }

    pub fn kv_delete(key: &[u8]) -> u32 {
        with(|s| {
            let code = check_key(s, key, false);
            if code == 0 {
                if let Some(kv) = s.kv.as_mut() {
                    kv.remove(key);
                }
            }
            code
        })
    }

    pub fn kv_list(prefix: &[u8], after: &[u8], out: &mut [u8]) -> (u32, u32) {
        with(|s| {
            let mut code = check_key(s, prefix, true);
            if code == 0 {
                code = check_key(s, after, true);
            }
            if code != 0 {
                return (0, code);
            }
            let kv = s.kv.as_ref().expect("checked");
            let mut n = 0;
            use std::ops::Bound;
            for k in kv.range::<[u8], _>((Bound::Excluded(after), Bound::Unbounded)).map(|(k, _)| k) {
                if !k.starts_with(prefix) {
                    continue;
                }
                if n + k.len() + 1 > out.len() {
                    if n == 0 {
                        return (k.len() as u32 + 1, errno::RANGE);
                    }
                    break;
                }
                out[n..n + k.len()].copy_from_slice(k);
                out[n + k.len()] = 0;
                n += k.len() + 1;
            }
            (n as u32, 0)
        })
    }

    pub fn http_request(req: &[u8], body: &[u8]) -> (u32, u32) {
        with(|s| {
            let v = match crate::json::parse_bytes(req) {
                Ok(v @ crate::json::Value::Object(_)) => v,
                _ => return (0, fail(s, errno::INVALID, "the request is not a JSON object".into())),
            };
            if let crate::json::Value::Object(m) = &v {
                if let Some((k, _)) = m.iter().find(|(k, _)| !matches!(k.as_str(), "method" | "url" | "headers" | "timeout_ms")) {
                    return (0, fail(s, errno::INVALID, format!("unknown request field {:?}", k)));
                }
            }
            let method = v.get("method").and_then(|m| m.as_str()).unwrap_or("GET").to_string();
            let url = v.get("url").and_then(|u| u.as_str()).unwrap_or("").to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return (0, fail(s, errno::INVALID, format!("{:?} is not an http or https URL", url)));
            }
            let route = s.routes.iter().find(|r| r.url == url && (r.method.is_empty() || r.method == method)).cloned();
            let route = match route {
                Some(r) => r,
                None => return (0, fail(s, errno::DENIED, format!("the fake has no answer for {} {}", method, url))),
            };
            if s.responses.iter().filter(|r| r.is_some()).count() >= 16 {
                return (0, fail(s, errno::LIMIT, "16 responses are open".into()));
            }
            s.requests.push((url, body.to_vec()));
            s.responses.push(Some(route));
            (s.responses.len() as u32, 0)
        })
    }

    fn response(s: &State, handle: u32) -> Option<&Route> {
        s.responses.get((handle as usize).wrapping_sub(1)).and_then(|r| r.as_ref())
    }

    pub fn http_response_meta(handle: u32, out: &mut [u8]) -> (u32, u32) {
        with(|s| {
            let r = match response(s, handle) {
                Some(r) => r.clone(),
                None => return (0, fail(s, errno::BAD_HANDLE, format!("no open response {}", handle))),
            };
            let mut headers = String::new();
            if !r.content_type.is_empty() {
                headers.push_str("\"Content-Type\":[");
                let _ = crate::json::write_string(&mut headers, &r.content_type);
                headers.push(']');
            }
            let meta = format!("{{\"status\":{},\"headers\":{{{}}},\"body_size\":{},\"truncated\":false}}", r.status, headers, r.body.len());
            out_copy(meta.as_bytes(), out)
        })
    }

    pub fn http_response_body(handle: u32, offset: u32, out: &mut [u8]) -> (u32, u32) {
        with(|s| {
            let r = match response(s, handle) {
                Some(r) => r,
                None => return (0, fail(s, errno::BAD_HANDLE, format!("no open response {}", handle))),
            };
            let off = (offset as usize).min(r.body.len());
            let n = (r.body.len() - off).min(out.len());
            out[..n].copy_from_slice(&r.body[off..off + n]);
            (n as u32, 0)
        })
    }

    pub fn http_response_close(handle: u32) -> u32 {
        with(|s| {
            if response(s, handle).is_none() {
                return fail(s, errno::BAD_HANDLE, format!("no open response {}", handle));
            }
            s.responses[handle as usize - 1] = None;
            0
        })
    }
}
