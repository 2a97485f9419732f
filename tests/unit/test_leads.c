/* leads (catalog/leads.h) and their store functions (leads_store.h): addresses, sign-up and
 * the double opt-in mail's format, confirm, withdraw, the purge, back in stock with the HWG rule,
 * the newsletter guard, export and erasure, the data-rights registry, and the mail queue's
 * retries with backoff */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "check.h"
#include "consent.h"
#include "datarights.h"
#include "import.h"
#include "leads.h"
#include "leads_store.h"
#include "mailq.h"
#include "mailtext.h"
#include "newsletter.h"
#include "pd.h"
#include "store.h"
#include "testutil.h"

#define DAY_US (86400LL * 1000000)
#define RX_ZERO 63615524u  /* Ozempic: rx, stock 0 */
#define OTC_ZERO 61388165u /* Paracetamol-ratiopharm 500 mg: pharmacy-only, stock 0 */

static char data[300];
static store *st;
static consent_set *consents;
static mailtext *texts;
static outbox_opts out;
static leads_ctx lc;

/* the newest message in DATA/outbox/new (names start with the time) */
static int newest_mail(buf *msg)
{
    char dir[400], best[256] = "", path[700];
    snprintf(dir, sizeof dir, "%s/outbox/new", data);
    DIR *d = opendir(dir);
    struct dirent *e;
    buf_reset(msg);
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    snprintf(path, sizeof path, "%s/%s", dir, best);
    FILE *f = best[0] ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(msg, chunk, n);
    fclose(f);
    return 1;
}

/* the token after "PATH?token=" in msg */
static void token_after(const char *msg, const char *path, char tok[LEADS_TOKEN_LEN + 1])
{
    char pat[128];
    snprintf(pat, sizeof pat, "%s?token=", path);
    const char *p = strstr(msg, pat);
    tok[0] = '\0';
    if (p && strlen(p + strlen(pat)) >= LEADS_TOKEN_LEN) {
        memcpy(tok, p + strlen(pat), LEADS_TOKEN_LEN);
        tok[LEADS_TOKEN_LEN] = '\0';
    }
}

static long queued(void)
{
    lstore *t = NULL;
    long n = -1;
    long long next = 0;
    if (lstore_begin(st, &t) == PD_OK && lstore_mail_stats(t, &n, &next) != PD_OK)
        n = -1;
    lstore_rollback(t);
    return n;
}

static void drain(void)
{
    mailq_opts qo = {&out, 1, 60};
    long sent = 0, failed = 0;
    CHECK_EQ_INT(mailq_drain(st, &qo, &sent, &failed), PD_OK);
    CHECK_EQ_INT(failed, 0);
}

static int sign(const char *email, enum lead_purpose p, uint32_t pzn,
                enum leads_signup_outcome *res)
{
    const char *purpose = lead_purpose_name(p), *why = NULL;
    char version[32];
    snprintf(version, sizeof version, "%s-1", purpose);
    leads_signup_req r = {email, p,   pzn,        consent_find(consents, purpose, version, "de"),
                          "de",  "/", "192.0.2.7"};
    return leads_signup(&lc, &r, res, &why);
}

/* signs up and returns the confirmation and withdrawal tokens of the mail */
static void sign_and_read(const char *email, enum lead_purpose p, uint32_t pzn,
                          char ctok[LEADS_TOKEN_LEN + 1], char wtok[LEADS_TOKEN_LEN + 1])
{
    enum leads_signup_outcome res;
    buf msg = BUF_INIT;
    CHECK_EQ_INT(sign(email, p, pzn, &res), PD_OK);
    CHECK_EQ_INT(res, LEADS_MAIL_QUEUED);
    drain();
    CHECK(newest_mail(&msg));
    token_after(buf_cstr(&msg), "/leads/confirm", ctok);
    token_after(buf_cstr(&msg), "/leads/withdraw", wtok);
    CHECK_EQ_INT(strlen(ctok), LEADS_TOKEN_LEN);
    CHECK_EQ_INT(strlen(wtok), LEADS_TOKEN_LEN);
    buf_free(&msg);
}

