#include "text.h"

#include <string.h>

size_t text_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if ((u[0] & 0xE0) == 0xC0) {
        n = 2, c = u[0] & 0x1F, min = 0x80;
    } else if ((u[0] & 0xF0) == 0xE0) {
        n = 3, c = u[0] & 0x0F, min = 0x800;
    } else if ((u[0] & 0xF8) == 0xF0) {
        n = 4, c = u[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

int text_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = text_utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/*
 * Maps a code point to its folded ASCII letters (lower case, diacritics removed). Returns the
 * replacement, "" for a separator. Covers Latin-1, Latin Extended-A's common letters and the
 * micro sign, which is what German product names and customer messages use.
 */
static const char *fold_cp(uint32_t cp, char one[2])
{
    if (cp < 0x80) {
        char c = (char)cp;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            one[0] = c;
            one[1] = '\0';
            return one;
        }
        return "";
    }
    switch (cp) {
    case 0xC4:
    case 0xE4:
    case 0xC0:
    case 0xE0:
    case 0xC1:
    case 0xE1:
    case 0xC2:
    case 0xE2:
    case 0xC3:
    case 0xE3:
    case 0xC5:
    case 0xE5:
    case 0x100:
    case 0x101:
        return "a";
    case 0xC6:
    case 0xE6:
        return "a";
    case 0xC7:
    case 0xE7:
    case 0x10C:
    case 0x10D:
    case 0x106:
    case 0x107:
        return "c";
    case 0xC8:
    case 0xE8:
    case 0xC9:
    case 0xE9:
    case 0xCA:
    case 0xEA:
    case 0xCB:
    case 0xEB:
    case 0x11A:
    case 0x11B:
    case 0x118:
    case 0x119:
        return "e";
    case 0xCC:
    case 0xEC:
    case 0xCD:
    case 0xED:
    case 0xCE:
    case 0xEE:
    case 0xCF:
    case 0xEF:
    case 0x130:
    case 0x131:
        return "i";
    case 0xD1:
    case 0xF1:
    case 0x143:
    case 0x144:
    case 0x147:
    case 0x148:
        return "n";
    case 0xD6:
    case 0xF6:
    case 0xD2:
    case 0xF2:
    case 0xD3:
    case 0xF3:
    case 0xD4:
    case 0xF4:
    case 0xD5:
    case 0xF5:
    case 0xD8:
    case 0xF8:
    case 0x152:
    case 0x153:
        return "o";
    case 0xDC:
    case 0xFC:
    case 0xD9:
    case 0xF9:
    case 0xDA:
    case 0xFA:
    case 0xDB:
    case 0xFB:
    case 0xB5:
    case 0x3BC: /* micro sign and Greek mu: "µg" = "ug" */
        return "u";
    case 0xDD:
    case 0xFD:
    case 0xFF:
        return "y";
    case 0xDF:
    case 0x1E9E:
        return "ss";
    case 0x160:
    case 0x161:
    case 0x15A:
    case 0x15B:
    case 0x15E:
    case 0x15F:
        return "s";
    case 0x17D:
    case 0x17E:
    case 0x179:
    case 0x17A:
    case 0x17B:
    case 0x17C:
        return "z";
    case 0x141:
    case 0x142:
        return "l";
    case 0x158:
    case 0x159:
        return "r";
    default:
        return "";
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

void text_fold(const char *s, size_t len, buf *out)
{
    size_t start = out->len;
    buf_reserve(out, len + 8);
    char prev = ' '; /* last byte written: ' ' at a token boundary */
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = text_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            cp = ' ';
            n = 1;
        }
        /* a decimal separator between digits stays inside the number: "0,1" -> "0.1" */
        if ((cp == ',' || cp == '.') && is_digit(prev) && i + 1 < len && is_digit(s[i + 1])) {
            buf_putc(out, '.');
            prev = '.';
            i += n;
            continue;
        }
        char one[2];
        const char *rep = fold_cp(cp, one);
        if (*rep == '\0') {
            if (prev != ' ') {
                buf_putc(out, ' ');
                prev = ' ';
            }
            i += n;
            continue;
        }
        for (; *rep; rep++) {
            char c = *rep;
            int digit = is_digit(c);
            /* split at letter/digit changes so "400mg" matches "400 mg" */
            if (prev != ' ' && prev != '.' && digit != is_digit(prev)) {
                buf_putc(out, ' ');
                prev = ' ';
            }
            /* the digraphs ae, oe, ue are umlauts spelled without the keyboard: fold to a, o, u */
            if (c == 'e' && (prev == 'a' || prev == 'o' || prev == 'u'))
                continue;
            buf_putc(out, c);
            prev = c;
        }
        i += n;
    }
    if (out->len > start && out->data[out->len - 1] == ' ') {
        out->len--;
        out->data[out->len] = '\0';
    }
}

size_t text_tokens(const char *folded, size_t len, text_token *out, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && folded[i] == ' ')
            i++;
        size_t b = i;
        while (i < len && folded[i] != ' ')
            i++;
        if (i > b) {
            if (n < max) {
                out[n].p = folded + b;
                out[n].len = i - b;
            }
            n++;
        }
    }
    return n;
}

int text_is_number(const char *p, size_t len)
{
    int dots = 0;
    if (len == 0 || !is_digit(p[0]) || !is_digit(p[len - 1]))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '.') {
            if (++dots > 1)
                return 0;
        } else if (!is_digit(p[i])) {
            return 0;
        }
    }
    return 1;
}
