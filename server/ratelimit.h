/*
 * ratelimit: fixed-window counters per key (a client address, an order number), guarded by a
 * mutex and bounded in memory: when the table is full the oldest windows are dropped first.
 * Used by the dispatcher (per route) and by handlers for their own keys.
 */
#ifndef PD_RATELIMIT_H
#define PD_RATELIMIT_H

typedef struct ratelimit ratelimit;

/* limit requests per window_s seconds; limit 0 turns the limiter off */
ratelimit *ratelimit_new(int limit, int window_s, int max_keys);
void ratelimit_free(ratelimit *rl);

/* 0 when allowed (and counted); otherwise the seconds until the window ends (>= 1) */
int ratelimit_hit(ratelimit *rl, const char *key);
/* like ratelimit_hit, at an explicit time (seconds), for tests */
int ratelimit_hit_at(ratelimit *rl, const char *key, long long now_s);

#endif
