/* the audit log on a real (encrypted) data folder: group commit from many threads, the chain
 * across restarts, and every kind of tampering found at the right entry. Prints the append
 * throughput with 1 and 8 threads (no timing assertions). */
#include <pthread.h>
#include <sodium.h>

#include "audit.h"
#include "check.h"
#include "pd.h"
#include "store.h"
#include "testutil.h"

static const char *tmp;

typedef struct copy {
    audit_entry e;
    char at[64], kind[300], conversation[300], decision[300], intent[300], rule[300], pv[300],
        detail[300];
} copy;

static int fetch_cb(const audit_entry *e, void *arg)
{
    copy *c = arg;
    if (e->seq != c->e.seq)
        return 0;
    c->e = *e;
    snprintf(c->at, sizeof c->at, "%s", e->at);
    snprintf(c->kind, sizeof c->kind, "%s", e->kind);
    snprintf(c->conversation, sizeof c->conversation, "%s", e->conversation);
    snprintf(c->decision, sizeof c->decision, "%s", e->decision);
    snprintf(c->intent, sizeof c->intent, "%s", e->intent);
    snprintf(c->rule, sizeof c->rule, "%s", e->rule);
    snprintf(c->pv, sizeof c->pv, "%s", e->policy_version);
    snprintf(c->detail, sizeof c->detail, "%s", e->detail);
    c->e.at = c->at;
    c->e.kind = c->kind;
    c->e.conversation = c->conversation;
    c->e.decision = c->decision;
    c->e.intent = c->intent;
    c->e.rule = c->rule;
    c->e.policy_version = c->pv;
    c->e.detail = c->detail;
    return 1;
}

/* a copy of entry seq; 0 when there is none */
static int fetch(store *s, long long seq, copy *c)
{
    memset(c, 0, sizeof *c);
    c->e.seq = seq;
    return store_audit_foreach(s, fetch_cb, c) == 1;
}

static int count_cb(const audit_entry *e, void *arg)
{
    (void)e;
    (*(long long *)arg)++;
    return 0;
}

static long long count(store *s)
{
    long long n = 0;
    CHECK_EQ_INT(store_audit_foreach(s, count_cb, &n), PD_OK);
    return n;
}

static audit_entry sample(const char *kind, const char *detail)
{
    audit_entry e = {.kind = kind,
                     .conversation = "c-7f3a",
                     .decision = "handoff",
                     .intent = "medical_question",
                     .rule = "art9.dosage",
                     .policy_version = "2024-05-01",
                     .health_data = 1,
                     .detail = detail};
    return e;
}

static store *open_folder(const char *name, int create)
{
    char dir[400];
    buf err = BUF_INIT;
    store *s = NULL;
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    if (create)
        CHECK_EQ_INT(store_create(dir, &err), PD_OK);
    CHECK_EQ_INT(store_open(dir, 4, &s, &err), PD_OK);
    if (err.len)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    buf_free(&err);
    return s;
}

static audit *open_audit(store *s)
{
    buf err = BUF_INIT;
    audit *a = NULL;
    CHECK_EQ_INT(audit_open(s, &a, &err), PD_OK);
    buf_free(&err);
    return a;
}

static void fill(audit *a, int n)
{
    for (int i = 0; i < n; i++) {
        char detail[32];
        snprintf(detail, sizeof detail, "i=%d", i);
        audit_entry e = sample("inquiry", detail);
        e.health_data = i % 2;
        CHECK_EQ_INT(audit_append(a, &e), PD_OK);
    }
}

static long long verify(store *s)
{
    long long bad = -1;
    int ret = audit_verify(s, stdout, &bad);
    return ret == PD_OK ? 0 : ret == PD_ECORRUPT ? bad : -1000 + ret;
}

