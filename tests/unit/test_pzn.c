/* pzn: check digits, spellings, formatting and finding PZNs in customer messages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pd.h"
#include "pzn.h"

static int parse(const char *s, uint32_t *out)
{
    return pzn_parse(s, strlen(s), out);
}

/* the PZNs pzn_find reports in s, formatted and joined with spaces */
static const char *find(const char *s, char *joined, size_t max)
{
    uint32_t found[8];
    size_t n = pzn_find(s, strlen(s), found, max < 8 ? max : 8);
    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char one[9];
        pzn_format(found[i], one);
        if (i)
            strcat(joined, " ");
        strcat(joined, one);
    }
    return joined;
}

static void test_valid(void)
{
    /* real PZNs from the demo catalog */
    static const uint32_t real[] = {13926897, 81287667, 59579780, 36361759, 17573929, 34375154,
                                    50536869, 83923742, 10111120, 94711919, 63273555};
    for (size_t i = 0; i < PD_ARRAY_LEN(real); i++)
        CHECK(pzn_valid(real[i]));
    CHECK(pzn_valid(8128768));  /* old PZN-7 812876-8, read as 08128768 */
    CHECK(pzn_valid(12345678)); /* 1*1+2*2+...+7*7 = 140, 140 mod 11 = 8 */

    /* every other check digit is wrong */
    for (uint32_t d = 0; d < 10; d++)
        CHECK_EQ_INT(pzn_valid(81287660 + d), d == 7);
    /* remainder 10: no check digit makes these valid */
    for (uint32_t d = 0; d < 10; d++) {
        CHECK(!pzn_valid(81287680 + d));
        CHECK(!pzn_valid(99999990 + d));
        CHECK(!pzn_valid(8128700 + d)); /* 0812870x */
    }
    CHECK(!pzn_valid(0));
    CHECK(!pzn_valid(PZN_MAX + 1));
    CHECK(!pzn_valid(UINT32_MAX));
    CHECK(!pzn_valid(181287667)); /* 9 digits */
}

static void test_format(void)
{
    char out[9];
    pzn_format(81287667, out);
    CHECK_EQ_STR(out, "81287667");
    pzn_format(8128768, out);
    CHECK_EQ_STR(out, "08128768");
    pzn_format(0, out);
    CHECK_EQ_STR(out, "00000000");
    pzn_format(PZN_MAX, out);
    CHECK_EQ_STR(out, "99999999");
    pzn_format(181287667, out); /* out of range: the last 8 digits, never an overflow */
    CHECK_EQ_STR(out, "81287667");
    pzn_format(UINT32_MAX, out);
    CHECK_EQ_INT(strlen(out), 8);
}

static void test_parse_spellings(void)
{
    static const char *const ok81287667[] = {
        "81287667",      "PZN 81287667",   "PZN-81287667",   "pzn:81287667",
        "Pzn: 81287667", "PZN - 81287667", "PZN81287667",    "8128 7667",
        "8128-7667",     "PZN 8128 7667",  "pzn-8128-7667",  "81 28 76 67",
        "812-876-67",    "  81287667  ",   "\t81287667\r\n", " PZN 81287667\n",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(ok81287667); i++) {
        uint32_t v = 0;
        int rc = parse(ok81287667[i], &v);
        if (rc != 0)
            fprintf(stderr, "spelling: \"%s\"\n", ok81287667[i]);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(v, 81287667);
    }

    /* 7-digit PZNs get a leading zero, then the 8-digit check applies */
    static const char *const ok08128768[] = {"8128768",   "08128768", "PZN 8128768",  "0812 8768",
                                             "0812-8768", "812 8768", "pzn:0812-8768"};
    for (size_t i = 0; i < PD_ARRAY_LEN(ok08128768); i++) {
        uint32_t v = 0;
        CHECK_EQ_INT(parse(ok08128768[i], &v), 0);
        CHECK_EQ_INT(v, 8128768);
    }

    uint32_t v = 0;
    CHECK_EQ_INT(parse("13926897", &v), 0);
    CHECK_EQ_INT(v, 13926897);
    /* the length counts, not the NUL */
    CHECK_EQ_INT(pzn_parse("81287667999", 8, &v), 0);
    CHECK_EQ_INT(v, 81287667);
}

