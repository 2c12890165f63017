/*
 * cronbox.h - the Cronbox SDK for C, in one header.
 *
 * A Cronbox task is a WASI command: main() does the work and returns; the
 * run succeeds when it returns 0. This header wraps the host functions of
 * hostapi/ABI.md (version 1) in C functions that manage the buffers of the
 * ERANGE protocol, build the JSON the host wants and fetch the host's
 * explanation of a failed call.
 *
 * Use: include it everywhere, and in exactly one .c file define
 * CRONBOX_IMPLEMENTATION before including it:
 *
 *     #define CRONBOX_IMPLEMENTATION
 *     #include "cronbox.h"
 *
 * Built for wasm32 (clang --target=wasm32-wasi) the functions call the host.
 * Built natively (gcc, clang) they call an in-process fake host that holds
 * the run's input, configuration, KV store and canned HTTP responses and
 * records its logs, progress and result: the same task code is tested
 * natively, with the cronbox_fake_* functions at the end of this header.
 *
 * Errors: every function that can fail returns a cronbox_errno, CRONBOX_OK
 * (0) on success. After a failure, cronbox_error_message() returns the
 * host's sentence about it. Data the SDK returns (input, config, KV values,
 * response bodies) is allocated with malloc, NUL-terminated for
 * convenience (the terminator is not counted in the length), and freed by
 * the caller with free().
 *
 * The SDK is not thread-safe; WASI tasks have one thread.
 */
#ifndef CRONBOX_H
#define CRONBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The errno values of the ABI. */
typedef enum {
    CRONBOX_OK = 0,
    CRONBOX_EFAULT = 1,      /* a pointer/length pair lies outside guest memory (an SDK bug) */
    CRONBOX_ERANGE = 2,      /* an output buffer is too small; the SDK retries */
    CRONBOX_ENOTFOUND = 3,   /* no such key, nothing set */
    CRONBOX_EDENIED = 4,     /* the app's permissions do not allow this */
    CRONBOX_ETOOLARGE = 5,   /* a value, key, message or body exceeds its limit */
    CRONBOX_EINVAL = 6,      /* a malformed argument */
    CRONBOX_EIO = 7,         /* the operation failed on the host's side */
    CRONBOX_ECANCELED = 8,   /* the run was stopped while the call waited */
    CRONBOX_EBADHANDLE = 9,  /* the handle is not an open handle of this run */
    CRONBOX_ELIMIT = 10,     /* a per-run limit or a quota of the app was reached */
    CRONBOX_ETIMEDOUT = 11,  /* an HTTP request exceeded its own timeout */
    CRONBOX_ENOMEM = 100     /* the SDK could not allocate memory (never from the host) */
} cronbox_errno;

/* The log levels of the ABI. */
typedef enum {
    CRONBOX_DEBUG = 0,
    CRONBOX_INFO = 1,
    CRONBOX_WARN = 2,
    CRONBOX_ERROR = 3
} cronbox_level;

/* The version of the host ABI: 1. */
int cronbox_abi_version(void);

/* A short description of code, such as "not found". */
const char *cronbox_strerror(int code);

/* The host's explanation of the last failed call of this SDK, such as
 * `host "evil.example" is not in this app's allow-list`; "" when it gave
 * none. Valid until the next call that fails. */
const char *cronbox_error_message(void);

/* ---- Logging ---------------------------------------------------------- */

/* Logs the NUL-terminated msg at level. Messages longer than 64 KiB are
 * truncated by the host. EINVAL for an unknown level. */
int cronbox_log(int level, const char *msg);

/* Logs msg followed by attributes: a NULL-terminated list of key, value
 * string pairs, written as " key=value", quoted like a Go string when the
 * key or value is empty or holds a space, '=', '"' or a control character,
 * as the Go SDK does:
 *
 *     cronbox_log_attrs(CRONBOX_INFO, "archived", "files", "12",
 *                       "dir", "/data/old logs", NULL);
 *     // archived files=12 dir="/data/old logs"
 */
int cronbox_log_attrs(int level, const char *msg, ...);

/* cronbox_log_attrs at each level. */
int cronbox_debug(const char *msg, ...);
int cronbox_info(const char *msg, ...);
int cronbox_warn(const char *msg, ...);
int cronbox_error(const char *msg, ...);

/* Logs a printf-style formatted line at level. */
int cronbox_logf(int level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- Progress, input, configuration, result ---------------------------- */

/* Reports progress: percent from 0 to 100 and an optional message (NULL or
 * "" for none). EINVAL for a percent outside 0..100. */
int cronbox_progress(int percent, const char *msg);

/* The run's input, the JSON value it was triggered with ("null" without
 * one), in *json (malloc'd, NUL-terminated) and its length in *len (len may
 * be NULL). */
int cronbox_input(char **json, size_t *len);

/* The task's configuration as a JSON object ("{}" when it has none). */
int cronbox_config(char **json, size_t *len);

/* Sets the run's result payload: one JSON value of at most 1 MiB. EINVAL
 * for text that is not JSON, ETOOLARGE for a larger payload. A later call
 * replaces an earlier one. */
int cronbox_result(const char *json);
int cronbox_result_n(const char *json, size_t len);

/* ---- Key-value store --------------------------------------------------- */

/* The value stored under key in *val (malloc'd, NUL-terminated) and *len.
 * ENOTFOUND when there is none, EDENIED without the kv permission. */
int cronbox_kv_get(const char *key, char **val, size_t *len);

/* Stores len bytes at val under key (1-512 bytes, no NUL), replacing any
 * previous value. ELIMIT when the app's KV quota would be exceeded. */
int cronbox_kv_set(const char *key, const void *val, size_t len);

/* cronbox_kv_set of a NUL-terminated string, without the NUL. */
int cronbox_kv_set_str(const char *key, const char *val);

/* Removes key; removing an absent key is not an error. */
int cronbox_kv_delete(const char *key);

/* Calls fn for each key that starts with prefix ("" for all), in ascending
 * byte order, fetching the keys a page at a time. fn returns 0 to go on and
 * anything else to stop (then cronbox_kv_list returns CRONBOX_OK). */
typedef int (*cronbox_key_fn)(const char *key, size_t len, void *ctx);
int cronbox_kv_list(const char *prefix, cronbox_key_fn fn, void *ctx);

/* ---- HTTP ------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *value;
} cronbox_header;

typedef struct {
    const char *method;            /* NULL or "" for GET */
    const char *url;               /* an http or https URL on the allow-list */
    const cronbox_header *headers; /* nheaders request header fields */
    size_t nheaders;
    const void *body;              /* body_len bytes; NULL for none */
    size_t body_len;
    uint32_t timeout_ms;           /* 0: the host's default of 30 s */
} cronbox_request;

typedef struct {
    int status;               /* the HTTP status, such as 200 or 404 */
    cronbox_header *headers;  /* one entry per value of each field */
    size_t nheaders;
    char *body;               /* the whole body kept, NUL-terminated */
    size_t body_len;
    int truncated;            /* the body exceeded the host's limit (10 MiB) and was cut */
} cronbox_response;

