#include "convo.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd.h"

typedef struct entry {
    convo_state st;
    long long touched;
    int used;
} entry;

struct convo_table {
    pthread_mutex_t lock;
    entry *e;
    int cap, idle;
    long long (*now)(void);
};

static long long mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec;
}

convo_table *convo_new(int max_entries, int idle_seconds)
{
    convo_table *t = pd_xcalloc(1, sizeof *t);
    t->cap = max_entries > 0 ? max_entries : 1;
    t->idle = idle_seconds;
    t->e = pd_xcalloc((size_t)t->cap, sizeof *t->e);
    t->now = mono_now;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void convo_free(convo_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    sodium_memzero(t->e, (size_t)t->cap * sizeof *t->e);
    free(t->e);
    free(t);
}

void convo_set_clock(convo_table *t, long long (*now)(void))
{
    t->now = now;
}

/* a linear table: conversations are few (hundreds a day) and short-lived */
static entry *find(convo_table *t, const char *id, long long now)
{
    for (int i = 0; i < t->cap; i++) {
        entry *e = &t->e[i];
        if (!e->used)
            continue;
        if (now - e->touched > t->idle) {
            sodium_memzero(e, sizeof *e); /* expired: forget it */
            continue;
        }
        if (sodium_memcmp(e->st.id, id, CONVO_ID_LEN) == 0)
            return e;
    }
    return NULL;
}

int convo_get(convo_table *t, const char *id, convo_state *out)
{
    int ret = PD_ENOTFOUND;
    if (!id || strlen(id) != CONVO_ID_LEN)
        return PD_ENOTFOUND;
    pthread_mutex_lock(&t->lock);
    entry *e = find(t, id, t->now());
    if (e) {
        *out = e->st;
        ret = PD_OK;
    }
    pthread_mutex_unlock(&t->lock);
    return ret;
}

static entry *slot(convo_table *t, long long now)
{
    entry *oldest = &t->e[0];
    for (int i = 0; i < t->cap; i++) {
        entry *e = &t->e[i];
        if (!e->used || now - e->touched > t->idle)
            return e;
        if (e->touched < oldest->touched)
            oldest = e;
    }
    return oldest; /* full: the least recently used conversation gives way */
}

int convo_put(convo_table *t, const convo_state *st)
{
    long long now;
    pthread_mutex_lock(&t->lock);
    now = t->now();
    entry *e = find(t, st->id, now);
    if (!e)
        e = slot(t, now);
    e->st = *st;
    e->touched = now;
    e->used = 1;
    pthread_mutex_unlock(&t->lock);
    return PD_OK;
}

int convo_start(convo_table *t, const char *lang, convo_state *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[16];
    memset(out, 0, sizeof *out);
    randombytes_buf(rnd, sizeof rnd);
    /* base32: 5 bits per character, 26 characters hold 130 bits */
    unsigned bits = 0, acc = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof rnd && n < CONVO_ID_LEN; i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;
        while (bits >= 5 && n < CONVO_ID_LEN) {
            out->id[n++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (n < CONVO_ID_LEN)
        out->id[n++] = alphabet[(acc << (5 - bits)) & 31];
    out->id[CONVO_ID_LEN] = '\0';
    snprintf(out->lang, sizeof out->lang, "%s", lang && strcmp(lang, "en") == 0 ? "en" : "de");
    return convo_put(t, out);
}
