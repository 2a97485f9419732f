#include "audit.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pd.h"

/*
 * The chain. hash(n) = BLAKE2b-256(AUDIT_DOMAIN || hash(n-1) || encode(entry n)), hash(0) = 32
 * zero bytes. encode() is canonical: seq as 8 bytes big-endian, then every text field as its
 * length (8 bytes big-endian) and its bytes, in a fixed order, and the health-data flag as one
 * byte; no two different entries encode alike, so no field can be shifted into another.
 *
 * What the chain shows and what it cannot:
 * - an edited field, a forged hash, a deleted, inserted or reordered entry in the middle: the
 *   first entry that does not recompute or does not link is named by audit_verify;
 * - entries cut off the END of the log leave a shorter chain that is still intact: a chain
 *   cannot show that. audit_verify prints the head (seq and hash); a head recorded elsewhere
 *   (a log line, a ticket, a printout) shows a cut-off later. The same holds for someone who
 *   rewrites the whole tail from an entry on and recomputes every hash after it (the hash is
 *   unkeyed): only an externally recorded head shows that. The database itself is encrypted
 *   and authenticated page by page, so both need the key in the first place.
 */
static const char AUDIT_DOMAIN[] = "pharmdesk audit log v1"; /* hashed with its NUL */

/*
 * Group commit. audit_append queues its entry (a node on the caller's stack: the caller waits)
 * and sleeps; one writer thread takes up to AUDIT_BATCH_MAX queued entries, chains them in
 * queue order and commits them in one transaction (one WAL sync), then wakes their callers.
 * While one batch syncs, the next one gathers, so one caller alone waits one sync and many callers
 * share one. Under load the writer also pauses briefly after a commit (gather_pause), trading up
 * to AUDIT_GATHER_US of latency for fewer syncs per entry.
 *
 * Durability: an append returns 0 only after its batch committed with synchronous=FULL. A crash
 * at the worst moment (mid-commit) loses the batch in flight and the queued entries, whose
 * callers have not returned yet, so have sent no answer: nothing acknowledged is lost, and
 * SQLite's atomic commit leaves either the whole batch or none of it, never half a chain.
 */
#define AUDIT_BATCH_MAX 256
#define AUDIT_RETRIES 3 /* re-chaining after another process appended */
/* the gathering pause under load, measured with bench/inquiry_bench.sh: 1 ms took the CPU per
 * inquiry from 65 to 55 us, 2 ms to 47 us; 3 and 5 ms were no better (a batch then holds most of
 * the 256 connections' requests, and they wait longer) */
#define AUDIT_GATHER_US 2000
/* ... or until this many entries are queued: half the batch, so that under heavy load the
 * CPUs do not idle while every client waits for the pause */
#define AUDIT_GATHER_ENOUGH (AUDIT_BATCH_MAX / 2)
/* ... and only after a batch of at least this many: a few clients at a time (a handful of
 * appenders, a CLI command) keep the old behaviour, one sync after the other, without a pause */
#define AUDIT_GATHER_AFTER 16

typedef struct pending {
    const audit_entry *e; /* the caller's, valid while it waits; or copy */
    char at[32];
    int done, status;
    struct pending *next;
    /* deferred appends only: the node is the writer's to free, with a copy of the entry */
    audit_defer *defer;
    audit_entry copy;
} pending;

/* the deferral scope of this thread, between audit_defer_begin and audit_defer_end */
static _Thread_local audit_defer *tls_defer;

struct audit {
    store *s;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* to the writer: entries queued, or closing */
    pthread_cond_t finished; /* to appenders and flushers: a batch is done */
    pending *head, *tail;
    int busy;    /* the writer holds a batch */
    int closing; /* audit_close began: no new appends */
    pthread_t writer;
    /* the writer's alone: the chain's head as committed */
    long long last_seq;
    unsigned char last_hash[AUDIT_HASH_BYTES];
    long long batches, entries;
    size_t last_batch;        /* entries in the last commit */
    long long last_commit_us; /* when it ended (pd_now_us) */
    int gathered;             /* the queue's head waited a gathering pause already */
    int pausing;              /* the writer is in its gathering pause */
    size_t nqueued;           /* entries in the queue */
    pthread_cond_t gather;    /* to the pausing writer: the queue is full enough (monotonic) */
};

