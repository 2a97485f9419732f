/*
 * text: the UTF-8 handling that search and the guard share. Validation, and a folding that
 * makes the spellings customers type compare equal: lower case, umlauts and their digraphs
 * (ä = ae = a), ß = ss, accents stripped, punctuation to spaces, "400mg" split into "400 mg",
 * decimal commas kept as "0.1". Folding is a pure function of its input; no locale involved.
 */
#ifndef PD_TEXT_H
#define PD_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF) */
int text_utf8_valid(const char *s, size_t len);

/* decodes one code point at s; returns the bytes used, 0 for an invalid or truncated sequence */
size_t text_utf8_decode(const char *s, size_t len, uint32_t *cp);

/*
 * Appends the folded form of s to out: tokens of [a-z0-9.] separated by single spaces, no
 * leading or trailing space. Invalid UTF-8 bytes act as separators.
 */
void text_fold(const char *s, size_t len, buf *out);

typedef struct text_token {
    const char *p;
    size_t len;
} text_token;

/* splits folded text at spaces; returns the number of tokens (at most max are stored) */
size_t text_tokens(const char *folded, size_t len, text_token *out, size_t max);

/* 1 when the token is all digits (with at most one inner '.') */
int text_is_number(const char *p, size_t len);

#endif