static void test_basic(void)
{
    store *s = open_folder("basic", 1);
    audit *a = open_audit(s);
    long long seq = -1, bad = -1;
    unsigned char h[32], zero[32] = {0};
    CHECK_EQ_INT(store_audit_last(s, &seq, h), PD_OK);
    CHECK_EQ_INT(seq, 0);
    CHECK(memcmp(h, zero, 32) == 0);
    CHECK_EQ_INT(audit_verify(s, NULL, &bad), PD_OK); /* an empty log is intact */

    audit_entry e = sample("order_lookup", "outcome=not_found");
    e.conversation = NULL; /* counts as "" */
    e.seq = 99;            /* ignored */
    CHECK_EQ_INT(audit_append(a, &e), PD_OK);
    copy c;
    CHECK(fetch(s, 1, &c));
    CHECK_EQ_STR(c.kind, "order_lookup");
    CHECK_EQ_STR(c.conversation, "");
    CHECK_EQ_STR(c.decision, "handoff");
    CHECK_EQ_STR(c.detail, "outcome=not_found");
    CHECK_EQ_INT(c.e.health_data, 1);
    CHECK(memcmp(c.e.prev_hash, zero, 32) == 0); /* the first entry chains from zeros */
    /* 2024-05-01T09:30:00.123Z */
    CHECK_EQ_INT(strlen(c.at), 24);
    CHECK(c.at[10] == 'T' && c.at[19] == '.' && c.at[23] == 'Z');
    unsigned char again[32];
    audit_entry_hash(&c.e, again);
    CHECK(memcmp(again, c.e.hash, 32) == 0);
    CHECK_EQ_INT(store_audit_last(s, &seq, h), PD_OK);
    CHECK_EQ_INT(seq, 1);
    CHECK(memcmp(h, c.e.hash, 32) == 0);

    /* refused before it is queued */
    audit_entry bad_e = sample(NULL, "");
    CHECK_EQ_INT(audit_append(a, &bad_e), PD_EINVAL);
    char big[AUDIT_FIELD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bad_e = sample("inquiry", big);
    CHECK_EQ_INT(audit_append(a, &bad_e), PD_EINVAL);
    CHECK_EQ_INT(count(s), 1);
    CHECK_EQ_INT(verify(s), 0);
    CHECK_EQ_INT(audit_flush(a), PD_OK);
    audit_close(a);
    store_close(s);
}

typedef struct worker {
    audit *a;
    int id, n, failed;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        char detail[48];
        snprintf(detail, sizeof detail, "thread=%d i=%d", w->id, i);
        audit_entry e = sample("inquiry", detail);
        if (audit_append(w->a, &e) != PD_OK)
            w->failed++;
    }
    return NULL;
}

static void bench(audit *a, int threads, int per_thread)
{
    pthread_t th[8];
    worker w[8];
    long long b0, e0, b1, e1;
    audit_stats(a, &b0, &e0);
    long long t0 = pd_now_us();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){a, i, per_thread, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(w[i].failed, 0);
    }
    double s = (double)(pd_now_us() - t0) / 1e6;
    audit_stats(a, &b1, &e1);
    CHECK_EQ_INT(e1 - e0, threads * per_thread);
    printf("audit bench: %d thread%s, %d entries in %.2f s = %.0f entries/s, %lld commits "
           "(%.1f entries per commit)\n",
           threads, threads == 1 ? "" : "s", threads * per_thread, s,
           (double)(threads * per_thread) / s, b1 - b0,
           (double)(e1 - e0) / (double)(b1 - b0 ? b1 - b0 : 1));
}

