/*
 * check: the unit tests' tiny harness. CHECK records a failure with file and line and goes on;
 * CHECK_EQ_STR/CHECK_EQ_INT print both sides. main() ends with check_done(), which prints the
 * closing "N passed, N failed" line and returns the exit status.
 */
#ifndef PD_CHECK_H
#define PD_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass_n, check_fail_n;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_pass_n++;                                                                        \
        } else {                                                                                   \
            check_fail_n++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ == check_b_) {                                                                \
            check_pass_n++;                                                                        \
        } else {                                                                                   \
            check_fail_n++;                                                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    check_a_, check_b_);                                                           \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                             \
            check_pass_n++;                                                                        \
        } else {                                                                                   \
            check_fail_n++;                                                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");           \
        }                                                                                          \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass_n, check_fail_n);
    return check_fail_n ? 1 : 0;
}

#endif
