/*
 * fuzz_jsonin: decodes the input with jsonin_parse and checks it against a second, recursive
 * RFC 8259 checker written here (UTF-8 through text.c, an independent decoder): both must
 * agree, except that jsonin also refuses numbers that overflow a double. Every reason must be
 * one of ours (never body text), an accepted body must print and decode again to the same
 * text, and the getters run over the members of every accepted object.
 */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonin.h"
#include "pd.h"
#include "text.h"

/* ---- the reference checker: recursive descent, 1 valid, 0 not ---- */

typedef struct ref {
    const unsigned char *p;
    size_t n, i;
    int depth;
} ref;

static int ref_value(ref *r);

static int ref_peek(const ref *r)
{
    return r->i < r->n ? r->p[r->i] : -1;
}

static void ref_ws(ref *r)
{
    while (ref_peek(r) == ' ' || ref_peek(r) == '\t' || ref_peek(r) == '\n' || ref_peek(r) == '\r')
        r->i++;
}

static int ref_eat(ref *r, int c)
{
    if (ref_peek(r) != c)
        return 0;
    r->i++;
    return 1;
}

static int ref_hex4(ref *r, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = ref_peek(r);
        const char *digits = "0123456789abcdef";
        const char *d = c > 0 ? strchr(digits, c >= 'A' && c <= 'F' ? c + 32 : c) : NULL;
        if (!d || !*d)
            return 0;
        *v = *v * 16 + (unsigned)(d - digits);
        r->i++;
    }
    return 1;
}

static int ref_string(ref *r)
{
    if (!ref_eat(r, '"'))
        return 0;
    for (;;) {
        int c = ref_peek(r);
        if (c < 0x20) /* also the end of input */
            return 0;
        if (c == '"') {
            r->i++;
            return 1;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t len = text_utf8_decode((const char *)r->p + r->i, r->n - r->i, &cp);
            if (len == 0)
                return 0;
            r->i += len;
            continue;
        }
        r->i++;
        if (c != '\\')
            continue;
        c = ref_peek(r);
        if (c <= 0 || !strchr("\"\\/bfnrtu", c)) /* strchr finds the NUL too */
            return 0;
        r->i++;
        if (c != 'u')
            continue;
        unsigned v, w;
        if (!ref_hex4(r, &v) || (v >= 0xDC00 && v <= 0xDFFF))
            return 0;
        if (v >= 0xD800 && v <= 0xDBFF &&
            !(ref_eat(r, '\\') && ref_eat(r, 'u') && ref_hex4(r, &w) && w >= 0xDC00 && w <= 0xDFFF))
            return 0;
    }
}

static int ref_digits(ref *r)
{
    size_t start = r->i;
    while (ref_peek(r) >= '0' && ref_peek(r) <= '9')
        r->i++;
    return r->i > start;
}

static int ref_number(ref *r)
{
    ref_eat(r, '-');
    if (!ref_eat(r, '0') && !(ref_peek(r) >= '1' && ref_digits(r)))
        return 0;
    if (ref_eat(r, '.') && !ref_digits(r))
        return 0;
    if (ref_eat(r, 'e') || ref_eat(r, 'E')) {
        if (!ref_eat(r, '+'))
            ref_eat(r, '-');
        if (!ref_digits(r))
            return 0;
    }
    return 1;
}

static int ref_word(ref *r, const char *w)
{
    size_t l = strlen(w);
    if (r->n - r->i < l || memcmp(r->p + r->i, w, l) != 0)
        return 0;
    r->i += l;
    return 1;
}

static int ref_container(ref *r, int open)
{
    int close = open == '[' ? ']' : '}';
    int ok = 1;

    if (++r->depth > JSONIN_MAX_DEPTH)
        return 0;
    r->i++;
    ref_ws(r);
    if (!ref_eat(r, close)) {
        do {
            ref_ws(r);
            if (open == '{') {
                ok = ref_string(r);
                ref_ws(r);
                ok = ok && ref_eat(r, ':');
            }
            ok = ok && ref_value(r);
            ref_ws(r);
        } while (ok && ref_eat(r, ','));
        ok = ok && ref_eat(r, close);
    }
    r->depth--;
    return ok;
}