/* many threads, a restart, two writers on one database: the chain stays whole */
static void test_threads_restart(void)
{
    store *s = open_folder("main", 1);
    audit *a = open_audit(s);
    bench(a, 1, 200);
    bench(a, 8, 200);
    CHECK_EQ_INT(count(s), 1800);
    CHECK_EQ_INT(verify(s), 0);
    audit_close(a);
    store_close(s);

    /* reopen: the chain continues */
    s = open_folder("main", 0);
    a = open_audit(s);
    fill(a, 20);
    long long seq = 0;
    unsigned char h[32];
    CHECK_EQ_INT(store_audit_last(s, &seq, h), PD_OK);
    CHECK_EQ_INT(seq, 1820);
    CHECK_EQ_INT(verify(s), 0);

    /* a second writer with a stale head (as another process would be) re-chains */
    audit *b = open_audit(s);
    fill(a, 3);
    fill(b, 2);
    fill(a, 1);
    CHECK_EQ_INT(store_audit_last(s, &seq, h), PD_OK);
    CHECK_EQ_INT(seq, 1826);
    CHECK_EQ_INT(verify(s), 0);
    audit_close(b);
    audit_close(a);
    store_close(s);
}

#ifdef PD_FAULT_INJECTION
static void restore_text(store *s, const copy *c, const char *column, const char *value)
{
    CHECK_EQ_INT(store_audit_tamper(s, c->e.seq, column, value, strlen(value)), PD_OK);
}

static void restore_hash(store *s, long long seq, const char *column, const unsigned char *h)
{
    CHECK_EQ_INT(store_audit_tamper(s, seq, column, h, 32), PD_OK);
}

/* every change is undone after it was found, and the log verifies again */
static void test_tamper(void)
{
    store *s = open_folder("tamper", 1);
    audit *a = open_audit(s);
    fill(a, 12);
    CHECK_EQ_INT(verify(s), 0);
    copy c, d;

    printf("-- an edited field\n");
    CHECK(fetch(s, 7, &c));
    CHECK_EQ_INT(store_audit_tamper(s, 7, "decision", "answered", 8), PD_OK);
    CHECK_EQ_INT(verify(s), 7);
    restore_text(s, &c, "decision", c.decision);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- the first entry's conversation id, another's time and detail\n");
    CHECK(fetch(s, 1, &c));
    CHECK_EQ_INT(store_audit_tamper(s, 1, "conversation", "c-other", 7), PD_OK);
    CHECK_EQ_INT(verify(s), 1);
    restore_text(s, &c, "conversation", c.conversation);
    CHECK(fetch(s, 11, &c));
    CHECK_EQ_INT(store_audit_tamper(s, 11, "at", "2020-01-01T00:00:00.000Z", 24), PD_OK);
    CHECK_EQ_INT(verify(s), 11);
    restore_text(s, &c, "at", c.at);
    CHECK(fetch(s, 12, &c));
    CHECK_EQ_INT(store_audit_tamper(s, 12, "detail", "i=1", 3), PD_OK);
    CHECK_EQ_INT(verify(s), 12);
    restore_text(s, &c, "detail", c.detail);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- the health-data flag\n");
    CHECK(fetch(s, 3, &c));
    CHECK_EQ_INT(store_audit_tamper_int(s, 3, "health_data", !c.e.health_data), PD_OK);
    CHECK_EQ_INT(verify(s), 3);
    CHECK_EQ_INT(store_audit_tamper_int(s, 3, "health_data", 2), PD_OK);
    CHECK_EQ_INT(verify(s), 3);
    CHECK_EQ_INT(store_audit_tamper_int(s, 3, "health_data", c.e.health_data), PD_OK);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- a forged hash\n");
    unsigned char junk[32];
    randombytes_buf(junk, sizeof junk);
    CHECK(fetch(s, 9, &c));
    restore_hash(s, 9, "hash", junk);
    CHECK_EQ_INT(verify(s), 9);
    CHECK_EQ_INT(store_audit_tamper(s, 9, "hash", junk, 3), PD_OK); /* not even 32 bytes */
    CHECK_EQ_INT(verify(s), 9);
    restore_hash(s, 9, "hash", c.e.hash);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- an edit with its hash recomputed: the next entry's link breaks\n");
    CHECK(fetch(s, 9, &c));
    d = c;
    d.e.decision = "answered";
    audit_entry_hash(&d.e, d.e.hash);
    CHECK_EQ_INT(store_audit_tamper(s, 9, "decision", "answered", 8), PD_OK);
    restore_hash(s, 9, "hash", d.e.hash);
    CHECK_EQ_INT(verify(s), 10);
    restore_text(s, &c, "decision", c.decision);
    restore_hash(s, 9, "hash", c.e.hash);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- a changed link\n");
    CHECK(fetch(s, 6, &c));
    restore_hash(s, 6, "prev_hash", junk);
    CHECK_EQ_INT(verify(s), 6);
    restore_hash(s, 6, "prev_hash", c.e.prev_hash);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- two entries swapped\n");
    CHECK_EQ_INT(store_audit_tamper_int(s, 4, "seq", 1000), PD_OK);
    CHECK_EQ_INT(store_audit_tamper_int(s, 5, "seq", 4), PD_OK);
    CHECK_EQ_INT(store_audit_tamper_int(s, 1000, "seq", 5), PD_OK);
    CHECK_EQ_INT(verify(s), 4);
    CHECK_EQ_INT(store_audit_tamper_int(s, 4, "seq", 1000), PD_OK);
    CHECK_EQ_INT(store_audit_tamper_int(s, 5, "seq", 4), PD_OK);
    CHECK_EQ_INT(store_audit_tamper_int(s, 1000, "seq", 5), PD_OK);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- an entry renumbered\n");
    CHECK_EQ_INT(store_audit_tamper_int(s, 8, "seq", 100), PD_OK);
    CHECK_EQ_INT(verify(s), 8);
    CHECK_EQ_INT(store_audit_tamper_int(s, 100, "seq", 8), PD_OK);
    CHECK_EQ_INT(verify(s), 0);

    printf("-- a text with a hidden tail after a NUL\n");
    CHECK(fetch(s, 2, &c));
    char hidden[64];
    size_t n = strlen(c.detail);
    memcpy(hidden, c.detail, n + 1);
    memcpy(hidden + n + 1, "x", 2);
    CHECK_EQ_INT(store_audit_tamper(s, 2, "detail", hidden, n + 2), PD_OK);
    CHECK_EQ_INT(verify(s), 2);
    restore_text(s, &c, "detail", c.detail);
    CHECK_EQ_INT(verify(s), 0);

    /* the log goes on after all that */
    fill(a, 2);
    CHECK_EQ_INT(verify(s), 0);
    CHECK_EQ_INT(count(s), 14);
    audit_close(a);
    store_close(s);
}

