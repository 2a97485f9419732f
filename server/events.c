#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pd.h"
#include "tickets_store.h"

#define EVENTS_BATCH 64

typedef struct sse {
    events_hub *hub;
    http_stream *st; /* known from the first fill on */
    long long last_id;
    buf pending;
    size_t off;
    long long last_write_us;
    int hello, ka_due;
    unsigned char session[TICKET_HASH_BYTES];
    struct sse *next;
} sse;

struct events_hub {
    store *store;
    int max, keepalive_s;
    long long idle_us, max_us;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sse *streams;
    int count, closing, stop;
    pthread_t ticker;
};

static void wake_all_locked(events_hub *h)
{
    for (sse *s = h->streams; s; s = s->next)
        if (s->st)
            http_stream_wake(s->st);
}

/* every second: streams idle for keepalive_s get a comment, so that proxies keep them open
 * and a client that left is noticed */
static void *ticker(void *arg)
{
    events_hub *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
        long long now = pd_now_us();
        for (sse *s = h->streams; s; s = s->next)
            if (s->st && now - s->last_write_us >= (long long)h->keepalive_s * 1000000) {
                s->ka_due = 1;
                http_stream_wake(s->st);
            }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

events_hub *events_new(store *s, int max_streams, int keepalive_s, long long session_idle_us,
                       long long session_max_us)
{
    events_hub *h = pd_xcalloc(1, sizeof *h);
    h->idle_us = session_idle_us;
    h->max_us = session_max_us;
    h->store = s;
    h->max = max_streams;
    h->keepalive_s = keepalive_s;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->ticker, NULL, ticker, h) != 0) {
        log_error("event=events_ticker_failed");
        abort();
    }
    return h;
}

void events_shutdown(events_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->closing = 1;
    wake_all_locked(h);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (h->count > 0) {
        if (pthread_cond_timedwait(&h->cond, &h->lock, &until) == ETIMEDOUT) {
            log_warn("event=events_shutdown_timeout streams=%d", h->count);
            break;
        }
        wake_all_locked(h); /* a stream registered before its first fill learns it only now */
    }
    pthread_mutex_unlock(&h->lock);
}

void events_free(events_hub *h)
{
    if (!h)
        return;
    events_shutdown(h);
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->ticker, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void events_notify(events_hub *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    wake_all_locked(h);
    pthread_mutex_unlock(&h->lock);
}

int events_count(events_hub *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

static void format_event(buf *b, const ticket_event *e)
{
    /* every value is our own: ids, names from fixed lists, a user name checked at creation */
    buf_printf(
        b,
        "event: ticket\nid: %lld\ndata: {\"type\":\"%s\",\"ticket\":\"%s\",\"status\":\"%s\","
        "\"priority\":\"%s\",\"claimed_by\":",
        e->id, e->type, e->ticket, ticket_status_name(e->status),
        ticket_priority_name(e->priority));
    if (e->claimed_by[0])
        buf_printf(b, "\"%s\"}\n\n", e->claimed_by);
    else
        buf_puts(b, "null}\n\n");
}

static long fill(void *cls, http_stream *st, char *out, size_t max)
{
    sse *s = cls;
    events_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    s->st = st;
    int closing = h->closing, ka = s->ka_due;
    s->ka_due = 0;
    pthread_mutex_unlock(&h->lock);
    if (s->off == s->pending.len) {
        buf_reset(&s->pending);
        s->off = 0;
        if (closing)
            return -1;
        if (!s->hello) {
            buf_puts(&s->pending, "retry: 2000\n: connected\n\n");
            s->hello = 1;
        }
        ticket_event ev[EVENTS_BATCH];
        size_t n = 0;
        if (tickets_events_after(h->store, s->last_id, ev, EVENTS_BATCH, &n) != PD_OK)
            n = 0; /* logged by the store; the next wake or keep-alive tries again */
        for (size_t i = 0; i < n; i++) {
            format_event(&s->pending, &ev[i]);
            s->last_id = ev[i].id;
        }
        if (n == EVENTS_BATCH) {
            /* more are waiting: come back at once */
            http_stream_wake(st);
        }
        if (s->pending.len == 0 && ka) {
            /* the session that opened the stream must still live (logout, disabled, expired) */
            if (staff_session_alive(h->store, s->session, pd_wall_us(), h->idle_us, h->max_us) ==
                PD_ENOTFOUND)
                return -1;
            buf_puts(&s->pending, ": keep-alive\n\n");
        }
    }
    size_t left = s->pending.len - s->off;
    if (left == 0)
        return 0;
    size_t k = left < max ? left : max;
    memcpy(out, s->pending.data + s->off, k);
    s->off += k;
    s->last_write_us = pd_now_us();
    return (long)k;
}

static void done(void *cls)
{
    sse *s = cls;
    events_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    for (sse **p = &h->streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    h->count--;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    buf_free(&s->pending);
    free(s);
}

static int parse_id(const char *v, long long *out)
{
    char *end;
    if (!v || *v < '0' || *v > '9' || strlen(v) > 18)
        return 0;
    errno = 0;
    long long id = strtoll(v, &end, 10);
    if (errno || *end)
        return 0;
    *out = id;
    return 1;
}

void events_stream(events_hub *h, http_req *req, const char *last_event_id,
                   const unsigned char session[32])
{
    long long last = 0, from = 0;
    int rc = tickets_events_last(h->store, &last);
    if (rc != PD_OK) {
        http_reply_store_error(req, rc); /* 503 with Retry-After */
        return;
    }
    /* replay what the client missed; an id from the future (another data folder) counts as
     * "now" */
    from = parse_id(last_event_id, &from) && from <= last ? from : last;
    sse *s = pd_xcalloc(1, sizeof *s);
    s->hub = h;
    s->last_id = from;
    s->last_write_us = pd_now_us();
    memcpy(s->session, session, sizeof s->session);
    pthread_mutex_lock(&h->lock);
    if (h->closing || h->count >= h->max) {
        pthread_mutex_unlock(&h->lock);
        free(s);
        http_add_header(req, "Retry-After", "5");
        http_reply_error(req, 503, "too_many_streams",
                         "Too many live dashboards are open; close one or retry later.");
        return;
    }
    s->next = h->streams;
    h->streams = s;
    h->count++;
    pthread_mutex_unlock(&h->lock);
    if (http_reply_stream(req, 200, "text/event-stream; charset=utf-8", fill, done, s) != PD_OK) {
        done(s);
        http_reply_error(req, 500, "internal", "Internal error, please retry.");
    }
}
