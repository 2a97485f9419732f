/*
 * fuzz_newsletter: the newsletter file parser (catalog/newsletter.c) on any bytes. On success
 * every subject and body is valid UTF-8 without control characters but tabs (bodies) and
 * newlines (bodies), subjects are one line; parsing the same bytes again gives the same content
 * hash. On failure the message names the file and is one line.
 */
#include "fuzz.h"
#include <string.h>

#include "buf.h"
#include "newsletter.h"
#include "pd.h"
#include "text.h"

static void check_text(const char *s, int body)
{
    REQUIRE(s != NULL);
    size_t n = strlen(s);
    REQUIRE(text_utf8_valid(s, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            REQUIRE(body && (c == '\t' || c == '\n'));
    }
    if (!body)
        REQUIRE(n > 0 && n <= NEWSLETTER_SUBJECT_MAX * 4);
    else
        REQUIRE(n <= NEWSLETTER_BODY_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    newsletter *a = NULL, *b = NULL;
    buf err = BUF_INIT;
    int rc = newsletter_parse("nl.txt", (const char *)data, size, &a, &err);
    if (rc == PD_OK) {
        REQUIRE(a != NULL);
        const leads_newsletter *c = newsletter_content(a);
        for (int l = 0; l < 2; l++) {
            check_text(c->subject[l], 0);
            check_text(c->body[l], 1);
        }
        buf_reset(&err);
        REQUIRE(newsletter_parse("nl.txt", (const char *)data, size, &b, &err) == PD_OK);
        REQUIRE(memcmp(newsletter_content(b)->hash, c->hash, sizeof c->hash) == 0);
    } else {
        REQUIRE(rc == PD_EINVAL || rc == PD_ETOOBIG);
        REQUIRE(a == NULL);
        REQUIRE(strncmp(buf_cstr(&err), "nl.txt", 6) == 0);
        REQUIRE(strchr(buf_cstr(&err), '\n') == NULL);
    }
    newsletter_free(a);
    newsletter_free(b);
    buf_free(&err);
    return 0;
}
