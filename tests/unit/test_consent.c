/* consent texts: the shipped files, versions, languages, hashes and every file error */
#include <sodium.h>
#include <stdio.h>

#include "check.h"
#include "consent.h"
#include "pd.h"
#include "testutil.h"

static char dir[300], path[400];

static void write_lang(const char *lang, const char *text)
{
    snprintf(path, sizeof path, "%s/consent.%s.txt", dir, lang);
    testutil_write(path, text);
}

/* loads the two texts; returns the error code, err's text in msg */
static int load_pair(const char *de, const char *en, buf *msg)
{
    consent_set *c = NULL;
    write_lang("de", de);
    write_lang("en", en);
    buf_reset(msg);
    int ret = consent_load(dir, "Apotheke X", 30, &c, msg);
    consent_free(c);
    return ret;
}

static const char ALL_DE[] = "# Kommentar\n[handoff h-1]\nIch willige ein,\n  {pharmacy_name}.\n\n"
                             "[newsletter n-1]\nNL\n[back_in_stock b-1]\nBIS\n";
static const char ALL_EN[] = "[handoff h-1]\nI consent\n[newsletter n-1]\nNL en\n"
                             "[back_in_stock b-1]\nBIS en\n";

static void test_shipped(const char *policies)
{
    consent_set *c = NULL;
    buf err = BUF_INIT;
    CHECK_EQ_INT(consent_load(policies, "Apotheke am Markt", 30, &c, &err), PD_OK);
    const char *purposes[] = {"handoff", "newsletter", "back_in_stock"};
    for (size_t i = 0; c && i < PD_ARRAY_LEN(purposes); i++) {
        const consent_text *de = consent_current(c, purposes[i], "de");
        const consent_text *en = consent_current(c, purposes[i], "en");
        CHECK(de && en);
        if (!de || !en)
            continue;
        CHECK_EQ_STR(de->version, en->version);
        CHECK_EQ_STR(de->lang, "de");
        CHECK_EQ_STR(en->lang, "en");
        CHECK(strstr(de->text, "Apotheke am Markt") != NULL);
        CHECK(strstr(de->text, "{") == NULL);
        CHECK(strchr(de->text, '\n') == NULL);
        CHECK_EQ_INT((int)strlen(de->hash), 64);
        CHECK(strcmp(de->hash, en->hash) != 0);
        CHECK(consent_find(c, purposes[i], de->version, "de") == de);
        CHECK(consent_find(c, purposes[i], de->version, "fr") == de); /* falls back to German */
        CHECK(consent_find(c, purposes[i], "no-such-version", "de") == NULL);
    }
    CHECK(consent_current(c, "marketing", "de") == NULL);
    CHECK(consent_find(c, "newsletter", "handoff-1", "de") == NULL); /* another purpose's */
    consent_free(c);
    buf_free(&err);
}

static void test_versions(void)
{
    buf msg = BUF_INIT;
    consent_set *c = NULL;
    write_lang("de", "[handoff h-1]\nalt\n[handoff h-2]\nneu\n[newsletter n-1]\nN\n"
                     "[back_in_stock b-1]\nB\n");
    write_lang("en", "[handoff h-1]\nold\n[handoff h-2]\nnew\n[newsletter n-1]\nN\n"
                     "[back_in_stock b-1]\nB\n");
    CHECK_EQ_INT(consent_load(dir, "X", 30, &c, &msg), PD_OK);
    if (c) {
        CHECK_EQ_STR(consent_current(c, "handoff", "en")->version, "h-2");
        CHECK_EQ_STR(consent_current(c, "handoff", "en")->text, "new");
        CHECK_EQ_STR(consent_find(c, "handoff", "h-1", "en")->text, "old");
    }
    consent_free(c);
    c = NULL;
    CHECK_EQ_INT(load_pair(ALL_DE, ALL_EN, &msg), PD_OK);
    /* rendering: lines joined, placeholder replaced */
    write_lang("de", ALL_DE);
    CHECK_EQ_INT(consent_load(dir, "Apotheke X", 30, &c, &msg), PD_OK);
    if (c)
        CHECK_EQ_STR(consent_current(c, "handoff", "de")->text, "Ich willige ein, Apotheke X.");
    consent_free(c);
    buf_free(&msg);
}

static void test_errors(void)
{
    buf msg = BUF_INIT;
    static const struct {
        const char *de, *en, *want;
    } cases[] = {
        {"[handoff h-1]\nA\n[newsletter n-1]\nB\n", ALL_EN, "no text for \"back_in_stock\""},
        {"[marketing m-1]\nA\n", ALL_EN, "consent.de.txt:1: unknown purpose"},
        {"Text ohne Kopf\n", ALL_EN, "consent.de.txt:1: text before the first"},
        {"[handoff]\nA\n", ALL_EN, "consent.de.txt:1: expected"},
        {"[handoff H 1]\nA\n", ALL_EN, "consent.de.txt:1: expected"},
        {"[handoff h-1]\n\n[newsletter n-1]\nN\n[back_in_stock b-1]\nB\n", ALL_EN, "is empty"},
        {"[handoff h-1]\nA\n[handoff h-1]\nB\n", ALL_EN, "appears twice"},
        {"[handoff h-9]\nA\n[newsletter n-1]\nN\n[back_in_stock b-1]\nB\n", ALL_EN,
         "exists in one language only"},
        {"[handoff h-1]\n\xff\xfe\n", ALL_EN, "not UTF-8"},
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
        CHECK_EQ_INT(load_pair(cases[i].de, cases[i].en, &msg), PD_EINVAL);
        if (!strstr(buf_cstr(&msg), cases[i].want)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, buf_cstr(&msg), cases[i].want);
            CHECK(0);
        }
    }
    /* a missing file */
    consent_set *c = NULL;
    CHECK_EQ_INT(consent_load("/nonexistent-folder", "X", 30, &c, &msg), PD_EIO);
    CHECK(c == NULL);
    buf_free(&msg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_consent POLICIES_DIR\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 2;
    snprintf(dir, sizeof dir, "%s", testutil_tmpdir());
    test_shipped(argv[1]);
    test_versions();
    test_errors();
    return check_done();
}
