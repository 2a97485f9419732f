/*
 * jsonw: writes JSON text straight into a buf, for responses on hot paths, without building a
 * cJSON tree first (one node, key and value allocation each) and printing it. The text is byte
 * for byte what cJSON_PrintUnformatted prints for the same tree (strings escaped alike, numbers
 * formatted alike), so a handler can switch between the two without a client seeing a change;
 * tests/unit/test_jsonw.c holds the two side by side.
 *
 * Values go where the structure expects them: after jsonw_key inside an object, or as array
 * elements; commas are written as needed. Nesting deeper than JSONW_MAX_DEPTH aborts (a
 * programming error: responses are written by code, not from input).
 */
#ifndef PD_JSONW_H
#define PD_JSONW_H

#include "buf.h"

#define JSONW_MAX_DEPTH 16

typedef struct jsonw {
    buf *out;
    int depth;
    char close[JSONW_MAX_DEPTH];              /* '}' or ']' for each open level */
    unsigned char has_items[JSONW_MAX_DEPTH]; /* a value was written at this level */
    unsigned char after_key;                  /* the next value follows a key: no comma */
} jsonw;

void jsonw_init(jsonw *w, buf *out);
void jsonw_object(jsonw *w); /* { */
void jsonw_array(jsonw *w);  /* [ */
void jsonw_end(jsonw *w);    /* } or ] of the innermost open one */
void jsonw_key(jsonw *w, const char *key);
/* s NULL is written as "" (cJSON prints a string without text so) */
void jsonw_string(jsonw *w, const char *s);
void jsonw_bool(jsonw *w, int v);
void jsonw_null(jsonw *w);
/* a number as cJSON prints it (the double) */
void jsonw_number(jsonw *w, double v);
/* an amount in cents as a number of euros, cents / 100.0 as cJSON prints it, without printf */
void jsonw_cents(jsonw *w, long long cents);

/* text that is JSON already (cJSON_PrintUnformatted's), written as the value */
void jsonw_raw(jsonw *w, const char *json);

/* the string's JSON text, quotes included, appended to out (cJSON's escaping) */
void jsonw_put_string(buf *out, const char *s);

#endif