/* Makes the request req through the host and reads its whole response into
 * *resp; free it with cronbox_response_free. An HTTP error status is a
 * response, not an error. EDENIED for a host not on the allow-list, EIO for
 * a network failure, ETIMEDOUT when the request's timeout passed, EINVAL
 * for a malformed request (bad URL, method, or a header the host sets
 * itself such as Host or Content-Length). */
int cronbox_http(const cronbox_request *req, cronbox_response *resp);

/* cronbox_http of a GET of url. */
int cronbox_http_get(const char *url, cronbox_response *resp);

/* The first value of the response header field name (compared without
 * regard to case), or NULL. */
const char *cronbox_response_header(const cronbox_response *resp, const char *name);

/* Frees what cronbox_http allocated in resp. */
void cronbox_response_free(cronbox_response *resp);

/* ---- JSON helpers ------------------------------------------------------ */

/* The string member key of the JSON object json (its top level), decoded,
 * in *out (malloc'd, NUL-terminated). CRONBOX_ENOTFOUND when the object has
 * no such member or it is not a string, CRONBOX_EINVAL when json is not
 * one JSON object. */
int cronbox_json_string(const char *json, const char *key, char **out);

/* The number member key of the JSON object json, in *out; errors as
 * cronbox_json_string. */
int cronbox_json_number(const char *json, const char *key, double *out);

/* s as a JSON string literal, quotes included (malloc'd), or NULL when
 * memory runs out. */
char *cronbox_json_quote(const char *s);

/* ---- The raw ABI ------------------------------------------------------- */

/* The host functions exactly as ABI.md specifies them; the functions above
 * are built on these. In a native build the fake implements them. */
#if defined(__wasm__)
#define CRONBOX_IMPORT(name) __attribute__((import_module("cronbox"), import_name(#name)))
#else
#define CRONBOX_IMPORT(name)
#endif
CRONBOX_IMPORT(abi_version) int32_t cronbox_host_abi_version(void);
CRONBOX_IMPORT(last_error) int32_t cronbox_host_last_error(char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(log) int32_t cronbox_host_log(int32_t level, const char *msg, size_t len);
CRONBOX_IMPORT(progress) int32_t cronbox_host_progress(int32_t percent, const char *msg, size_t len);
CRONBOX_IMPORT(result_set) int32_t cronbox_host_result_set(const char *p, size_t len);
CRONBOX_IMPORT(input_get) int32_t cronbox_host_input_get(char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(config_get) int32_t cronbox_host_config_get(char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(kv_get) int32_t cronbox_host_kv_get(const char *key, size_t key_len, char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(kv_set) int32_t cronbox_host_kv_set(const char *key, size_t key_len, const void *val, size_t val_len);
CRONBOX_IMPORT(kv_delete) int32_t cronbox_host_kv_delete(const char *key, size_t key_len);
CRONBOX_IMPORT(kv_list) int32_t cronbox_host_kv_list(const char *prefix, size_t prefix_len, const char *after, size_t after_len, char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(http_request) int32_t cronbox_host_http_request(const char *req, size_t req_len, const void *body, size_t body_len, uint32_t *handle);
CRONBOX_IMPORT(http_response_meta) int32_t cronbox_host_http_response_meta(uint32_t handle, char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(http_response_body) int32_t cronbox_host_http_response_body(uint32_t handle, uint32_t offset, char *out, size_t cap, uint32_t *len);
CRONBOX_IMPORT(http_response_close) int32_t cronbox_host_http_response_close(uint32_t handle);

/* ---- The native fake --------------------------------------------------- */

#if !defined(__wasm__)
/* Resets the fake: input null, configuration {}, an empty KV store with the
 * kv permission, no HTTP response, nothing recorded. */
void cronbox_fake_reset(void);
/* Sets the run's input / the task's configuration (JSON text, copied). */
void cronbox_fake_set_input(const char *json);
void cronbox_fake_set_config(const char *json);
/* Without the kv permission every KV call fails with EDENIED. */
void cronbox_fake_kv_permission(int allowed);
/* Reads and writes the fake's KV store directly: the value under key (NULL
 * when absent; valid until the store changes) and setting one. */
const char *cronbox_fake_kv(const char *key, size_t *len);
void cronbox_fake_kv_put(const char *key, const char *val);
/* The log lines and progress reports recorded, oldest first. */
size_t cronbox_fake_log_count(void);
const char *cronbox_fake_log(size_t i, int *level);
size_t cronbox_fake_progress_count(void);
const char *cronbox_fake_progress(size_t i, int *percent);
/* The result payload set, or NULL. */
const char *cronbox_fake_result(void);
/* Answers requests of method (NULL: any) to exactly url with status,
 * a Content-Type (NULL for none) and body. A request to a URL with no
 * answer fails with EDENIED, as one to a host not on the allow-list does. */
void cronbox_fake_http(const char *method, const char *url, int status, const char *content_type, const char *body);
/* The number of requests the fake received and the body of the last. */
size_t cronbox_fake_http_count(void);
const char *cronbox_fake_http_last_body(void);
/* The number of HTTP responses still open (not closed). */
size_t cronbox_fake_http_open(void);
/* Also writes each log line and progress report to standard error. */
void cronbox_fake_echo(int on);
#endif

#ifdef __cplusplus
}
#endif

/* ======================================================================= */
#ifdef CRONBOX_IMPLEMENTATION

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first buffer of the ERANGE protocol, and the largest the SDK grows. */
#define CRONBOX__INITIAL 4096u
#define CRONBOX__MAX (64u << 20)

static char cronbox__msg[1024];

int cronbox_abi_version(void) { return (int)cronbox_host_abi_version(); }

const char *cronbox_strerror(int code) {
    switch (code) {
    case CRONBOX_OK: return "ok";
    case CRONBOX_EFAULT: return "bad address";
    case CRONBOX_ERANGE: return "buffer too small";
    case CRONBOX_ENOTFOUND: return "not found";
    case CRONBOX_EDENIED: return "permission denied";
    case CRONBOX_ETOOLARGE: return "too large";
    case CRONBOX_EINVAL: return "invalid argument";
    case CRONBOX_EIO: return "I/O error";
    case CRONBOX_ECANCELED: return "run canceled";
    case CRONBOX_EBADHANDLE: return "bad handle";
    case CRONBOX_ELIMIT: return "limit reached";
    case CRONBOX_ETIMEDOUT: return "timed out";
    case CRONBOX_ENOMEM: return "out of memory";
    }
    return "unknown error";
}

const char *cronbox_error_message(void) { return cronbox__msg; }

static void cronbox__setmsg(const char *s) {
    size_t n = strlen(s);
    if (n >= sizeof cronbox__msg) n = sizeof cronbox__msg - 1;
    memcpy(cronbox__msg, s, n);
    cronbox__msg[n] = 0;
}

/* cronbox__check records the host's message for a failed code. */
static int cronbox__check(int32_t code) {
    if (code == 0) return 0;
    uint32_t n = 0;
    if (cronbox_host_last_error(cronbox__msg, sizeof cronbox__msg - 1, &n) == 0 && n < sizeof cronbox__msg)
        cronbox__msg[n] = 0;
    else
        cronbox__msg[0] = 0;
    return (int)code;
}

/* One call of the ERANGE protocol. */
typedef int32_t (*cronbox__call)(void *ctx, char *out, size_t cap, uint32_t *len);

/* cronbox__fetch runs call with a growing buffer until the data fits, and
 * returns it malloc'd and NUL-terminated. */
static int cronbox__fetch(cronbox__call call, void *ctx, char **out, size_t *len) {
    size_t cap = CRONBOX__INITIAL;
    *out = NULL;
    if (len) *len = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        char *buf = (char *)malloc(cap + 1);
        if (!buf) { cronbox__setmsg("out of memory"); return CRONBOX_ENOMEM; }
        uint32_t n = 0;
        int32_t code = call(ctx, buf, cap, &n);
        if (code == 0 && n <= cap) {
            buf[n] = 0;
            *out = buf;
            if (len) *len = n;
            return 0;
        }
        free(buf);
        if (code != CRONBOX_ERANGE) return cronbox__check(code == 0 ? CRONBOX_ERANGE : code);
        if (n > CRONBOX__MAX) {
            cronbox__setmsg("the data exceeds the SDK's limit of 64 MiB");
            return CRONBOX_ERANGE;
        }
        if (n <= cap) { cronbox__setmsg("the host asked for a buffer no larger than it had"); return CRONBOX_ERANGE; }
        cap = n;
    }
    cronbox__setmsg("the data kept growing");
    return CRONBOX_ERANGE;
}

/* A growable string. */
typedef struct { char *p; size_t n, cap; int oom; } cronbox__buf;

static void cronbox__put(cronbox__buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void cronbox__puts(cronbox__buf *b, const char *s) { cronbox__put(b, s, strlen(s)); }

int cronbox_log(int level, const char *msg) {
    return cronbox__check(cronbox_host_log(level, msg, msg ? strlen(msg) : 0));
}

/* cronbox__quote appends s as the Go SDK writes a key or value. */
static void cronbox__quote(cronbox__buf *b, const char *s) {
    int need = *s == 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !need; p++)
        need = *p == ' ' || *p == '=' || *p == '"' || *p < 0x20 || *p == 0x7f;
    if (!need) { cronbox__puts(b, s); return; }
    cronbox__puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[5] = {'\\', 0, 0, 0, 0};
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\a': esc[1] = 'a'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\v': esc[1] = 'v'; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                static const char hex[] = "0123456789abcdef";
                esc[1] = 'x'; esc[2] = hex[*p >> 4]; esc[3] = hex[*p & 15];
            } else {
                cronbox__put(b, (const char *)p, 1);
                continue;
            }
        }
        cronbox__puts(b, esc);
    }
    cronbox__puts(b, "\"");
}

static int cronbox__vlog_attrs(int level, const char *msg, va_list ap) {
    cronbox__buf b = {0};
    cronbox__puts(&b, msg ? msg : "");
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        cronbox__puts(&b, " ");
        cronbox__quote(&b, k);
        cronbox__puts(&b, "=");
        cronbox__quote(&b, v ? v : "");
        if (!v) break;
    }
    int rc;
    if (b.oom) { cronbox__setmsg("out of memory"); rc = CRONBOX_ENOMEM; }
    else rc = cronbox__check(cronbox_host_log(level, b.p ? b.p : "", b.n));
    free(b.p);
    return rc;
}