/* deletions need a log each: the store cannot put an entry back in the middle */
static void test_delete(void)
{
    printf("-- a deleted entry in the middle\n");
    store *s = open_folder("del_mid", 1);
    audit *a = open_audit(s);
    fill(a, 10);
    audit_close(a);
    CHECK_EQ_INT(store_audit_delete(s, 5), PD_OK);
    CHECK_EQ_INT(verify(s), 5);
    store_close(s);

    printf("-- the first entry deleted\n");
    s = open_folder("del_first", 1);
    a = open_audit(s);
    fill(a, 10);
    audit_close(a);
    CHECK_EQ_INT(store_audit_delete(s, 1), PD_OK);
    CHECK_EQ_INT(verify(s), 1);
    store_close(s);

    printf("-- the last entry deleted: a chain cannot show a cut-off tail (the head differs)\n");
    s = open_folder("del_last", 1);
    a = open_audit(s);
    fill(a, 10);
    audit_close(a);
    CHECK_EQ_INT(store_audit_delete(s, 10), PD_OK);
    CHECK_EQ_INT(verify(s), 0);
    CHECK_EQ_INT(count(s), 9);
    a = open_audit(s); /* and the chain continues from entry 9 */
    fill(a, 1);
    audit_close(a);
    CHECK_EQ_INT(verify(s), 0);
    CHECK_EQ_INT(count(s), 10);
    store_close(s);
}

