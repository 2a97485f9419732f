#include "jsonw.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void jsonw_init(jsonw *w, buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

/* the separator before a value (or a key) at the current level */
static void before_value(jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            buf_putc(w->out, ',');
        w->has_items[w->depth - 1] = 1;
    }
}

static void open_level(jsonw *w, char open, char close)
{
    if (w->depth >= JSONW_MAX_DEPTH) {
        log_error("event=jsonw_too_deep depth=%d", w->depth);
        abort();
    }
    before_value(w);
    buf_putc(w->out, open);
    w->close[w->depth] = close;
    w->has_items[w->depth] = 0;
    w->depth++;
}

void jsonw_object(jsonw *w)
{
    open_level(w, '{', '}');
}

void jsonw_array(jsonw *w)
{
    open_level(w, '[', ']');
}

void jsonw_end(jsonw *w)
{
    if (w->depth == 0)
        return;
    w->depth--;
    buf_putc(w->out, w->close[w->depth]);
}

/* what a byte becomes in a JSON string as cJSON prints it: 0 itself, 'u' \u00XX, else \ and
 * that letter */
static const char escape_of[256] = {
    [1] = 'u',    [2] = 'u',    [3] = 'u',    [4] = 'u',   [5] = 'u',    [6] = 'u',    [7] = 'u',
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [11] = 'u',  ['\f'] = 'f', ['\r'] = 'r', [14] = 'u',
    [15] = 'u',   [16] = 'u',   [17] = 'u',   [18] = 'u',  [19] = 'u',   [20] = 'u',   [21] = 'u',
    [22] = 'u',   [23] = 'u',   [24] = 'u',   [25] = 'u',  [26] = 'u',   [27] = 'u',   [28] = 'u',
    [29] = 'u',   [30] = 'u',   [31] = 'u',   ['"'] = '"', ['\\'] = '\\'};

/* how many bytes from p on need no escape: eight at a time while none of them is below 0x20, a
 * quote or a backslash (the zero-byte test of each word, with false alarms only after a true
 * one, which the byte loop settles), then byte by byte */
static size_t plain_run(const unsigned char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v, q, b;
        memcpy(&v, p + i, 8);
        q = v ^ (0x22 * ones);
        b = v ^ (0x5c * ones);
        if (((v - 0x20 * ones) & ~v & high) | ((q - ones) & ~q & high) | ((b - ones) & ~b & high))
            break;
    }
    while (i < n && !escape_of[p[i]])
        i++;
    return i;
}

void jsonw_put_string(buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    buf_reserve(out, n + 2);
    buf_append(out, "\"", 1);
    for (;;) {
        /* the bytes that stay as they are, in one piece */
        size_t run = plain_run(p, n);
        if (run)
            buf_append(out, p, run);
        p += run;
        n -= run;
        if (!n)
            break;
        char e = escape_of[*p];
        if (e != 'u') {
            char esc[2] = {'\\', e};
            buf_append(out, esc, 2);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, u, 6);
        }
        p++;
        n--;
    }
    buf_append(out, "\"", 1);
}

void jsonw_key(jsonw *w, const char *key)
{
    before_value(w);
    jsonw_put_string(w->out, key);
    buf_append(w->out, ":", 1);
    w->after_key = 1;
}

void jsonw_string(jsonw *w, const char *s)
{
    before_value(w);
    jsonw_put_string(w->out, s);
}

void jsonw_bool(jsonw *w, int v)
{
    before_value(w);
    buf_puts(w->out, v ? "true" : "false");
}

void jsonw_null(jsonw *w)
{
    before_value(w);
    buf_puts(w->out, "null");
}

void jsonw_raw(jsonw *w, const char *json)
{
    before_value(w);
    buf_puts(w->out, json);
}

/* cJSON 1.7.15's print_number: an int when the double is one, else 15 significant digits if
 * they read back as the same double, else 17 */
void jsonw_number(jsonw *w, double d)
{
    char text[32];
    int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    before_value(w);
    if (isnan(d) || isinf(d)) {
        buf_puts(w->out, "null");
        return;
    }
    if (d == (double)vi) {
        snprintf(text, sizeof text, "%d", vi);
    } else {
        double test = 0.0;
        snprintf(text, sizeof text, "%1.15g", d);
        if (sscanf(text, "%lg", &test) != 1 ||
            !(fabs(test - d) <= (fabs(test) > fabs(d) ? fabs(test) : fabs(d)) * DBL_EPSILON))
            snprintf(text, sizeof text, "%1.17g", d);
    }
    buf_puts(w->out, text);
}

/*
 * cents / 100.0 is the double nearest to the decimal amount; with at most 15 significant digits
 * that decimal is exactly what "%1.15g" prints (and it reads back as the same double), and a
 * whole amount is what "%d" prints: so the decimal itself, trailing zeros dropped, is cJSON's
 * text. Larger amounts take cJSON's own way.
 */
void jsonw_cents(jsonw *w, long long cents)
{
    const long long limit = 1000000000000000LL; /* 10^15: at most 15 digits */
    if (cents <= -limit || cents >= limit) {
        jsonw_number(w, (double)cents / 100.0);
        return;
    }
    before_value(w);
    char digits[24], text[28];
    unsigned long long a = cents < 0 ? (unsigned long long)-cents : (unsigned long long)cents;
    unsigned long long whole = a / 100, frac = a % 100;
    int nd = 0, n = 0;
    do {
        digits[nd++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    if (cents < 0)
        text[n++] = '-';
    while (nd)
        text[n++] = digits[--nd];
    if (frac) {
        text[n++] = '.';
        text[n++] = (char)('0' + frac / 10);
        if (frac % 10)
            text[n++] = (char)('0' + frac % 10);
    }
    buf_append(w->out, text, (size_t)n);
}
