#include "pd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

const char *pd_strerror(int err)
{
    switch (err) {
    case PD_OK:
        return "ok";
    case PD_ENOMEM:
        return "out of memory";
    case PD_EINVAL:
        return "invalid input";
    case PD_EIO:
        return "input/output error";
    case PD_ENOTFOUND:
        return "not found";
    case PD_EEXIST:
        return "already exists";
    case PD_EDB:
        return "database error";
    case PD_ETOOBIG:
        return "too large";
    case PD_ECHECK:
        return "check digit or checksum does not match";
    case PD_EFULL:
        return "disk or database full";
    case PD_EBUSY:
        return "busy";
    case PD_EPERM:
        return "permission denied";
    case PD_ECORRUPT:
        return "wrong key or damaged data";
    default:
        return "unknown error";
    }
}

static PD_NORETURN void pd_oom(size_t n)
{
    fprintf(stderr, "pharmdesk: out of memory (%zu bytes)\n", n);
    abort();
}

void *pd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        pd_oom(n);
    return p;
}

void *pd_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        pd_oom(nmemb * size);
    return p;
}

void *pd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        pd_oom(n);
    return q;
}

void *pd_xreallocarray(void *p, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        pd_oom(SIZE_MAX);
    return pd_xrealloc(p, nmemb * size);
}

char *pd_xstrdup(const char *s)
{
    return pd_xstrndup(s, strlen(s));
}

char *pd_xstrndup(const char *s, size_t n)
{
    char *p = pd_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

#define PD_RANDOM_POOL 512

void pd_random(void *out, size_t n)
{
    /* per thread, so no lock; a thread's pool dies with it (at most 512 unused bytes) */
    static _Thread_local unsigned char pool[PD_RANDOM_POOL];
    static _Thread_local size_t left;
    if (n > 64)
        abort(); /* a caller's mistake: larger amounts go to randombytes_buf */
    if (left < n) {
        randombytes_buf(pool, sizeof pool);
        left = sizeof pool;
    }
    unsigned char *take = pool + (sizeof pool - left);
    memcpy(out, take, n);
    sodium_memzero(take, n);
    left -= n;
}

long long pd_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long pd_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long us = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
#ifdef PD_FAULT_INJECTION
    const char *off = getenv("PHARMDESK_TEST_CLOCK_OFFSET_S");
    if (off && *off)
        us += strtoll(off, NULL, 10) * 1000000LL;
#endif
    return us;
}

void pd_iso_time(long long us, char out[32])
{
    /* the second's text is kept per thread: every audit entry is stamped, thousands a second */
    static _Thread_local time_t last_sec = -1;
    static _Thread_local char last_text[24];
    static _Thread_local size_t last_len;
    time_t sec = (time_t)(us / 1000000);
    if (sec != last_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        last_len = strftime(last_text, sizeof last_text, "%Y-%m-%dT%H:%M:%S", &tm);
        last_sec = sec;
    }
    int ms = (int)(us % 1000000 / 1000);
    memcpy(out, last_text, last_len);
    out[last_len] = '.';
    out[last_len + 1] = (char)('0' + ms / 100);
    out[last_len + 2] = (char)('0' + ms / 10 % 10);
    out[last_len + 3] = (char)('0' + ms % 10);
    out[last_len + 4] = 'Z';
    out[last_len + 5] = '\0';
}
