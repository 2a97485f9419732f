#include "mailq.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leads_store.h"
#include "log.h"
#include "pd.h"

#define LEASE_US (300LL * 1000000) /* a claimed mail comes back after this if its sender died */
#define IDLE_US (60LL * 1000000)   /* the longest sleep: another process may have queued mail */
#define PASS_MAX 1000              /* mails per pass, so that stop is honoured in time */

struct mailq {
    store *s;
    mailq_opts o;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int woken, stopping;
};

long long mailq_backoff_us(int attempts, int initial_s, int max_s)
{
    long long d = initial_s > 0 ? initial_s : 1;
    for (int i = 1; i < attempts && d < max_s; i++)
        d *= 2;
    if (d > max_s)
        d = max_s;
    return d * 1000000LL;
}

/* claims the next due mail in its own short transaction */
static int claim(store *s, mail_rec *m)
{
    lstore *t = NULL;
    long long now = pd_wall_us();
    int ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    ret = lstore_mail_claim(t, now, now + LEASE_US, m);
    if (ret != PD_OK) {
        lstore_rollback(t);
        return ret;
    }
    return lstore_commit(t);
}

static int settle(store *s, const mailq_opts *o, const mail_rec *m, int ok, const char *error)
{
    lstore *t = NULL;
    int ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    if (ok)
        ret = lstore_mail_done(t, m->id);
    else
        ret = lstore_mail_failed(
            t, m->id,
            pd_wall_us() + mailq_backoff_us(m->attempts, o->retry_initial_s, o->retry_max_s),
            error);
    if (ret != PD_OK) {
        lstore_rollback(t);
        return ret;
    }
    return lstore_commit(t);
}

int mailq_drain(store *s, const mailq_opts *o, long *sent, long *failed)
{
    mail_rec m = {0};
    buf err = BUF_INIT;
    long ns = 0, nf = 0;
    int ret = PD_OK;
    for (int i = 0; i < PASS_MAX; i++) {
        ret = claim(s, &m);
        if (ret == PD_ENOTFOUND) {
            ret = PD_OK;
            break;
        }
        if (ret != PD_OK)
            break;
        buf_reset(&err);
        int rc = outbox_deliver(o->out, m.message.data, m.message.len, &err);
        if (rc == PD_OK) {
            ns++;
            log_info("event=mail_sent id=%lld kind=%s attempt=%d", m.id, m.kind, m.attempts);
        } else {
            nf++;
            /* outbox errors never name the recipient */
            log_warn("event=mail_failed id=%lld kind=%s attempt=%d retry_in_s=%lld error=\"%s\"",
                     m.id, m.kind, m.attempts,
                     mailq_backoff_us(m.attempts, o->retry_initial_s, o->retry_max_s) / 1000000,
                     buf_cstr(&err));
        }
        if ((ret = settle(s, o, &m, rc == PD_OK, buf_cstr(&err))) != PD_OK)
            break;
    }
    /* the message held tokens and an address: wipe the copy */
    if (m.message.data)
        sodium_memzero(m.message.data, m.message.cap);
    buf_free(&m.message);
    buf_free(&err);
    if (sent)
        *sent = ns;
    if (failed)
        *failed = nf;
    return ret;
}

static long long next_due(store *s)
{
    lstore *t = NULL;
    long queued = 0;
    long long next = 0;
    if (lstore_begin(s, &t) != PD_OK)
        return 0;
    if (lstore_mail_stats(t, &queued, &next) != PD_OK)
        next = 0;
    lstore_rollback(t);
    return queued ? next : 0;
}

static void *run(void *arg)
{
    mailq *q = arg;
    pthread_mutex_lock(&q->lock);
    while (!q->stopping) {
        q->woken = 0;
        pthread_mutex_unlock(&q->lock);
        if (mailq_drain(q->s, &q->o, NULL, NULL) != PD_OK)
            log_warn("event=mail_queue_error");
        long long now = pd_wall_us(), next = next_due(q->s), wait = IDLE_US;
        if (next && next - now < wait)
            wait = next > now ? next - now : 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_nsec + (wait % 1000000) * 1000;
        ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&q->lock);
        while (!q->woken && !q->stopping)
            if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) != 0)
                break;
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int mailq_start(store *s, const mailq_opts *o, mailq **out)
{
    mailq *q = pd_xcalloc(1, sizeof *q);
    q->s = s;
    q->o = *o;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    if (pthread_create(&q->thread, NULL, run, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
        return PD_EIO;
    }
    *out = q;
    return PD_OK;
}

void mailq_wake(mailq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->woken = 1;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void mailq_stop(mailq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}
