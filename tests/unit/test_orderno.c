/* orderno: spellings of order numbers and finding the first one in customer messages. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "orderno.h"
#include "pd.h"

static int parse(const char *s, char out[16])
{
    return orderno_parse(s, strlen(s), out);
}

static const char *find(const char *s, char out[16])
{
    strcpy(out, "-");
    if (!orderno_find(s, strlen(s), out))
        return "";
    return out;
}

static void test_parse(void)
{
    static const char *const ok[] = {
        "AP-100231", "ap100231", "AP 100231",   "ap-100231",      "Ap-100231",
        "aP100231",  "100231",   " AP-100231 ", "\tap100231\r\n", "  100231\n",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(ok); i++) {
        char out[16] = "";
        int rc = parse(ok[i], out);
        if (rc != 0)
            fprintf(stderr, "spelling: \"%s\"\n", ok[i]);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(out, "AP-100231");
    }
    char out[16];
    CHECK_EQ_INT(parse("AP-000000", out), 0);
    CHECK_EQ_STR(out, "AP-000000");
    CHECK_EQ_INT(orderno_parse("AP-1002319", 9, out), 0); /* the length counts */
    CHECK_EQ_STR(out, "AP-100231");

    static const char *const bad[] = {
        "",           "AP",         "AP-",
        "AP-10023",   "AP-1002311", "10023",
        "1002311",    "AP--100231", "AP  100231",
        "AP_100231",  "AP:100231",  "A-100231",
        "P-100231",   "APX100231",  "AB-100231",
        "AP-10023a",  "AP-100 231", "-100231",
        "100231-",    "100231 AP",  "AP-１００２３１",
        "BAP-100231", "AP- 100231", "AP -100231",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
        strcpy(out, "unchanged");
        int rc = parse(bad[i], out);
        if (rc != PD_EINVAL)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rc, PD_EINVAL);
        CHECK_EQ_STR(out, "unchanged");
    }
    CHECK_EQ_INT(orderno_parse(NULL, 0, out), PD_EINVAL);
    CHECK_EQ_INT(orderno_parse("AP-1002\0"
                               "31",
                               10, out),
                 PD_EINVAL);
}

static void test_find(void)
{
    char out[16];
    CHECK_EQ_STR(find("Wo bleibt meine Bestellung AP-100231?", out), "AP-100231");
    CHECK_EQ_STR(find("bestellnr ap100231", out), "AP-100231");
    CHECK_EQ_STR(find("Bestellung 100231", out), "AP-100231");
    CHECK_EQ_STR(find("AP 100231", out), "AP-100231");
    CHECK_EQ_STR(find("(AP-100231)", out), "AP-100231");
    CHECK_EQ_STR(find("Nr.100231, danke", out), "AP-100231");
    CHECK_EQ_STR(find("Bestellung: 100231.", out), "AP-100231");
    CHECK_EQ_STR(find("100231", out), "AP-100231");
    CHECK_EQ_STR(find("AP--100231", out), "AP-100231"); /* a typo: the bare number stands alone */
    CHECK_EQ_STR(find("Gr\xc3\xbc\xc3\x9f"
                      "e, Bestellung AP-100231 \xe2\x80\x93 M\xc3\xbcller",
                      out),
                 "AP-100231");
    /* the first one wins, prefixed or bare */
    CHECK_EQ_STR(find("AP-100232 und AP-100231", out), "AP-100232");
    CHECK_EQ_STR(find("100233 oder AP-100231", out), "AP-100233");
    /* a bad candidate does not hide a later good one */
    CHECK_EQ_STR(find("AP-1234567 oder AP-100231", out), "AP-100231");
    CHECK_EQ_STR(find("Tel. 030 123456, Bestellung 100231", out), "AP-100231");
    CHECK_EQ_STR(find("10115 Berlin, Bestellung 100231", out), "AP-100231");
}

static void test_find_nothing(void)
{
    char out[16];
    static const char *const none[] = {
        "",
        "Wo bleibt meine Bestellung?",
        "AP-10023",   /* 5 digits */
        "AP-1002311", /* 7 digits */
        "1002311",    /* 7 digits */
        "10023",      /* a postcode */
        "10115 Berlin",
        "Tel. 030 100231", /* part of a phone number */
        "Tel. 0171/100231",
        "Tel. 0171-100231",
        "Tel. +100231",
        "100231 22",
        "Preis 100231,50",
        "1.100231",
        "x100231", /* glued to letters: someone else's code */
        "100231kg",
        "XY-100231",
        "WAP-100231",
        "MAP100231",
        "AP  100231 1",
        "１００２３１",
        "PZN 81287667",
        "0812 876876",
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(none); i++) {
        const char *got = find(none[i], out);
        if (*got)
            fprintf(stderr, "found \"%s\" in \"%s\"\n", got, none[i]);
        CHECK_EQ_STR(got, "");
        CHECK_EQ_STR(out, "-"); /* untouched */
    }
    CHECK_EQ_INT(orderno_find(NULL, 3, out), 0);
    CHECK_EQ_INT(orderno_find("100231", 5, out), 0); /* the length counts */
}

static void test_find_bounds(void)
{
    /* candidates that end at the end of the buffer: the copy has no NUL behind it */
    static const char *const texts[] = {
        "a", "A", "AP", "ap-", "AP 10023", "AP-100231", "100231", "x 100231", "100231,", "1 ", "-"};
    for (size_t i = 0; i < PD_ARRAY_LEN(texts); i++) {
        size_t n = strlen(texts[i]);
        char *copy = pd_xmalloc(n);
        memcpy(copy, texts[i], n);
        char out[16];
        size_t found = orderno_find(copy, n, out);
        CHECK(found <= 1);
        free(copy);
    }
}

int main(void)
{
    test_parse();
    test_find();
    test_find_nothing();
    test_find_bounds();
    return check_done();
}
