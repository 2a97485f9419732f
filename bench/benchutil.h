/*
 * benchutil: what the benchmark programs share: a monotonic clock, a deterministic random
 * sequence (splitmix64, the same on every platform, so a seed reproduces a query mix), a
 * comparison for sorting timings, a UTF-8-safe prefix copy, the parsing of count arguments and
 * the removal of a temporary data folder.
 */
#ifndef PD_BENCHUTIL_H
#define PD_BENCHUTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static inline long long bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline uint64_t bench_rnd(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline size_t bench_rnd_below(uint64_t *state, size_t n)
{
    return n ? (size_t)(bench_rnd(state) % n) : 0;
}

static inline int bench_cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* copies s up to the first of stop (or the end) into out without cutting a UTF-8 sequence;
 * returns the length */
static inline size_t bench_copy_until(char *out, size_t cap, const char *s, const char *stop)
{
    size_t n = strcspn(s, stop);
    if (n >= cap)
        n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

/* a count argument from min to 10,000,000; def when absent, (size_t)-1 when malformed */
static inline size_t bench_arg_count(const char *s, size_t def, long min)
{
    char *end;
    if (!s)
        return def;
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || v < min || v > 10000000)
        return (size_t)-1;
    return (size_t)v;
}

/* removes a data folder: its files (it has no subfolders), then the folder; says what fails */
static inline void bench_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    buf path = BUF_INIT;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        buf_reset(&path);
        buf_printf(&path, "%s/%s", dir, e->d_name);
        if (unlink(path.data) != 0)
            fprintf(stderr, "bench: cannot remove %s: %s\n", path.data, strerror(errno));
    }
    closedir(d);
    buf_free(&path);
    if (rmdir(dir) != 0)
        fprintf(stderr, "bench: cannot remove %s: %s\n", dir, strerror(errno));
}

#endif