int cronbox_log_attrs(int level, const char *msg, ...) {
    va_list ap; va_start(ap, msg);
    int rc = cronbox__vlog_attrs(level, msg, ap);
    va_end(ap); return rc;
}
int cronbox_debug(const char *msg, ...) {
    va_list ap; va_start(ap, msg);
    int rc = cronbox__vlog_attrs(CRONBOX_DEBUG, msg, ap);
    va_end(ap); return rc;
}
int cronbox_info(const char *msg, ...) {
    va_list ap; va_start(ap, msg);
    int rc = cronbox__vlog_attrs(CRONBOX_INFO, msg, ap);
    va_end(ap); return rc;
}
int cronbox_warn(const char *msg, ...) {
    va_list ap; va_start(ap, msg);
    int rc = cronbox__vlog_attrs(CRONBOX_WARN, msg, ap);
    va_end(ap); return rc;
}
int cronbox_error(const char *msg, ...) {
    va_list ap; va_start(ap, msg);
    int rc = cronbox__vlog_attrs(CRONBOX_ERROR, msg, ap);
    va_end(ap); return rc;
}

int cronbox_logf(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { cronbox__setmsg("bad format"); return CRONBOX_EINVAL; }
    char *s = (char *)malloc((size_t)n + 1);
    if (!s) { cronbox__setmsg("out of memory"); return CRONBOX_ENOMEM; }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = cronbox__check(cronbox_host_log(level, s, (size_t)n));
    free(s);
    return rc;
}

int cronbox_progress(int percent, const char *msg) {
    if (percent < 0 || percent > 100) {
        cronbox__setmsg("percent is outside 0..100");
        return CRONBOX_EINVAL;
    }
    return cronbox__check(cronbox_host_progress(percent, msg, msg ? strlen(msg) : 0));
}

static int32_t cronbox__input(void *ctx, char *out, size_t cap, uint32_t *len) {
    (void)ctx; return cronbox_host_input_get(out, cap, len);
}
static int32_t cronbox__config(void *ctx, char *out, size_t cap, uint32_t *len) {
    (void)ctx; return cronbox_host_config_get(out, cap, len);
}
int cronbox_input(char **json, size_t *len) { return cronbox__fetch(cronbox__input, NULL, json, len); }
int cronbox_config(char **json, size_t *len) { return cronbox__fetch(cronbox__config, NULL, json, len); }

int cronbox_result_n(const char *json, size_t len) { return cronbox__check(cronbox_host_result_set(json, len)); }
int cronbox_result(const char *json) { return cronbox_result_n(json, json ? strlen(json) : 0); }

static int32_t cronbox__kvget(void *ctx, char *out, size_t cap, uint32_t *len) {
    const char *key = (const char *)ctx;
    return cronbox_host_kv_get(key, strlen(key), out, cap, len);
}
int cronbox_kv_get(const char *key, char **val, size_t *len) {
    return cronbox__fetch(cronbox__kvget, (void *)(key ? key : ""), val, len);
}
int cronbox_kv_set(const char *key, const void *val, size_t len) {
    return cronbox__check(cronbox_host_kv_set(key, key ? strlen(key) : 0, val, len));
}
int cronbox_kv_set_str(const char *key, const char *val) {
    return cronbox_kv_set(key, val, val ? strlen(val) : 0);
}
int cronbox_kv_delete(const char *key) {
    return cronbox__check(cronbox_host_kv_delete(key, key ? strlen(key) : 0));
}

typedef struct { const char *prefix; const char *after; size_t after_len; } cronbox__list;
static int32_t cronbox__kvlist(void *ctx, char *out, size_t cap, uint32_t *len) {
    cronbox__list *l = (cronbox__list *)ctx;
    return cronbox_host_kv_list(l->prefix, strlen(l->prefix), l->after, l->after_len, out, cap, len);
}

