/*
 * jsonin: the request body decoder. A strict RFC 8259 validator runs over the raw bytes first
 * (grammar, UTF-8, escapes and surrogate pairs, nesting depth, nothing after the value), then
 * every number's range is checked, because cJSON's own parser is lax; only then does cJSON
 * build the tree. Typed getters give handlers checked strings, integers and booleans.
 */
#ifndef PD_JSONIN_H
#define PD_JSONIN_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "pd.h"

/* the deepest nesting of arrays and objects accepted; "[[1]]" has depth 2 */
#define JSONIN_MAX_DEPTH 64

/*
 * Reasons (*why, when why is not NULL) are short English text safe to show a client: they
 * never quote the body, only byte offsets (counted from 0) and our own field names. *why is a
 * static string or per-thread storage that the next jsonin_ call in the same thread reuses.
 */

/*
 * Decodes body[0..len) (need not be NUL-terminated) into *out; the caller frees it with
 * cJSON_Delete. PD_EINVAL for a body that is not strict JSON: empty, a byte order mark,
 * invalid UTF-8, a raw control character in a string, a bad escape, an unpaired surrogate
 * escape, a number that is malformed or overflows a double (underflow to 0 is fine), nesting
 * deeper than JSONIN_MAX_DEPTH or anything but whitespace after the value. PD_ENOMEM when cJSON
 * cannot allocate. *out is NULL on every error. Numbers are read with strtod: the process must
 * keep the "C" LC_NUMERIC locale.
 *
 * Items of the tree carry private flag bits in `type` above cJSON's own (cJSON and its
 * cJSON_Is* tests mask them off with 0xFF): the getters use them to tell 1 from 1.0 and to
 * see "\u0000" in strings and member names, which cJSON's NUL-terminated strings lose.
 */
int jsonin_parse(const char *body, size_t len, cJSON **out, const char **why);

/* like jsonin_parse, and PD_EINVAL "expected a JSON object" for any other top-level value */
int jsonin_parse_object(const char *body, size_t len, cJSON **out, const char **why);

/*
 * The getters look key up in the object obj case-sensitively. A member that appears more than
 * once is PD_EINVAL ("field 'x' appears more than once"); a member name containing "\u0000"
 * never matches. JSON null counts as absent. An absent member is PD_EINVAL ("field 'x' is
 * required") when required, otherwise 0 with *out as described per getter. obj not being an
 * object is PD_EINVAL "expected a JSON object".
 */

/*
 * A string of at most max_len bytes (UTF-8, valid by construction): *out points into obj.
 * Absent and optional: *out = NULL. Not a string: PD_EINVAL; longer: PD_ETOOBIG; containing
 * "\u0000": PD_EINVAL.
 */
int jsonin_get_string(const cJSON *obj, const char *key, int required, size_t max_len,
                      const char **out, const char **why);

/*
 * An integer written without fraction or exponent ("1.0" and "1e2" are refused), with
 * min <= value <= max and |value| < 2^53 (exact in a double). Absent and optional: *out is
 * left unchanged, so it can hold a default. For trees not made by jsonin_parse, any integral
 * number is accepted.
 */
int jsonin_get_int(const cJSON *obj, const char *key, int required, long min, long max, long *out,
                   const char **why);

/* the literal true or false, as 1 or 0. Absent and optional: *out is left unchanged. */
int jsonin_get_bool(const cJSON *obj, const char *key, int required, int *out, const char **why);

#endif
