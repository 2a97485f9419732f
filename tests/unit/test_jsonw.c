/*
 * Tests for jsonw: every value kind written both ways, through jsonw and as a cJSON tree printed
 * with cJSON_PrintUnformatted, must give the same bytes: strings with every escape cJSON makes
 * (each control byte, quote, backslash, DEL, UTF-8 kept as it is), numbers of every form
 * (ints, int limits, fractions, tiny and huge values, NaN), amounts in cents across the fast
 * path's limits, and nesting with commas in objects and arrays.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "buf.h"
#include "check.h"
#include "jsonw.h"
#include "pd.h"

/* the tree's text next to the writer's */
static void same(cJSON *tree, buf *written, const char *what)
{
    char *t = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    if (!t || strcmp(t, buf_cstr(written)) != 0)
        fprintf(stderr, "%s: cJSON %s, jsonw %s\n", what, t ? t : "(null)", buf_cstr(written));
    CHECK(t && strcmp(t, buf_cstr(written)) == 0);
    free(t);
    buf_free(written);
}

static void test_strings(void)
{
    char all[160];
    size_t n = 0;
    for (int c = 1; c < 128; c++)
        all[n++] = (char)c;
    all[n] = '\0';
    const char *cases[] = {"",
                           "plain",
                           all,
                           "Schmerzen \"stark\" \\ C:\\path",
                           "tab\there\nnew line\r\f\b",
                           "Größe: 20 Stück – 4,20 €",
                           "\xe2\x80\xa8 line separator, \x7f DEL",
                           "</script><!--"};
    for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
        buf b = BUF_INIT;
        jsonw w;
        jsonw_init(&w, &b);
        jsonw_object(&w);
        jsonw_key(&w, cases[i]);
        jsonw_string(&w, cases[i]);
        jsonw_end(&w);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, cases[i], cases[i]);
        same(o, &b, cases[i]);
    }
    /* the writer scans eight bytes at a time: every byte value at every offset of a 40-byte
     * text (so in each lane of a word, and in the tail), among bytes that need no escape and
     * bytes with the high bit set */
    for (int c = 1; c < 256; c++) {
        for (size_t at = 0; at < 40; at++) {
            char text[41];
            for (size_t k = 0; k < 40; k++)
                text[k] = (char)(k % 3 ? 'a' + (int)(k % 26) : 0xc3);
            text[at] = (char)c;
            text[40] = '\0';
            buf b = BUF_INIT;
            jsonw_put_string(&b, text);
            cJSON *s = cJSON_CreateString(text);
            char *t = cJSON_PrintUnformatted(s);
            cJSON_Delete(s);
            CHECK(t && strcmp(t, buf_cstr(&b)) == 0);
            free(t);
            buf_free(&b);
        }
    }
    /* NULL text is an empty string */
    buf b = BUF_INIT;
    jsonw_put_string(&b, NULL);
    CHECK_EQ_STR(buf_cstr(&b), "\"\"");
    buf_free(&b);
}

static void test_numbers(void)
{
    const double cases[] = {0.0,
                            1.0,
                            -1.0,
                            42.0,
                            2147483647.0,
                            -2147483648.0,
                            2147483648.0,
                            -2147483649.0,
                            3e9,
                            0.1,
                            0.5,
                            4.2,
                            1.0 / 3.0,
                            -2.75,
                            1e-7,
                            1e21,
                            123456789012345678.0,
                            9007199254740993.0,
                            0.30000000000000004,
                            NAN,
                            INFINITY,
                            -INFINITY};
    for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
        buf b = BUF_INIT;
        jsonw w;
        jsonw_init(&w, &b);
        jsonw_array(&w);
        jsonw_number(&w, cases[i]);
        jsonw_end(&w);
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateNumber(cases[i]));
        char what[64];
        snprintf(what, sizeof what, "number %.17g", cases[i]);
        same(a, &b, what);
    }
}

static void test_cents(void)
{
    const long long fixed[] = {0,
                               1,
                               5,
                               10,
                               99,
                               100,
                               101,
                               110,
                               420,
                               1999,
                               -1,
                               -5,
                               -50,
                               -100,
                               -12345,
                               214748364700LL,
                               214748364799LL,
                               214748364800LL,
                               999999999999999LL,
                               -999999999999999LL,
                               1000000000000000LL,
                               -1000000000000000LL,
                               123456789012345678LL};
    buf b = BUF_INIT;
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_array(&w);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < PD_ARRAY_LEN(fixed); i++) {
        jsonw_cents(&w, fixed[i]);
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)fixed[i] / 100.0));
    }
    /* and a spread of prices, small to large, as a catalog has them */
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        long long c = (long long)(x % 100000000ULL) >> (i % 24);
        if (i % 7 == 0)
            c = -c;
        jsonw_cents(&w, c);
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c / 100.0));
    }
    jsonw_end(&w);
    same(a, &b, "cents");
}

static void test_nesting(void)
{
    buf b = BUF_INIT;
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_object(&w);
    jsonw_key(&w, "a");
    jsonw_array(&w);
    jsonw_end(&w);
    jsonw_key(&w, "o");
    jsonw_object(&w);
    jsonw_end(&w);
    jsonw_key(&w, "list");
    jsonw_array(&w);
    for (int i = 0; i < 3; i++) {
        jsonw_object(&w);
        jsonw_key(&w, "i");
        jsonw_number(&w, i);
        jsonw_key(&w, "t");
        jsonw_bool(&w, i & 1);
        jsonw_key(&w, "n");
        jsonw_null(&w);
        jsonw_end(&w);
    }
    jsonw_string(&w, "x");
    jsonw_raw(&w, "{\"k\":[1,2]}");
    jsonw_end(&w);
    jsonw_key(&w, "z");
    jsonw_bool(&w, 0);
    jsonw_end(&w);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddArrayToObject(o, "a");
    cJSON_AddObjectToObject(o, "o");
    cJSON *list = cJSON_AddArrayToObject(o, "list");
    for (int i = 0; i < 3; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", i);
        cJSON_AddBoolToObject(e, "t", i & 1);
        cJSON_AddNullToObject(e, "n");
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddItemToArray(list, cJSON_CreateString("x"));
    cJSON_AddItemToArray(list, cJSON_Parse("{\"k\":[1,2]}"));
    cJSON_AddBoolToObject(o, "z", 0);
    same(o, &b, "nesting");
}

int main(void)
{
    test_strings();
    test_numbers();
    test_cents();
    test_nesting();
    return check_done();
}