int cronbox_kv_list(const char *prefix, cronbox_key_fn fn, void *ctx) {
    cronbox__list l = {prefix ? prefix : "", "", 0};
    char *last = NULL; /* the page holding l.after */
    int rc = 0;
    for (;;) {
        char *page; size_t n;
        rc = cronbox__fetch(cronbox__kvlist, &l, &page, &n);
        if (rc) break;
        if (n == 0) { free(page); break; }
        if (page[n - 1] != 0) {
            free(page);
            cronbox__setmsg("malformed page of keys");
            rc = CRONBOX_EIO;
            break;
        }
        /* A host that breaks the paging contract (a page not after the
         * last key) would make this loop forever. */
        const char *lastkey = page + n - 1;
        while (lastkey > page && lastkey[-1] != 0) lastkey--;
        size_t ll = strlen(lastkey);
        int cmp = memcmp(lastkey, l.after, ll < l.after_len ? ll : l.after_len);
        if (cmp < 0 || (cmp == 0 && ll <= l.after_len)) {
            free(page);
            cronbox__setmsg("malformed page of keys");
            rc = CRONBOX_EIO;
            break;
        }
        int stop = 0;
        const char *k = page;
        while (k < page + n) {
            size_t kl = strlen(k);
            if (fn(k, kl, ctx)) { stop = 1; break; }
            l.after = k;
            l.after_len = kl;
            k += kl + 1;
        }
        free(last);
        last = page;
        if (stop) break;
    }
    free(last);
    return rc;
}

/* ---- JSON, for requests, response metadata and the fake ---------------- */

static void cronbox__json_str(cronbox__buf *b, const char *s) {
    cronbox__puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[3] = {'\\', (char)*p, 0};
            cronbox__puts(b, e);
        } else if (*p < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", *p);
            cronbox__puts(b, e);
        } else {
            cronbox__put(b, (const char *)p, 1);
        }
    }
    cronbox__puts(b, "\"");
}

/* A cursor over JSON text. */
typedef struct { const char *p, *end; int depth; } cronbox__json;

static void cronbox__ws(cronbox__json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* cronbox__jstring parses a string; if out is set, it appends its decoded
 * value (\u escapes of the basic plane encoded as UTF-8). */
static int cronbox__jstring(cronbox__json *j, cronbox__buf *out) {
    if (j->p >= j->end || *j->p != '"') return 0;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') return 1;
        if (c < 0x20) return 0;
        if (c != '\\') { if (out) cronbox__put(out, (const char *)&c, 1); continue; }
        if (j->p >= j->end) return 0;
        char e = *j->p++, d = 0;
        switch (e) {
        case '"': d = '"'; break;
        case '\\': d = '\\'; break;
        case '/': d = '/'; break;
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        case 'n': d = '\n'; break;
        case 'r': d = '\r'; break;
        case 't': d = '\t'; break;
        case 'u': {
            unsigned v = 0;
            for (int i = 0; i < 4; i++) {
                if (j->p >= j->end) return 0;
                char h = *j->p++;
                v <<= 4;
                if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                else return 0;
            }
            if (out) {
                char u[3]; size_t n;
                if (v < 0x80) { u[0] = (char)v; n = 1; }
                else if (v < 0x800) { u[0] = (char)(0xc0 | v >> 6); u[1] = (char)(0x80 | (v & 63)); n = 2; }
                else { u[0] = (char)(0xe0 | v >> 12); u[1] = (char)(0x80 | ((v >> 6) & 63)); u[2] = (char)(0x80 | (v & 63)); n = 3; }
                cronbox__put(out, u, n);
            }
            continue;
        }
        default: return 0;
        }
        if (out) cronbox__put(out, &d, 1);
    }
    return 0;
}

/* cronbox__jnumber parses a number into *v (if set). */
static int cronbox__jnumber(cronbox__json *j, double *v) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
    if (*j->p == '0') j->p++;
    else while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (v) {
        char tmp[64];
        size_t n = (size_t)(j->p - s);
        if (n >= sizeof tmp) n = sizeof tmp - 1;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        *v = strtod(tmp, NULL);
    }
    return 1;
}

static int cronbox__jlit(cronbox__json *j, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return 0;
    j->p += n;
    return 1;
}

/* cronbox__jskip parses one value of any kind, at most 512 levels deep. */
static int cronbox__jskip(cronbox__json *j) {
    cronbox__ws(j);
    if (j->p >= j->end) return 0;
    switch (*j->p) {
    case '"': return cronbox__jstring(j, NULL);
    case 't': return cronbox__jlit(j, "true");
    case 'f': return cronbox__jlit(j, "false");
    case 'n': return cronbox__jlit(j, "null");
    case '{': case '[': {
        char close = *j->p == '{' ? '}' : ']';
        int obj = close == '}';
        if (++j->depth > 512) return 0;
        j->p++;
        cronbox__ws(j);
        if (j->p < j->end && *j->p == close) { j->p++; j->depth--; return 1; }
        for (;;) {
            if (obj) {
                cronbox__ws(j);
                if (!cronbox__jstring(j, NULL)) return 0;
                cronbox__ws(j);
                if (j->p >= j->end || *j->p != ':') return 0;
                j->p++;
            }
            if (!cronbox__jskip(j)) return 0;
            cronbox__ws(j);
            if (j->p >= j->end) return 0;
            if (*j->p == ',') { j->p++; continue; }
            if (*j->p != close) return 0;
            j->p++;
            j->depth--;
            return 1;
        }
    }
    }
    return cronbox__jnumber(j, NULL);
}


