/*
 * A mutation fuzzer for the CSV parser (csv.c), which reads each run's
 * input: every seed in the folders given as arguments is mutated a fixed
 * number of times with a fixed random seed (reproducible), and each
 * mutation, in a buffer of its exact size, is parsed under the sanitizers:
 *
 *   cc -fsanitize=address,undefined -I../../../../sdk/c -o /tmp/fuzz fuzz_test.c csv.c && /tmp/fuzz testdata/fuzz
 *
 * The parser must return without crashing, reading out of bounds or
 * leaking, and on success account for every row it counted.
 */
#define CRONBOX_IMPLEMENTATION
#include "cronbox.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

#define MAX_LEN 4096

static unsigned long long rng = 0x2545f4914f6cdd1dull;

static unsigned next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

int main(int argc, char **argv) {
    static char seeds[32][MAX_LEN + 1];
    size_t nseeds = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) { perror(argv[a]); return 2; }
        struct dirent *e;
        while ((e = readdir(d)) && nseeds < 32) {
            if (e->d_name[0] == '.') continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f) continue;
            seeds[nseeds][fread(seeds[nseeds], 1, MAX_LEN, f)] = 0;
            fclose(f);
            nseeds++;
        }
        closedir(d);
    }
    if (nseeds == 0) { fprintf(stderr, "no seeds\n"); return 2; }
    static char buf[MAX_LEN + 1];
    const int iterations = 20000;
    int parsed = 0;
    for (int i = 0; i < iterations; i++) {
        const char *s = seeds[next() % nseeds];
        size_t n = strlen(s);
        memcpy(buf, s, n + 1);
        for (int r = 1 + next() % 4; r > 0; r--) {
            size_t at = n ? next() % n : 0;
            switch (next() % 4) {
            case 0: if (n) buf[at] = ",\"\n\r.-+0x "[next() % 11]; break;
            case 1: if (n < MAX_LEN - 1) { memmove(buf + at + 1, buf + at, n - at + 1); buf[at] = (char)(next() % 255 + 1); n++; } break;
            case 2: if (n) { memmove(buf + at, buf + at + 1, n - at); n--; } break;
            case 3: n = at; buf[n] = 0; break;
            }
        }
        char *exact = malloc(n + 1);
        memcpy(exact, buf, n + 1);
        struct ledger l = {0};
        char err[256];
        if (ledger_parse(exact, "account", "amount", &l, err, sizeof err) == 0) {
            parsed++;
            if (l.rows > 0 && l.n == 0) { fprintf(stderr, "rows without accounts: %s\n", exact); return 1; }
            free(ledger_json(&l));
        } else if (l.accounts || l.n) {
            fprintf(stderr, "a failed parse kept accounts: %s\n", exact);
            return 1;
        }
        ledger_free(&l);
        free(exact);
    }
    printf("ok: %d inputs from %zu seeds, %d parsed\n", iterations, nseeds, parsed);
    return 0;
}
