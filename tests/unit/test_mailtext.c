/* the mail texts (policies/mails.*.txt): the shipped files load, every key the code renders
 * exists in both languages, placeholders are replaced, broken files name FILE:LINE */
#include <sys/stat.h>

#include "check.h"
#include "mailtext.h"
#include "pd.h"
#include "testutil.h"

static char dir[300];

static void write_pair(const char *de, const char *en)
{
    char p[400];
    snprintf(p, sizeof p, "%s/mails.de.txt", dir);
    testutil_write(p, de);
    snprintf(p, sizeof p, "%s/mails.en.txt", dir);
    testutil_write(p, en);
}

/* a complete file with every key, from the shipped German one, with extra appended */
static void read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    buf err = BUF_INIT, out = BUF_INIT, de = BUF_INIT, bad = BUF_INIT;
    mailtext *m = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: test_mailtext POLICIES_DIR\n");
        return 2;
    }
    CHECK_EQ_INT(mailtext_load(argv[1], &m, &err), PD_OK);
    if (!m) {
        fprintf(stderr, "%s\n", buf_cstr(&err));
        return check_done();
    }
    mailtext_var v[] = {{"pharmacy_name", "Apotheke am Markt"},
                        {"confirm_url", "https://a.example/leads/confirm?token=T"},
                        {"hours", "48"}};
    mailtext_render(m, "lead_confirm.body", "de", v, PD_ARRAY_LEN(v), &out);
    CHECK(strstr(buf_cstr(&out), "https://a.example/leads/confirm?token=T") != NULL);
    CHECK(strstr(buf_cstr(&out), "48 Stunden") != NULL);
    CHECK(strstr(buf_cstr(&out), "Apotheke am Markt") != NULL);
    CHECK(strchr(buf_cstr(&out), '{') == NULL);  /* unfilled placeholders render empty */
    CHECK(strchr(buf_cstr(&out), '\n') != NULL); /* line breaks kept */
    buf_reset(&out);
    mailtext_render(m, "lead_confirm.subject", "en", v, PD_ARRAY_LEN(v), &out);
    CHECK_EQ_STR(buf_cstr(&out), "Please confirm your sign-up with Apotheke am Markt");
    buf_reset(&out);
    mailtext_render(m, "lead_confirm.subject", "fr", v, PD_ARRAY_LEN(v), &out);
    CHECK(strncmp(buf_cstr(&out), "Bitte", 5) == 0); /* other languages: German */
    /* HWG §10: the rx notice has no price placeholder in either language */
    CHECK(strstr(mailtext_get(m, "back_in_stock_rx.body", "de"), "{price}") == NULL);
    CHECK(strstr(mailtext_get(m, "back_in_stock_rx.body", "en"), "{price}") == NULL);
    CHECK(strstr(mailtext_get(m, "back_in_stock_rx.subject", "de"), "{price}") == NULL);
    mailtext_free(m);

    snprintf(dir, sizeof dir, "%s", testutil_tmpdir());
    char p[400];
    snprintf(p, sizeof p, "%s/mails.de.txt", argv[1]);
    read_file(p, &de);
    /* an unknown placeholder names file, line and placeholder */
    buf_printf(&bad, "%s\n[extra.body]\nHallo {nmae}\n", buf_cstr(&de));
    write_pair(buf_cstr(&bad), buf_cstr(&de));
    buf_reset(&err);
    CHECK_EQ_INT(mailtext_load(dir, &m, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "mails.de.txt:") && strstr(buf_cstr(&err), "{nmae"));
    /* a missing key in one language */
    write_pair(buf_cstr(&de), "[lead_confirm.subject]\nHi\n");
    buf_reset(&err);
    CHECK_EQ_INT(mailtext_load(dir, &m, &err), PD_EINVAL);
    CHECK(strstr(buf_cstr(&err), "mails.en.txt") && strstr(buf_cstr(&err), "missing"));
    /* a key twice, an empty text, text before the first key */
    static const char *const broken[] = {"[a]\nx\n[a]\ny\n", "[a]\n\n[b]\nx\n", "hello\n[a]\nx\n",
                                         "[A B]\nx\n"};
    for (size_t i = 0; i < PD_ARRAY_LEN(broken); i++) {
        write_pair(broken[i], buf_cstr(&de));
        buf_reset(&err);
        CHECK_EQ_INT(mailtext_load(dir, &m, &err), PD_EINVAL);
        CHECK(strstr(buf_cstr(&err), "mails.de.txt:") != NULL);
    }
    buf_free(&err);
    buf_free(&out);
    buf_free(&de);
    buf_free(&bad);
    return check_done();
}