/* cronbox__meta parses http_response_meta's JSON into resp. */
static int cronbox__meta(const char *s, size_t n, cronbox_response *resp, size_t *body_size) {
    cronbox__json j = {s, s + n, 0};
    cronbox__ws(&j);
    if (j.p >= j.end || *j.p != '{') return 0;
    j.p++;
    size_t capn = 0;
    cronbox__ws(&j);
    if (j.p < j.end && *j.p == '}') return 1;
    for (;;) {
        cronbox__buf key = {0};
        cronbox__ws(&j);
        int ok = cronbox__jstring(&j, &key);
        cronbox__ws(&j);
        ok = ok && !key.oom && j.p < j.end && *j.p == ':';
        if (ok) { j.p++; cronbox__ws(&j); }
        const char *k = key.p ? key.p : "";
        double v = 0;
        if (!ok) {
        } else if (strcmp(k, "status") == 0) {
            ok = cronbox__jnumber(&j, &v);
            resp->status = (int)v;
        } else if (strcmp(k, "body_size") == 0) {
            ok = cronbox__jnumber(&j, &v) && v >= 0;
            *body_size = (size_t)v;
        } else if (strcmp(k, "truncated") == 0) {
            resp->truncated = cronbox__jlit(&j, "true");
            ok = resp->truncated || cronbox__jlit(&j, "false");
        } else if (strcmp(k, "headers") == 0 && j.p < j.end && *j.p == '{') {
            j.p++;
            cronbox__ws(&j);
            if (j.p < j.end && *j.p == '}') j.p++;
            else for (;;) {
                cronbox__buf name = {0};
                cronbox__ws(&j);
                ok = cronbox__jstring(&j, &name);
                cronbox__ws(&j);
                ok = ok && j.p < j.end && *j.p == ':';
                if (ok) { j.p++; cronbox__ws(&j); }
                ok = ok && j.p < j.end && *j.p == '[';
                if (ok) { j.p++; cronbox__ws(&j); }
                int first = 1;
                while (ok && j.p < j.end && *j.p != ']') {
                    if (!first) { ok = *j.p == ','; j.p++; cronbox__ws(&j); }
                    first = 0;
                    cronbox__buf val = {0};
                    ok = ok && cronbox__jstring(&j, &val);
                    cronbox__ws(&j);
                    if (ok && !name.oom && !val.oom) {
                        if (resp->nheaders == capn) {
                            size_t c = capn ? capn * 2 : 8;
                            cronbox_header *h = (cronbox_header *)realloc(resp->headers, c * sizeof *h);
                            if (!h) ok = 0;
                            else { resp->headers = h; capn = c; }
                        }
                        if (ok) {
                            char *nm = (char *)malloc(name.n + 1);
                            if (!nm) ok = 0;
                            else {
                                memcpy(nm, name.p ? name.p : "", name.n);
                                nm[name.n] = 0;
                                resp->headers[resp->nheaders].name = nm;
                                resp->headers[resp->nheaders].value = val.p ? val.p : (char *)calloc(1, 1);
                                resp->nheaders++;
                                val.p = NULL;
                            }
                        }
                    }
                    free(val.p);
                }
                free(name.p);
                if (!ok || j.p >= j.end) { ok = 0; break; }
                j.p++; /* ] */
                cronbox__ws(&j);
                if (j.p < j.end && *j.p == ',') { j.p++; continue; }
                ok = j.p < j.end && *j.p == '}';
                if (ok) j.p++;
                break;
            }
        } else {
            ok = cronbox__jskip(&j);
        }
        free(key.p);
        if (!ok) return 0;
        cronbox__ws(&j);
        if (j.p < j.end && *j.p == ',') { j.p++; continue; }
        if (j.p < j.end && *j.p == '}') return 1;
        return 0;
    }
}

/* cronbox__jmember finds the member key of the object json and leaves j at
 * its value: 1 found, 0 absent, -1 not an object. */
static int cronbox__jmember(cronbox__json *j, const char *json, const char *key) {
    j->p = json;
    j->end = json + strlen(json);
    j->depth = 0;
    cronbox__json whole = *j;
    if (!cronbox__jskip(&whole)) return -1;
    cronbox__ws(&whole);
    if (whole.p != whole.end) return -1;
    cronbox__ws(j);
    if (*j->p != '{') return -1;
    j->p++;
    cronbox__ws(j);
    if (*j->p == '}') return 0;
    for (;;) {
        cronbox__buf k = {0};
        cronbox__ws(j);
        cronbox__jstring(j, &k);
        cronbox__ws(j);
        j->p++; /* : (the whole object is valid) */
        cronbox__ws(j);
        int match = !k.oom && k.p && strcmp(k.p, key) == 0;
        if (!k.p && !*key) match = 1;
        free(k.p);
        if (match) return 1;
        cronbox__jskip(j);
        cronbox__ws(j);
        if (*j->p != ',') return 0;
        j->p++;
    }
}

int cronbox_json_string(const char *json, const char *key, char **out) {
    cronbox__json j;
    *out = NULL;
    int found = cronbox__jmember(&j, json ? json : "", key);
    if (found < 0) { cronbox__setmsg("not a JSON object"); return CRONBOX_EINVAL; }
    if (!found || *j.p != '"') { cronbox__setmsg("no such string member"); return CRONBOX_ENOTFOUND; }
    cronbox__buf b = {0};
    cronbox__jstring(&j, &b);
    cronbox__put(&b, "", 0);
    if (b.oom || !b.p) { free(b.p); cronbox__setmsg("out of memory"); return CRONBOX_ENOMEM; }
    *out = b.p;
    return 0;
}

int cronbox_json_number(const char *json, const char *key, double *out) {
    cronbox__json j;
    int found = cronbox__jmember(&j, json ? json : "", key);
    if (found < 0) { cronbox__setmsg("not a JSON object"); return CRONBOX_EINVAL; }
    if (!found || !cronbox__jnumber(&j, out)) { cronbox__setmsg("no such number member"); return CRONBOX_ENOTFOUND; }
    return 0;
}

char *cronbox_json_quote(const char *s) {
    cronbox__buf b = {0};
    cronbox__json_str(&b, s ? s : "");
    if (b.oom) { free(b.p); return NULL; }
    return b.p;
}

static int cronbox__hostowned(const char *name) {
    static const char *const owned[] = {"connection", "content-length", "host", "keep-alive",
        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        const char *a = name, *b = owned[i];
        while (*a && *b && (*a | 0x20) == *b) { a++; b++; }
        if (!*a && !*b) return 1;
    }
    return 0;
}

typedef struct { uint32_t handle; } cronbox__meta_ctx;
static int32_t cronbox__metacall(void *ctx, char *out, size_t cap, uint32_t *len) {
    return cronbox_host_http_response_meta(((cronbox__meta_ctx *)ctx)->handle, out, cap, len);
}