static void test_parse_errors(void)
{
    static const char *const bad_format[] = {
        "",
        "   ",
        "PZN",
        "PZN:",
        "PZN 123456",
        "123456",
        "812876671",
        "0081287667",
        "8128  7667",
        "8128--7667",
        "8128 -7667",
        "-81287667",
        "81287667-",
        "8128_7667",
        "81287667x",
        "x81287667",
        "PZN::81287667",
        "PZN--81287667",
        "PNZ 81287667",
        "PZ 81287667",
        "8128.7667",
        "8128/7667",
        "８１２８７６６７",
        "00000000",
        "0000000",
        "PZN 0",
        "8128\u00a07667", /* a no-break space */
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(bad_format); i++) {
        uint32_t v = 12345;
        int rc = parse(bad_format[i], &v);
        if (rc != PD_EINVAL)
            fprintf(stderr, "bad format: \"%s\"\n", bad_format[i]);
        CHECK_EQ_INT(rc, PD_EINVAL);
        CHECK_EQ_INT(v, 12345); /* untouched on failure */
    }
    uint32_t v = 0;
    CHECK_EQ_INT(pzn_parse(NULL, 0, &v), PD_EINVAL);
    CHECK_EQ_INT(pzn_parse("8128\0"
                           "7667",
                           9, &v),
                 PD_EINVAL);

    /* right format, wrong check digit */
    CHECK_EQ_INT(parse("81287666", &v), PD_ECHECK);
    CHECK_EQ_INT(parse("PZN 8128-7668", &v), PD_ECHECK);
    CHECK_EQ_INT(parse("12345679", &v), PD_ECHECK);
    CHECK_EQ_INT(parse("8128766", &v), PD_ECHECK);  /* 08128766: remainder 8, not 6 */
    CHECK_EQ_INT(parse("08128766", &v), PD_ECHECK); /* the same */
    /* remainder 10: never valid, whatever the last digit */
    for (char d = '0'; d <= '9'; d++) {
        char s[] = "8128768?";
        char s7[] = "812870?";
        s[7] = d;
        s7[6] = d;
        CHECK_EQ_INT(parse(s, &v), PD_ECHECK);
        CHECK_EQ_INT(parse(s7, &v), PD_ECHECK);
    }
}

static void test_roundtrip(void)
{
    /* every valid 8-digit number in a range formats and parses back to itself */
    int nvalid = 0;
    for (uint32_t p = 81287000; p < 81288000; p++) {
        char s[9];
        uint32_t v = 0;
        pzn_format(p, s);
        int rc = parse(s, &v);
        if (pzn_valid(p)) {
            nvalid++;
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT(v, p);
        } else {
            CHECK_EQ_INT(rc, PD_ECHECK);
        }
    }
    CHECK_EQ_INT(nvalid, 91); /* 100 prefixes, 9 of them with remainder 10 */
}

