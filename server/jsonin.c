#include "jsonin.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Private flag bits in cJSON's `type`. cJSON keeps its types in the low byte and uses 256 and
 * 512 for references and constant strings; every test it makes masks with 0xFF or those two
 * bits, and cJSON_Duplicate keeps the others.
 */
#define F_NOT_INT (1 << 12) /* a number written with a fraction or an exponent */
#define F_NUL (1 << 13)     /* a string value that contains "\u0000" */
#define F_KEY_NUL (1 << 14) /* a member whose name contains "\u0000" */

/* the longest number cJSON 1.7.15 parses: it copies at most 63 bytes before calling strtod */
#define CJSON_NUMBER_MAX 63

/* below 2^53 every integer is exact in a double */
#define EXACT_INT_LIMIT 9007199254740992.0

#define STR_(x) #x
#define STR(x) STR_(x)

static _Thread_local char why_buf[160];

static const char *why_at(const char *what, size_t at)
{
    int n = snprintf(why_buf, sizeof why_buf, "%s at byte %zu", what, at);
    assert(n > 0 && (size_t)n < sizeof why_buf);
    (void)n;
    return why_buf;
}

/* keys are ours, but a typo'd long one must not truncate the message */
static const char *why_field(const char *key, const char *what)
{
    int n = snprintf(why_buf, sizeof why_buf, "field '%.40s' %s", key, what);
    assert(n > 0 && (size_t)n < sizeof why_buf);
    (void)n;
    return why_buf;
}

static void set_why(const char **why, const char *text)
{
    if (why)
        *why = text;
}

/* ---- the validator: one pass over the raw bytes, no allocation ---- */

typedef struct scan {
    const unsigned char *p;
    size_t len;
    size_t i;
    const char *why;
} scan;

static int fail_at(scan *s, const char *what, size_t at)
{
    s->why = why_at(what, at);
    return PD_EINVAL;
}

static int fail_end(scan *s)
{
    s->why = "unexpected end of input";
    return PD_EINVAL;
}