void cronbox_response_free(cronbox_response *resp) {
    if (!resp) return;
    for (size_t i = 0; i < resp->nheaders; i++) {
        free((void *)resp->headers[i].name);
        free((void *)resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

int cronbox_http(const cronbox_request *req, cronbox_response *resp) {
    memset(resp, 0, sizeof *resp);
    if (!req || !req->url) { cronbox__setmsg("the request has no URL"); return CRONBOX_EINVAL; }
    if (req->body_len > (10u << 20)) {
        cronbox__setmsg("the request body exceeds the limit of 10 MiB");
        return CRONBOX_ETOOLARGE;
    }
    cronbox__buf b = {0};
    cronbox__puts(&b, "{\"method\":");
    cronbox__json_str(&b, req->method && *req->method ? req->method : "GET");
    cronbox__puts(&b, ",\"url\":");
    cronbox__json_str(&b, req->url);
    int any = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!req->headers[i].name || cronbox__hostowned(req->headers[i].name)) continue;
        cronbox__puts(&b, any ? "," : ",\"headers\":{");
        any = 1;
        cronbox__json_str(&b, req->headers[i].name);
        cronbox__puts(&b, ":[");
        cronbox__json_str(&b, req->headers[i].value ? req->headers[i].value : "");
        cronbox__puts(&b, "]");
    }
    if (any) cronbox__puts(&b, "}");
    if (req->timeout_ms) {
        char t[32];
        snprintf(t, sizeof t, ",\"timeout_ms\":%u", (unsigned)req->timeout_ms);
        cronbox__puts(&b, t);
    }
    cronbox__puts(&b, "}");
    if (b.oom) { free(b.p); cronbox__setmsg("out of memory"); return CRONBOX_ENOMEM; }
    uint32_t handle = 0;
    int rc = cronbox__check(cronbox_host_http_request(b.p, b.n, req->body, req->body ? req->body_len : 0, &handle));
    free(b.p);
    if (rc) return rc;

    cronbox__meta_ctx mc = {handle};
    char *meta; size_t mlen, size = 0;
    rc = cronbox__fetch(cronbox__metacall, &mc, &meta, &mlen);
    if (rc == 0 && !cronbox__meta(meta, mlen, resp, &size)) {
        cronbox__setmsg("malformed response metadata");
        rc = CRONBOX_EIO;
    }
    free(meta);
    if (rc == 0 && size > (64u << 20)) {
        cronbox__setmsg("the response body exceeds the SDK's limit of 64 MiB");
        rc = CRONBOX_ETOOLARGE;
    }
    if (rc == 0) {
        resp->body = (char *)malloc(size + 1);
        if (!resp->body) { cronbox__setmsg("out of memory"); rc = CRONBOX_ENOMEM; }
    }
    while (rc == 0 && resp->body_len < size) {
        uint32_t n = 0;
        rc = cronbox__check(cronbox_host_http_response_body(handle, (uint32_t)resp->body_len,
            resp->body + resp->body_len, size - resp->body_len, &n));
        if (rc == 0 && (n == 0 || n > size - resp->body_len)) {
            cronbox__setmsg("the response body ended early");
            rc = CRONBOX_EIO;
        }
        if (rc == 0) resp->body_len += n;
    }
    if (rc == 0) resp->body[resp->body_len] = 0;
    cronbox_host_http_response_close(handle); /* closing an open handle cannot fail */
    if (rc) cronbox_response_free(resp);
    return rc;
}

int cronbox_http_get(const char *url, cronbox_response *resp) {
    cronbox_request req = {0};
    req.url = url;
    return cronbox_http(&req, resp);
}

const char *cronbox_response_header(const cronbox_response *resp, const char *name) {
    for (size_t i = 0; i < resp->nheaders; i++) {
        const char *a = resp->headers[i].name, *b = name;
        while (*a && *b && ((*a | 0x20) == (*b | 0x20))) { a++; b++; }
        if (!*a && !*b) return resp->headers[i].value;
    }
    return NULL;
}

#if !defined(__wasm__)
/* ---- The native fake: the host functions over in-process state ---------- */

typedef struct { char *key; char *val; size_t len; } cronbox__kv;
typedef struct { char *msg; int n; } cronbox__rec;
typedef struct { char *method, *url, *ctype, *body; int status; } cronbox__route;
typedef struct { int status; const cronbox__route *route; int open; } cronbox__resp;

static struct {
    int init;
    char *input, *config, *result, *last_error, *last_body;
    int kv_denied, echo;
    cronbox__kv *kv; size_t nkv;
    cronbox__rec *logs; size_t nlogs;
    cronbox__rec *progress; size_t nprogress;
    cronbox__route *routes; size_t nroutes;
    cronbox__resp *resps; size_t nresps;
    size_t nrequests;
} cronbox__fake;

static char *cronbox__dup(const char *s, size_t n) {
    char *d = (char *)malloc(n + 1);
    if (!d) { fputs("cronbox fake: out of memory\n", stderr); abort(); }
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void *cronbox__grow(void *p, size_t n, size_t size) {
    p = realloc(p, (n + 1) * size);
    if (!p) { fputs("cronbox fake: out of memory\n", stderr); abort(); }
    return p;
}

void cronbox_fake_reset(void) {
    free(cronbox__fake.input); free(cronbox__fake.config); free(cronbox__fake.result);
    free(cronbox__fake.last_error); free(cronbox__fake.last_body);
    for (size_t i = 0; i < cronbox__fake.nkv; i++) { free(cronbox__fake.kv[i].key); free(cronbox__fake.kv[i].val); }
    for (size_t i = 0; i < cronbox__fake.nlogs; i++) free(cronbox__fake.logs[i].msg);
    for (size_t i = 0; i < cronbox__fake.nprogress; i++) free(cronbox__fake.progress[i].msg);
    for (size_t i = 0; i < cronbox__fake.nroutes; i++) {
        free(cronbox__fake.routes[i].method); free(cronbox__fake.routes[i].url);
        free(cronbox__fake.routes[i].ctype); free(cronbox__fake.routes[i].body);
    }
    free(cronbox__fake.kv); free(cronbox__fake.logs); free(cronbox__fake.progress);
    free(cronbox__fake.routes); free(cronbox__fake.resps);
    int echo = cronbox__fake.echo;
    memset(&cronbox__fake, 0, sizeof cronbox__fake);
    cronbox__fake.echo = echo;
    cronbox__fake.init = 1;
    cronbox__fake.input = cronbox__dup("null", 4);
    cronbox__fake.config = cronbox__dup("{}", 2);
}

static void cronbox__fake_init(void) { if (!cronbox__fake.init) cronbox_fake_reset(); }

void cronbox_fake_set_input(const char *json) {
    cronbox__fake_init();
    free(cronbox__fake.input);
    cronbox__fake.input = cronbox__dup(json, strlen(json));
}
void cronbox_fake_set_config(const char *json) {
    cronbox__fake_init();
    free(cronbox__fake.config);
    cronbox__fake.config = cronbox__dup(json, strlen(json));
}
void cronbox_fake_kv_permission(int allowed) { cronbox__fake_init(); cronbox__fake.kv_denied = !allowed; }
void cronbox_fake_echo(int on) { cronbox__fake.echo = on; }

/* cronbox__kvfind returns the index of key, or where it belongs (*found 0). */
static size_t cronbox__kvfind(const char *key, size_t n, int *found) {
    size_t lo = 0, hi = cronbox__fake.nkv;
    *found = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *k = cronbox__fake.kv[mid].key;
        size_t kn = strlen(k);
        int c = memcmp(k, key, kn < n ? kn : n);
        if (c == 0) c = kn < n ? -1 : kn > n ? 1 : 0;
        if (c == 0) { *found = 1; return mid; }
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static void cronbox__kvput(const char *key, size_t kn, const char *val, size_t vn) {
    int found;
    size_t i = cronbox__kvfind(key, kn, &found);
    if (found) {
        free(cronbox__fake.kv[i].val);
    } else {
        cronbox__fake.kv = (cronbox__kv *)cronbox__grow(cronbox__fake.kv, cronbox__fake.nkv, sizeof(cronbox__kv));
        memmove(cronbox__fake.kv + i + 1, cronbox__fake.kv + i, (cronbox__fake.nkv - i) * sizeof(cronbox__kv));
        cronbox__fake.nkv++;
        cronbox__fake.kv[i].key = cronbox__dup(key, kn);
    }
    cronbox__fake.kv[i].val = cronbox__dup(val, vn);
    cronbox__fake.kv[i].len = vn;
}

const char *cronbox_fake_kv(const char *key, size_t *len) {
    cronbox__fake_init();
    int found;
    size_t i = cronbox__kvfind(key, strlen(key), &found);
    if (!found) return NULL;
    if (len) *len = cronbox__fake.kv[i].len;
    return cronbox__fake.kv[i].val;
}
void cronbox_fake_kv_put(const char *key, const char *val) {
    cronbox__fake_init();
    cronbox__kvput(key, strlen(key), val, strlen(val));
}

size_t cronbox_fake_log_count(void) { return cronbox__fake.nlogs; }
const char *cronbox_fake_log(size_t i, int *level) {
    if (i >= cronbox__fake.nlogs) return NULL;
    if (level) *level = cronbox__fake.logs[i].n;
    return cronbox__fake.logs[i].msg;
}
size_t cronbox_fake_progress_count(void) { return cronbox__fake.nprogress; }
const char *cronbox_fake_progress(size_t i, int *percent) {
    if (i >= cronbox__fake.nprogress) return NULL;
    if (percent) *percent = cronbox__fake.progress[i].n;
    return cronbox__fake.progress[i].msg;
}
const char *cronbox_fake_result(void) { return cronbox__fake.result; }

void cronbox_fake_http(const char *method, const char *url, int status, const char *content_type, const char *body) {
    cronbox__fake_init();
    cronbox__fake.routes = (cronbox__route *)cronbox__grow(cronbox__fake.routes, cronbox__fake.nroutes, sizeof(cronbox__route));
    cronbox__route *r = &cronbox__fake.routes[cronbox__fake.nroutes++];
    r->method = method ? cronbox__dup(method, strlen(method)) : NULL;
    r->url = cronbox__dup(url, strlen(url));
    r->ctype = content_type ? cronbox__dup(content_type, strlen(content_type)) : NULL;
    r->body = cronbox__dup(body ? body : "", body ? strlen(body) : 0);
    r->status = status;
}
size_t cronbox_fake_http_count(void) { return cronbox__fake.nrequests; }
const char *cronbox_fake_http_last_body(void) { return cronbox__fake.last_body; }
size_t cronbox_fake_http_open(void) {
    size_t n = 0;
    for (size_t i = 0; i < cronbox__fake.nresps; i++) n += cronbox__fake.resps[i].open;
    return n;
}

/* cronbox__fail records the message last_error returns and returns code. */
static int32_t cronbox__fail(int32_t code, const char *msg) {
    free(cronbox__fake.last_error);
    cronbox__fake.last_error = cronbox__dup(msg, strlen(msg));
    return code;
}

static int32_t cronbox__out(const char *data, size_t n, char *out, size_t cap, uint32_t *len) {
    *len = (uint32_t)n;
    if (n > cap) return CRONBOX_ERANGE;
    if (n) memcpy(out, data, n);
    return 0;
}

int32_t cronbox_host_abi_version(void) { return 1; }

int32_t cronbox_host_last_error(char *out, size_t cap, uint32_t *len) {
    if (!cronbox__fake.last_error) return CRONBOX_ENOTFOUND;
    return cronbox__out(cronbox__fake.last_error, strlen(cronbox__fake.last_error), out, cap, len);
}

static void cronbox__record(cronbox__rec **list, size_t *n, int v, const char *msg, size_t len) {
    if (len > (64u << 10)) len = 64u << 10; /* truncated, as the host does */
    *list = (cronbox__rec *)cronbox__grow(*list, *n, sizeof(cronbox__rec));
    (*list)[*n].msg = cronbox__dup(msg, len);
    (*list)[*n].n = v;
    (*n)++;
}

int32_t cronbox_host_log(int32_t level, const char *msg, size_t len) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    cronbox__fake_init();
    if (level < 0 || level > 3) return cronbox__fail(CRONBOX_EINVAL, "unknown log level");
    cronbox__record(&cronbox__fake.logs, &cronbox__fake.nlogs, level, msg, len);
    if (cronbox__fake.echo) fprintf(stderr, "%s: %s\n", names[level], cronbox__fake.logs[cronbox__fake.nlogs - 1].msg);
    return 0;
}

int32_t cronbox_host_progress(int32_t percent, const char *msg, size_t len) {
    cronbox__fake_init();
    if (percent < 0 || percent > 100) return cronbox__fail(CRONBOX_EINVAL, "percent is outside 0..100");
    cronbox__record(&cronbox__fake.progress, &cronbox__fake.nprogress, percent, msg, len);
    if (cronbox__fake.echo) fprintf(stderr, "progress %d%% %s\n", percent, cronbox__fake.progress[cronbox__fake.nprogress - 1].msg);
    return 0;
}

/* cronbox__jvalid reports whether s[0:n] is exactly one JSON value. */
static int cronbox__jvalid(const char *s, size_t n) {
    cronbox__json j = {s, s + n, 0};
    if (!cronbox__jskip(&j)) return 0;
    cronbox__ws(&j);
    return j.p == j.end;
}

int32_t cronbox_host_result_set(const char *p, size_t len) {
    cronbox__fake_init();
    if (len > (1u << 20)) return cronbox__fail(CRONBOX_ETOOLARGE, "the result exceeds 1 MiB");
    if (!cronbox__jvalid(p, len)) return cronbox__fail(CRONBOX_EINVAL, "the result is not one JSON value");
    free(cronbox__fake.result);
    cronbox__fake.result = cronbox__dup(p, len);
    return 0;
}

int32_t cronbox_host_input_get(char *out, size_t cap, uint32_t *len) {
    cronbox__fake_init();
    return cronbox__out(cronbox__fake.input, strlen(cronbox__fake.input), out, cap, len);
}

int32_t cronbox_host_config_get(char *out, size_t cap, uint32_t *len) {
    cronbox__fake_init();
    return cronbox__out(cronbox__fake.config, strlen(cronbox__fake.config), out, cap, len);
}

/* cronbox__keycheck checks a key (or, with empty_ok, a prefix). */
static int32_t cronbox__keycheck(const char *key, size_t n, int empty_ok) {
    if (cronbox__fake.kv_denied) return cronbox__fail(CRONBOX_EDENIED, "the app does not have the kv permission");
    if (n == 0 && !empty_ok) return cronbox__fail(CRONBOX_EINVAL, "the key is empty");
    if (n > 512) return cronbox__fail(CRONBOX_ETOOLARGE, "the key exceeds 512 bytes");
    if (n && memchr(key, 0, n)) return cronbox__fail(CRONBOX_EINVAL, "the key holds a NUL byte");
    return 0;
}

int32_t cronbox_host_kv_get(const char *key, size_t key_len, char *out, size_t cap, uint32_t *len) {
    cronbox__fake_init();
    int32_t rc = cronbox__keycheck(key, key_len, 0);
    if (rc) return rc;
    int found;
    size_t i = cronbox__kvfind(key, key_len, &found);
    if (!found) return cronbox__fail(CRONBOX_ENOTFOUND, "no such key");
    return cronbox__out(cronbox__fake.kv[i].val, cronbox__fake.kv[i].len, out, cap, len);
}

int32_t cronbox_host_kv_set(const char *key, size_t key_len, const void *val, size_t val_len) {
    cronbox__fake_init();
    int32_t rc = cronbox__keycheck(key, key_len, 0);
    if (rc) return rc;
    if (val_len > (1u << 20)) return cronbox__fail(CRONBOX_ETOOLARGE, "the value exceeds 1 MiB");
    cronbox__kvput(key, key_len, (const char *)val, val_len);
    return 0;
}

int32_t cronbox_host_kv_delete(const char *key, size_t key_len) {
    cronbox__fake_init();
    int32_t rc = cronbox__keycheck(key, key_len, 0);
    if (rc) return rc;
    int found;
    size_t i = cronbox__kvfind(key, key_len, &found);
    if (found) {
        free(cronbox__fake.kv[i].key);
        free(cronbox__fake.kv[i].val);
        memmove(cronbox__fake.kv + i, cronbox__fake.kv + i + 1, (cronbox__fake.nkv - i - 1) * sizeof(cronbox__kv));
        cronbox__fake.nkv--;
    }
    return 0;
}

int32_t cronbox_host_kv_list(const char *prefix, size_t prefix_len, const char *after, size_t after_len, char *out, size_t cap, uint32_t *len) {
    cronbox__fake_init();
    int32_t rc = cronbox__keycheck(prefix, prefix_len, 1);
    if (rc == 0) rc = cronbox__keycheck(after, after_len, 1);
    if (rc) return rc;
    int found;
    size_t i = cronbox__kvfind(after, after_len, &found);
    if (found) i++;
    size_t n = 0;
    for (; i < cronbox__fake.nkv; i++) {
        const char *k = cronbox__fake.kv[i].key;
        size_t kn = strlen(k);
        if (kn < prefix_len || memcmp(k, prefix, prefix_len) != 0) continue;
        if (n + kn + 1 > cap) {
            if (n == 0) { *len = (uint32_t)(kn + 1); return CRONBOX_ERANGE; }
            break;
        }
        memcpy(out + n, k, kn + 1);
        n += kn + 1;
    }
    *len = (uint32_t)n;
    return 0;
}

int32_t cronbox_host_http_request(const char *req, size_t req_len, const void *body, size_t body_len, uint32_t *handle) {
    cronbox__fake_init();
    cronbox__json j = {req, req + req_len, 0};
    cronbox__buf method = {0}, url = {0}, key = {0};
    int ok = 1;
    cronbox__ws(&j);
    ok = j.p < j.end && *j.p == '{';
    if (ok) { j.p++; cronbox__ws(&j); }
    if (ok && j.p < j.end && *j.p == '}') j.p++;
    else while (ok) {
        key.n = 0;
        cronbox__ws(&j);
        ok = cronbox__jstring(&j, &key);
        cronbox__ws(&j);
        ok = ok && j.p < j.end && *j.p == ':';
        if (!ok) break;
        j.p++;
        cronbox__ws(&j);
        const char *k = key.p ? key.p : "";
        if (strcmp(k, "method") == 0) { method.n = 0; ok = cronbox__jstring(&j, &method); }
        else if (strcmp(k, "url") == 0) { url.n = 0; ok = cronbox__jstring(&j, &url); }
        else if (strcmp(k, "headers") == 0 || strcmp(k, "timeout_ms") == 0) ok = cronbox__jskip(&j);
        else ok = 0;
        cronbox__ws(&j);
        if (ok && j.p < j.end && *j.p == ',') { j.p++; continue; }
        ok = ok && j.p < j.end && *j.p == '}';
        if (ok) j.p++;
        break;
    }
    const char *m = method.p && method.n ? method.p : "GET";
    const char *u = url.p ? url.p : "";
    int32_t rc = 0;
    if (!ok || method.oom || url.oom || key.oom) rc = cronbox__fail(CRONBOX_EINVAL, "malformed request JSON");
    else if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) rc = cronbox__fail(CRONBOX_EINVAL, "the URL is not http or https");
    if (rc == 0) {
        const cronbox__route *route = NULL;
        for (size_t i = 0; i < cronbox__fake.nroutes && !route; i++) {
            const cronbox__route *r = &cronbox__fake.routes[i];
            if (strcmp(r->url, u) == 0 && (!r->method || strcmp(r->method, m) == 0)) route = r;
        }
        if (!route) {
            char msg[256];
            snprintf(msg, sizeof msg, "the fake has no answer for %.20s %.200s", m, u);
            rc = cronbox__fail(CRONBOX_EDENIED, msg);
        } else if (cronbox_fake_http_open() >= 16) {
            rc = cronbox__fail(CRONBOX_ELIMIT, "16 responses are open");
        } else {
            cronbox__fake.nrequests++;
            free(cronbox__fake.last_body);
            cronbox__fake.last_body = cronbox__dup((const char *)body, body ? body_len : 0);
            cronbox__fake.resps = (cronbox__resp *)cronbox__grow(cronbox__fake.resps, cronbox__fake.nresps, sizeof(cronbox__resp));
            cronbox__fake.resps[cronbox__fake.nresps].route = route;
            cronbox__fake.resps[cronbox__fake.nresps].status = route->status;
            cronbox__fake.resps[cronbox__fake.nresps].open = 1;
            *handle = (uint32_t)++cronbox__fake.nresps;
        }
    }
    free(method.p); free(url.p); free(key.p);
    return rc;
}

static cronbox__resp *cronbox__handle(uint32_t handle) {
    if (handle == 0 || handle > cronbox__fake.nresps || !cronbox__fake.resps[handle - 1].open) return NULL;
    return &cronbox__fake.resps[handle - 1];
}

int32_t cronbox_host_http_response_meta(uint32_t handle, char *out, size_t cap, uint32_t *len) {
    cronbox__resp *r = cronbox__handle(handle);
    if (!r) return cronbox__fail(CRONBOX_EBADHANDLE, "no such response");
    cronbox__buf b = {0};
    char num[64];
    snprintf(num, sizeof num, "{\"status\":%d,\"headers\":{", r->status);
    cronbox__puts(&b, num);
    if (r->route->ctype) {
        cronbox__puts(&b, "\"Content-Type\":[");
        cronbox__json_str(&b, r->route->ctype);
        cronbox__puts(&b, "]");
    }
    snprintf(num, sizeof num, "},\"body_size\":%zu,\"truncated\":false}", strlen(r->route->body));
    cronbox__puts(&b, num);
    int32_t rc = cronbox__out(b.p, b.n, out, cap, len);
    free(b.p);
    return rc;
}

int32_t cronbox_host_http_response_body(uint32_t handle, uint32_t offset, char *out, size_t cap, uint32_t *len) {
    cronbox__resp *r = cronbox__handle(handle);
    if (!r) return cronbox__fail(CRONBOX_EBADHANDLE, "no such response");
    size_t size = strlen(r->route->body), n = 0;
    if (offset < size) n = size - offset < cap ? size - offset : cap;
    if (n) memcpy(out, r->route->body + offset, n);
    *len = (uint32_t)n;
    return 0;
}

int32_t cronbox_host_http_response_close(uint32_t handle) {
    cronbox__resp *r = cronbox__handle(handle);
    if (!r) return cronbox__fail(CRONBOX_EBADHANDLE, "no such response");
    r->open = 0;
    return 0;
}
#endif /* !__wasm__ */

#endif /* CRONBOX_IMPLEMENTATION */
#endif /* CRONBOX_H */
