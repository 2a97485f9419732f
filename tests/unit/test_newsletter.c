/* the newsletter file (catalog/newsletter.h): the four sections, UTF-8, sizes, control
 * characters, errors with FILE:LINE, and the content hash of the double-run guard */
#include <stdlib.h>

#include "check.h"
#include "newsletter.h"
#include "pd.h"

static const char good[] = "# Newsletter Mai\n"
                           "\n"
                           "[subject.de]\n"
                           "Neues aus Ihrer Apotheke im Mai\n"
                           "[body.de]\n"
                           "\n"
                           "Guten Tag,\n"
                           "\n"
                           "  Sonnenschutz für den Sommer.\n"
                           "# kein Kommentar im Text\n"
                           "\n"
                           "[subject.en]\n"
                           "News from your pharmacy\n"
                           "[body.en]\n"
                           "Hello,\n"
                           "sunscreen for the summer.\n";

/* parses text; on failure err holds the message */
static int parse(const char *text, size_t len, newsletter **n, buf *err)
{
    buf_reset(err);
    return newsletter_parse("nl.txt", text, len, n, err);
}

static void test_good(void)
{
    newsletter *n = NULL, *m = NULL;
    buf err = BUF_INIT, crlf = BUF_INIT;
    CHECK_EQ_INT(parse(good, strlen(good), &n, &err), PD_OK);
    if (!n)
        goto out;
    const leads_newsletter *c = newsletter_content(n);
    CHECK_EQ_STR(c->subject[0], "Neues aus Ihrer Apotheke im Mai");
    CHECK_EQ_STR(c->subject[1], "News from your pharmacy");
    /* blank edges dropped, indentation and '#' lines inside a body kept */
    CHECK_EQ_STR(c->body[0],
                 "Guten Tag,\n\n  Sonnenschutz für den Sommer.\n# kein Kommentar im Text");
    CHECK_EQ_STR(c->body[1], "Hello,\nsunscreen for the summer.");
    /* the same content with CRLF and a byte-order mark: the same hash */
    buf_puts(&crlf, "\xEF\xBB\xBF");
    for (const char *p = good; *p; p++) {
        if (*p == '\n')
            buf_putc(&crlf, '\r');
        buf_putc(&crlf, *p);
    }
    CHECK_EQ_INT(parse(crlf.data, crlf.len, &m, &err), PD_OK);
    CHECK(m && memcmp(newsletter_content(m)->hash, c->hash, LSTORE_HASH) == 0);
    newsletter_free(m);
    /* one word changed: another hash */
    buf_reset(&crlf);
    buf_puts(&crlf, good);
    crlf.data[strlen(good) - 3] = 'X';
    CHECK_EQ_INT(parse(crlf.data, crlf.len, &m, &err), PD_OK);
    CHECK(m && memcmp(newsletter_content(m)->hash, c->hash, LSTORE_HASH) != 0);
    newsletter_free(m);
out:
    newsletter_free(n);
    buf_free(&err);
    buf_free(&crlf);
}

/* each bad file is refused with the message naming the line (and what is wrong) */
static void test_bad(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"Hallo\n[subject.de]\n", "nl.txt:1: text before the first section"},
        {"[subject.de]\nA\n[body.de]\nB\n[subject.en]\nC\n", "[body.en] is missing"},
        {"[subject.de]\nA\n[body.de]\nB\n[subject.en]\nC\n[body.fr]\nD\n", "nl.txt:7: a line "},
        {"[subject.de]\nA\n[body.de]\nB\n[subject.de]\nC\n",
         "nl.txt:5: [subject.de] appears twice"},
        {"[subject.de]\nA\nB\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:3: a subject is one line"},
        {"[subject.de]\n\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:1: [subject.de] is empty"},
        {"[subject.de]\nA\n[body.de]\nB\n[subject.en]\nC\n[body.en]\n\n  \n",
         "nl.txt:7: [body.en] is empty"},
        {"[subject.de]\nA\n[body.de]\nok\nbad \xC3\x28 byte\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:5: not UTF-8"},
        {"[subject.de]\nA\n[body.de]\nB\x1b[31m\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:4: a control character (byte 0x1b)"},
        {"[subject.de]\nA\tB\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:2: a tab in the subject"},
        {"[subject.de]\nA\rB\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         "nl.txt:2: a control character (byte 0x0d)"},
    };
    buf err = BUF_INIT;
    for (size_t i = 0; i < PD_ARRAY_LEN(cases); i++) {
        newsletter *n = NULL;
        CHECK_EQ_INT(parse(cases[i].text, strlen(cases[i].text), &n, &err), PD_EINVAL);
        CHECK(n == NULL);
        if (!strstr(buf_cstr(&err), cases[i].want))
            fprintf(stderr, "case %zu: %s\n", i, buf_cstr(&err));
        CHECK(strstr(buf_cstr(&err), cases[i].want) != NULL);
    }
    /* a NUL byte is a control character too */
    static const char nul[] = "[subject.de]\nA\n[body.de]\nB\0C\n[subject.en]\nC\n[body.en]\nD\n";
    newsletter *n = NULL;
    CHECK_EQ_INT(parse(nul, sizeof nul - 1, &n, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "nl.txt:4: a control character (byte 0x00)") != NULL);
    buf_free(&err);
}

static void test_limits(void)
{
    buf text = BUF_INIT, err = BUF_INIT;
    newsletter *n = NULL;
    /* a subject of 150 characters (umlauts count once) is fine, 151 are not */
    buf_puts(&text, "[subject.de]\n");
    for (int i = 0; i < NEWSLETTER_SUBJECT_MAX; i++)
        buf_puts(&text, "ä");
    buf_puts(&text, "\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n");
    CHECK_EQ_INT(parse(text.data, text.len, &n, &err), PD_OK);
    newsletter_free(n);
    n = NULL;
    buf_reset(&text);
    buf_puts(&text, "[subject.de]\n");
    for (int i = 0; i <= NEWSLETTER_SUBJECT_MAX; i++)
        buf_puts(&text, "ä");
    buf_puts(&text, "\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n");
    CHECK_EQ_INT(parse(text.data, text.len, &n, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "nl.txt:2: the subject has 151 characters") != NULL);
    /* a body over 64 KiB: refused at the line that crosses the limit */
    buf_reset(&text);
    buf_puts(&text, "[subject.de]\nA\n[subject.en]\nC\n[body.en]\nD\n[body.de]\n");
    for (int i = 0; i < 1100; i++)
        buf_printf(&text, "%063d\n", i);
    CHECK_EQ_INT(parse(text.data, text.len, &n, &err), PD_ETOOBIG);
    CHECK(strstr(buf_cstr(&err), "nl.txt:1032: [body.de] is longer than 64 KiB") != NULL);
    /* the whole file over 256 KiB */
    buf_reset(&text);
    while (text.len <= NEWSLETTER_FILE_MAX)
        buf_puts(&text, "# padding padding padding padding padding padding padding padding\n");
    CHECK_EQ_INT(parse(text.data, text.len, &n, &err), PD_ETOOBIG);
    CHECK(strstr(buf_cstr(&err), "larger than 256 KiB") != NULL);
    /* a file that is not there */
    buf_reset(&err);
    CHECK_EQ_INT(newsletter_load("/nonexistent/nl.txt", &n, &err), PD_EIO);
    CHECK(strstr(buf_cstr(&err), "/nonexistent/nl.txt: cannot read") != NULL);
    buf_free(&text);
    buf_free(&err);
}

int main(void)
{
    test_good();
    test_bad();
    test_limits();
    return check_done();
}