static const char *nz(const char *s)
{
    return s ? s : "";
}

static void put_u64(crypto_generichash_state *st, unsigned long long v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xFF);
        v >>= 8;
    }
    crypto_generichash_update(st, b, sizeof b);
}

static void put_str(crypto_generichash_state *st, const char *s)
{
    size_t n = strlen(nz(s));
    put_u64(st, n);
    crypto_generichash_update(st, (const unsigned char *)nz(s), n);
}

void audit_entry_hash(const audit_entry *e, unsigned char out[AUDIT_HASH_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, AUDIT_HASH_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)AUDIT_DOMAIN, sizeof AUDIT_DOMAIN);
    crypto_generichash_update(&st, e->prev_hash, AUDIT_HASH_BYTES);
    put_u64(&st, (unsigned long long)e->seq);
    put_str(&st, e->at);
    put_str(&st, e->kind);
    put_str(&st, e->conversation);
    put_str(&st, e->decision);
    put_str(&st, e->intent);
    put_str(&st, e->rule);
    put_str(&st, e->policy_version);
    unsigned char hd = e->health_data ? 1 : 0;
    crypto_generichash_update(&st, &hd, 1);
    put_str(&st, e->detail);
    crypto_generichash_final(&st, out, AUDIT_HASH_BYTES);
}

/* now in UTC, ISO 8601 with milliseconds */
static void now_iso(char out[32])
{
    pd_iso_time(pd_wall_us(), out);
}

/* chains taken[0..n) after the head into batch[] and commits it; re-chains when another
 * process moved the head meanwhile */
static int commit_batch(audit *a, pending **taken, audit_entry *batch, size_t n)
{
    int ret = PD_EDB;
    for (int attempt = 0; attempt < AUDIT_RETRIES; attempt++) {
        const unsigned char *prev = a->last_hash;
        for (size_t i = 0; i < n; i++) {
            audit_entry *b = &batch[i];
            *b = *taken[i]->e;
            b->seq = a->last_seq + 1 + (long long)i;
            b->at = taken[i]->at;
            b->health_data = b->health_data ? 1 : 0;
            b->bad_encoding = 0;
            memcpy(b->prev_hash, prev, AUDIT_HASH_BYTES);
            audit_entry_hash(b, b->hash);
            prev = b->hash;
        }
        ret = store_audit_append_batch(a->s, batch, n);
        if (ret == PD_OK) {
            a->last_seq = batch[n - 1].seq;
            memcpy(a->last_hash, batch[n - 1].hash, AUDIT_HASH_BYTES);
            a->batches++;
            a->entries += (long long)n;
            return PD_OK;
        }
        /* PD_EEXIST: the head moved (another process); any other failure may have left us
         * unsure of it too: read it again, then retry only the former */
        int r = store_audit_last(a->s, &a->last_seq, a->last_hash);
        if (ret != PD_EEXIST || r != PD_OK)
            break;
    }
    log_error("event=audit_commit_failed entries=%zu err=\"%s\"", n, pd_strerror(ret));
    return ret == PD_EEXIST ? PD_EBUSY : ret;
}

/*
 * Under load (the last batch held AUDIT_GATHER_AFTER entries or more) the writer pauses up to
 * AUDIT_GATHER_US after a commit before it takes the next batch, so that more entries share one
 * sync: fewer syncs, and fewer rewrites of the log's last page, per entry. It waits on its own
 * condition variable, which an append signals once, when AUDIT_GATHER_ENOUGH are queued; other
 * appends cost no wakeup. A few callers at a time never wait for a pause. Returns 1 when it
 * paused (the lock released and retaken meanwhile).
 */