static void skip_ws(scan *s)
{
    while (s->i < s->len) {
        unsigned char c = s->p[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->i++;
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Length of the well-formed UTF-8 sequence of a non-ASCII lead byte at p (Unicode table 3-7:
 * no overlongs, no encoded surrogates, nothing above U+10FFFF), 0 for an invalid or truncated
 * one.
 */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char b0 = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* the four hex digits of the \u escape at `at` (the backslash) */
static int read_u(scan *s, size_t at, unsigned *cp)
{
    unsigned v = 0;
    for (size_t k = 2; k < 6; k++) {
        if (at + k >= s->len)
            return fail_end(s);
        int h = hex_val(s->p[at + k]);
        if (h < 0)
            return fail_at(s, "invalid \\u escape", at);
        v = v << 4 | (unsigned)h;
    }
    *cp = v;
    return 0;
}

/* the escape at s->i (the backslash); a \u high surrogate must be followed by a low one */
static int scan_escape(scan *s)
{
    size_t at = s->i;
    unsigned cp, lo;
    int rc;

    if (at + 1 >= s->len)
        return fail_end(s);
    switch (s->p[at + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        s->i += 2;
        return 0;
    case 'u':
        break;
    default:
        return fail_at(s, "invalid escape", at);
    }
    if ((rc = read_u(s, at, &cp)) != 0)
        return rc;
    s->i = at + 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail_at(s, "unpaired surrogate escape", at);
    if (cp < 0xD800 || cp > 0xDBFF)
        return 0;
    if (s->i >= s->len)
        return fail_end(s);
    if (s->p[s->i] != '\\')
        return fail_at(s, "unpaired surrogate escape", at);
    if (s->i + 1 >= s->len)
        return fail_end(s);
    if (s->p[s->i + 1] != 'u')
        return fail_at(s, "unpaired surrogate escape", at);
    if ((rc = read_u(s, s->i, &lo)) != 0)
        return rc;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail_at(s, "unpaired surrogate escape", at);
    s->i += 6;
    return 0;
}

static int scan_string(scan *s)
{
    s->i++; /* the opening quote */
    for (;;) {
        if (s->i >= s->len)
            return fail_end(s);
        unsigned char c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return 0;
        }
        if (c == '\\') {
            int rc = scan_escape(s);
            if (rc)
                return rc;
        } else if (c < 0x20) {
            return fail_at(s, "control character in string", s->i);
        } else if (c < 0x80) {
            s->i++;
        } else {
            size_t n = utf8_len(s->p + s->i, s->len - s->i);
            if (n == 0)
                return fail_at(s, "invalid UTF-8", s->i);
            s->i += n;
        }
    }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; the range is checked after the copy */
static int scan_number(scan *s)
{
    const unsigned char *p = s->p;
    size_t start = s->i, i = s->i, len = s->len;

    if (p[i] == '-')
        i++;
    if (i >= len)
        return fail_end(s);
    if (p[i] == '0') {
        i++;
    } else if (is_digit(p[i])) {
        while (i < len && is_digit(p[i]))
            i++;
    } else {
        return fail_at(s, "invalid number", start);
    }
    if (i < len && p[i] == '.') {
        i++;
        if (i >= len)
            return fail_end(s);
        if (!is_digit(p[i]))
            return fail_at(s, "invalid number", start);
        while (i < len && is_digit(p[i]))
            i++;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= len)
            return fail_end(s);
        if (!is_digit(p[i]))
            return fail_at(s, "invalid number", start);
        while (i < len && is_digit(p[i]))
            i++;
    }
    s->i = i;
    return 0;
}

static int scan_literal(scan *s, const char *lit)
{
    for (size_t k = 0; lit[k]; k++) {
        if (s->i >= s->len)
            return fail_end(s);
        if (s->p[s->i] != (unsigned char)lit[k])
            return fail_at(s, "unexpected character", s->i);
        s->i++;
    }
    return 0;
}

static int scan_scalar(scan *s)
{
    unsigned char c = s->p[s->i];
    if (c == '"')
        return scan_string(s);
    if (c == '-' || is_digit(c))
        return scan_number(s);
    if (c == 't')
        return scan_literal(s, "true");
    if (c == 'f')
        return scan_literal(s, "false");
    if (c == 'n')
        return scan_literal(s, "null");
    return fail_at(s, "unexpected character", s->i);
}

enum scan_state { WANT_VALUE, WANT_KEY, AFTER_VALUE };

/* the whole grammar, iteratively: stack[] holds the open '{' and '[' */
static int validate(const unsigned char *p, size_t len, const char **why)
{
    scan s = {p, len, 0, NULL};
    unsigned char stack[JSONIN_MAX_DEPTH];
    size_t depth = 0;
    enum scan_state state = WANT_VALUE;
    int rc = 0;

    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        s.why = "byte order mark not allowed";
        rc = PD_EINVAL;
        goto out;
    }
    skip_ws(&s);
    if (s.i == len) {
        s.why = "empty body";
        rc = PD_EINVAL;
        goto out;
    }
    for (;;) {
        skip_ws(&s);
        if (state == AFTER_VALUE && depth == 0) {
            if (s.i < len)
                rc = fail_at(&s, "unexpected character", s.i);
            goto out;
        }
        if (s.i >= len) {
            rc = fail_end(&s);
            goto out;
        }
        unsigned char c = p[s.i];
        if (state == WANT_VALUE && (c == '[' || c == '{')) {
            if (depth == JSONIN_MAX_DEPTH) {
                s.why = "nesting deeper than " STR(JSONIN_MAX_DEPTH);
                rc = PD_EINVAL;
                goto out;
            }
            stack[depth++] = c;
            s.i++;
            skip_ws(&s);
            if (s.i < len && p[s.i] == (c == '[' ? ']' : '}')) {
                s.i++;
                depth--;
                state = AFTER_VALUE;
            } else {
                state = c == '[' ? WANT_VALUE : WANT_KEY;
            }
        } else if (state == WANT_VALUE) {
            if ((rc = scan_scalar(&s)) != 0)
                goto out;
            state = AFTER_VALUE;
        } else if (state == WANT_KEY) {
            if (c != '"') {
                rc = fail_at(&s, "unexpected character", s.i);
                goto out;
            }
            if ((rc = scan_string(&s)) != 0)
                goto out;
            skip_ws(&s);
            if (s.i >= len) {
                rc = fail_end(&s);
                goto out;
            }
            if (p[s.i] != ':') {
                rc = fail_at(&s, "unexpected character", s.i);
                goto out;
            }
            s.i++;
            state = WANT_VALUE;
        } else {
            unsigned char open = stack[depth - 1];
            if (c == ',') {
                s.i++;
                state = open == '[' ? WANT_VALUE : WANT_KEY;
            } else if (c == (open == '[' ? ']' : '}')) {
                s.i++;
                depth--;
            } else {
                rc = fail_at(&s, "unexpected character", s.i);
                goto out;
            }
        }
    }
out:
    set_why(why, s.why);
    return rc;
}

/* ---- passes over the validated, NUL-terminated copy ---- */

static size_t skip_ws_z(const char *t, size_t i)
{
    while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')
        i++;
    return i;
}

/* the string at t[i] (its opening quote); sets *nul when it contains "\u0000" */
static size_t skip_string_z(const char *t, size_t i, int *nul)
{
    for (i++; t[i] != '"'; i++) {
        if (t[i] != '\\')
            continue;
        if (t[i + 1] == 'u') {
            if (memcmp(t + i + 2, "0000", 4) == 0)
                *nul = 1;
            i += 5;
        } else {
            i++;
        }
    }
    return i + 1;
}

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * Checks every number's range with strtod, as cJSON will read it, and rewrites numbers longer
 * than cJSON can take (it would silently truncate them) as "%.17e" padded with spaces: the
 * same double, and still marked as not an integer by mark(). Assumes LC_NUMERIC is "C".
 */
static int prepare(char *t, size_t len, const char **why)
{
    size_t i = 0;
    while (i < len) {
        char c = t[i];
        if (c == '"') {
            int nul = 0;
            i = skip_string_z(t, i, &nul);
            continue;
        }
        if (c != '-' && !(c >= '0' && c <= '9')) {
            i++;
            continue;
        }
        size_t n = 0;
        while (is_number_char(t[i + n]))
            n++;
        char *end = NULL;
        double d = strtod(t + i, &end);
        if (!isfinite(d)) {
            set_why(why, why_at("number out of range", i));
            return PD_EINVAL;
        }
        assert(end == t + i + n);
        if (n > CJSON_NUMBER_MAX) {
            char tmp[40];
            int w = snprintf(tmp, sizeof tmp, "%.17e", d);
            assert(w > 0 && (size_t)w < sizeof tmp && (size_t)w < n);
            memcpy(t + i, tmp, (size_t)w);
            memset(t + i + w, ' ', n - (size_t)w);
        }
        i += n;
    }
    return 0;
}

#define MARK_FAIL SIZE_MAX

/*
 * Walks the text and the tree cJSON made of it together, in document order, and sets the
 * private flags. Returns the offset after the value, MARK_FAIL if text and tree disagree.
 */
static size_t mark(const char *t, size_t i, cJSON *item)
{
    int nul = 0;

    if (!item)
        return MARK_FAIL;
    i = skip_ws_z(t, i);
    switch (t[i]) {
    case '[':
    case '{': {
        char close = t[i] == '[' ? ']' : '}';
        if (close == ']' ? !cJSON_IsArray(item) : !cJSON_IsObject(item))
            return MARK_FAIL;
        cJSON *child = item->child;
        i = skip_ws_z(t, i + 1);
        if (t[i] == close)
            return child ? MARK_FAIL : i + 1;
        for (;;) {
            if (!child)
                return MARK_FAIL;
            if (close == '}') {
                nul = 0;
                i = skip_string_z(t, skip_ws_z(t, i), &nul);
                if (nul)
                    child->type |= F_KEY_NUL;
                i = skip_ws_z(t, i) + 1; /* the ':' */
            }
            i = mark(t, i, child);
            if (i == MARK_FAIL)
                return MARK_FAIL;
            i = skip_ws_z(t, i);
            child = child->next;
            if (t[i++] == close)
                return child ? MARK_FAIL : i;
        }
    }
    case '"':
        if (!cJSON_IsString(item))
            return MARK_FAIL;
        i = skip_string_z(t, i, &nul);
        if (nul)
            item->type |= F_NUL;
        return i;
    case 't':
        return cJSON_IsTrue(item) ? i + 4 : MARK_FAIL;
    case 'f':
        return cJSON_IsFalse(item) ? i + 5 : MARK_FAIL;
    case 'n':
        return cJSON_IsNull(item) ? i + 4 : MARK_FAIL;
    default:
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
            return MARK_FAIL;
        for (; is_number_char(t[i]); i++)
            if (t[i] == '.' || t[i] == 'e' || t[i] == 'E')
                item->type |= F_NOT_INT;
        return i;
    }
}

int jsonin_parse(const char *body, size_t len, cJSON **out, const char **why)
{
    char *copy = NULL;
    cJSON *root = NULL;
    int rc;

    assert(out && (body || len == 0));
    *out = NULL;
    if ((rc = validate((const unsigned char *)body, len, why)) != 0)
        goto out;
    if (len == SIZE_MAX) {
        rc = PD_ETOOBIG;
        set_why(why, "body too large");
        goto out;
    }
    copy = pd_xmalloc(len + 1);
    memcpy(copy, body, len);
    copy[len] = '\0';
    if ((rc = prepare(copy, len, why)) != 0)
        goto out;
    /* after validation cJSON fails only when an allocation fails */
    root = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
    if (!root) {
        rc = PD_ENOMEM;
        set_why(why, "out of memory");
        goto out;
    }
    if (mark(copy, 0, root) == MARK_FAIL) {
        assert(!"jsonin: cJSON's tree does not match the validated text");
        rc = PD_EINVAL;
        set_why(why, "JSON could not be decoded");
        goto out;
    }
    *out = root;
    root = NULL;
out:
    cJSON_Delete(root);
    free(copy);
    return rc;
}

int jsonin_parse_object(const char *body, size_t len, cJSON **out, const char **why)
{
    int rc = jsonin_parse(body, len, out, why);
    if (rc == 0 && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        set_why(why, "expected a JSON object");
        rc = PD_EINVAL;
    }
    return rc;
}

/* ---- getters ---- */

/* the member named key (NULL when absent or null), or PD_EINVAL */
static int member(const cJSON *obj, const char *key, int required, const cJSON **item,
                  const char **why)
{
    const cJSON *found = NULL;

    assert(key);
    *item = NULL;
    if (!cJSON_IsObject(obj)) {
        set_why(why, "expected a JSON object");
        return PD_EINVAL;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        if ((c->type & F_KEY_NUL) || !c->string || strcmp(c->string, key) != 0)
            continue;
        if (found) {
            set_why(why, why_field(key, "appears more than once"));
            return PD_EINVAL;
        }
        found = c;
    }
    if (found && cJSON_IsNull(found))
        found = NULL;
    if (!found && required) {
        set_why(why, why_field(key, "is required"));
        return PD_EINVAL;
    }
    *item = found;
    return 0;
}

int jsonin_get_string(const cJSON *obj, const char *key, int required, size_t max_len,
                      const char **out, const char **why)
{
    const cJSON *item;
    int rc;

    *out = NULL;
    if ((rc = member(obj, key, required, &item, why)) != 0 || !item)
        return rc;
    if (!cJSON_IsString(item) || !item->valuestring) {
        set_why(why, why_field(key, "must be a string"));
        return PD_EINVAL;
    }
    if (item->type & F_NUL) {
        set_why(why, why_field(key, "must not contain a NUL character"));
        return PD_EINVAL;
    }
    if (strlen(item->valuestring) > max_len) {
        char what[64];
        int n = snprintf(what, sizeof what, "is longer than %zu bytes", max_len);
        assert(n > 0 && (size_t)n < sizeof what);
        (void)n;
        set_why(why, why_field(key, what));
        return PD_ETOOBIG;
    }
    *out = item->valuestring;
    return 0;
}

int jsonin_get_int(const cJSON *obj, const char *key, int required, long min, long max, long *out,
                   const char **why)
{
    const cJSON *item;
    int rc;

    assert(min <= max);
    if ((rc = member(obj, key, required, &item, why)) != 0 || !item)
        return rc;
    if (!cJSON_IsNumber(item)) {
        set_why(why, why_field(key, "must be an integer"));
        return PD_EINVAL;
    }
    double d = item->valuedouble;
    if (!(fabs(d) < EXACT_INT_LIMIT)) {
        set_why(why, why_field(key, "is out of range"));
        return PD_EINVAL;
    }
    /* |d| < 2^53: the cast keeps an integer exact and cuts a fraction off */
    if ((item->type & F_NOT_INT) || (double)(long long)d != d) {
        set_why(why, why_field(key, "must be an integer"));
        return PD_EINVAL;
    }
    /* compared as doubles, so the conversion below cannot overflow even with a 32-bit long */
    if (d < (double)min || d > (double)max) {
        char what[80];
        int n = snprintf(what, sizeof what, "must be between %ld and %ld", min, max);
        assert(n > 0 && (size_t)n < sizeof what);
        (void)n;
        set_why(why, why_field(key, what));
        return PD_EINVAL;
    }
    *out = (long)d;
    return 0;
}

int jsonin_get_bool(const cJSON *obj, const char *key, int required, int *out, const char **why)
{
    const cJSON *item;
    int rc;

    if ((rc = member(obj, key, required, &item, why)) != 0 || !item)
        return rc;
    if (!cJSON_IsBool(item)) {
        set_why(why, why_field(key, "must be true or false"));
        return PD_EINVAL;
    }
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}
