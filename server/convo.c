#include "convo.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd.h"

/*
 * A hash table over a fixed array of entries. Buckets are chosen by a keyed hash (SipHash with
 * a random key per table), so ids cannot be crafted to collide, and ids are compared with
 * sodium_memcmp. A doubly linked list keeps the entries in the order they were last touched:
 * expired ones are dropped from its old end, and a full table gives way from there too. Every
 * operation is O(1) on average, however many conversations are open.
 */
#define NIL (-1)

typedef struct entry {
    convo_state st;
    long long touched;
    int used;
    int chain;        /* next entry in the same bucket */
    int older, newer; /* the touch order; free entries are chained through newer */
} entry;

struct convo_table {
    pthread_mutex_t lock;
    entry *e;
    int cap, idle;
    long long (*now)(void);
    int *bucket;
    size_t mask; /* buckets - 1, a power of two */
    int oldest, newest, free_list;
    unsigned char key[crypto_shorthash_KEYBYTES];
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
    size_t nb = 1;
    while (nb < 2 * (size_t)t->cap)
        nb <<= 1;
    t->bucket = pd_xcalloc(nb, sizeof *t->bucket);
    t->mask = nb - 1;
    for (size_t i = 0; i < nb; i++)
        t->bucket[i] = NIL;
    for (int i = 0; i < t->cap; i++)
        t->e[i].newer = i + 1 < t->cap ? i + 1 : NIL;
    t->free_list = 0;
    t->oldest = t->newest = NIL;
    randombytes_buf(t->key, sizeof t->key);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void convo_free(convo_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    sodium_memzero(t->e, (size_t)t->cap * sizeof *t->e);
    sodium_memzero(t->key, sizeof t->key);
    free(t->e);
    free(t->bucket);
    free(t);
}

void convo_set_clock(convo_table *t, long long (*now)(void))
{
    t->now = now;
}

static int *bucket_of(convo_table *t, const char *id)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, (const unsigned char *)id, CONVO_ID_LEN, t->key);
    for (size_t i = 0; i < sizeof h; i++)
        v = (v << 8) | h[i];
    return &t->bucket[v & t->mask];
}

static void unlink_touch(convo_table *t, int i)
{
    entry *e = &t->e[i];
    if (e->older != NIL)
        t->e[e->older].newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer != NIL)
        t->e[e->newer].older = e->older;
    else
        t->newest = e->older;
}

static void link_newest(convo_table *t, int i)
{
    entry *e = &t->e[i];
    e->older = t->newest;
    e->newer = NIL;
    if (t->newest != NIL)
        t->e[t->newest].newer = i;
    else
        t->oldest = i;
    t->newest = i;
}

/* forgets entry i: out of its bucket and the touch order, wiped, onto the free list */
static void drop(convo_table *t, int i)
{
    entry *e = &t->e[i];
    int *p = bucket_of(t, e->st.id);
    while (*p != i)
        p = &t->e[*p].chain;
    *p = e->chain;
    unlink_touch(t, i);
    sodium_memzero(e, sizeof *e);
    e->newer = t->free_list;
    t->free_list = i;
}

static void expire(convo_table *t, long long now)
{
    while (t->oldest != NIL && now - t->e[t->oldest].touched > t->idle)
        drop(t, t->oldest);
}

static int find(convo_table *t, const char *id, long long now)
{
    expire(t, now);
    for (int i = *bucket_of(t, id); i != NIL; i = t->e[i].chain)
        if (sodium_memcmp(t->e[i].st.id, id, CONVO_ID_LEN) == 0)
            return i;
    return NIL;
}

int convo_get(convo_table *t, const char *id, convo_state *out)
{
    int ret = PD_ENOTFOUND;
    if (!id || strlen(id) != CONVO_ID_LEN)
        return PD_ENOTFOUND;
    pthread_mutex_lock(&t->lock);
    int i = find(t, id, t->now());
    if (i != NIL) {
        *out = t->e[i].st;
        ret = PD_OK;
    }
    pthread_mutex_unlock(&t->lock);
    return ret;
}

int convo_put(convo_table *t, const convo_state *st)
{
    pthread_mutex_lock(&t->lock);
    long long now = t->now();
    int i = find(t, st->id, now);
    if (i != NIL) {
        unlink_touch(t, i);
    } else {
        if (t->free_list == NIL)
            drop(t, t->oldest); /* full: the least recently used conversation gives way */
        i = t->free_list;
        t->free_list = t->e[i].newer;
        int *b = bucket_of(t, st->id);
        t->e[i].chain = *b;
        *b = i;
        t->e[i].used = 1;
    }
    t->e[i].st = *st;
    t->e[i].touched = now;
    link_newest(t, i);
    pthread_mutex_unlock(&t->lock);
    return PD_OK;
}

int convo_start(convo_table *t, const char *lang, convo_state *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[16];
    memset(out, 0, sizeof *out);
    pd_random(rnd, sizeof rnd);
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