static int ref_value(ref *r)
{
    ref_ws(r);
    switch (ref_peek(r)) {
    case '[':
    case '{':
        return ref_container(r, ref_peek(r));
    case '"':
        return ref_string(r);
    case 't':
        return ref_word(r, "true");
    case 'f':
        return ref_word(r, "false");
    case 'n':
        return ref_word(r, "null");
    default:
        return ref_number(r);
    }
}

static int ref_valid(const uint8_t *data, size_t size)
{
    ref r = {data, size, 0, 0};
    if (!ref_value(&r))
        return 0;
    ref_ws(&r);
    return r.i == size;
}

/* ---- checks on jsonin's answers ---- */

/* every reason jsonin gives, without the " at byte N" that some carry */
static int known_reason(const char *why)
{
    static const char *const reasons[] = {
        "empty body",
        "byte order mark not allowed",
        "unexpected end of input",
        "nesting deeper than 64",
        "unexpected character",
        "invalid number",
        "invalid escape",
        "invalid \\u escape",
        "unpaired surrogate escape",
        "control character in string",
        "invalid UTF-8",
        "number out of range",
        "expected a JSON object",
    };
    const char *at = strstr(why, " at byte ");
    size_t len = at ? (size_t)(at - why) : strlen(why);

    if (at) {
        const char *d = at + strlen(" at byte ");
        REQUIRE(*d >= '0' && *d <= '9');
        while (*d >= '0' && *d <= '9')
            d++;
        REQUIRE(*d == '\0');
    }
    for (size_t k = 0; k < PD_ARRAY_LEN(reasons); k++)
        if (strlen(reasons[k]) == len && memcmp(reasons[k], why, len) == 0)
            return 1;
    return 0;
}

static void check_getters(const cJSON *root)
{
    for (const cJSON *c = root->child; c; c = c->next) {
        const char *s = NULL, *why = NULL;
        long v = 0;
        int b = 0, rc;

        if (!c->string)
            continue;
        rc = jsonin_get_string(root, c->string, 1, 8, &s, &why);
        REQUIRE(rc == 0 || rc == PD_EINVAL || rc == PD_ETOOBIG);
        REQUIRE(rc == 0 ? s && strlen(s) <= 8 && text_utf8_valid(s, strlen(s)) : s == NULL);
        REQUIRE(rc == 0 || why);
        rc = jsonin_get_int(root, c->string, 0, -1000, 1000, &v, &why);
        REQUIRE(rc == 0 || rc == PD_EINVAL);
        REQUIRE(v >= -1000 && v <= 1000);
        rc = jsonin_get_bool(root, c->string, 0, &b, &why);
        REQUIRE(rc == 0 || rc == PD_EINVAL);
        REQUIRE(b == 0 || b == 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = NULL, *again = NULL;
    const char *why = NULL;
    char *text = NULL, *text2 = NULL;

    int rc = jsonin_parse((const char *)data, size, &root, &why);
    REQUIRE(rc == 0 || rc == PD_EINVAL);
    if (rc != 0) {
        REQUIRE(root == NULL && why != NULL);
        REQUIRE(known_reason(why));
        /* the reference agrees, or the body is valid JSON with a number beyond a double */
        REQUIRE(!ref_valid(data, size) || strncmp(why, "number out of range", 19) == 0);
        return 0;
    }
    REQUIRE(root != NULL);
    REQUIRE(ref_valid(data, size));
    REQUIRE(text_utf8_valid((const char *)data, size));

    text = cJSON_PrintUnformatted(root);
    REQUIRE(text != NULL);
    rc = jsonin_parse(text, strlen(text), &again, &why);
    REQUIRE(rc == 0);
    text2 = cJSON_PrintUnformatted(again);
    REQUIRE(text2 != NULL && strcmp(text, text2) == 0);

    if (cJSON_IsObject(root))
        check_getters(root);

    cJSON_Delete(again);
    again = NULL;
    rc = jsonin_parse_object((const char *)data, size, &again, &why);
    REQUIRE(cJSON_IsObject(root) ? rc == 0 : rc == PD_EINVAL && again == NULL);

    cJSON_Delete(again);
    cJSON_Delete(root);
    free(text);
    free(text2);
    return 0;
}
