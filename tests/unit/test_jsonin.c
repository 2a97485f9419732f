/*
 * Tests for jsonin: the JSONTestSuite files (argv[1] is their directory), then one table row
 * per validator rule with the exact reason a client sees, then the getters.
 *
 * Our decisions on the suite's i_ files (the parser may accept or reject them):
 * - surrogates: every lone, reversed or mismatched \uD800-\uDFFF escape is rejected, and so is
 *   a surrogate encoded in UTF-8 (cJSON would turn such escapes into invalid UTF-8 or fail);
 * - invalid UTF-8, ISO Latin-1, UTF-16 with or without a BOM, a UTF-8 BOM: rejected;
 * - 500 nested arrays: rejected (JSONIN_MAX_DEPTH is 64);
 * - numbers that overflow a double: rejected ("number out of range"); numbers that underflow
 *   become 0 and integers beyond 2^53 are kept as doubles: accepted, and jsonin_get_int
 *   refuses the latter.
 * i_accepted[] lists the i_ files we accept; every other i_ file must be rejected.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "buf.h"
#include "check.h"
#include "jsonin.h"
#include "pd.h"

static const char *const i_accepted[] = {
    "i_number_double_huge_neg_exp.json",   "i_number_real_underflow.json",
    "i_number_too_big_neg_int.json",       "i_number_too_big_pos_int.json",
    "i_number_very_big_negative_int.json",
};

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;

    if (!f)
        return PD_EIO;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    int rc = ferror(f) ? PD_EIO : 0;
    fclose(f);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_i_accepted(const char *name)
{
    for (size_t k = 0; k < PD_ARRAY_LEN(i_accepted); k++)
        if (strcmp(name, i_accepted[k]) == 0)
            return 1;
    return 0;
}

/*
 * Whatever jsonin accepts, cJSON prints as JSON that jsonin accepts again and that prints the
 * same (cJSON_Compare cannot be used: it looks members up by name, duplicates included).
 */
static void check_round_trip(const cJSON *root, const char *name)
{
    char *text = cJSON_PrintUnformatted(root), *text2 = NULL;
    cJSON *again = NULL;
    const char *why = NULL;
    int rc = PD_EINVAL;

    CHECK(text != NULL);
    if (!text)
        return;
    rc = jsonin_parse(text, strlen(text), &again, &why);
    if (rc == 0)
        text2 = cJSON_PrintUnformatted(again);
    if (rc != 0 || !text2 || strcmp(text, text2) != 0) {
        fprintf(stderr, "%s: round trip failed (%s)\n", name, rc ? why : "differs");
        CHECK(0);
    }
    cJSON_Delete(again);
    free(text);
    free(text2);
}

static void test_suite(const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t nnames = 0;
    int y_n = 0, y_ok = 0, n_n = 0, n_ok = 0, i_n = 0, i_yes = 0, i_no = 0;
    buf path = BUF_INIT, body = BUF_INIT;

    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        CHECK(d != NULL);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 5, ".json") != 0 || e->d_name[1] != '_')
            continue;
        names = pd_xreallocarray(names, nnames + 1, sizeof *names);
        names[nnames++] = pd_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, nnames, sizeof *names, cmp_names);

    for (size_t k = 0; k < nnames; k++) {
        const char *name = names[k];
        cJSON *root = NULL;
        const char *why = NULL;

        buf_reset(&path);
        buf_printf(&path, "%s/%s", dir, name);
        buf_reset(&body);
        CHECK_EQ_INT(read_file(buf_cstr(&path), &body), 0);
        int rc = jsonin_parse(body.data, body.len, &root, &why);
        CHECK(rc == 0 || rc == PD_EINVAL);
        CHECK(rc == 0 ? root != NULL : root == NULL && why != NULL);
        if (name[0] == 'y') {
            y_n++;
            if (rc == 0) {
                y_ok++;
                check_round_trip(root, name);
            } else {
                fprintf(stderr, "%s: rejected (%s), must be accepted\n", name, why);
            }
        } else if (name[0] == 'n') {
            n_n++;
            if (rc != 0)
                n_ok++;
            else
                fprintf(stderr, "%s: accepted, must be rejected\n", name);
        } else if (name[0] == 'i') {
            i_n++;
            if (rc == 0) {
                i_yes++;
                printf("%s: accepted\n", name);
                check_round_trip(root, name);
            } else {
                i_no++;
                printf("%s: rejected (%s)\n", name, why);
            }
            if ((rc == 0) != is_i_accepted(name)) {
                fprintf(stderr, "%s: outcome differs from the decision in i_accepted[]\n", name);
                CHECK(0);
            }
        }
        cJSON_Delete(root);
        free(names[k]);
    }
    free(names);
    buf_free(&path);
    buf_free(&body);

    printf("JSONTestSuite: y_ %d/%d accepted, n_ %d/%d rejected, i_ %d (%d accepted, %d "
           "rejected)\n",
           y_ok, y_n, n_ok, n_n, i_n, i_yes, i_no);
    CHECK(y_n > 0 && n_n > 0 && i_n > 0);
    CHECK_EQ_INT(y_ok, y_n);
    CHECK_EQ_INT(n_ok, n_n);
}

