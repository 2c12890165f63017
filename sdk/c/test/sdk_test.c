/* The C SDK's tests, run natively against its fake host:
 *   cc -Wall -Werror -I.. -o /tmp/sdk_test sdk_test.c && /tmp/sdk_test */
#define CRONBOX_IMPLEMENTATION
#include "cronbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)
#define CHECK_STR(got, want) do { const char *g_ = (got), *w_ = (want); \
    if (!g_ || strcmp(g_, w_) != 0) { fprintf(stderr, "%s:%d: got %s, want %s\n", __FILE__, __LINE__, g_ ? g_ : "(null)", w_); failures++; } } while (0)

static void test_log(void) {
    cronbox_fake_reset();
    CHECK(cronbox_abi_version() == 1);
    CHECK(cronbox_log(CRONBOX_WARN, "plain") == 0);
    CHECK(cronbox_info("archived", "files", "12", "dir", "/data/old logs", "empty", "", "q", "say \"hi\"\n", NULL) == 0);
    CHECK(cronbox_logf(CRONBOX_ERROR, "%d of %s", 3, "4") == 0);
    CHECK(cronbox_log(7, "bad level") == CRONBOX_EINVAL);
    CHECK_STR(cronbox_error_message(), "unknown log level");
    int level = -1;
    CHECK(cronbox_fake_log_count() == 3);
    CHECK_STR(cronbox_fake_log(0, &level), "plain");
    CHECK(level == CRONBOX_WARN);
    CHECK_STR(cronbox_fake_log(1, &level), "archived files=12 dir=\"/data/old logs\" empty=\"\" q=\"say \\\"hi\\\"\\n\"");
    CHECK(level == CRONBOX_INFO);
    CHECK_STR(cronbox_fake_log(2, &level), "3 of 4");
    CHECK(level == CRONBOX_ERROR);
}

static void test_progress_result(void) {
    cronbox_fake_reset();
    CHECK(cronbox_progress(50, "half") == 0);
    CHECK(cronbox_progress(100, NULL) == 0);
    CHECK(cronbox_progress(101, "over") == CRONBOX_EINVAL);
    int pct;
    CHECK(cronbox_fake_progress_count() == 2);
    CHECK_STR(cronbox_fake_progress(0, &pct), "half");
    CHECK(pct == 50);
    CHECK_STR(cronbox_fake_progress(1, &pct), "");
    CHECK(cronbox_fake_result() == NULL);
    CHECK(cronbox_result("{\"ok\": [1, 2.5e3, true, null, \"\\u00e9\"]}") == 0);
    CHECK(cronbox_result("{\"ok\": }") == CRONBOX_EINVAL);
    CHECK(cronbox_result("1 2") == CRONBOX_EINVAL);
    CHECK_STR(cronbox_fake_result(), "{\"ok\": [1, 2.5e3, true, null, \"\\u00e9\"]}");
}

static void test_input_config(void) {
    cronbox_fake_reset();
    char *s; size_t n;
    CHECK(cronbox_input(&s, &n) == 0);
    CHECK_STR(s, "null");
    CHECK(n == 4);
    free(s);
    CHECK(cronbox_config(&s, NULL) == 0);
    CHECK_STR(s, "{}");
    free(s);
    /* Larger than the first buffer: the SDK retries with a larger one. */
    size_t big = 10000;
    char *in = malloc(big + 3);
    in[0] = '"';
    memset(in + 1, 'x', big);
    in[big + 1] = '"';
    in[big + 2] = 0;
    cronbox_fake_set_input(in);
    CHECK(cronbox_input(&s, &n) == 0);
    CHECK(n == big + 2);
    CHECK(s && strcmp(s, in) == 0);
    free(s);
    free(in);
}

static int collect(const char *key, size_t len, void *ctx) {
    char *out = ctx;
    if (strlen(key) != len) return 1;
    strcat(out, key);
    strcat(out, ";");
    return strcmp(key, "stop") == 0;
}

static void test_kv(void) {
    cronbox_fake_reset();
    char *v; size_t n;
    CHECK(cronbox_kv_get("a", &v, &n) == CRONBOX_ENOTFOUND);
    CHECK(cronbox_kv_set_str("a", "1") == 0);
    CHECK(cronbox_kv_set("b", "x\0y", 3) == 0);
    CHECK(cronbox_kv_get("b", &v, &n) == 0);
    CHECK(n == 3 && memcmp(v, "x\0y", 3) == 0);
    free(v);
    CHECK(cronbox_kv_set_str("", "x") == CRONBOX_EINVAL);
    CHECK(cronbox_kv_delete("b") == 0);
    CHECK(cronbox_kv_delete("b") == 0);
    CHECK(cronbox_fake_kv("b", NULL) == NULL);
    CHECK_STR(cronbox_fake_kv("a", NULL), "1");

    /* Keys across several pages, some longer than a page. */
    char key[600];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "p/%03d/%0400d", i, 0);
        CHECK(cronbox_kv_set_str(key, "v") == 0);
    }
    int count = 0;
    char *all = calloc(1, 300 * 420);
    CHECK(cronbox_kv_list("p/", collect, all) == 0);
    for (char *p = all; *p; p++) count += *p == ';';
    CHECK(count == 300);
    CHECK(strncmp(all, "p/000/", 6) == 0);
    free(all);

    char *out = calloc(1, 300 * 420);
    cronbox_fake_kv_put("q1", "x");
    cronbox_fake_kv_put("stop", "x");
    cronbox_fake_kv_put("z", "x");
    CHECK(cronbox_kv_list("", collect, out) == 0);
    CHECK(strstr(out, "a;p/000") == out);
    CHECK(strstr(out, "q1;stop;") != NULL);
    CHECK(strstr(out, "z;") == NULL);
    free(out);

    cronbox_fake_kv_permission(0);
    CHECK(cronbox_kv_get("a", &v, &n) == CRONBOX_EDENIED);
    CHECK_STR(cronbox_error_message(), "the app does not have the kv permission");
}