static int gather_pause(audit *a)
{
    if (a->gathered || a->closing || a->last_batch < AUDIT_GATHER_AFTER)
        return 0;
    long long wait = a->last_commit_us + AUDIT_GATHER_US - pd_now_us();
    a->gathered = 1;
    if (wait <= 0 || a->nqueued >= AUDIT_GATHER_ENOUGH)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait / 1000000;
    until.tv_nsec += (wait % 1000000) * 1000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    a->pausing = 1;
    while (a->pausing && !a->closing &&
           pthread_cond_timedwait(&a->gather, &a->lock, &until) != ETIMEDOUT)
        ;
    a->pausing = 0;
    return 1;
}

static void *writer_main(void *arg)
{
    audit *a = arg;
    audit_entry batch[AUDIT_BATCH_MAX]; /* about 40 KiB of the writer's own stack */
    pending *taken[AUDIT_BATCH_MAX];

    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->head && !a->closing)
            pthread_cond_wait(&a->work, &a->lock);
        if (!a->head)
            break; /* closing, and the queue is drained */
        if (gather_pause(a))
            continue; /* the queue may have changed while the writer slept */
        size_t n = 0;
        while (a->head && n < AUDIT_BATCH_MAX) {
            taken[n++] = a->head;
            a->head = a->head->next;
        }
        a->nqueued -= n;
        if (!a->head)
            a->tail = NULL;
        a->busy = 1;
        a->gathered = 0;
        pthread_mutex_unlock(&a->lock);

        int ret = commit_batch(a, taken, batch, n);

        pending *deferred = NULL; /* nodes of deferred appends, the writer's to free */
        audit_defer *finished[AUDIT_BATCH_MAX];
        size_t nfinished = 0;
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < n; i++) {
            audit_defer *d = taken[i]->defer;
            if (d) {
                if (ret != PD_OK && d->status == PD_OK)
                    d->status = ret;
                if (--d->pending == 0 && d->ended)
                    finished[nfinished++] = d;
                taken[i]->next = deferred;
                deferred = taken[i];
                continue;
            }
            /* after done is set the node may vanish with its caller's stack frame */
            taken[i]->status = ret;
            taken[i]->done = 1;
        }
        a->busy = 0;
        a->last_batch = n;
        a->last_commit_us = pd_now_us();
        pthread_cond_broadcast(&a->finished);
        pthread_mutex_unlock(&a->lock);
        /* outside the lock: a callback may start the next request's append */
        for (size_t i = 0; i < nfinished; i++)
            finished[i]->done(finished[i]->arg, finished[i]->status); /* d may vanish now */
        while (deferred) {
            pending *next = deferred->next;
            free(deferred);
            deferred = next;
        }
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

void audit_defer_begin(audit_defer *d, void (*done)(void *arg, int status), void *arg)
{
    memset(d, 0, sizeof *d);
    d->done = done;
    d->arg = arg;
    tls_defer = d;
}

int audit_defer_end(audit_defer *d, int *status)
{
    int in_flight = 0;
    tls_defer = NULL;
    if (d->a) {
        pthread_mutex_lock(&d->a->lock);
        d->ended = 1;
        in_flight = d->pending > 0;
        pthread_mutex_unlock(&d->a->lock);
    }
    *status = d->status;
    return in_flight;
}

/* copies s to *w and moves *w past it */
static const char *put_text(char **w, const char *s)
{
    char *at = *w;
    size_t n = strlen(nz(s)) + 1;
    memcpy(at, nz(s), n);
    *w += n;
    return at;
}

