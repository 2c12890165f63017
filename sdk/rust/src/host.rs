//! The host functions as ABI.md specifies them, with slices in place of
//! pointer/length pairs; fake.rs has the same functions natively. A
//! function with an output buffer returns the length written (or, with
//! errno::RANGE, needed) and the errno.

#[link(wasm_import_module = "cronbox")]
extern "C" {
    #[link_name = "abi_version"]
    fn cb_abi_version() -> i32;
    #[link_name = "last_error"]
    fn cb_last_error(out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "log"]
    fn cb_log(level: i32, msg: *const u8, len: usize) -> u32;
    #[link_name = "progress"]
    fn cb_progress(percent: i32, msg: *const u8, len: usize) -> u32;
    #[link_name = "result_set"]
    fn cb_result_set(p: *const u8, len: usize) -> u32;
    #[link_name = "input_get"]
    fn cb_input_get(out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "config_get"]
    fn cb_config_get(out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "kv_get"]
    fn cb_kv_get(key: *const u8, key_len: usize, out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "kv_set"]
    fn cb_kv_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize) -> u32;
    #[link_name = "kv_delete"]
    fn cb_kv_delete(key: *const u8, key_len: usize) -> u32;
    #[link_name = "kv_list"]
    fn cb_kv_list(prefix: *const u8, prefix_len: usize, after: *const u8, after_len: usize, out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "http_request"]
    fn cb_http_request(req: *const u8, req_len: usize, body: *const u8, body_len: usize, handle: *mut u32) -> u32;
    #[link_name = "http_response_meta"]
    fn cb_http_response_meta(handle: u32, out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "http_response_body"]
    fn cb_http_response_body(handle: u32, offset: u32, out: *mut u8, cap: usize, len: *mut u32) -> u32;
    #[link_name = "http_response_close"]
    fn cb_http_response_close(handle: u32) -> u32;
}

// Safety of the calls below: every pointer is that of a live slice with its
// own length, and the host touches nothing outside it.

pub fn abi_version() -> i32 {
    unsafe { cb_abi_version() }
}

pub fn last_error(out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_last_error(out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn log(level: i32, msg: &[u8]) -> u32 {
    unsafe { cb_log(level, msg.as_ptr(), msg.len()) }
}

pub fn progress(percent: i32, msg: &[u8]) -> u32 {
    unsafe { cb_progress(percent, msg.as_ptr(), msg.len()) }
}

pub fn result_set(b: &[u8]) -> u32 {
    unsafe { cb_result_set(b.as_ptr(), b.len()) }
}

pub fn input_get(out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_input_get(out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn config_get(out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_config_get(out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn kv_get(key: &[u8], out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_kv_get(key.as_ptr(), key.len(), out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn kv_set(key: &[u8], val: &[u8]) -> u32 {
    unsafe { cb_kv_set(key.as_ptr(), key.len(), val.as_ptr(), val.len()) }
}

pub fn kv_delete(key: &[u8]) -> u32 {
    unsafe { cb_kv_delete(key.as_ptr(), key.len()) }
}

pub fn kv_list(prefix: &[u8], after: &[u8], out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_kv_list(prefix.as_ptr(), prefix.len(), after.as_ptr(), after.len(), out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn http_request(req: &[u8], body: &[u8]) -> (u32, u32) {
    let mut handle = 0;
    let code = unsafe { cb_http_request(req.as_ptr(), req.len(), body.as_ptr(), body.len(), &mut handle) };
    (handle, code)
}

pub fn http_response_meta(handle: u32, out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_http_response_meta(handle, out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn http_response_body(handle: u32, offset: u32, out: &mut [u8]) -> (u32, u32) {
    let mut n = 0;
    let code = unsafe { cb_http_response_body(handle, offset, out.as_mut_ptr(), out.len(), &mut n) };
    (n, code)
}

pub fn http_response_close(handle: u32) -> u32 {
    unsafe { cb_http_response_close(handle) }
}