static void test_http(void) {
    cronbox_fake_reset();
    cronbox_fake_http("GET", "https://api.example.com/x", 200, "application/json", "{\"n\": 1}");
    cronbox_fake_http("POST", "https://api.example.com/x", 201, NULL, "");
    cronbox_response r;
    CHECK(cronbox_http_get("https://api.example.com/x", &r) == 0);
    CHECK(r.status == 200);
    CHECK_STR(r.body, "{\"n\": 1}");
    CHECK(r.body_len == 8);
    CHECK_STR(cronbox_response_header(&r, "content-type"), "application/json");
    CHECK(cronbox_response_header(&r, "X-None") == NULL);
    cronbox_response_free(&r);

    cronbox_header h[] = {{"Content-Type", "text/plain"}, {"Host", "dropped"}};
    cronbox_request req = {"POST", "https://api.example.com/x", h, 2, "hello", 5, 1000};
    CHECK(cronbox_http(&req, &r) == 0);
    CHECK(r.status == 201 && r.body_len == 0 && r.body && r.body[0] == 0);
    CHECK_STR(cronbox_fake_http_last_body(), "hello");
    cronbox_response_free(&r);

    CHECK(cronbox_http_get("https://evil.example/", &r) == CRONBOX_EDENIED);
    CHECK(strstr(cronbox_error_message(), "evil.example") != NULL);
    CHECK(cronbox_http_get("ftp://api.example.com/x", &r) == CRONBOX_EINVAL);
    CHECK(cronbox_fake_http_count() == 2);
    CHECK(cronbox_fake_http_open() == 0);
}

static void test_meta_parser(void) {
    /* The metadata parser takes what the host writes and refuses the rest. */
    cronbox_response r;
    size_t size;
    const char *good = "{\"status\":404,\"headers\":{\"A\":[\"1\",\"2\"],\"B\":[]},\"body_size\":3,\"truncated\":true,\"extra\":{\"x\":[1]}}";
    memset(&r, 0, sizeof r);
    CHECK(cronbox__meta(good, strlen(good), &r, &size) == 1);
    CHECK(r.status == 404 && size == 3 && r.truncated == 1 && r.nheaders == 2);
    CHECK_STR(r.headers[1].value, "2");
    cronbox_response_free(&r);
    const char *bad[] = {"", "{", "{\"status\":}", "{\"headers\":{\"A\":[1]}}", "{\"headers\":{\"A\":[\"1\"}", "[]", "{\"status\":1,}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&r, 0, sizeof r);
        CHECK(cronbox__meta(bad[i], strlen(bad[i]), &r, &size) == 0);
        cronbox_response_free(&r);
    }
}

static void test_json_helpers(void) {
    char *s = NULL;
    double d = 0;
    const char *obj = " {\"a\": [1, {\"name\": \"x\"}], \"name\": \"Ad\\u00e9 \\\"A\\\"\", \"n\": -2.5e1, \"e\": \"\"} ";
    CHECK(cronbox_json_string(obj, "name", &s) == 0);
    CHECK_STR(s, "Ad\xc3\xa9 \"A\"");
    free(s);
    CHECK(cronbox_json_string(obj, "e", &s) == 0);
    CHECK_STR(s, "");
    free(s);
    CHECK(cronbox_json_number(obj, "n", &d) == 0 && d == -25);
    CHECK(cronbox_json_string(obj, "n", &s) == CRONBOX_ENOTFOUND && s == NULL);
    CHECK(cronbox_json_string(obj, "missing", &s) == CRONBOX_ENOTFOUND);
    CHECK(cronbox_json_number(obj, "name", &d) == CRONBOX_ENOTFOUND);
    CHECK(cronbox_json_string("null", "name", &s) == CRONBOX_EINVAL);
    CHECK(cronbox_json_string("{\"name\": \"x\"", "name", &s) == CRONBOX_EINVAL);
    CHECK(cronbox_json_string("{}", "name", &s) == CRONBOX_ENOTFOUND);
    char *q = cronbox_json_quote("a\"b\\\n");
    CHECK_STR(q, "\"a\\\"b\\\\\\u000a\"");
    free(q);
}

int main(void) {
    test_json_helpers();
    test_log();
    test_progress_result();
    test_input_config();
    test_kv();
    test_http();
    test_meta_parser();
    cronbox_fake_reset();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    puts("ok");
    return 0;
}