/* a heap node with a copy of e for a deferred append */
static pending *pending_copy(const audit_entry *e, audit_defer *d)
{
    const char *fields[] = {e->kind, e->conversation,   e->decision, e->intent,
                            e->rule, e->policy_version, e->detail};
    size_t total = 0;
    for (size_t i = 0; i < PD_ARRAY_LEN(fields); i++)
        total += strlen(nz(fields[i])) + 1;
    /* the node and the copy's strings in one block */
    pending *p = pd_xmalloc(sizeof *p + total);
    memset(p, 0, sizeof *p);
    char *w = (char *)(p + 1);
    p->copy = *e;
    p->copy.kind = put_text(&w, e->kind);
    p->copy.conversation = put_text(&w, e->conversation);
    p->copy.decision = put_text(&w, e->decision);
    p->copy.intent = put_text(&w, e->intent);
    p->copy.rule = put_text(&w, e->rule);
    p->copy.policy_version = put_text(&w, e->policy_version);
    p->copy.detail = put_text(&w, e->detail);
    p->e = &p->copy;
    p->defer = d;
    return p;
}

int audit_open(store *s, audit **out, buf *err)
{
    audit *a = pd_xcalloc(1, sizeof *a);
    int ret;
    a->s = s;
    if ((ret = store_audit_last(s, &a->last_seq, a->last_hash)) != PD_OK) {
        buf_printf(err, "cannot read the audit log's last entry: %s (run audit-verify)",
                   pd_strerror(ret));
        free(a);
        return ret;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->work, NULL);
    pthread_cond_init(&a->finished, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->gather, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
        buf_printf(err, "cannot start the audit writer thread");
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->work);
        pthread_cond_destroy(&a->finished);
        pthread_cond_destroy(&a->gather);
        free(a);
        return PD_ENOMEM;
    }
    *out = a;
    return PD_OK;
}

static int field_ok(const char *s)
{
    return !s || strnlen(s, AUDIT_FIELD_MAX + 1) <= AUDIT_FIELD_MAX;
}

int audit_append(audit *a, const audit_entry *e)
{
    const char *fields[] = {e->kind, e->conversation,   e->decision, e->intent,
                            e->rule, e->policy_version, e->detail};
    if (!e->kind || !e->kind[0])
        return PD_EINVAL;
    for (size_t i = 0; i < PD_ARRAY_LEN(fields); i++)
        if (!field_ok(fields[i]))
            return PD_EINVAL;

    audit_defer *d = tls_defer;
    if (d && d->a && d->a != a)
        d = NULL; /* a scope covers one log; appends to another wait as usual */
    pending local = {.e = e}, *p = d ? pending_copy(e, d) : &local;
    pthread_mutex_lock(&a->lock);
    if (a->closing) {
        pthread_mutex_unlock(&a->lock);
        if (p != &local) {
            free(p);
        }
        return PD_EBUSY;
    }
    now_iso(p->at); /* under the lock: times follow the queue's order (a clock step aside) */
    if (a->tail)
        a->tail->next = p;
    else
        a->head = p;
    a->tail = p;
    pthread_cond_signal(&a->work);
    if (++a->nqueued == AUDIT_GATHER_ENOUGH && a->pausing) {
        a->pausing = 0; /* one wakeup per batch, when it is full enough */
        pthread_cond_signal(&a->gather);
    }
    if (d) {
        d->a = a;
        d->pending++;
        pthread_mutex_unlock(&a->lock);
        return PD_OK; /* durable before the answer leaves: the scope's owner waits */
    }
    while (!local.done)
        pthread_cond_wait(&a->finished, &a->lock);
    pthread_mutex_unlock(&a->lock);
    return local.status;
}

int audit_flush(audit *a)
{
    pthread_mutex_lock(&a->lock);
    while (a->head || a->busy)
        pthread_cond_wait(&a->finished, &a->lock);
    pthread_mutex_unlock(&a->lock);
    return PD_OK;
}

