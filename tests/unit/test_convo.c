/* conversation state: ids, expiry, bounds; nothing but the flow's state is kept */
#include "check.h"
#include "convo.h"
#include "pd.h"

static long long fake_now;
static long long clock_fn(void)
{
    return fake_now;
}

/* many conversations through a small table: hash chains, the free list and the touch order
 * stay consistent through evictions, expiries and renewals */
static void test_many(void)
{
    enum { CAP = 64, N = 2000 };
    static convo_state all[N];
    convo_state got;
    convo_table *t = convo_new(CAP, 600);
    convo_set_clock(t, clock_fn);
    fake_now = 50000;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(convo_start(t, "de", &all[i]), PD_OK);
        all[i].failures = i;
        CHECK_EQ_INT(convo_put(t, &all[i]), PD_OK);
        if (i % 7 == 0 && i >= 10) { /* renew an older one: it survives the next evictions */
            CHECK_EQ_INT(convo_get(t, all[i - 10].id, &got), PD_OK);
            CHECK_EQ_INT(convo_put(t, &got), PD_OK);
        }
    }
    int found = 0;
    for (int i = 0; i < N; i++)
        if (convo_get(t, all[i].id, &got) == PD_OK) {
            CHECK_EQ_INT(got.failures, i);
            found++;
        }
    CHECK_EQ_INT(found, CAP); /* full, and never more than full */
    CHECK_EQ_INT(convo_get(t, all[N - 1].id, &got), PD_OK);
    CHECK_EQ_INT(convo_get(t, all[0].id, &got), PD_ENOTFOUND);
    fake_now += 601; /* all expire at once; the table takes new ones again */
    CHECK_EQ_INT(convo_get(t, all[N - 1].id, &got), PD_ENOTFOUND);
    for (int i = 0; i < CAP; i++)
        CHECK_EQ_INT(convo_put(t, &all[i]), PD_OK);
    for (int i = 0; i < CAP; i++)
        CHECK_EQ_INT(convo_get(t, all[i].id, &got), PD_OK);
    convo_free(t);
}

int main(void)
{
    convo_table *t = convo_new(3, 1800);
    convo_state a, b, got;
    convo_set_clock(t, clock_fn);
    fake_now = 1000;

    CHECK_EQ_INT(convo_start(t, "en", &a), PD_OK);
    CHECK_EQ_INT(strlen(a.id), CONVO_ID_LEN);
    CHECK_EQ_STR(a.lang, "en");
    CHECK_EQ_INT(convo_start(t, "fr", &b), PD_OK);
    CHECK_EQ_STR(b.lang, "de"); /* anything but English gets German */
    CHECK(strcmp(a.id, b.id) != 0);
    for (size_t i = 0; i < CONVO_ID_LEN; i++)
        CHECK((a.id[i] >= 'a' && a.id[i] <= 'z') || (a.id[i] >= '2' && a.id[i] <= '7'));

    /* state round trip */
    a.pending = CONVO_ASK_POSTCODE;
    snprintf(a.order_number, sizeof a.order_number, "AP-100231");
    a.failures = 2;
    CHECK_EQ_INT(convo_put(t, &a), PD_OK);
    CHECK_EQ_INT(convo_get(t, a.id, &got), PD_OK);
    CHECK_EQ_INT(got.pending, CONVO_ASK_POSTCODE);
    CHECK_EQ_STR(got.order_number, "AP-100231");
    CHECK_EQ_INT(got.failures, 2);

    /* unknown, malformed and NULL ids */
    CHECK_EQ_INT(convo_get(t, "aaaaaaaaaaaaaaaaaaaaaaaaaa", &got), PD_ENOTFOUND);
    CHECK_EQ_INT(convo_get(t, "short", &got), PD_ENOTFOUND);
    CHECK_EQ_INT(convo_get(t, NULL, &got), PD_ENOTFOUND);

    /* expiry after the idle time; a touch renews it */
    fake_now += 1700;
    CHECK_EQ_INT(convo_put(t, &a), PD_OK);
    fake_now += 1700;
    CHECK_EQ_INT(convo_get(t, a.id, &got), PD_OK);
    CHECK_EQ_INT(convo_get(t, b.id, &got), PD_ENOTFOUND);
    fake_now += 1801;
    CHECK_EQ_INT(convo_get(t, a.id, &got), PD_ENOTFOUND);

    /* bounded: the least recently used gives way */
    convo_state c[4];
    for (int i = 0; i < 4; i++) {
        fake_now += 1;
        convo_start(t, "de", &c[i]);
    }
    CHECK_EQ_INT(convo_get(t, c[0].id, &got), PD_ENOTFOUND);
    CHECK_EQ_INT(convo_get(t, c[3].id, &got), PD_OK);
    convo_free(t);
    test_many();
    return check_done();
}