#define B(s) s, sizeof(s) - 1

typedef struct parse_case {
    const char *rule;
    const char *body;
    size_t len;
    const char *why; /* NULL: must be accepted */
} parse_case;

static const parse_case parse_cases[] = {
    /* whole body */
    {"empty", B(""), "empty body"},
    {"only whitespace", B(" \t\r\n"), "empty body"},
    {"UTF-8 BOM", B("\xEF\xBB\xBF{}"), "byte order mark not allowed"},
    {"scalar at top", B(" 1 "), NULL},
    {"string at top", B("\"x\""), NULL},
    {"literal at top", B("null"), NULL},
    {"trailing value", B("{}{}"), "unexpected character at byte 2"},
    {"trailing garbage", B("[1] x"), "unexpected character at byte 4"},
    {"trailing NUL", B("[1]\0"), "unexpected character at byte 3"},
    /* whitespace: space, tab, CR, LF only */
    {"all four whitespace", B("\t\r\n [ 1 ,\t2\r\n]\n"), NULL},
    {"form feed", B("[\f1]"), "unexpected character at byte 1"},
    {"vertical tab", B("\v[]"), "unexpected character at byte 0"},
    {"NUL as whitespace", B("[1,\0 2]"), "unexpected character at byte 3"},
    {"no-break space",
     B("[\xC2\xA0"
       "1]"),
     "unexpected character at byte 1"},
    /* structure */
    {"unclosed array", B("[1"), "unexpected end of input"},
    {"unclosed object", B("{\"a\":1"), "unexpected end of input"},
    {"trailing comma in array", B("[1,]"), "unexpected character at byte 3"},
    {"trailing comma in object", B("{\"a\":1,}"), "unexpected character at byte 7"},
    {"missing colon", B("{\"a\" 1}"), "unexpected character at byte 5"},
    {"missing value", B("{\"a\":}"), "unexpected character at byte 5"},
    {"number as key", B("{1:1}"), "unexpected character at byte 1"},
    {"missing comma", B("[1 2]"), "unexpected character at byte 3"},
    {"mismatched close", B("{\"a\":[1}]"), "unexpected character at byte 7"},
    {"stray close", B("]"), "unexpected character at byte 0"},
    {"empty containers", B("{ \"a\" : [ ] , \"b\" : { } }"), NULL},
    /* literals */
    {"truncated literal", B("[tru]"), "unexpected character at byte 4"},
    {"capitalised literal", B("[True]"), "unexpected character at byte 1"},
    {"literal at end", B("nul"), "unexpected end of input"},
    {"glued literal", B("truex"), "unexpected character at byte 4"},
    /* numbers */
    {"numbers", B("[0,-0,1,-12,0.5,1e3,1E+3,1e-3,-1.25E-2]"), NULL},
    {"leading zero", B("[01]"), "unexpected character at byte 2"},
    {"lone minus", B("[-]"), "invalid number at byte 1"},
    {"plus sign", B("[+1]"), "unexpected character at byte 1"},
    {"bare fraction", B("[.5]"), "unexpected character at byte 1"},
    {"empty fraction", B("[1.]"), "invalid number at byte 1"},
    {"empty exponent", B("[1e]"), "invalid number at byte 1"},
    {"signed empty exponent", B("[1e+]"), "invalid number at byte 1"},
    {"hex", B("[0x1]"), "unexpected character at byte 2"},
    {"Infinity", B("[Infinity]"), "unexpected character at byte 1"},
    {"-Infinity", B("[-Infinity]"), "invalid number at byte 1"},
    {"NaN", B("[NaN]"), "unexpected character at byte 1"},
    {"number at end", B("1."), "unexpected end of input"},
    {"overflow", B("[1e309]"), "number out of range at byte 1"},
    {"negative overflow", B("[ -1.8e308]"), "number out of range at byte 2"},
    {"long overflow",
     B("[1000000000000000000000000000000000000000000000000000000000000000000e300]"),
     "number out of range at byte 1"},
    {"underflow", B("[1e-400]"), NULL},
    /* strings */
    {"raw tab", B("[\"a\tb\"]"), "control character in string at byte 3"},
    {"raw newline", B("\"\n\""), "control character in string at byte 1"},
    {"raw NUL", B("[\"\0\"]"), "control character in string at byte 2"},
    {"DEL is fine", B("\"\x7F\""), NULL},
    {"all escapes", B("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC\""), NULL},
    {"unknown escape", B("[\"\\x\"]"), "invalid escape at byte 2"},
    {"escaped apostrophe", B("\"\\'\""), "invalid escape at byte 1"},
    {"short \\u", B("\"\\u12\""), "invalid \\u escape at byte 1"},
    {"non-hex \\u", B("\"\\u12G4\""), "invalid \\u escape at byte 1"},
    {"\\U", B("\"\\U0041\""), "invalid escape at byte 1"},
    {"backslash at end", B("\"\\"), "unexpected end of input"},
    {"unterminated", B("\"abc"), "unexpected end of input"},
    /* surrogate escapes */
    {"pair", B("\"\\uD834\\uDD1E\""), NULL},
    {"last pair", B("\"\\uDBFF\\uDFFF\""), NULL},
    {"lone high", B("\"\\uD834\""), "unpaired surrogate escape at byte 1"},
    {"lone low", B("\"a\\uDD1E\""), "unpaired surrogate escape at byte 2"},
    {"reversed", B("\"\\uDD1E\\uD834\""), "unpaired surrogate escape at byte 1"},
    {"high then BMP", B("\"\\uD834\\u0041\""), "unpaired surrogate escape at byte 1"},
    {"high high", B("\"\\uD800\\uD800\""), "unpaired surrogate escape at byte 1"},
    {"high then other escape", B("\"\\uD834\\n\""), "unpaired surrogate escape at byte 1"},
    {"high then bad \\u", B("\"\\uD834\\uZZZZ\""), "invalid \\u escape at byte 7"},
    {"high at end", B("\"\\uD834"), "unexpected end of input"},
    /* UTF-8 */
    {"two to four bytes",
     B("\"Gr\xC3\xBC\xC3\x9F"
       "e \xE2\x82\xAC \xF0\x9D\x84\x9E\""),
     NULL},
    {"U+10FFFF", B("\"\xF4\x8F\xBF\xBF\""), NULL},
    {"U+FFFF", B("\"\xEF\xBF\xBF\""), NULL},
    {"overlong 2", B("\"\xC0\xAF\""), "invalid UTF-8 at byte 1"},
    {"overlong 2 (C1)", B("\"\xC1\xBF\""), "invalid UTF-8 at byte 1"},
    {"overlong 3", B("\"\xE0\x80\xAF\""), "invalid UTF-8 at byte 1"},
    {"overlong 4", B("\"\xF0\x80\x80\xAF\""), "invalid UTF-8 at byte 1"},
    {"UTF-8 surrogate", B("\"\xED\xA0\x80\""), "invalid UTF-8 at byte 1"},
    {"above U+10FFFF", B("\"\xF4\x90\x80\x80\""), "invalid UTF-8 at byte 1"},
    {"F5 lead", B("\"\xF5\x80\x80\x80\""), "invalid UTF-8 at byte 1"},
    {"lone continuation", B("\"a\x80\""), "invalid UTF-8 at byte 2"},
    {"truncated", B("\"\xE2\x82\""), "invalid UTF-8 at byte 1"},
    {"truncated at end", B("\"\xE2\x82"), "invalid UTF-8 at byte 1"},
    {"bad continuation", B("\"\xE2\x28\xA1\""), "invalid UTF-8 at byte 1"},
    {"Latin-1", B("\"\xE9\""), "invalid UTF-8 at byte 1"},
    {"UTF-8 outside a string", B("[\xC3\xA9]"), "unexpected character at byte 1"},
    /* duplicate keys and NUL escapes are valid JSON; the getters deal with them */
    {"duplicate key", B("{\"a\":1,\"a\":2}"), NULL},
    {"NUL escape", B("{\"a\\u0000b\":\"\\u0000\"}"), NULL},
};

