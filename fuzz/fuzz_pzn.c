/*
 * fuzz_pzn: feeds the input to pzn_parse, pzn_find, orderno_parse and orderno_find, and
 * checks what comes back: parsed and found PZNs are valid and round-trip through pzn_format,
 * finds are unique and a smaller max gives a prefix, order numbers are canonical and parse
 * again. libFuzzer's exact-size input buffer makes any read past len an ASan report.
 */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderno.h"
#include "pd.h"
#include "pzn.h"

static void check_pzn(const char *s, size_t size)
{
    uint32_t v = 0, again = 0;
    char text[9];

    int rc = pzn_parse(s, size, &v);
    REQUIRE(rc == 0 || rc == PD_EINVAL || rc == PD_ECHECK);
    if (rc == 0) {
        REQUIRE(pzn_valid(v));
        pzn_format(v, text);
        REQUIRE(strlen(text) == 8);
        REQUIRE(pzn_parse(text, 8, &again) == 0 && again == v);
    }

    uint32_t found[16], first[2];
    size_t n = pzn_find(s, size, found, PD_ARRAY_LEN(found));
    REQUIRE(n <= PD_ARRAY_LEN(found));
    for (size_t i = 0; i < n; i++) {
        REQUIRE(pzn_valid(found[i]));
        pzn_format(found[i], text);
        REQUIRE(pzn_parse(text, 8, &again) == 0 && again == found[i]);
        for (size_t k = 0; k < i; k++)
            REQUIRE(found[k] != found[i]);
    }
    size_t n2 = pzn_find(s, size, first, 2);
    REQUIRE(n2 == (n < 2 ? n : 2));
    for (size_t i = 0; i < n2; i++)
        REQUIRE(first[i] == found[i]);
}

static void check_orderno(const char *s, size_t size)
{
    char out[16], again[16];

    memset(out, 'x', sizeof(out));
    int rc = orderno_parse(s, size, out);
    REQUIRE(rc == 0 || rc == PD_EINVAL);
    if (rc == 0) {
        REQUIRE(strlen(out) == ORDERNO_LEN && memcmp(out, "AP-", 3) == 0);
        REQUIRE(orderno_parse(out, ORDERNO_LEN, again) == 0 && strcmp(out, again) == 0);
        /* a whole string that parses is found in itself (whitespace aside) */
        REQUIRE(orderno_find(s, size, again) == 1 && strcmp(out, again) == 0);
    }
    memset(out, 'x', sizeof(out));
    size_t found = orderno_find(s, size, out);
    REQUIRE(found == 0 || found == 1);
    if (found) {
        REQUIRE(strlen(out) == ORDERNO_LEN);
        REQUIRE(orderno_parse(out, ORDERNO_LEN, again) == 0 && strcmp(out, again) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_pzn((const char *)data, size);
    check_orderno((const char *)data, size);
    return 0;
}
