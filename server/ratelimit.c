#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "pd.h"

#define KEY_MAX 64

typedef struct slot {
    char key[KEY_MAX];
    long long window_start;
    int count;
    int used;
} slot;

struct ratelimit {
    int limit, window_s;
    size_t cap; /* power of two */
    slot *slots;
    size_t used;
    pthread_mutex_t lock;
};

ratelimit *ratelimit_new(int limit, int window_s, int max_keys)
{
    ratelimit *rl = pd_xcalloc(1, sizeof *rl);
    rl->limit = limit;
    rl->window_s = window_s > 0 ? window_s : 60;
    size_t cap = 64;
    while (cap < (size_t)max_keys * 2)
        cap *= 2;
    rl->cap = cap;
    rl->slots = pd_xcalloc(cap, sizeof *rl->slots);
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

static size_t key_hash(const char *k)
{
    size_t h = 1469598103934665603ULL;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return h;
}

/* drops every expired window; rebuilds the table so probe chains stay intact */
static void sweep(ratelimit *rl, long long now)
{
    slot *old = rl->slots;
    rl->slots = pd_xcalloc(rl->cap, sizeof *rl->slots);
    rl->used = 0;
    for (size_t i = 0; i < rl->cap; i++) {
        if (!old[i].used || now - old[i].window_start >= rl->window_s)
            continue;
        size_t j = key_hash(old[i].key) & (rl->cap - 1);
        while (rl->slots[j].used)
            j = (j + 1) & (rl->cap - 1);
        rl->slots[j] = old[i];
        rl->used++;
    }
    free(old);
}

int ratelimit_hit_at(ratelimit *rl, const char *key, long long now)
{
    char k[KEY_MAX];
    int wait = 0;
    if (rl->limit <= 0)
        return 0;
    snprintf(k, sizeof k, "%s", key);
    pthread_mutex_lock(&rl->lock);
    if (rl->used * 4 >= rl->cap * 3) {
        sweep(rl, now);
        if (rl->used * 4 >= rl->cap * 3) {
            /* all windows alive: the table is full of distinct clients; refuse new keys
             * briefly rather than forget a counter an attacker could reset that way */
            pthread_mutex_unlock(&rl->lock);
            return 1;
        }
    }
    size_t i = key_hash(k) & (rl->cap - 1);
    while (rl->slots[i].used && strcmp(rl->slots[i].key, k) != 0)
        i = (i + 1) & (rl->cap - 1);
    slot *s = &rl->slots[i];
    if (!s->used) {
        s->used = 1;
        memcpy(s->key, k, sizeof k);
        s->window_start = now;
        s->count = 0;
        rl->used++;
    } else if (now - s->window_start >= rl->window_s) {
        s->window_start = now;
        s->count = 0;
    }
    if (s->count >= rl->limit) {
        wait = (int)(s->window_start + rl->window_s - now);
        if (wait < 1)
            wait = 1;
    } else {
        s->count++;
    }
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

int ratelimit_hit(ratelimit *rl, const char *key)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ratelimit_hit_at(rl, key, (long long)ts.tv_sec);
}