static void test_rules(void)
{
    for (size_t k = 0; k < PD_ARRAY_LEN(parse_cases); k++) {
        const parse_case *c = &parse_cases[k];
        cJSON *root = NULL;
        const char *why = NULL;
        int rc = jsonin_parse(c->body, c->len, &root, &why);
        if (c->why) {
            if (rc != PD_EINVAL || !why || strcmp(why, c->why) != 0)
                fprintf(stderr, "rule '%s': want \"%s\", got rc %d \"%s\"\n", c->rule, c->why, rc,
                        why ? why : "(null)");
            CHECK_EQ_INT(rc, PD_EINVAL);
            CHECK_EQ_STR(why, c->why);
            CHECK(root == NULL);
        } else {
            if (rc != 0)
                fprintf(stderr, "rule '%s': rejected (%s)\n", c->rule, why);
            CHECK_EQ_INT(rc, 0);
            CHECK(root != NULL);
        }
        cJSON_Delete(root);
    }
}

/* "[[[...1...]]]" with depth levels */
static void nested(buf *b, int depth, char open, char close)
{
    buf_reset(b);
    for (int k = 0; k < depth; k++)
        buf_puts(b, open == '[' ? "[" : "{\"k\":");
    buf_putc(b, '1');
    for (int k = 0; k < depth; k++)
        buf_putc(b, close);
}

