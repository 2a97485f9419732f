/* the tickets store on a real encrypted database: creation and retries, tokens, the claim
 * compare-and-set, replies, close, assign, escalation, the event log, retention, export and
 * erasure by e-mail, staff accounts, login failures and sessions */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "pd.h"
#include "store.h"
#include "testutil.h"
#include "tickets_store.h"

#define SEC 1000000LL
static const char hash_a[] = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

static store *s;
static long long anna, bert;

static void hash_of(unsigned char out[TICKET_HASH_BYTES], int v)
{
    memset(out, v, TICKET_HASH_BYTES);
}

static ticket_new new_ticket(const char *id, const char *conv, int key, int tok, long long now)
{
    ticket_new t = {0};
    t.public_id = id;
    t.conversation = conv;
    hash_of(t.msg_key, key);
    hash_of(t.token_hash, tok);
    t.message = "Bitte rufen Sie mich an";
    t.lang = "de";
    t.priority = TICKET_PRIO_NORMAL;
    t.now_us = now;
    return t;
}

static void test_staff(void)
{
    staff_account a;
    char h[STAFF_HASH_MAX];
    long long n = -1;
    CHECK_EQ_INT(staff_create(s, "anna", "admin", hash_a, 100 * SEC), PD_OK);
    CHECK_EQ_INT(staff_create(s, "bert", "pharmacist", hash_a, 101 * SEC), PD_OK);
    CHECK_EQ_INT(staff_create(s, "bert", "admin", hash_a, 102 * SEC), PD_EEXIST);
    CHECK_EQ_INT(staff_create(s, "carl", "boss", hash_a, 102 * SEC), PD_EINVAL);
    CHECK_EQ_INT(staff_create(s, "dora", "admin", "plaintext", 102 * SEC), PD_EINVAL);
    CHECK_EQ_INT(staff_count(s, &n), PD_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(staff_get(s, "anna", &a, h), PD_OK);
    CHECK_EQ_STR(a.role, "admin");
    CHECK_EQ_STR(h, hash_a);
    anna = a.id;
    CHECK_EQ_INT(staff_get(s, "bert", &a, NULL), PD_OK);
    bert = a.id;
    CHECK_EQ_INT(staff_get(s, "nobody", &a, NULL), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_get_by_id(s, bert, &a), PD_OK);
    CHECK_EQ_STR(a.username, "bert");
    staff_account *v = NULL;
    size_t cnt = 0;
    CHECK_EQ_INT(staff_list(s, &v, &cnt), PD_OK);
    CHECK(cnt == 2 && strcmp(v[0].username, "anna") == 0 && v[1].created_us == 101 * SEC);
    free(v);
}

static void test_sessions(void)
{
    unsigned char h1[TICKET_HASH_BYTES], h2[TICKET_HASH_BYTES], h3[TICKET_HASH_BYTES];
    staff_session ss;
    const long long idle = 1800 * SEC, max = 43200 * SEC;
    hash_of(h1, 1);
    hash_of(h2, 2);
    hash_of(h3, 3);
    const char *csrf = "cccccccccccccccccccccccccccccccccccccccccc1";
    CHECK_EQ_INT(staff_session_create(s, h1, bert, csrf, 1000 * SEC), PD_OK);
    CHECK_EQ_INT(staff_session_create(s, h2, bert, csrf, 1000 * SEC), PD_OK);
    CHECK_EQ_INT(staff_session_create(s, h3, bert, "short", 1000 * SEC), PD_EINVAL);
    /* alive: the same limits, but it does not renew the session */
    CHECK_EQ_INT(staff_session_alive(s, h1, 2700 * SEC, idle, max), PD_OK);
    CHECK_EQ_INT(staff_session_alive(s, h1, 2801 * SEC, idle, max), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_session_alive(s, h3, 1001 * SEC, idle, max), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_session_get(s, h1, 1100 * SEC, idle, max, &ss), PD_OK);
    CHECK_EQ_STR(ss.who.username, "bert");
    CHECK_EQ_STR(ss.csrf, csrf);
    /* idle: touched at 1100, alive at 2800, gone at 2901 + 1800 */
    CHECK_EQ_INT(staff_session_get(s, h1, 2800 * SEC, idle, max, &ss), PD_OK);
    CHECK_EQ_INT(staff_session_get(s, h1, 4601 * SEC, idle, max, &ss), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_session_get(s, h1, 4602 * SEC, idle, max, &ss), PD_ENOTFOUND);
    CHECK(ss.who.id == 0); /* nothing leaks out of a failed lookup */
    /* absolute: used every 20 minutes, still gone after 12 hours */
    long long t = 1000 * SEC;
    int alive = 1;
    while (alive && t < 1000 * SEC + max + 3600 * SEC) {
        t += 1200 * SEC;
        alive = staff_session_get(s, h2, t, idle, max, &ss) == PD_OK;
    }
    CHECK(!alive && t > 1000 * SEC + max && t <= 1000 * SEC + max + 1200 * SEC);
    /* disabling ends sessions; password change ends all but the kept one */
    CHECK_EQ_INT(staff_session_create(s, h1, bert, csrf, 5000 * SEC), PD_OK);
    CHECK_EQ_INT(staff_session_create(s, h2, bert, csrf, 5000 * SEC), PD_OK);
    CHECK_EQ_INT(staff_set_password(s, "bert", hash_a, h1), PD_OK);
    CHECK_EQ_INT(staff_session_get(s, h1, 5001 * SEC, idle, max, &ss), PD_OK);
    CHECK_EQ_INT(staff_session_get(s, h2, 5001 * SEC, idle, max, &ss), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_set_disabled(s, "bert", 1), PD_OK);
    CHECK_EQ_INT(staff_session_get(s, h1, 5002 * SEC, idle, max, &ss), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_set_disabled(s, "bert", 0), PD_OK);
    CHECK_EQ_INT(staff_set_disabled(s, "nobody", 1), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_set_password(s, "nobody", hash_a, NULL), PD_ENOTFOUND);
    CHECK_EQ_INT(staff_session_create(s, h3, anna, csrf, 5000 * SEC), PD_OK);
    CHECK_EQ_INT(staff_session_delete(s, h3), PD_OK);
    CHECK_EQ_INT(staff_session_get(s, h3, 5001 * SEC, idle, max, &ss), PD_ENOTFOUND);
}

static void test_login_failures(void)
{
    int f = -1;
    long long until = -1;
    CHECK_EQ_INT(staff_login_state(s, "ghost", &f, &until), PD_OK);
    CHECK(f == 0 && until == 0);
    CHECK_EQ_INT(staff_login_failed(s, "ghost", 3, 77 * SEC, 70 * SEC), PD_OK);
    CHECK_EQ_INT(staff_login_failed(s, "ghost", 4, 79 * SEC, 71 * SEC), PD_OK);
    CHECK_EQ_INT(staff_login_state(s, "ghost", &f, &until), PD_OK);
    CHECK(f == 4 && until == 79 * SEC);
    CHECK_EQ_INT(staff_login_clear(s, "ghost"), PD_OK);
    CHECK_EQ_INT(staff_login_state(s, "ghost", &f, &until), PD_OK);
    CHECK_EQ_INT(f, 0);
}

static void test_create_retry_tokens(void)
{
    char id[TICKET_ID_LEN + 1];
    unsigned char h[TICKET_HASH_BYTES];
    int existed = -1;
    ticket *t = NULL;
    ticket_new n = new_ticket("aaaaaaaaaaaaaaaa", "conv0000000000000000000000", 1, 10, 10 * SEC);
    n.contact_email = "Kunde@Example.org";
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    CHECK(existed == 0 && strcmp(id, "aaaaaaaaaaaaaaaa") == 0);
    /* the same conversation and message: the same ticket, one more token */
    n = new_ticket("bbbbbbbbbbbbbbbb", "conv0000000000000000000000", 1, 11, 11 * SEC);
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    CHECK(existed == 1 && strcmp(id, "aaaaaaaaaaaaaaaa") == 0);
    hash_of(h, 10);
    CHECK_EQ_INT(tickets_get_by_token(s, "aaaaaaaaaaaaaaaa", h, &t), PD_OK);
    CHECK(t && t->status == TICKET_OPEN && strcmp(t->message, "Bitte rufen Sie mich an") == 0);
    ticket_free(t);
    hash_of(h, 11);
    CHECK_EQ_INT(tickets_get_by_token(s, "aaaaaaaaaaaaaaaa", h, &t), PD_OK);
    ticket_free(t);
    hash_of(h, 12);
    CHECK_EQ_INT(tickets_get_by_token(s, "aaaaaaaaaaaaaaaa", h, &t), PD_ENOTFOUND);
    CHECK(t == NULL);
    hash_of(h, 10);
    CHECK_EQ_INT(tickets_get_by_token(s, "zzzzzzzzzzzzzzzz", h, &t), PD_ENOTFOUND);
    /* at most TICKET_MAX_TOKENS: the oldest goes */
    for (int i = 0; i < TICKET_MAX_TOKENS; i++) {
        n = new_ticket("cccccccccccccccc", "conv0000000000000000000000", 1, 20 + i, (12 + i) * SEC);
        CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    }
    hash_of(h, 10);
    CHECK_EQ_INT(tickets_get_by_token(s, "aaaaaaaaaaaaaaaa", h, &t), PD_ENOTFOUND);
    hash_of(h, 20 + TICKET_MAX_TOKENS - 1);
    CHECK_EQ_INT(tickets_get_by_token(s, "aaaaaaaaaaaaaaaa", h, &t), PD_OK);
    ticket_free(t);
    /* another message, or no conversation: new tickets */
    n = new_ticket("dddddddddddddddd", "conv0000000000000000000000", 2, 30, 20 * SEC);
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    CHECK(existed == 0 && strcmp(id, "dddddddddddddddd") == 0);
    n = new_ticket("eeeeeeeeeeeeeeee", NULL, 1, 31, 21 * SEC);
    n.priority = TICKET_PRIO_ADVERSE_EVENT;
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    n = new_ticket("ffffffffffffffff", NULL, 1, 32, 22 * SEC);
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    CHECK_EQ_INT(existed, 0);
    /* health data without consent cannot be stored (the schema's CHECK) */
    n = new_ticket("gggggggggggggggg", NULL, 1, 33, 23 * SEC);
    n.health_data = 1;
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_EINVAL);
    n.consent_version = "handoff-1";
    n.consent_hash = "0123";
    CHECK_EQ_INT(tickets_create(s, &n, id, &existed), PD_OK);
    CHECK_EQ_INT(tickets_get(s, "gggggggggggggggg", &t), PD_OK);
    CHECK(t->health_data && t->consent_us == 23 * SEC &&
          strcmp(t->consent_version, "handoff-1") == 0);
    ticket_free(t);
    enum ticket_status st;
    CHECK_EQ_INT(tickets_active_for_conversation(s, "conv0000000000000000000000", id, &st), PD_OK);
    CHECK_EQ_STR(id, "dddddddddddddddd");
    CHECK_EQ_INT(tickets_active_for_conversation(s, "other", id, &st), PD_ENOTFOUND);
}

