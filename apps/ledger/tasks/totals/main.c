/*
 * totals parses the CSV in its input and adds each row's amount to its
 * account's running total in the app's key-value store.
 *
 * Input:  {"csv": "account,amount\nrent,-1200.00\nsalary,3000\n"}
 * Config: {"account": "account", "amount": "amount"}, the names of the two
 *         columns in the CSV's header row.
 *
 * Amounts are decimal numbers with at most two decimals; totals are kept
 * in cents under totals/<account>, so that sums are exact. Fields may be
 * quoted ("a, b" or "say ""hi""") as RFC 4180 has it. A malformed row fails
 * the run before anything is stored: a batch counts whole or not at all.
 *
 * The result: {"rows": 2, "batch": {"rent": -120000, ...},
 *              "totals": {"rent": -240000, ...}}, in cents.
 */
#define CRONBOX_IMPLEMENTATION
#include "cronbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

static int fail_call(const char *step, int code) {
    cronbox_error("totals failed", "step", step, "err", cronbox_strerror(code), "detail", cronbox_error_message(), NULL);
    return 1;
}

int main(void) {
    char *input, *config, *csv = NULL, *account_col = NULL, *amount_col = NULL;
    int rc;
    if ((rc = cronbox_input(&input, NULL)) != 0) return fail_call("reading the input", rc);
    rc = cronbox_json_string(input, "csv", &csv);
    free(input);
    if (rc != 0) {
        cronbox_error("the input has no CSV: want {\"csv\": \"account,amount\\n...\"}", NULL);
        return 1;
    }
    if ((rc = cronbox_config(&config, NULL)) != 0) return fail_call("reading the config", rc);
    if (cronbox_json_string(config, "account", &account_col) != 0) account_col = strdup("account");
    if (cronbox_json_string(config, "amount", &amount_col) != 0) amount_col = strdup("amount");
    free(config);

    struct ledger batch = {0};
    char err[256];
    rc = ledger_parse(csv, account_col, amount_col, &batch, err, sizeof err);
    free(csv);
    free(account_col);
    free(amount_col);
    if (rc != 0) {
        cronbox_error("the CSV is malformed", "err", err, NULL);
        return 1;
    }
    char rows[32];
    snprintf(rows, sizeof rows, "%zu", batch.rows);
    cronbox_info("parsed", "rows", rows, NULL);

    /* Add the batch to the stored totals. */
    struct ledger totals = {0};
    for (size_t i = 0; i < batch.n; i++) {
        char key[600], *stored;
        snprintf(key, sizeof key, "totals/%s", batch.accounts[i].name);
        long long total = 0;
        rc = cronbox_kv_get(key, &stored, NULL);
        if (rc == 0) {
            char *end;
            total = strtoll(stored, &end, 10);
            int bad = *stored == 0 || *end != 0;
            free(stored);
            if (bad) {
                cronbox_error("a stored total is not a number", "key", key, NULL);
                return 1;
            }
        } else if (rc != CRONBOX_ENOTFOUND) {
            return fail_call("reading a total", rc);
        }
        total += batch.accounts[i].cents;
        char val[32];
        snprintf(val, sizeof val, "%lld", total);
        if ((rc = cronbox_kv_set_str(key, val)) != 0) return fail_call("storing a total", rc);
        ledger_add(&totals, batch.accounts[i].name, total);
        cronbox_progress((int)((i + 1) * 100 / batch.n), batch.accounts[i].name);
    }

    char *b = ledger_json(&batch), *t = ledger_json(&totals);
    size_t n = strlen(b) + strlen(t) + 64;
    char *result = malloc(n);
    snprintf(result, n, "{\"rows\":%zu,\"batch\":%s,\"totals\":%s}", batch.rows, b, t);
    rc = cronbox_result(result);
    free(result);
    free(b);
    free(t);
    ledger_free(&batch);
    ledger_free(&totals);
    if (rc != 0) return fail_call("setting the result", rc);
    return 0;
}