static void test_depth(void)
{
    buf b = BUF_INIT;
    cJSON *root = NULL;
    const char *why = NULL;

    nested(&b, JSONIN_MAX_DEPTH, '[', ']');
    CHECK_EQ_INT(jsonin_parse(b.data, b.len, &root, &why), 0);
    cJSON_Delete(root);
    nested(&b, JSONIN_MAX_DEPTH + 1, '[', ']');
    CHECK_EQ_INT(jsonin_parse(b.data, b.len, &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "nesting deeper than 64");
    nested(&b, JSONIN_MAX_DEPTH, '{', '}');
    CHECK_EQ_INT(jsonin_parse(b.data, b.len, &root, &why), 0);
    cJSON_Delete(root);
    nested(&b, JSONIN_MAX_DEPTH + 1, '{', '}');
    CHECK_EQ_INT(jsonin_parse(b.data, b.len, &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "nesting deeper than 64");
    /* 100000 opening brackets: refused at the 65th, long before the end */
    buf_reset(&b);
    for (int k = 0; k < 100000; k++)
        buf_putc(&b, '[');
    CHECK_EQ_INT(jsonin_parse(b.data, b.len, &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "nesting deeper than 64");
    buf_free(&b);
}

static void test_values(void)
{
    cJSON *root = NULL;
    const char *why = NULL;
    /* 81 characters: longer than cJSON's own number buffer, which would cut it at 63 */
    static const char tiny[] = "[-0.000000000000000000000000000000000000000000000000000000000000"
                               "000000000000000001]";
    static const char big[] = "[123456789012345678901234567890123456789012345678901234567890123"
                              "4567890]";

    CHECK_EQ_INT(jsonin_parse(B(tiny), &root, &why), 0);
    CHECK(root && cJSON_IsNumber(root->child) && root->child->valuedouble == -1e-78);
    cJSON_Delete(root);
    CHECK_EQ_INT(jsonin_parse(B(big), &root, &why), 0);
    CHECK(root && fabs(root->child->valuedouble / 1.2345678901234568e69 - 1) < 1e-15);
    cJSON_Delete(root);

    CHECK_EQ_INT(jsonin_parse(B("{\"s\":\"\\u00fc\\uD834\\uDD1E\\/\"}"), &root, &why), 0);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "s")),
                 "\xC3\xBC\xF0\x9D\x84\x9E/");
    cJSON_Delete(root);

    /* not NUL-terminated: the byte after len must not be read */
    char *exact = pd_xmalloc(3);
    memcpy(exact, "123", 3);
    CHECK_EQ_INT(jsonin_parse(exact, 2, &root, &why), 0);
    CHECK(root && root->valuedouble == 12);
    cJSON_Delete(root);
    free(exact);

    /* why may be NULL */
    CHECK_EQ_INT(jsonin_parse(B("["), &root, NULL), PD_EINVAL);
    CHECK(root == NULL);

    /* the private flags leave cJSON's own functions working */
    CHECK_EQ_INT(jsonin_parse(B("{\"n\":1.5,\"s\":\"a\\u0000b\",\"k\\u0000\":[1e2]}"), &root, &why),
                 0);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "n")));
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "s")));
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "k")));
    char *text = cJSON_PrintUnformatted(root);
    CHECK_EQ_STR(text, "{\"n\":1.5,\"s\":\"a\",\"k\":[100]}");
    free(text);
    cJSON *dup = cJSON_Duplicate(root, 1);
    CHECK(cJSON_Compare(root, dup, 1));
    cJSON_Delete(dup);
    cJSON_Delete(root);
}