static void test_find(void)
{
    char j[128];
    CHECK_EQ_STR(find("Haben Sie PZN 81287667?", j, 8), "81287667");
    CHECK_EQ_STR(find("81287667", j, 8), "81287667");
    CHECK_EQ_STR(find("die 0812 8768 bitte", j, 8), "08128768");
    CHECK_EQ_STR(find("die 0812-8768 bitte", j, 8), "08128768");
    CHECK_EQ_STR(find("alte PZN 8128768.", j, 8), "08128768");
    CHECK_EQ_STR(find("PZN:13926897,PZN-81287667", j, 8), "13926897 81287667");
    CHECK_EQ_STR(find("13926897 und 81287667 und nochmal 13926897", j, 8), "13926897 81287667");
    CHECK_EQ_STR(find("(81287667)", j, 8), "81287667");
    CHECK_EQ_STR(find("PZN81287667", j, 8), "81287667");
    CHECK_EQ_STR(find("Ibuprofen 400 mg, PZN 81287667, 20 St.", j, 8), "81287667");
    CHECK_EQ_STR(find("Gr\xc3\xb6\xc3\x9f"
                      "e 81287667 \xe2\x82\xac",
                      j, 8),
                 "81287667");
    /* next to quantities */
    CHECK_EQ_STR(find("Ich brauche 2 81287667", j, 8), "81287667");
    CHECK_EQ_STR(find("81287667 2x bitte", j, 8), "81287667");
    CHECK_EQ_STR(find("PZN 81287667 13926897", j, 8), "81287667 13926897");
    /* limits */
    CHECK_EQ_STR(find("13926897 81287667 59579780", j, 2), "13926897 81287667");
    CHECK_EQ_STR(find("13926897 81287667", j, 0), "");
    uint32_t one;
    CHECK_EQ_INT(pzn_find("81287667", 7, &one, 1), 0); /* the length counts */
    CHECK_EQ_INT(pzn_find(NULL, 5, &one, 1), 0);
    CHECK_EQ_INT(pzn_find("81287667", 8, NULL, 0), 0);
}

static void test_find_nothing(void)
{
    char j[128];
    static const char *const none[] = {
        "",
        "400",
        "Ibuprofen 400 mg",
        "2 x 400 mg",
        "81287666",          /* wrong check digit */
        "81287680",          /* remainder 10 */
        "0812 8766",         /* wrong check digit */
        "812876671",         /* 9 digits */
        "Tel. 0812876712",   /* 10 digits */
        "Tel. 030 12345678", /* area code + a number that is a valid PZN */
        "Tel. 0171 8128768",
        "Tel. 0171/8128768",
        "Tel. 0171-8128768",
        "Tel. (030) 12345678",
        "Tel. (030)12345678",
        "Tel. +49 81287667",
        "Tel. +4981287667",
        "1.81287667",
        "81287667.5",
        "81287667/2",
        "IBAN DE89 8128 7667 0000 1234 56",
        "4111 1111 8128 7667",
        "0 81287667",              /* a leading-zero group is not a quantity */
        "8128  7667",              /* two spaces separate */
        "am 2026-01-05 geliefert", /* an ISO date, though 20260105 checks */
        "00000000",
        "PZN 0000000",
        "８１２８７６６７", /* full-width digits are not ASCII digits */
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(none); i++) {
        const char *got = find(none[i], j, 8);
        if (*got)
            fprintf(stderr, "found \"%s\" in \"%s\"\n", got, none[i]);
        CHECK_EQ_STR(got, "");
    }
    /* the date itself, written as a PZN, is one */
    CHECK(pzn_valid(20260105));
    CHECK_EQ_STR(find("20260105", j, 8), "20260105");
}

static void test_find_bounds(void)
{
    /* a run that ends at the end of the buffer: the copy has no NUL behind it */
    static const char *const texts[] = {"8128 7667", "x 8128-", "8128 ",      "1.",        "+",
                                        ")",         ") 1",     "2026-01-05", "81287667/", "0171/"};
    for (size_t i = 0; i < PD_ARRAY_LEN(texts); i++) {
        size_t n = strlen(texts[i]);
        char *copy = pd_xmalloc(n ? n : 1);
        memcpy(copy, texts[i], n);
        uint32_t out[4];
        size_t found = pzn_find(copy, n, out, 4);
        CHECK(found <= 1);
        free(copy);
    }
}

int main(void)
{
    test_valid();
    test_format();
    test_parse_spellings();
    test_parse_errors();
    test_roundtrip();
    test_find();
    test_find_nothing();
    test_find_bounds();
    return check_done();
}
