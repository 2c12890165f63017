/* csv.h - the CSV parsing of the task totals, apart from the host API so
 * that it is tested (and fuzzed) natively on its own. */
#ifndef LEDGER_CSV_H
#define LEDGER_CSV_H

#include <stddef.h>

struct account {
    char *name;
    long long cents;
};

/* A set of accounts with a sum each, in the order they first appeared. */
struct ledger {
    struct account *accounts;
    size_t n, cap;
    size_t rows;
};

/* Parses csv: a header row naming the columns, then one row per entry.
 * Adds each row's amount (column amount_col, at most two decimals) to its
 * account (column account_col). On a malformed CSV it returns -1 with the
 * reason in err and leaves no memory allocated in l. */
int ledger_parse(const char *csv, const char *account_col, const char *amount_col,
                 struct ledger *l, char *err, size_t errlen);
/* Adds cents to the account name, creating it. Returns -1 when memory runs out. */
int ledger_add(struct ledger *l, const char *name, long long cents);
/* The ledger as a JSON object of cents by account (malloc'd). */
char *ledger_json(const struct ledger *l);
void ledger_free(struct ledger *l);

#endif
