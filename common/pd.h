/*
 * pd: the project's shared conventions. One error convention (0 on success, a negative PD_E*
 * code otherwise, pd_strerror for the text) and allocation wrappers that abort on
 * out-of-memory and check size multiplication, so callers never test malloc for NULL.
 */
#ifndef PD_H
#define PD_H

#include <stddef.h>

enum pd_err {
    PD_OK = 0,
    PD_ENOMEM = -1,
    PD_EINVAL = -2, /* bad input from a user, a file or a request */
    PD_EIO = -3,    /* a file or socket operation failed */
    PD_ENOTFOUND = -4,
    PD_EEXIST = -5,
    PD_EDB = -6, /* the store reported an error */
    PD_ETOOBIG = -7,
    PD_ECHECK = -8, /* a check digit or checksum does not match */
    PD_EFULL = -9,  /* disk or database full */
    PD_EBUSY = -10,
    PD_EPERM = -11,
    PD_ECORRUPT = -12 /* wrong key or damaged data */
};

const char *pd_strerror(int err);

void *pd_xmalloc(size_t n);
void *pd_xcalloc(size_t nmemb, size_t size);
void *pd_xrealloc(void *p, size_t n);
/* realloc for arrays: aborts when nmemb * size overflows */
void *pd_xreallocarray(void *p, size_t nmemb, size_t size);
char *pd_xstrdup(const char *s);
char *pd_xstrndup(const char *s, size_t n);

/* monotonic clock in microseconds, for durations */
long long pd_now_us(void);

/* wall clock, microseconds since 1970 UTC, for stored times and expiry. Test builds
 * (PD_FAULT_INJECTION) add PHARMDESK_TEST_CLOCK_OFFSET_S seconds, so that tests of retention
 * and expiry can step into the future without waiting. */
long long pd_wall_us(void);
/* us (from pd_wall_us) as UTC ISO 8601 with milliseconds: 2026-11-29T10:30:00.123Z */
void pd_iso_time(long long us, char out[32]);

/* n (at most 64) random bytes from the kernel's CSPRNG, read 512 at a time per thread: one
 * getrandom call per 32 conversation ids instead of one each. Bytes handed out are wiped from
 * the thread's buffer. For ids and tokens; keys use randombytes_buf directly. */
void pd_random(void *out, size_t n);

#define PD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PD_NORETURN __attribute__((noreturn))
#else
#define PD_PRINTF(f, a)
#define PD_NORETURN
#endif

#endif