void audit_close(audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->closing = 1;
    pthread_cond_signal(&a->work);
    pthread_cond_signal(&a->gather);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->writer, NULL); /* the writer drains the queue first */
    log_debug("event=audit_closed last_seq=%lld batches=%lld entries=%lld", a->last_seq, a->batches,
              a->entries);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->finished);
    pthread_cond_destroy(&a->gather);
    free(a);
}

void audit_stats(audit *a, long long *batches, long long *entries)
{
    pthread_mutex_lock(&a->lock);
    *batches = a->batches;
    *entries = a->entries;
    pthread_mutex_unlock(&a->lock);
}

typedef struct verify_ctx {
    FILE *report;
    long long expect; /* the next seq */
    unsigned char prev[AUDIT_HASH_BYTES];
    long long first_bad;
    /* where the chain starts: after the entries the retention pruned (store.h) */
    long long anchor_seq;
    unsigned char anchor_hash[AUDIT_HASH_BYTES];
    int started;
} verify_ctx;

static void hex(const unsigned char *h, char out[2 * AUDIT_HASH_BYTES + 1])
{
    sodium_bin2hex(out, 2 * AUDIT_HASH_BYTES + 1, h, AUDIT_HASH_BYTES);
}

static int verify_cb(const audit_entry *e, void *arg)
{
    verify_ctx *c = arg;
    unsigned char h[AUDIT_HASH_BYTES];
    const char *why = NULL;
    long long bad = e->seq;

    if (!c->started) { /* the anchor is read in the scan's snapshot, before the first entry */
        c->started = 1;
        c->expect = c->anchor_seq + 1;
        memcpy(c->prev, c->anchor_hash, AUDIT_HASH_BYTES);
    }
    if (e->seq != c->expect) {
        bad = c->expect;
        why = e->seq > c->expect ? "is missing (deleted or renumbered)"
                                 : "is out of sequence (renumbered)";
    } else if (e->bad_encoding) {
        why = "has a malformed column (written outside pharmdesk)";
    } else if (memcmp(e->prev_hash, c->prev, AUDIT_HASH_BYTES) != 0) {
        why = "does not link to the entry before it (entries deleted, reordered or rewritten)";
    } else {
        audit_entry_hash(e, h);
        if (memcmp(h, e->hash, AUDIT_HASH_BYTES) != 0)
            why = "does not match its hash (a field edited or the hash forged)";
    }
    if (why) {
        c->first_bad = bad;
        if (c->report)
            fprintf(c->report,
                    "audit log broken: entry %lld %s (found seq %lld); entries from "
                    "%lld on cannot be trusted\n",
                    bad, why, e->seq, bad);
        return PD_ECORRUPT;
    }
    memcpy(c->prev, e->hash, AUDIT_HASH_BYTES);
    c->expect++;
    return 0;
}

int audit_verify(store *s, FILE *report, long long *first_bad)
{
    verify_ctx c = {.report = report, .expect = 1, .first_bad = 0};
    int ret = store_audit_foreach_anchored(s, &c.anchor_seq, c.anchor_hash, verify_cb, &c);
    if (ret == PD_OK && !c.started) /* an empty log */
        c.expect = c.anchor_seq + 1;
    if (first_bad)
        *first_bad = c.first_bad;
    if (ret == PD_OK && report) {
        char h[2 * AUDIT_HASH_BYTES + 1];
        hex(c.prev, h);
        fprintf(report,
                "audit log intact: %lld entries, head seq %lld hash %s\n"
                "(a chain cannot show entries cut off its end: compare this head with one "
                "recorded earlier)\n",
                c.expect - 1 - c.anchor_seq, c.expect - 1, h);
        if (c.anchor_seq > 0)
            fprintf(report,
                    "entries 1 to %lld were deleted by the retention (the chain "
                    "continues from the last one's hash)\n",
                    c.anchor_seq);
    } else if (ret != PD_OK && ret != PD_ECORRUPT && report) {
        fprintf(report, "audit log unreadable: %s\n", pd_strerror(ret));
    }
    return ret;
}