static void test_email(void)
{
    char out_[LEADS_EMAIL_MAX + 1];
    const char *why;
    static const char *const good[][2] = {
        {"Anna.Schmidt@Example.ORG", "anna.schmidt@example.org"},
        {"  a+tag@mail.example.de ", "a+tag@mail.example.de"},
        {"o'brien@xn--mnchen-3ya.de", "o'brien@xn--mnchen-3ya.de"},
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(good); i++) {
        CHECK_EQ_INT(leads_email_normalize(good[i][0], out_, &why), PD_OK);
        CHECK_EQ_STR(out_, good[i][1]);
    }
    static const char *const bad[] = {"",         "a@b.c",          "plain",      "a@@b.de",
                                      "a@b",      ".a@example.org", "a..b@x.org", "a b@example.org",
                                      "a@-x.org", "a@x-.org",       "a@x.o",      "a@x.12",
                                      "ä@x.org",  "a<b>@x.org",     "a@x..org"};
    for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
        CHECK_EQ_INT(leads_email_normalize(bad[i], out_, &why), PD_EINVAL);
        CHECK(why && *why);
    }
}

static void test_signup_mail(void)
{
    enum leads_signup_outcome res;
    buf msg = BUF_INIT;
    char ctok[LEADS_TOKEN_LEN + 1], wtok[LEADS_TOKEN_LEN + 1];
    CHECK_EQ_INT(sign("Mail.Format@Example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    CHECK_EQ_INT(res, LEADS_MAIL_QUEUED);
    CHECK_EQ_INT(queued(), 1);
    drain();
    CHECK_EQ_INT(queued(), 0);
    CHECK(newest_mail(&msg));
    const char *m = buf_cstr(&msg);
    CHECK(strstr(m, "\nTo: mail.format@example.org\n") != NULL);
    CHECK(strstr(m, "\nDate: ") != NULL);
    CHECK(strstr(m, "\nMessage-ID: <") != NULL);
    CHECK(strstr(m, "\nSubject: =?UTF-8?B?") != NULL); /* "bestätigen" */
    CHECK(strstr(m, "\nList-Unsubscribe: <https://apotheke.example/api/v1/leads/withdraw?token=") !=
          NULL);
    CHECK(strstr(m, "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n") != NULL);
    CHECK(strstr(m, "https://apotheke.example/leads/confirm?token=") != NULL);
    CHECK(strstr(m, "https://apotheke.example/leads/withdraw?token=") != NULL);
    CHECK(strstr(m, "48 Stunden") != NULL);
    token_after(m, "/leads/confirm", ctok);
    token_after(m, "/api/v1/leads/withdraw", wtok);
    char wpage[LEADS_TOKEN_LEN + 1];
    token_after(m, "/leads/withdraw", wpage);
    CHECK_EQ_STR(wtok, wpage); /* the header and the body carry the same withdrawal link */
    CHECK(strcmp(ctok, wtok) != 0);

    /* the same sign-up again: no new row, no new mail */
    CHECK_EQ_INT(sign("mail.format@example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    CHECK_EQ_INT(res, LEADS_THROTTLED);
    CHECK_EQ_INT(queued(), 0);

    enum leads_token_result tr;
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(leads_confirm(&lc, wtok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_UNKNOWN); /* a withdrawal token confirms nothing */
    CHECK_EQ_INT(leads_confirm(&lc, "short", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_UNKNOWN);
    CHECK_EQ_INT(sign("mail.format@example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    CHECK_EQ_INT(res, LEADS_ALREADY_CONFIRMED);

    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "link", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "link", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);

    /* after a withdrawal a sign-up is a new consent with a new double opt-in */
    lc.mail_window_s = 1;
    usleep(1100 * 1000);
    CHECK_EQ_INT(sign("mail.format@example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    CHECK_EQ_INT(res, LEADS_MAIL_QUEUED);
    lc.mail_window_s = 600;
    /* withdrawn before delivery: the queued mail goes too */
    CHECK_EQ_INT(queued(), 1);
    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "one_click", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(queued(), 0);
    buf_free(&msg);
}

static void test_flood(void)
{
    enum leads_signup_outcome res;
    static const uint32_t pzns[] = {OTC_ZERO, 10782972u, 19528583u, 46171712u};
    int mails = 0;
    for (size_t i = 0; i < PD_ARRAY_LEN(pzns); i++) {
        CHECK_EQ_INT(sign("flood@example.org", LEAD_BACK_IN_STOCK, pzns[i], &res), PD_OK);
        mails += res == LEADS_MAIL_QUEUED;
    }
    CHECK_EQ_INT(mails, 3); /* mails_per_address */
    CHECK_EQ_INT(sign("flood@example.org", LEAD_BACK_IN_STOCK, 99999999u, &res), PD_ENOTFOUND);
    drain();
}

static void test_purge(void)
{
    char ctok[LEADS_TOKEN_LEN + 1], wtok[LEADS_TOKEN_LEN + 1], c2[LEADS_TOKEN_LEN + 1],
        w2[LEADS_TOKEN_LEN + 1];
    enum leads_token_result tr;
    leads_purged p;
    sign_and_read("unconfirmed@example.org", LEAD_NEWSLETTER, 0, ctok, wtok);
    sign_and_read("confirmed@example.org", LEAD_NEWSLETTER, 0, c2, w2);
    CHECK_EQ_INT(leads_confirm(&lc, c2, &tr), PD_OK);
    long long now = pd_wall_us();
    CHECK_EQ_INT(leads_purge(st, now + 6 * DAY_US, &p), PD_OK);
    CHECK_EQ_INT(p.unconfirmed, 0);
    CHECK_EQ_INT(p.tokens, 0); /* expired, but kept a week so a late click learns why */
    setenv("PHARMDESK_TEST_CLOCK_OFFSET_S", "518400", 1); /* the click comes 6 days later */
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_EXPIRED);
    unsetenv("PHARMDESK_TEST_CLOCK_OFFSET_S");
    CHECK_EQ_INT(leads_purge(st, now + 10 * DAY_US, &p), PD_OK);
    CHECK(p.unconfirmed >= 1);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_UNKNOWN);
    /* the unconfirmed sign-up is gone, the confirmed one stays */
    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "link", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_UNKNOWN);
    CHECK_EQ_INT(leads_withdraw(&lc, w2, "link", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    /* withdrawn leads go after 30 days; the ledger keeps them (with the address) */
    CHECK_EQ_INT(leads_purge(st, pd_wall_us() + 31 * DAY_US, &p), PD_OK);
    CHECK(p.ended >= 1);
    CHECK_EQ_INT(p.pseudonymised, 0);
    CHECK_EQ_INT(leads_purge(st, pd_wall_us() + (LEADS_LEDGER_DAYS + 1) * DAY_US, &p), PD_OK);
    CHECK(p.pseudonymised >= 1);
}

#ifdef PD_FAULT_INJECTION
static void test_expiry(void)
{
    char ctok[LEADS_TOKEN_LEN + 1], wtok[LEADS_TOKEN_LEN + 1];
    enum leads_token_result tr;
    sign_and_read("late@example.org", LEAD_NEWSLETTER, 0, ctok, wtok);
    setenv("PHARMDESK_TEST_CLOCK_OFFSET_S", "172801", 1); /* 48 h + 1 s */
    setenv("PHARMDESK_TEST_CLOCK_OFFSET_S", "518400", 1); /* the click comes 6 days later */
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_EXPIRED);
    unsetenv("PHARMDESK_TEST_CLOCK_OFFSET_S");
    setenv("PHARMDESK_TEST_CLOCK_OFFSET_S", "172000", 1);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    unsetenv("PHARMDESK_TEST_CLOCK_OFFSET_S");
}
#endif

static void set_stock(uint32_t pzn, long long stock)
{
    product *p = NULL;
    store_txn *t = NULL;
    enum store_upsert res;
    CHECK_EQ_INT(store_product_get(st, pzn, &p), PD_OK);
    if (!p)
        return;
    p->stock = stock;
    CHECK_EQ_INT(store_txn_begin(st, &t), PD_OK);
    CHECK_EQ_INT(store_product_upsert(t, p, &res, NULL), PD_OK);
    CHECK_EQ_INT(store_txn_commit(t), PD_OK);
    free(p);
}

static void test_back_in_stock(void)
{
    char c1[LEADS_TOKEN_LEN + 1], w1[LEADS_TOKEN_LEN + 1], c2[LEADS_TOKEN_LEN + 1],
        w2[LEADS_TOKEN_LEN + 1], c3[LEADS_TOKEN_LEN + 1], w3[LEADS_TOKEN_LEN + 1];
    enum leads_token_result tr;
    buf msg = BUF_INIT;
    long mailed = -1;
    sign_and_read("rx@example.org", LEAD_BACK_IN_STOCK, RX_ZERO, c1, w1);
    sign_and_read("rx.pending@example.org", LEAD_BACK_IN_STOCK, RX_ZERO, c2, w2);
    sign_and_read("otc@example.org", LEAD_BACK_IN_STOCK, OTC_ZERO, c3, w3);
    CHECK_EQ_INT(leads_confirm(&lc, c1, &tr), PD_OK);
    CHECK_EQ_INT(leads_confirm(&lc, c3, &tr), PD_OK);
    /* still 0 in stock: nothing */
    CHECK_EQ_INT(leads_back_in_stock(&lc, RX_ZERO, &mailed), PD_OK);
    CHECK_EQ_INT(mailed, 0);
    set_stock(RX_ZERO, 4);
    CHECK_EQ_INT(leads_back_in_stock(&lc, RX_ZERO, &mailed), PD_OK);
    CHECK_EQ_INT(mailed, 1); /* the confirmed lead only */
    drain();
    CHECK(newest_mail(&msg));
    const char *m = buf_cstr(&msg);
    CHECK(strstr(m, "\nTo: rx@example.org\n") != NULL);
    CHECK(strstr(m, "Ozempic") != NULL);
    CHECK(strstr(m, "verschreibungspflichtig") != NULL);
    CHECK(strstr(m, "EUR") == NULL && strstr(m, "94,49") == NULL && strstr(m, "Preis") == NULL);
    CHECK(strstr(m, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") != NULL);
    CHECK(strstr(m, "/leads/withdraw?token=") != NULL);
    /* fulfilled: never again */
    CHECK_EQ_INT(leads_back_in_stock(&lc, RX_ZERO, &mailed), PD_OK);
    CHECK_EQ_INT(mailed, 0);
    set_stock(OTC_ZERO, 2);
    CHECK_EQ_INT(leads_back_in_stock(&lc, OTC_ZERO, &mailed), PD_OK);
    CHECK_EQ_INT(mailed, 1);
    drain();
    CHECK(newest_mail(&msg));
    CHECK(strstr(buf_cstr(&msg), "2,45 EUR") != NULL); /* a non-rx notice may name the price */
    set_stock(RX_ZERO, 0);
    set_stock(OTC_ZERO, 0);
    buf_free(&msg);
}

static void test_newsletter_guard(void)
{
    buf why = BUF_INIT;
    static const char *const refused[] = {"Jetzt neu eingetroffen: Ozempic!", "Ibu 600 im Angebot",
                                          "Heute günstig: Novalgin", "Bestellen Sie PZN 63615524",
                                          "IBUPROFEN-RATIOPHARM 600 MG FILMTABLETTEN"};
    for (size_t i = 0; i < PD_ARRAY_LEN(refused); i++) {
        buf_reset(&why);
        CHECK_EQ_INT(leads_newsletter_check(st, refused[i], NULL, 0, &why), PD_EPERM);
        CHECK(why.len > 0);
    }
    static const char *const allowed[] = {
        "Ibuprofen gegen Kopfschmerzen: fragen Sie uns", "Ibu 400 im Angebot",
        "Pantoprazol Heumann 20 mg bei Sodbrennen", "Sonnenschutz für den Sommer", ""};
    for (size_t i = 0; i < PD_ARRAY_LEN(allowed); i++) {
        buf_reset(&why);
        CHECK_EQ_INT(leads_newsletter_check(st, allowed[i], NULL, 0, &why), PD_OK);
    }
    uint32_t rx[] = {13926897u, RX_ZERO}, otc[] = {13926897u, OTC_ZERO};
    CHECK_EQ_INT(leads_newsletter_check(st, "", rx, 2, &why), PD_EPERM);
    CHECK_EQ_INT(leads_newsletter_check(st, "", otc, 2, &why), PD_OK);
    buf_free(&why);
}

typedef struct rows {
    int leads, ledger, ledger_with_email, requests;
    int mentions; /* fields holding the address */
} rows;

static int count_row(const char *table, const lstore_field *f, size_t n, void *arg)
{
    rows *r = arg;
    int email = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].text && strstr(f[i].text, "erase.me@example.org"))
            email = 1;
    r->mentions += email;
    if (strcmp(table, "leads") == 0)
        r->leads++;
    else if (strcmp(table, "consent_ledger") == 0) {
        r->ledger++;
        r->ledger_with_email += email;
    } else if (strcmp(table, "data_requests") == 0)
        r->requests++;
    return 0;
}

static void test_export_erase(void)
{
    char ctok[LEADS_TOKEN_LEN + 1], wtok[LEADS_TOKEN_LEN + 1], dtok[LEADS_TOKEN_LEN + 1];
    enum leads_token_result tr;
    const char *why = NULL;
    int mailed = 0;
    buf msg = BUF_INIT;
    sign_and_read("erase.me@example.org", LEAD_NEWSLETTER, 0, ctok, wtok);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(leads_data_request(&lc, "Erase.Me@example.org", DATA_ERASURE, "en", &mailed, &why),
                 PD_OK);
    CHECK_EQ_INT(mailed, 1);
    CHECK_EQ_INT(leads_data_request(&lc, "erase.me@example.org", DATA_ERASURE, "en", &mailed, &why),
                 PD_OK);
    CHECK_EQ_INT(mailed, 0); /* one per window */
    drain();
    CHECK(newest_mail(&msg));
    CHECK(strstr(buf_cstr(&msg), "Art. 17") != NULL);
    CHECK(strstr(buf_cstr(&msg), "List-Unsubscribe") == NULL);
    token_after(buf_cstr(&msg), "/data/confirm", dtok);
    /* the link names its kind for the page's explanation (the token decides) */
    CHECK(strstr(buf_cstr(&msg), dtok) != NULL &&
          strncmp(strstr(buf_cstr(&msg), dtok) + LEADS_TOKEN_LEN, "&kind=erasure", 13) == 0);
    data_request_rec r;
    CHECK_EQ_INT(leads_data_token(&lc, dtok, &r, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(r.kind, DATA_ERASURE);
    CHECK_EQ_STR(r.email, "erase.me@example.org");

    rows before = {0};
    CHECK_EQ_INT(leads_export(st, "erase.me@example.org", count_row, &before), PD_OK);
    CHECK_EQ_INT(before.leads, 1);
    CHECK_EQ_INT(before.ledger, 1);
    CHECK_EQ_INT(before.requests, 1);

    datarights dr = {0};
    cJSON *sum = NULL;
    CHECK_EQ_INT(datarights_register_leads(&dr), PD_OK);
    CHECK_EQ_INT(datarights_register_leads(&dr), PD_EEXIST);
    CHECK_EQ_INT(datarights_erase(&dr, st, r.email, &sum), PD_OK);
    cJSON_Delete(sum);
    CHECK_EQ_INT(leads_data_complete(st, r.id), PD_OK);
    CHECK_EQ_INT(leads_data_token(&lc, dtok, &r, &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_GONE);

    rows after = {0};
    CHECK_EQ_INT(leads_export(st, "erase.me@example.org", count_row, &after), PD_OK);
    CHECK_EQ_INT(after.leads, 0);
    CHECK_EQ_INT(after.ledger, 1); /* kept, pseudonymised: proof of past consent */
    CHECK_EQ_INT(after.mentions, 0);
    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "link", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_UNKNOWN);

    cJSON *exp = NULL;
    CHECK_EQ_INT(datarights_export(&dr, st, "erase.me@example.org", &exp), PD_OK);
    char *text = cJSON_PrintUnformatted(exp);
    CHECK(text && strstr(text, "\"pseudonymised_at\"") &&
          strstr(text, "\"withdrawn_via\":\"erasure\""));
    free(text);
    cJSON_Delete(exp);
    buf_free(&msg);
}

static int never(store *s, const char *e, cJSON *o, void *a)
{
    (void)s, (void)e, (void)o, (void)a;
    return PD_OK;
}

static int never_erase(store *s, const char *e, cJSON *o, void *a)
{
    (void)s, (void)e, (void)o, (void)a;
    return PD_EIO;
}

static void test_registry(void)
{
    datarights dr = {0};
    char names[DATARIGHTS_MAX + 1][8];
    for (int i = 0; i <= DATARIGHTS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        datarights_source s = {names[i], never, i == 0 ? never_erase : NULL, NULL};
        if (i > 0)
            s.erase_fn = never;
        CHECK_EQ_INT(datarights_register(&dr, &s), i < DATARIGHTS_MAX ? PD_OK : PD_EFULL);
    }
    cJSON *sum = NULL;
    /* a failing source does not stop the others; its error is returned */
    CHECK_EQ_INT(datarights_erase(&dr, st, "x@example.org", &sum), PD_EIO);
    const cJSON *last =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "sources"), "s15");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(last, "done")));
    cJSON_Delete(sum);
}

static void test_queue_retry(void)
{
    enum leads_signup_outcome res;
    long sent = 0, failed = 0;
    outbox_opts bad = out;
    bad.sendmail = "false";
    mailq_opts qo = {&bad, 60, 3600};
    CHECK_EQ_INT(mailq_backoff_us(1, 60, 3600), 60LL * 1000000);
    CHECK_EQ_INT(mailq_backoff_us(2, 60, 3600), 120LL * 1000000);
    CHECK_EQ_INT(mailq_backoff_us(20, 60, 3600), 3600LL * 1000000);
    CHECK_EQ_INT(sign("retry@example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    CHECK_EQ_INT(mailq_drain(st, &qo, &sent, &failed), PD_OK);
    CHECK_EQ_INT(sent, 0);
    CHECK_EQ_INT(failed, 1);
    CHECK_EQ_INT(queued(), 1); /* kept */
    CHECK_EQ_INT(mailq_drain(st, &qo, &sent, &failed), PD_OK);
    CHECK_EQ_INT(failed, 0); /* not due before its backoff */
    /* due again: the next attempt delivers it */
    lstore *t = NULL;
    mail_rec m = {0};
    CHECK_EQ_INT(lstore_begin(st, &t), PD_OK);
    CHECK_EQ_INT(lstore_mail_claim(t, pd_wall_us() + 61LL * 1000000, 0, &m), PD_OK);
    CHECK_EQ_INT(m.attempts, 2);
    lstore_rollback(t); /* only looked */
    buf_free(&m.message);
    CHECK_EQ_INT(queued(), 1);
}

static void test_outbox_header(void)
{
    buf msg = BUF_INIT, err = BUF_INIT;
    outbox_mail m = {"a@example.org", "Grüße", "Text\n"};
    CHECK_EQ_INT(outbox_compose(&out, &m, "https://x.example/u?token=abc", &msg, &err), PD_OK);
    CHECK(strstr(buf_cstr(&msg), "List-Unsubscribe: <https://x.example/u?token=abc>\n") != NULL);
    static const char *const bad[] = {"https://x.example/u\r\nBcc: a@b.c", "javascript:x",
                                      "https://x.example/>,<mailto:a@b.c", "https://x y"};
    for (size_t i = 0; i < PD_ARRAY_LEN(bad); i++) {
        buf_reset(&msg);
        CHECK_EQ_INT(outbox_compose(&out, &m, bad[i], &msg, &err), PD_EINVAL);
    }
    buf_reset(&msg);
    CHECK_EQ_INT(outbox_compose(&out, &m, NULL, &msg, &err), PD_OK);
    CHECK(strstr(buf_cstr(&msg), "List-Unsubscribe") == NULL);
    buf_free(&msg);
    buf_free(&err);
}

/* the messages in DATA/outbox/new holding both needles; the last of them in msg */
static int outbox_with(const char *a, const char *b, buf *msg)
{
    char dir[400], path[700];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/outbox/new", data);
    DIR *d = opendir(dir);
    struct dirent *e;
    buf one = BUF_INIT;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        buf_reset(&one);
        if (buf_read_file(&one, path, 0) != PD_OK)
            continue;
        if (strstr(buf_cstr(&one), a) && strstr(buf_cstr(&one), b)) {
            n++;
            buf_reset(msg);
            buf_puts(msg, buf_cstr(&one));
        }
    }
    if (d)
        closedir(d);
    buf_free(&one);
    return n;
}

static void test_newsletter_send(void)
{
    char ctok[LEADS_TOKEN_LEN + 1], wtok[LEADS_TOKEN_LEN + 1], w1[LEADS_TOKEN_LEN + 1],
        w2[LEADS_TOKEN_LEN + 1];
    enum leads_signup_outcome res;
    enum leads_token_result tr;
    buf msg = BUF_INIT, err = BUF_INIT, why = BUF_INIT;
    newsletter *n = NULL, *bad = NULL;
    leads_newsletter_sent sent;
    const char *why_s = NULL;
    /* confirmed German and English, pending, withdrawn, and a confirmed back-in-stock lead */
    sign_and_read("nl.de@example.org", LEAD_NEWSLETTER, 0, ctok, wtok);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    leads_signup_req en = {"nl.en@example.org",
                           LEAD_NEWSLETTER,
                           0,
                           consent_find(consents, "newsletter", "newsletter-1", "en"),
                           "en",
                           "/",
                           NULL};
    CHECK_EQ_INT(leads_signup(&lc, &en, &res, &why_s), PD_OK);
    drain();
    CHECK(newest_mail(&msg));
    token_after(buf_cstr(&msg), "/leads/confirm", ctok);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(sign("nl.pending@example.org", LEAD_NEWSLETTER, 0, &res), PD_OK);
    sign_and_read("nl.gone@example.org", LEAD_NEWSLETTER, 0, ctok, wtok);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    CHECK_EQ_INT(leads_withdraw(&lc, wtok, "link", &tr), PD_OK);
    sign_and_read("nl.bis@example.org", LEAD_BACK_IN_STOCK, OTC_ZERO, ctok, wtok);
    CHECK_EQ_INT(leads_confirm(&lc, ctok, &tr), PD_OK);
    drain();

    static const char text[] = "[subject.de]\nSonnenschutz im Mai\n[body.de]\nDE-Sonnenschutz "
                               "und Ibu 400 im Angebot.\n[subject.en]\nSunscreen in May\n"
                               "[body.en]\nEN-Sunscreen for the summer.\n";
    CHECK_EQ_INT(newsletter_parse("nl", text, strlen(text), &n, &err), PD_OK);
    if (!n)
        goto out;
    CHECK_EQ_INT(leads_newsletter_send(&lc, newsletter_content(n), 0, &sent, &why), PD_OK);
    CHECK(sent.mails[0] >= 1 && sent.mails[1] >= 1);
    drain();
    CHECK_EQ_INT(outbox_with("To: nl.de@example.org\n", "DE-Sonnenschutz", &msg), 1);
    CHECK(strstr(buf_cstr(&msg), "\nList-Unsubscribe: <https://apotheke.example/api/v1/leads/"
                                 "withdraw?token=") != NULL);
    CHECK(strstr(buf_cstr(&msg), "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n") != NULL);
    CHECK(strstr(buf_cstr(&msg), "Abmelden") != NULL);
    token_after(buf_cstr(&msg), "/leads/withdraw", w1);
    token_after(buf_cstr(&msg), "/api/v1/leads/withdraw", w2);
    CHECK_EQ_STR(w1, w2);
    CHECK_EQ_INT(outbox_with("To: nl.en@example.org\n", "EN-Sunscreen", &msg), 1);
    CHECK(strstr(buf_cstr(&msg), "Unsubscribe (withdraws") != NULL);
    CHECK(strstr(buf_cstr(&msg), "Subject: Sunscreen in May\n") != NULL);
    token_after(buf_cstr(&msg), "/leads/withdraw", w2);
    CHECK(strcmp(w1, w2) != 0); /* each mail its own token */
    CHECK_EQ_INT(outbox_with("To: nl.en@example.org\n", "DE-Sonnenschutz", &msg), 0);
    CHECK_EQ_INT(outbox_with("To: nl.pending@example.org\n", "Sonnenschutz", &msg), 0);
    CHECK_EQ_INT(outbox_with("To: nl.gone@example.org\n", "Sonnenschutz", &msg), 0);
    CHECK_EQ_INT(outbox_with("To: nl.bis@example.org\n", "Sonnenschutz", &msg), 0);

    /* the same content again: refused, nothing queued; with force it goes, not to a lead that
     * withdrew through the newsletter's own link */
    long before = sent.mails[0] + sent.mails[1], q0 = queued(); /* test_queue_retry's mail */
    CHECK_EQ_INT(leads_newsletter_send(&lc, newsletter_content(n), 0, &sent, &why), PD_EEXIST);
    CHECK(sent.previous_us > 0);
    CHECK_EQ_INT(sent.previous_mails, before);
    CHECK_EQ_INT(queued(), q0);
    CHECK_EQ_INT(leads_withdraw(&lc, w1, "one_click", &tr), PD_OK);
    CHECK_EQ_INT(tr, LEADS_OK);
    CHECK_EQ_INT(leads_newsletter_send(&lc, newsletter_content(n), 1, &sent, &why), PD_OK);
    CHECK_EQ_INT(sent.mails[0] + sent.mails[1], before - 1);
    drain();
    CHECK_EQ_INT(outbox_with("To: nl.de@example.org\n", "DE-Sonnenschutz", &msg), 1);
    CHECK_EQ_INT(outbox_with("To: nl.en@example.org\n", "EN-Sunscreen", &msg), 2);

    /* HWG §10: an rx product by name, alias or PZN in any part: refused, nothing queued */
    static const struct {
        const char *text, *part, *product;
    } rx[] = {
        {"[subject.de]\nOzempic wieder da\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nD\n",
         "German subject", "Ozempic"},
        {"[subject.de]\nA\n[body.de]\nB\n[subject.en]\nC\n[body.en]\nViagra for you\n",
         "English body", "Sildenafil"},
        {"[subject.de]\nA\n[body.de]\nJetzt PZN 6361-5524 bestellen\n[subject.en]\nC\n"
         "[body.en]\nD\n",
         "German body", "Ozempic"},
    };
    for (size_t i = 0; i < PD_ARRAY_LEN(rx); i++) {
        CHECK_EQ_INT(newsletter_parse("rx", rx[i].text, strlen(rx[i].text), &bad, &err), PD_OK);
        buf_reset(&why);
        CHECK_EQ_INT(leads_newsletter_send(&lc, newsletter_content(bad), 1, &sent, &why), PD_EPERM);
        CHECK(strstr(buf_cstr(&why), rx[i].part) && strstr(buf_cstr(&why), rx[i].product));
        CHECK_EQ_INT(sent.mails[0] + sent.mails[1], 0);
        CHECK_EQ_INT(queued(), q0);
        newsletter_free(bad);
        bad = NULL;
    }
out:
    newsletter_free(n);
    buf_free(&msg);
    buf_free(&err);
    buf_free(&why);
}

int main(int argc, char **argv)
{
    buf err = BUF_INIT;
    char path[600];
    import_summary sum;
    if (argc < 3) {
        fprintf(stderr, "usage: test_leads DEMO_DIR POLICIES_DIR\n");
        return 2;
    }
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    snprintf(path, sizeof path, "%s/catalog.csv", argv[1]);
    if (store_create(data, &err) != PD_OK || store_open(data, 1, &st, &err) != PD_OK ||
        import_csv(st, IMPORT_CATALOG, path, NULL, NULL, &sum, &err) != PD_OK ||
        consent_load(argv[2], "Apotheke am Markt", 30, &consents, &err) != PD_OK ||
        mailtext_load(argv[2], &texts, &err) != PD_OK) {
        fprintf(stderr, "setup: %s\n", buf_cstr(&err));
        return 2;
    }
    out = (outbox_opts){.dir = data,
                        .from = "info@apotheke.example",
                        .pharmacy_name = "Apotheke am Markt",
                        .pharmacy_address = "Marktplatz 1, 10115 Berlin",
                        .pharmacy_phone = "030 1234567"};
    lc = (leads_ctx){.store = st,
                     .out = &out,
                     .texts = texts,
                     .base_url = "https://apotheke.example",
                     .mail_window_s = 600,
                     .mails_per_address = 3,
                     .store_ip_hash = 1};
    test_email();
    test_signup_mail();
    test_flood();
    test_purge();
#ifdef PD_FAULT_INJECTION
    test_expiry();
#endif
    test_back_in_stock();
    test_newsletter_guard();
    test_export_erase();
    test_registry();
    test_queue_retry();
    test_outbox_header();
    test_newsletter_send();
    mailtext_free(texts);
    consent_free(consents);
    store_close(st);
    buf_free(&err);
    return check_done();
}
