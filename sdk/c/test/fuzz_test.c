/*
 * A mutation fuzzer for the C SDK's parsers of outside input: the host's
 * response metadata, JSON members of the input and configuration, the
 * result check and the fake's request parser. Each seed file of the
 * folders given as arguments is mutated (bytes flipped, inserted, deleted,
 * cut, spliced with another seed) a fixed number of times with a fixed
 * random seed, so a run is reproducible; run it under the address and
 * undefined-behaviour sanitizers:
 *
 *   cc -fsanitize=address,undefined -I.. -o /tmp/fuzz fuzz_test.c && /tmp/fuzz testdata/fuzz
 *
 * The parsers must return without crashing, reading out of bounds or
 * leaking, whatever the bytes.
 */
#define CRONBOX_IMPLEMENTATION
#include "cronbox.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEDS 64
#define MAX_LEN 4096

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static char *seeds[MAX_SEEDS];
static size_t nseeds;

static void load(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); exit(2); }
    struct dirent *e;
    while ((e = readdir(d)) && nseeds < MAX_SEEDS) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char *b = calloc(1, MAX_LEN + 1);
        fread(b, 1, MAX_LEN, f);
        fclose(f);
        seeds[nseeds++] = b;
    }
    closedir(d);
}

/* mutate writes a mutation of a seed to out (NUL-terminated). */
static size_t mutate(char *out) {
    const char *s = seeds[next() % nseeds];
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    int rounds = 1 + next() % 4;
    for (int r = 0; r < rounds; r++) {
        size_t at = n ? next() % (n + 1) : 0;
        switch (next() % 6) {
        case 0: if (at < n) out[at] = (char)(next() % 255 + 1); break;          /* flip */
        case 1: if (n < MAX_LEN - 1) { memmove(out + at + 1, out + at, n - at + 1); out[at] = "{}[]\":,\\u0e-1"[next() % 13]; n++; } break;
        case 2: if (at < n) { memmove(out + at, out + at + 1, n - at); n--; } break; /* delete */
        case 3: n = at; out[n] = 0; break;                                          /* cut */
        case 4: {                                                                   /* splice */
            const char *o = seeds[next() % nseeds];
            size_t on = strlen(o), from = on ? next() % on : 0, len = on - from;
            if (at + len > MAX_LEN - 1) len = MAX_LEN - 1 - at;
            memcpy(out + at, o + from, len);
            n = at + len;
            out[n] = 0;
            break;
        }
        case 5: { /* nest deeply */
            size_t k = next() % 700;
            if (n + 2 * k < MAX_LEN - 1) {
                memmove(out + k, out, n + 1);
                memset(out, '[', k);
                n += k;
            }
            break;
        }
        }
    }
    return n;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) load(argv[i]);
    if (nseeds == 0) { fprintf(stderr, "no seeds\n"); return 2; }
    static char buf[MAX_LEN + 1];
    int iterations = 20000;
    for (int i = 0; i < iterations; i++) {
        size_t n = mutate(buf);
        /* Exactly sized copies, so that a read past the end is caught:
         * one without a terminator for the parsers given a length, one
         * with it for those given a C string. */
        char *exact = malloc(n ? n : 1), *cstr = malloc(n + 1);
        memcpy(exact, buf, n);
        memcpy(cstr, buf, n + 1);

        cronbox_response r;
        size_t size = 0;
        memset(&r, 0, sizeof r);
        cronbox__meta(exact, n, &r, &size);
        cronbox_response_free(&r);

        char *s = NULL;
        double d;
        if (cronbox_json_string(cstr, "name", &s) == 0) free(s);
        cronbox_json_number(cstr, "n", &d);
        cronbox__jvalid(exact, n);

        uint32_t handle;
        cronbox_fake_reset();
        cronbox_fake_http(NULL, "https://api.example.com/x", 200, "text/plain", "ok");
        if (cronbox_host_http_request(exact, n, NULL, 0, &handle) == 0) cronbox_host_http_response_close(handle);
        cronbox_result_n(exact, n);
        free(exact);
        free(cstr);
    }
    cronbox_fake_reset();
    printf("ok: %d inputs from %zu seeds\n", iterations, nseeds);
    for (size_t i = 0; i < nseeds; i++) free(seeds[i]);
    return 0;
}
