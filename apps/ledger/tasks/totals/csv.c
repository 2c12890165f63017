#include "csv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cronbox.h"

int ledger_add(struct ledger *l, const char *name, long long cents) {
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->accounts[i].name, name) == 0) {
            l->accounts[i].cents += cents;
            return 0;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct account *a = realloc(l->accounts, cap * sizeof *a);
        if (!a) return -1;
        l->accounts = a;
        l->cap = cap;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy) return -1;
    strcpy(copy, name);
    l->accounts[l->n].name = copy;
    l->accounts[l->n].cents = cents;
    l->n++;
    return 0;
}

void ledger_free(struct ledger *l) {
    for (size_t i = 0; i < l->n; i++) free(l->accounts[i].name);
    free(l->accounts);
    memset(l, 0, sizeof *l);
}

char *ledger_json(const struct ledger *l) {
    size_t cap = 3, n = 0;
    for (size_t i = 0; i < l->n; i++) cap += strlen(l->accounts[i].name) * 6 + 32;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[n++] = '{';
    for (size_t i = 0; i < l->n; i++) {
        char *q = cronbox_json_quote(l->accounts[i].name);
        if (!q) { free(out); return NULL; }
        n += (size_t)snprintf(out + n, cap - n, "%s%s:%lld", i ? "," : "", q, l->accounts[i].cents);
        free(q);
    }
    out[n++] = '}';
    out[n] = 0;
    return out;
}

/* A row's fields, each NUL-terminated in buf. */
struct row {
    char *buf;
    size_t len, cap;
    size_t *starts;
    size_t nfields, capfields;
};

static int row_put(struct row *r, char c) {
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return 0;
}

static int row_field(struct row *r) {
    if (r->nfields == r->capfields) {
        size_t cap = r->capfields ? r->capfields * 2 : 8;
        size_t *s = realloc(r->starts, cap * sizeof *s);
        if (!s) return -1;
        r->starts = s;
        r->capfields = cap;
    }
    r->starts[r->nfields++] = r->len;
    return 0;
}

/* read_row reads one row at *p into r; 1 read, 0 at the end, -1 malformed. */
static int read_row(const char **p, struct row *r, char *err, size_t errlen) {
    const char *s = *p;
    r->len = 0;
    r->nfields = 0;
    if (*s == 0) return 0;
    if (row_field(r)) goto oom;
    for (;;) {
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == 0) { snprintf(err, errlen, "a quoted field is not closed"); return -1; }
                if (*s == '"' && s[1] == '"') { if (row_put(r, '"')) goto oom; s += 2; continue; }
                if (*s == '"') { s++; break; }
                if (row_put(r, *s++)) goto oom;
            }
            if (*s != ',' && *s != '\n' && *s != '\r' && *s != 0) {
                snprintf(err, errlen, "text after a quoted field");
                return -1;
            }
        }
        while (*s != ',' && *s != '\n' && *s != '\r' && *s != 0) {
            if (*s == '"') { snprintf(err, errlen, "a quote inside an unquoted field"); return -1; }
            if (row_put(r, *s++)) goto oom;
        }
        if (row_put(r, 0)) goto oom;
        if (*s == ',') {
            s++;
            if (row_field(r)) goto oom;
            continue;
        }
        if (*s == '\r') s++;
        if (*s == '\n') s++;
        *p = s;
        return 1;
    }
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* parse_cents reads a decimal amount with at most two decimals. */
static int parse_cents(const char *s, long long *out) {
    int neg = 0;
    long long v = 0;
    while (*s == ' ') s++;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (*s < '0' || *s > '9') return -1;
    while (*s >= '0' && *s <= '9') {
        if (v > (LLONG_MAX / 100 - 9) / 10) return -1;
        v = v * 10 + (*s++ - '0');
    }
    v *= 100;
    if (*s == '.') {
        s++;
        if (*s >= '0' && *s <= '9') v += (*s++ - '0') * 10; else return -1;
        if (*s >= '0' && *s <= '9') v += *s++ - '0';
    }
    while (*s == ' ') s++;
    if (*s) return -1;
    *out = neg ? -v : v;
    return 0;
}

int ledger_parse(const char *csv, const char *account_col, const char *amount_col,
                 struct ledger *l, char *err, size_t errlen) {
    struct row r = {0};
    const char *p = csv;
    int rc = read_row(&p, &r, err, errlen);
    long acc = -1, amt = -1;
    size_t line = 1, width = r.nfields;
    if (rc == 0) {
        snprintf(err, errlen, "the CSV is empty: want a header row");
        rc = -1;
    }
    for (size_t i = 0; rc == 1 && i < r.nfields; i++) {
        if (strcmp(r.buf + r.starts[i], account_col) == 0) acc = (long)i;
        if (strcmp(r.buf + r.starts[i], amount_col) == 0) amt = (long)i;
    }
    if (rc == 1 && (acc < 0 || amt < 0)) {
        snprintf(err, errlen, "the header row has no column %.100s", acc < 0 ? account_col : amount_col);
        rc = -1;
    }
    while (rc == 1) {
        rc = read_row(&p, &r, err, errlen);
        line++;
        if (rc != 1) break;
        if (r.nfields == 1 && r.buf[r.starts[0]] == 0) continue; /* a blank line */
        if (r.nfields != width) {
            snprintf(err, errlen, "line %zu has %zu fields, the header %zu", line, r.nfields, width);
            rc = -1;
            break;
        }
        const char *name = r.buf + r.starts[acc];
        long long cents;
        if (*name == 0 || strlen(name) > 500) {
            snprintf(err, errlen, "line %zu: the account is empty or longer than 500 bytes", line);
            rc = -1;
        } else if (parse_cents(r.buf + r.starts[amt], &cents) != 0) {
            snprintf(err, errlen, "line %zu: %.40s is not an amount with at most two decimals", line, r.buf + r.starts[amt]);
            rc = -1;
        } else if (ledger_add(l, name, cents) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else {
            l->rows++;
        }
    }
    free(r.buf);
    free(r.starts);
    if (rc < 0) {
        ledger_free(l);
        return -1;
    }
    return 0;
}