static void test_parse_object(void)
{
    cJSON *root = NULL;
    const char *why = NULL;

    CHECK_EQ_INT(jsonin_parse_object(B(" {} "), &root, &why), 0);
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
    CHECK_EQ_INT(jsonin_parse_object(B("[]"), &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "expected a JSON object");
    CHECK(root == NULL);
    CHECK_EQ_INT(jsonin_parse_object(B("\"{}\""), &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "expected a JSON object");
    CHECK_EQ_INT(jsonin_parse_object(B("{"), &root, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "unexpected end of input");
}

static const char getter_body[] =
    "{\"s\":\"hallo\",\"S\":\"upper\",\"e\":\"\",\"long\":\"abcdef\",\"um\":\"\xC3\xA4\","
    "\"nul\":\"a\\u0000b\",\"n\":42,\"neg\":-7,\"f\":1.5,\"one\":1.0,\"exp\":1e2,\"zero\":-0,"
    "\"big\":9007199254740993,\"edge\":9007199254740991,\"t\":true,\"fa\":false,\"z\":null,"
    "\"arr\":[],\"dup\":1,\"dup\":2,\"k\\u0000x\":\"hidden\"}";

static void test_get_string(const cJSON *o)
{
    const char *s = "untouched", *why = NULL;

    CHECK_EQ_INT(jsonin_get_string(o, "s", 1, 100, &s, &why), 0);
    CHECK_EQ_STR(s, "hallo");
    /* case-sensitive, unlike cJSON_GetObjectItem */
    CHECK_EQ_INT(jsonin_get_string(o, "S", 1, 100, &s, &why), 0);
    CHECK_EQ_STR(s, "upper");
    CHECK_EQ_INT(jsonin_get_string(o, "e", 1, 100, &s, &why), 0);
    CHECK_EQ_STR(s, "");
    CHECK_EQ_INT(jsonin_get_string(o, "missing", 0, 100, &s, &why), 0);
    CHECK(s == NULL);
    CHECK_EQ_INT(jsonin_get_string(o, "missing", 1, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'missing' is required");
    CHECK(s == NULL);
    s = "untouched";
    CHECK_EQ_INT(jsonin_get_string(o, "z", 0, 100, &s, &why), 0);
    CHECK(s == NULL);
    CHECK_EQ_INT(jsonin_get_string(o, "z", 1, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'z' is required");
    CHECK_EQ_INT(jsonin_get_string(o, "n", 0, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'n' must be a string");
    CHECK_EQ_INT(jsonin_get_string(o, "arr", 0, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'arr' must be a string");
    CHECK_EQ_INT(jsonin_get_string(o, "long", 0, 6, &s, &why), 0);
    CHECK_EQ_STR(s, "abcdef");
    CHECK_EQ_INT(jsonin_get_string(o, "long", 0, 5, &s, &why), PD_ETOOBIG);
    CHECK_EQ_STR(why, "field 'long' is longer than 5 bytes");
    CHECK(s == NULL);
    /* the limit counts bytes: "ä" is two */
    CHECK_EQ_INT(jsonin_get_string(o, "um", 0, 1, &s, &why), PD_ETOOBIG);
    CHECK_EQ_INT(jsonin_get_string(o, "um", 0, 2, &s, &why), 0);
    CHECK_EQ_INT(jsonin_get_string(o, "nul", 0, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'nul' must not contain a NUL character");
    CHECK_EQ_INT(jsonin_get_string(o, "dup", 0, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'dup' appears more than once");
    /* cJSON cut "k\u0000x" to "k"; such a member matches no key */
    CHECK_EQ_INT(jsonin_get_string(o, "k", 1, 100, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'k' is required");
    /* why may be NULL */
    CHECK_EQ_INT(jsonin_get_string(o, "n", 0, 100, &s, NULL), PD_EINVAL);
}

static void test_get_int(const cJSON *o)
{
    long v = -1;
    const char *why = NULL;

    CHECK_EQ_INT(jsonin_get_int(o, "n", 1, 0, 100, &v, &why), 0);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(jsonin_get_int(o, "neg", 1, LONG_MIN, LONG_MAX, &v, &why), 0);
    CHECK_EQ_INT(v, -7);
    CHECK_EQ_INT(jsonin_get_int(o, "zero", 1, 0, 0, &v, &why), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(jsonin_get_int(o, "edge", 1, LONG_MIN, LONG_MAX, &v, &why), 0);
    CHECK_EQ_INT(v, 9007199254740991LL);
    v = 20;
    CHECK_EQ_INT(jsonin_get_int(o, "missing", 0, 1, 100, &v, &why), 0);
    CHECK_EQ_INT(v, 20);
    CHECK_EQ_INT(jsonin_get_int(o, "z", 0, 1, 100, &v, &why), 0);
    CHECK_EQ_INT(v, 20);
    CHECK_EQ_INT(jsonin_get_int(o, "missing", 1, 1, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'missing' is required");
    CHECK_EQ_INT(jsonin_get_int(o, "neg", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'neg' must be between 0 and 100");
    CHECK_EQ_INT(jsonin_get_int(o, "n", 1, 0, 41, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'n' must be between 0 and 41");
    CHECK_EQ_INT(jsonin_get_int(o, "f", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'f' must be an integer");
    CHECK_EQ_INT(jsonin_get_int(o, "one", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'one' must be an integer");
    CHECK_EQ_INT(jsonin_get_int(o, "exp", 1, 0, 1000, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'exp' must be an integer");
    CHECK_EQ_INT(jsonin_get_int(o, "big", 1, LONG_MIN, LONG_MAX, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'big' is out of range");
    CHECK_EQ_INT(jsonin_get_int(o, "s", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 's' must be an integer");
    CHECK_EQ_INT(jsonin_get_int(o, "t", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 't' must be an integer");
    CHECK_EQ_INT(jsonin_get_int(o, "dup", 1, 0, 100, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'dup' appears more than once");
    /* errors leave *out alone */
    CHECK_EQ_INT(v, 20);
}

static void test_get_bool(const cJSON *o)
{
    int b = -1;
    const char *why = NULL;

    CHECK_EQ_INT(jsonin_get_bool(o, "t", 1, &b, &why), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(jsonin_get_bool(o, "fa", 1, &b, &why), 0);
    CHECK_EQ_INT(b, 0);
    b = 7;
    CHECK_EQ_INT(jsonin_get_bool(o, "missing", 0, &b, &why), 0);
    CHECK_EQ_INT(b, 7);
    CHECK_EQ_INT(jsonin_get_bool(o, "missing", 1, &b, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'missing' is required");
    CHECK_EQ_INT(jsonin_get_bool(o, "n", 1, &b, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'n' must be true or false");
    CHECK_EQ_INT(jsonin_get_bool(o, "s", 1, &b, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 's' must be true or false");
    CHECK_EQ_INT(b, 7);
}

static void test_getters(void)
{
    cJSON *o = NULL, *arr = NULL;
    const char *why = NULL, *s = NULL;
    long v = 0;
    int b = 0;

    CHECK_EQ_INT(jsonin_parse_object(B(getter_body), &o, &why), 0);
    if (!o)
        return;
    test_get_string(o);
    test_get_int(o);
    test_get_bool(o);

    /* not an object */
    arr = cJSON_GetObjectItemCaseSensitive(o, "arr");
    CHECK_EQ_INT(jsonin_get_string(arr, "s", 0, 10, &s, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "expected a JSON object");
    CHECK_EQ_INT(jsonin_get_int(NULL, "n", 0, 0, 1, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "expected a JSON object");
    CHECK_EQ_INT(jsonin_get_bool(NULL, "t", 0, &b, &why), PD_EINVAL);
    cJSON_Delete(o);

    /* a tree built by hand has no flags: any integral number will do */
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "i", 3.0);
    cJSON_AddNumberToObject(o, "h", 2.5);
    CHECK_EQ_INT(jsonin_get_int(o, "i", 1, 0, 10, &v, &why), 0);
    CHECK_EQ_INT(v, 3);
    CHECK_EQ_INT(jsonin_get_int(o, "h", 1, 0, 10, &v, &why), PD_EINVAL);
    CHECK_EQ_STR(why, "field 'h' must be an integer");
    cJSON_Delete(o);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s JSONTESTSUITE_DIR\n", argv[0]);
        CHECK(argc >= 2);
    } else {
        test_suite(argv[1]);
    }
    test_rules();
    test_depth();
    test_values();
    test_parse_object();
    test_getters();
    return check_done();
}
