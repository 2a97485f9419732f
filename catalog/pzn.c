#include "pzn.h"

#include "pd.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int pzn_valid(uint32_t pzn)
{
    unsigned d[8];

    if (pzn == 0 || pzn > PZN_MAX)
        return 0;
    for (int i = 7; i >= 0; i--) {
        d[i] = pzn % 10;
        pzn /= 10;
    }
    unsigned sum = 0;
    for (int i = 0; i < 7; i++)
        sum += d[i] * (unsigned)(i + 1);
    unsigned rem = sum % 11;
    return rem != 10 && rem == d[7];
}

void pzn_format(uint32_t pzn, char out[9])
{
    pzn %= PZN_MAX + 1;
    for (int i = 7; i >= 0; i--) {
        out[i] = (char)('0' + pzn % 10);
        pzn /= 10;
    }
    out[8] = '\0';
}

int pzn_parse(const char *s, size_t len, uint32_t *out)
{
    size_t i = 0, end = len, ndigits = 0;
    uint32_t v = 0;

    if (!s)
        return PD_EINVAL;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    if (end - i >= 3 && lower(s[i]) == 'p' && lower(s[i + 1]) == 'z' && lower(s[i + 2]) == 'n') {
        i += 3;
        while (i < end && s[i] == ' ')
            i++;
        if (i < end && (s[i] == ':' || s[i] == '-'))
            i++;
        while (i < end && s[i] == ' ')
            i++;
    }
    /* groups of digits, each separated from the next by exactly one space or hyphen */
    for (;;) {
        if (i >= end || !is_digit(s[i]))
            return PD_EINVAL;
        while (i < end && is_digit(s[i])) {
            if (++ndigits > 8)
                return PD_EINVAL;
            v = v * 10 + (uint32_t)(s[i] - '0');
            i++;
        }
        if (i == end)
            break;
        if (s[i] != ' ' && s[i] != '-')
            return PD_EINVAL;
        i++;
    }
    if (ndigits < 7 || v == 0)
        return PD_EINVAL;
    if (!pzn_valid(v))
        return PD_ECHECK;
    *out = v;
    return 0;
}

/* the digits in s[0..n) as a number, separators skipped; at most 8 digits */
static uint32_t digits_value(const char *s, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        if (is_digit(s[i]))
            v = v * 10 + (uint32_t)(s[i] - '0');
    return v;
}

static int two_digits_in(const char *s, int lo, int hi)
{
    int v = (s[0] - '0') * 10 + (s[1] - '0');
    return v >= lo && v <= hi;
}

/* 1 when the run text[start..end) is shaped like an ISO date, YYYY-MM-DD */
static int is_iso_date(const char *text, size_t start, size_t end)
{
    const char *p = text + start;
    if (end - start != 10 || p[4] != '-' || p[7] != '-')
        return 0;
    return two_digits_in(p + 5, 1, 12) && two_digits_in(p + 8, 1, 31);
}

/* 1 when the run text[start..end) continues a longer number: a phone number, a decimal */
static int is_glued(const char *text, size_t len, size_t start, size_t end)
{
    if (start >= 1 && text[start - 1] == '+')
        return 1;
    if (start >= 2 &&
        (text[start - 1] == '/' || text[start - 1] == '.' || text[start - 1] == ')') &&
        is_digit(text[start - 2]))
        return 1;
    if (start >= 3 && text[start - 1] == ' ' && text[start - 2] == ')' && is_digit(text[start - 3]))
        return 1;
    if (end + 1 < len && (text[end] == '/' || text[end] == '.') && is_digit(text[end + 1]))
        return 1;
    return 0;
}

/* stores pzn unless it is invalid or already stored; returns the new count */
static size_t add_found(uint32_t pzn, uint32_t *out, size_t n)
{
    if (!pzn_valid(pzn))
        return n;
    for (size_t k = 0; k < n; k++)
        if (out[k] == pzn)
            return n;
    out[n] = pzn;
    return n + 1;
}

size_t pzn_find(const char *text, size_t len, uint32_t *out, size_t max)
{
    size_t n = 0, i = 0;

    if (!text || !out || max == 0)
        return 0;
    while (i < len && n < max) {
        if (!is_digit(text[i])) {
            i++;
            continue;
        }
        /* i starts a run: digit groups joined by single spaces or hyphens */
        size_t start = i, total = 0, nbig = 0;
        int others_small = 1;
        for (;;) {
            size_t g = i;
            while (i < len && is_digit(text[i]))
                i++;
            size_t glen = i - g;
            total += glen;
            if (glen == 7 || glen == 8)
                nbig++;
            else if (glen > 3 || text[g] == '0')
                others_small = 0;
            if (i + 1 < len && (text[i] == ' ' || text[i] == '-') && is_digit(text[i + 1])) {
                i++;
                continue;
            }
            break;
        }
        size_t end = i;
        if (is_glued(text, len, start, end))
            continue;
        if (total == 7 || total == 8) {
            if (!is_iso_date(text, start, end))
                n = add_found(digits_value(text + start, end - start), out, n);
            continue;
        }
        if (nbig == 0 || !others_small)
            continue;
        /* a PZN next to small numbers ("2 81287667 400"): take the 7- and 8-digit groups */
        for (size_t g = start; g < end && n < max;) {
            size_t e = g;
            while (e < end && is_digit(text[e]))
                e++;
            if (e - g == 7 || e - g == 8)
                n = add_found(digits_value(text + g, e - g), out, n);
            g = e + 1;
        }
    }
    return n;
}
