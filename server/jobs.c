#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "pd.h"
#include "leads.h"
#include "tickets_store.h"

/* handoff tickets: texts of tickets closed retention.ticket_days ago; expired sessions */
static int job_tickets(store *s, const config *cfg, long long now_us, buf *out)
{
    long long before = now_us - (long long)cfg->retention.ticket_days * 86400 * 1000000;
    long long sessions = now_us - (long long)cfg->staff.session_max_s * 1000000;
    int n = 0, ret = tickets_purge_closed(s, before, sessions, &n);
    if (ret == PD_OK)
        buf_printf(out,
                   "tickets: texts of %d closed tickets deleted (closed more than %d days "
                   "ago)",
                   n, cfg->retention.ticket_days);
    return ret;
}

/* leads: unconfirmed sign-ups after 7 days, expired tokens and requests, ended leads after 30
 * days, the ledger's addresses pseudonymised when its retention ends (catalog/leads.h) */
static int job_leads(store *s, const config *cfg, long long now_us, buf *out)
{
    (void)cfg;
    leads_purged p = {0};
    int ret = leads_purge(s, now_us, &p);
    if (ret == PD_OK)
        buf_printf(out,
                   "leads: %ld unconfirmed sign-ups erased (older than %d days), %ld ended leads "
                   "deleted, %ld expired tokens and %ld expired requests removed, %ld ledger "
                   "entries pseudonymised",
                   p.unconfirmed, LEADS_UNCONFIRMED_DAYS, p.ended, p.tokens, p.requests,
                   p.pseudonymised);
    return ret;
}

/* the audit log: entries past retention.audit_days, from the start of the hash chain */
static int job_audit(store *s, const config *cfg, long long now_us, buf *out)
{
    char before[32];
    long long last = 0;
    pd_iso_time(now_us - (long long)cfg->retention.audit_days * 86400 * 1000000, before);
    int ret = store_audit_prune(s, before, &last);
    if (ret == PD_OK && last)
        buf_printf(out, "audit: entries up to %lld deleted (older than %d days)", last,
                   cfg->retention.audit_days);
    else if (ret == PD_OK)
        buf_printf(out, "audit: nothing older than %d days", cfg->retention.audit_days);
    return ret;
}

static const struct {
    const char *name;
    job_fn run;
} job_list[] = {
    {"tickets", job_tickets},
    {"leads", job_leads},
    {"audit", job_audit},
};

int jobs_run_once(store *s, const config *cfg, long long now_us, buf *report)
{
    int first = PD_OK;
    for (size_t i = 0; i < PD_ARRAY_LEN(job_list); i++) {
        buf line = BUF_INIT;
        int ret = job_list[i].run(s, cfg, now_us, &line);
        if (ret != PD_OK) {
            log_error("event=job_failed job=%s err=%s", job_list[i].name, pd_strerror(ret));
            buf_printf(report, "%s: failed (%s)\n", job_list[i].name, pd_strerror(ret));
            if (first == PD_OK)
                first = ret;
        } else {
            buf_printf(report, "%s\n", buf_cstr(&line));
        }
        buf_free(&line);
    }
    return first;
}

struct jobs {
    store *s;
    const config *cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
};

static void *loop(void *arg)
{
    jobs *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        pthread_mutex_unlock(&j->lock);
        buf report = BUF_INIT;
        if (jobs_run_once(j->s, j->cfg, pd_wall_us(), &report) == PD_OK)
            log_info("event=retention_done");
        buf_free(&report);
        pthread_mutex_lock(&j->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += j->cfg->retention.interval_s;
        while (!j->stop && pthread_cond_timedwait(&j->cond, &j->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int jobs_start(store *s, const config *cfg, jobs **out)
{
    jobs *j = pd_xcalloc(1, sizeof *j);
    j->s = s;
    j->cfg = cfg;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    if (pthread_create(&j->thread, NULL, loop, j) != 0) {
        pthread_cond_destroy(&j->cond);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return PD_ENOMEM;
    }
    *out = j;
    return PD_OK;
}

void jobs_stop(jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = 1;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
}