/* retention: old entries go from the start of the chain, the rest verifies from the anchor */
static void test_prune(void)
{
    printf("-- retention prunes the start of the chain\n");
    store *s = open_folder("prune", 1);
    audit *a = open_audit(s);
    setenv("PHARMDESK_TEST_CLOCK_OFFSET_S", "-34560000", 1); /* 400 days ago */
    fill(a, 6);
    audit_close(a);
    unsetenv("PHARMDESK_TEST_CLOCK_OFFSET_S");
    a = open_audit(s);
    fill(a, 4);
    audit_close(a);
    char before[32];
    long long last = -1;
    pd_iso_time(pd_wall_us() - 365LL * 86400 * 1000000, before);
    CHECK_EQ_INT(store_audit_prune(s, before, &last), PD_OK);
    CHECK_EQ_INT(last, 6);
    CHECK_EQ_INT(count(s), 4);
    CHECK_EQ_INT(verify(s), 0);                               /* from the anchor */
    CHECK_EQ_INT(store_audit_prune(s, before, &last), PD_OK); /* again: nothing left to prune */
    CHECK_EQ_INT(last, 0);
    a = open_audit(s); /* the chain continues */
    fill(a, 2);
    audit_close(a);
    CHECK_EQ_INT(verify(s), 0);
    CHECK_EQ_INT(count(s), 6);
    /* never the last entry, even when everything is old: the chain continues from it */
    pd_iso_time(pd_wall_us() + 86400LL * 1000000, before);
    CHECK_EQ_INT(store_audit_prune(s, before, &last), PD_OK);
    CHECK_EQ_INT(last, 11);
    CHECK_EQ_INT(count(s), 1);
    CHECK_EQ_INT(verify(s), 0);
    /* the first entry after the anchor deleted by someone else still shows */
    a = open_audit(s);
    fill(a, 3);
    audit_close(a);
    CHECK_EQ_INT(store_audit_delete(s, 12), PD_OK);
    CHECK_EQ_INT(verify(s), 12);
    store_close(s);
}

#endif

/* deferred appends: audit_append returns at once inside a scope, the entry is a copy (the
 * caller's strings may vanish), done reports the scope's result once every entry committed */
typedef struct defer_result {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls, status;
} defer_result;