typedef struct race {
    const char *id;
    long long who;
    int rc;
    pthread_barrier_t *bar;
} race;

static void *claimer(void *arg)
{
    race *r = arg;
    int changed = 0;
    pthread_barrier_wait(r->bar);
    r->rc = tickets_claim(s, r->id, r->who, 30 * SEC, &changed);
    if (r->rc == PD_OK && !changed)
        r->rc = 1; /* "already mine" cannot happen in a race between two people */
    return NULL;
}

static void test_actions(void)
{
    int changed = -1;
    ticket *t = NULL;
    /* the compare-and-set from two threads: one wins */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    race r[2] = {{"aaaaaaaaaaaaaaaa", anna, -99, &bar}, {"aaaaaaaaaaaaaaaa", bert, -99, &bar}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, claimer, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    CHECK((r[0].rc == PD_OK && r[1].rc == PD_EEXIST) || (r[1].rc == PD_OK && r[0].rc == PD_EEXIST));
    long long holder = r[0].rc == PD_OK ? anna : bert, other = holder == anna ? bert : anna;
    CHECK_EQ_INT(tickets_claim(s, "aaaaaaaaaaaaaaaa", holder, 31 * SEC, &changed), PD_OK);
    CHECK_EQ_INT(changed, 0);
    CHECK_EQ_INT(tickets_reply(s, "aaaaaaaaaaaaaaaa", other, "nein", 32 * SEC), PD_EEXIST);
    CHECK_EQ_INT(tickets_close(s, "aaaaaaaaaaaaaaaa", bert, 0, 32 * SEC),
                 holder == bert ? PD_OK : PD_EEXIST);
    if (holder != bert)
        CHECK_EQ_INT(tickets_close(s, "aaaaaaaaaaaaaaaa", anna, 1, 32 * SEC), PD_OK);
    CHECK_EQ_INT(tickets_claim(s, "aaaaaaaaaaaaaaaa", bert, 33 * SEC, &changed), PD_EPERM);
    CHECK_EQ_INT(tickets_close(s, "aaaaaaaaaaaaaaaa", bert, 1, 33 * SEC), PD_EPERM);
    CHECK_EQ_INT(tickets_claim(s, "nonexistent00000", bert, 33 * SEC, &changed), PD_ENOTFOUND);
    /* a reply claims an unclaimed ticket; the status becomes answered */
    CHECK_EQ_INT(tickets_reply(s, "dddddddddddddddd", bert, "Wir rufen an.", 34 * SEC), PD_OK);
    CHECK_EQ_INT(tickets_get(s, "dddddddddddddddd", &t), PD_OK);
    CHECK(t->status == TICKET_ANSWERED && t->claimed_by && strcmp(t->claimed_by, "bert") == 0 &&
          t->nreplies == 1 && strcmp(t->replies[0].text, "Wir rufen an.") == 0 &&
          t->replies[0].at_us == 34 * SEC);
    ticket_free(t);
    CHECK_EQ_INT(tickets_assign(s, "dddddddddddddddd", "anna", 35 * SEC), PD_OK);
    CHECK_EQ_INT(tickets_assign(s, "dddddddddddddddd", "nobody", 35 * SEC), PD_EINVAL);
    CHECK_EQ_INT(tickets_reply(s, "dddddddddddddddd", bert, "noch was", 36 * SEC), PD_EEXIST);
    CHECK_EQ_INT(tickets_escalate(s, "ffffffffffffffff", TICKET_PRIO_EMERGENCY, 37 * SEC), PD_OK);
    CHECK_EQ_INT(tickets_escalate(s, "eeeeeeeeeeeeeeee", TICKET_PRIO_NORMAL, 37 * SEC), PD_OK);
    /* the queue: not closed, by priority then age */
    ticket **v = NULL;
    size_t n = 0;
    CHECK_EQ_INT(tickets_list(s, -1, &v, &n), PD_OK);
    CHECK(n == 4 && strcmp(v[0]->public_id, "ffffffffffffffff") == 0 &&
          strcmp(v[1]->public_id, "eeeeeeeeeeeeeeee") == 0 &&
          strcmp(v[2]->public_id, "dddddddddddddddd") == 0 &&
          strcmp(v[3]->public_id, "gggggggggggggggg") == 0);
    tickets_free(v, n);
    CHECK_EQ_INT(tickets_list(s, TICKET_CLOSED, &v, &n), PD_OK);
    CHECK(n == 1 && strcmp(v[0]->public_id, "aaaaaaaaaaaaaaaa") == 0 &&
          v[0]->closed_us == 32 * SEC);
    tickets_free(v, n);
}

static void test_events(void)
{
    ticket_event ev[32];
    size_t n = 0;
    long long last = 0;
    CHECK_EQ_INT(tickets_events_last(s, &last), PD_OK);
    CHECK_EQ_INT(tickets_events_after(s, 0, ev, 32, &n), PD_OK);
    CHECK_EQ_INT((long long)n, last);
    const char *want[] = {"new",     "new",    "new",     "new",      "new",
                          "claimed", "closed", "replied", "assigned", "escalated"};
    CHECK_EQ_INT(n, PD_ARRAY_LEN(want));
    for (size_t i = 0; i < n && i < PD_ARRAY_LEN(want); i++) {
        CHECK_EQ_STR(ev[i].type, want[i]);
        CHECK_EQ_INT(ev[i].id, (long long)i + 1);
    }
    CHECK(strcmp(ev[8].claimed_by, "anna") == 0 && ev[8].status == TICKET_ANSWERED);
    CHECK(ev[9].priority == TICKET_PRIO_EMERGENCY && ev[0].claimed_by[0] == '\0');
    CHECK_EQ_INT(tickets_events_after(s, 8, ev, 32, &n), PD_OK);
    CHECK(n == 2 && ev[0].id == 9);
    CHECK_EQ_INT(tickets_events_after(s, 0, ev, 3, &n), PD_OK);
    CHECK_EQ_INT(n, 3);
}

static void test_retention_and_rights(void)
{
    int n = -1;
    ticket *t = NULL;
    cJSON *j = NULL;
    /* closed at 32 s: not before 32 s + retention */
    CHECK_EQ_INT(tickets_purge_closed(s, 32 * SEC, 0, &n), PD_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(tickets_purge_closed(s, 33 * SEC, 0, &n), PD_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(tickets_get(s, "aaaaaaaaaaaaaaaa", &t), PD_OK);
    CHECK(t->message == NULL && t->contact_email == NULL && t->conversation == NULL && t->purged &&
          t->status == TICKET_CLOSED && t->created_us == 10 * SEC);
    ticket_free(t);
    CHECK_EQ_INT(tickets_get(s, "dddddddddddddddd", &t), PD_OK);
    CHECK(t->message != NULL && t->replies[0].text != NULL);
    ticket_free(t);
    CHECK_EQ_INT(tickets_purge_closed(s, 33 * SEC, 0, &n), PD_OK);
    CHECK_EQ_INT(n, 0);
    /* Art. 15 / 17 by address, regardless of ASCII case */
    char id[TICKET_ID_LEN + 1];
    int existed;
    ticket_new nt = new_ticket("hhhhhhhhhhhhhhhh", NULL, 1, 40, 50 * SEC);
    nt.contact_email = "kunde@example.org";
    nt.contact_name = "Frau K";
    CHECK_EQ_INT(tickets_create(s, &nt, id, &existed), PD_OK);
    CHECK_EQ_INT(tickets_reply(s, "hhhhhhhhhhhhhhhh", anna, "Antwort", 51 * SEC), PD_OK);
    CHECK_EQ_INT(tickets_export_by_email(s, "KUNDE@example.ORG", &j), PD_OK);
    CHECK(cJSON_GetArraySize(j) == 1); /* the purged one lost its address */
    char *txt = cJSON_PrintUnformatted(j);
    CHECK(strstr(txt, "\"message\":\"Bitte rufen Sie mich an\"") && strstr(txt, "Frau K") &&
          strstr(txt, "\"text\":\"Antwort\""));
    free(txt);
    cJSON_Delete(j);
    CHECK_EQ_INT(tickets_erase_by_email(s, "kunde@EXAMPLE.org", 60 * SEC, &n), PD_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(tickets_get(s, "hhhhhhhhhhhhhhhh", &t), PD_OK);
    CHECK(t->message == NULL && t->contact_name == NULL && t->status == TICKET_CLOSED &&
          t->replies[0].text == NULL && t->closed_us == 60 * SEC);
    ticket_free(t);
    CHECK_EQ_INT(tickets_export_by_email(s, "kunde@example.org", &j), PD_OK);
    CHECK_EQ_INT(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
    unsigned char h[TICKET_HASH_BYTES];
    hash_of(h, 40);
    CHECK_EQ_INT(tickets_get_by_token(s, "hhhhhhhhhhhhhhhh", h, &t), PD_ENOTFOUND);
}

int main(void)
{
    char data[300];
    buf err = BUF_INIT;
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    if (store_create(data, &err) != PD_OK || store_open(data, 3, &s, &err) != PD_OK) {
        fprintf(stderr, "store: %s\n", buf_cstr(&err));
        return 2;
    }
    test_staff();
    test_sessions();
    test_login_failures();
    test_create_retry_tokens();
    test_actions();
    test_events();
    test_retention_and_rights();
    CHECK(strcmp(ticket_status_name(TICKET_ANSWERED), "answered") == 0);
    CHECK(strcmp(ticket_priority_name(TICKET_PRIO_ADVERSE_EVENT), "adverse_event") == 0);
    store_close(s);
    buf_free(&err);
    return check_done();
}
