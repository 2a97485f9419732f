#include "orderno.h"

#include <string.h>

#include "pd.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* 1 when s[0..len) starts with a case-insensitive "AP" */
static int has_ap(const char *s, size_t len)
{
    return len >= 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'P' || s[1] == 'p');
}

/* the number of digits at s[0..len) */
static size_t digit_run(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && is_digit(s[n]))
        n++;
    return n;
}

static void canonical(const char *digits, char out[16])
{
    memcpy(out, "AP-", 3);
    memcpy(out + 3, digits, 6);
    out[ORDERNO_LEN] = '\0';
}

int orderno_parse(const char *s, size_t len, char out[16])
{
    size_t i = 0, end = len;

    if (!s)
        return PD_EINVAL;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    if (has_ap(s + i, end - i)) {
        i += 2;
        if (i < end && (s[i] == '-' || s[i] == ' '))
            i++;
    }
    if (end - i != 6 || digit_run(s + i, end - i) != 6)
        return PD_EINVAL;
    canonical(s + i, out);
    return 0;
}

/* a separator that joins two numbers into one longer number ("030 100231", "100231,50") */
static int is_joiner(char c)
{
    return c == ' ' || c == '-' || c == '/' || c == '.' || c == ',';
}

/* 1 when the 6-digit run text[start..end) stands alone */
static int stands_alone(const char *text, size_t len, size_t start, size_t end)
{
    if (start >= 1) {
        char b = text[start - 1];
        if (is_alpha(b) || b == '+')
            return 0;
        if (start >= 2 && is_joiner(b) && is_digit(text[start - 2]))
            return 0;
        if (start >= 2 && b == '-' && is_alpha(text[start - 2]))
            return 0; /* someone else's code, "XY-100231" */
    }
    if (end < len) {
        char a = text[end];
        if (is_alpha(a))
            return 0;
        if (end + 1 < len && is_joiner(a) && is_digit(text[end + 1]))
            return 0;
    }
    return 1;
}

size_t orderno_find(const char *text, size_t len, char out[16])
{
    if (!text || !out)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (has_ap(text + i, len - i) &&
            (i == 0 || (!is_alpha(text[i - 1]) && !is_digit(text[i - 1])))) {
            size_t j = i + 2;
            if (j < len && (text[j] == '-' || text[j] == ' '))
                j++;
            if (digit_run(text + j, len - j) == 6) {
                canonical(text + j, out);
                return 1;
            }
        }
        if (is_digit(text[i])) {
            size_t n = digit_run(text + i, len - i);
            if (n == 6 && stands_alone(text, len, i, i + n)) {
                canonical(text + i, out);
                return 1;
            }
            i += n - 1; /* skip the rest of the run */
        }
    }
    return 0;
}