static void defer_done(void *arg, int status)
{
    defer_result *r = arg;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    r->status = status;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void test_defer(void)
{
    store *s = open_folder("defer", 1);
    audit *a = open_audit(s);
    defer_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1};
    audit_defer d;
    int status = -1, scopes_in_flight = 0;
    for (int round = 0; round < 20; round++) {
        audit_defer_begin(&d, defer_done, &r);
        for (int i = 0; i < 3; i++) {
            char detail[32], kind[16];
            snprintf(detail, sizeof detail, "round=%d i=%d", round, i);
            snprintf(kind, sizeof kind, "deferred");
            audit_entry e = sample(kind, detail);
            CHECK_EQ_INT(audit_append(a, &e), PD_OK);
            memset(detail, 'x', sizeof detail - 1); /* the queued copy must not see this */
            memset(kind, 'y', sizeof kind - 1);
        }
        audit_entry bad = sample("deferred", NULL);
        char big[AUDIT_FIELD_MAX + 2];
        memset(big, 'z', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        bad.detail = big;
        CHECK_EQ_INT(audit_append(a, &bad), PD_EINVAL); /* refused at once, not queued */
        if (audit_defer_end(&d, &status)) {
            scopes_in_flight++;
            pthread_mutex_lock(&r.lock);
            while (r.calls < scopes_in_flight)
                pthread_cond_wait(&r.cond, &r.lock);
            CHECK_EQ_INT(r.status, PD_OK);
            pthread_mutex_unlock(&r.lock);
        } else {
            CHECK_EQ_INT(status, PD_OK); /* committed before the scope ended */
        }
    }
    CHECK_EQ_INT(r.calls, scopes_in_flight);
    /* outside a scope appends wait again */
    audit_entry e = sample("inquiry", "after");
    CHECK_EQ_INT(audit_append(a, &e), PD_OK);
    audit_close(a);
    CHECK_EQ_INT(count(s), 61);
    CHECK_EQ_INT(verify(s), 0);
    copy c;
    CHECK(fetch(s, 60, &c));
    CHECK_EQ_STR(c.detail, "round=19 i=2");
    CHECK_EQ_STR(c.kind, "deferred");
    store_close(s);
}

/* deferred appends from many threads at once, as the HTTP server makes them: the writer's
 * gathering pause (after a batch of 16 or more) must lose nothing and end when the log closes */
typedef struct gatherer {
    audit *a;
    int id, scopes, failed;
    defer_result r;
} gatherer;

static void *gatherer_main(void *arg)
{
    gatherer *g = arg;
    for (int k = 0; k < g->scopes; k++) {
        audit_defer d;
        int status = -1;
        audit_defer_begin(&d, defer_done, &g->r);
        char detail[48];
        snprintf(detail, sizeof detail, "thread=%d scope=%d", g->id, k);
        audit_entry e = sample("inquiry", detail);
        if (audit_append(g->a, &e) != PD_OK)
            g->failed++;
        if (audit_defer_end(&d, &status)) { /* wait for this scope, as a suspended request */
            pthread_mutex_lock(&g->r.lock);
            while (g->r.calls < 1)
                pthread_cond_wait(&g->r.cond, &g->r.lock);
            status = g->r.status;
            g->r.calls = 0;
            pthread_mutex_unlock(&g->r.lock);
        }
        if (status != PD_OK)
            g->failed++;
    }
    return NULL;
}

static void test_gather(void)
{
    enum { THREADS = 48, SCOPES = 40 };
    store *s = open_folder("gather", 1);
    audit *a = open_audit(s);
    pthread_t th[THREADS];
    static gatherer g[THREADS];
    long long b0, e0, b1, e1;
    audit_stats(a, &b0, &e0);
    long long t0 = pd_now_us();
    for (int i = 0; i < THREADS; i++) {
        g[i] = (gatherer){
            a, i, SCOPES, 0, {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1}};
        pthread_create(&th[i], NULL, gatherer_main, &g[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(g[i].failed, 0);
    }
    audit_stats(a, &b1, &e1);
    CHECK_EQ_INT(e1 - e0, THREADS * SCOPES);
    printf("gather: %d threads, %d entries in %.2f s, %.1f entries per commit\n", THREADS,
           THREADS * SCOPES, (double)(pd_now_us() - t0) / 1e6,
           (double)(e1 - e0) / (double)(b1 - b0 ? b1 - b0 : 1));
    /* right after a load, the next entry may meet a pause: closing ends it and commits */
    defer_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1};
    audit_defer d;
    int status = -1;
    audit_defer_begin(&d, defer_done, &r);
    audit_entry e = sample("inquiry", "last");
    CHECK_EQ_INT(audit_append(a, &e), PD_OK);
    int in_flight = audit_defer_end(&d, &status);
    audit_close(a); /* drains the queue */
    if (in_flight) {
        CHECK_EQ_INT(r.calls, 1);
        CHECK_EQ_INT(r.status, PD_OK);
    }
    CHECK_EQ_INT(count(s), THREADS * SCOPES + 1);
    CHECK_EQ_INT(verify(s), 0);
    copy c;
    CHECK(fetch(s, THREADS * SCOPES + 1, &c));
    CHECK_EQ_STR(c.detail, "last");
    store_close(s);
}

int main(void)
{
    tmp = testutil_tmpdir();
    test_basic();
    test_threads_restart();
    test_defer();
    test_gather();
#ifdef PD_FAULT_INJECTION
    test_tamper();
    test_delete();
    test_prune();
#else
    printf("tampering tests skipped: they need a build with PD_FAULT_INJECTION (PD_SANITIZE)\n");
#endif
    return check_done();
}
