/*
 * orderno: the pharmacy's order numbers, "AP-" and six digits ("AP-100231"). Customers write
 * them as "ap100231", "AP 100231" or just "100231"; this module turns such spellings into the
 * canonical form and finds the first order number in a free-text message. It owns no memory.
 */
#ifndef PD_ORDERNO_H
#define PD_ORDERNO_H

#include <stddef.h>

/* canonical length, without the NUL: "AP-" + 6 digits */
#define ORDERNO_LEN 9

/*
 * Parses a whole string: an optional case-insensitive "AP", optionally followed by one '-' or
 * ' ', then exactly 6 digits; surrounding ASCII whitespace is ignored. Returns 0 and writes
 * the canonical "AP-100231" (NUL-terminated) to out; PD_EINVAL otherwise.
 */
int orderno_parse(const char *s, size_t len, char out[16]);

/*
 * Finds the first order number in free text and writes its canonical form to out: "AP" (not
 * inside a word) with an optional '-' or ' ' and exactly 6 digits ("Bestellung AP-100231?",
 * "ap100231"), or a bare run of exactly 6 digits that stands alone: no letter glued to it, not
 * part of a longer number (no digits joined to it by a space, '-', '/', '.', ',' or '+').
 * Returns 1 when found, else 0 (out untouched).
 */
size_t orderno_find(const char *text, size_t len, char out[16]);

#endif
