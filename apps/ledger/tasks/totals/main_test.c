/*
 * The tests of totals, natively against the SDK's fake host:
 *
 *     cc -I../../../../sdk/c -o /tmp/totals_test main_test.c csv.c && /tmp/totals_test
 */
#define main task_main
#include "main.c"
#undef main

static int failures;

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)
#define CHECK_STR(got, want) do { const char *g_ = (got), *w_ = (want); \
    if (!g_ || strcmp(g_, w_) != 0) { fprintf(stderr, "%s:%d: got %s, want %s\n", __FILE__, __LINE__, g_ ? g_ : "(null)", w_); failures++; } } while (0)

static void test_totals(void) {
    cronbox_fake_reset();
    cronbox_fake_set_input("{\"csv\": \"date,account,amount\\n2026-12-01,rent,-1200.00\\n2026-12-01,\\\"food, drinks\\\",-12.5\\r\\n\\n2026-12-02,rent,-0.05\\n2026-12-03,salary,3000\\n\"}");
    cronbox_fake_kv_put("totals/rent", "-120000");
    CHECK(task_main() == 0);
    CHECK_STR(cronbox_fake_result(), "{\"rows\":4,\"batch\":{\"rent\":-120005,\"food, drinks\":-1250,\"salary\":300000},\"totals\":{\"rent\":-240005,\"food, drinks\":-1250,\"salary\":300000}}");
    CHECK_STR(cronbox_fake_kv("totals/rent", NULL), "-240005");
    CHECK_STR(cronbox_fake_kv("totals/food, drinks", NULL), "-1250");
    int pct = 0;
    CHECK(cronbox_fake_progress_count() == 3);
    cronbox_fake_progress(2, &pct);
    CHECK(pct == 100);
}

static void test_columns_from_config(void) {
    cronbox_fake_reset();
    cronbox_fake_set_config("{\"account\": \"who\", \"amount\": \"sum\"}");
    cronbox_fake_set_input("{\"csv\": \"sum,who\\n1.5,a\\n2,a\"}");
    CHECK(task_main() == 0);
    CHECK_STR(cronbox_fake_kv("totals/a", NULL), "350");
}

static void test_malformed_stores_nothing(void) {
    const char *bad[] = {
        "{\"csv\": \"account,amount\\nrent,12.345\\n\"}",
        "{\"csv\": \"account,amount\\nrent,1\\nfood\\n\"}",
        "{\"csv\": \"account,amount\\n\\\"rent,1\\n\"}",
        "{\"csv\": \"account,total\\nrent,1\\n\"}",
        "{\"csv\": \"\"}",
        "{\"rows\": []}",
        "null",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cronbox_fake_reset();
        cronbox_fake_set_input(bad[i]);
        CHECK(task_main() == 1);
        CHECK(cronbox_fake_kv("totals/rent", NULL) == NULL);
        CHECK(cronbox_fake_result() == NULL);
    }
}

int main(void) {
    test_totals();
    test_columns_from_config();
    test_malformed_stores_nothing();
    cronbox_fake_reset();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    puts("ok");
    return 0;
}
