#include "catalog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "pd.h"
#include "search.h"

/* an index shared by the queries that hold a reference; freed by the last one out */
typedef struct ixref {
    search_index *ix;
    long long generation;
    int refs;
} ixref;

struct catalog {
    store *s;
    pthread_mutex_t lock; /* guards cur and refs */
    ixref *cur;
    atomic_int rebuilding;
    atomic_llong next_check_us;
};

static int add_cb(const product *p, void *arg)
{
    search_add(arg, p);
    return 0;
}

static int build(store *s, ixref **out)
{
    long long gen = 0, t0 = pd_now_us();
    int ret = store_catalog_generation(s, &gen);
    if (ret != PD_OK)
        return ret;
    search_index *ix = search_new();
    if ((ret = store_products_foreach(s, add_cb, ix)) != PD_OK) {
        search_free(ix);
        return ret;
    }
    search_finish(ix);
    ixref *r = pd_xcalloc(1, sizeof *r);
    r->ix = ix;
    r->generation = gen;
    r->refs = 1; /* the catalog's own reference */
    *out = r;
    log_info("event=search_index_built products=%zu generation=%lld ms=%lld", search_size(ix), gen,
             (pd_now_us() - t0) / 1000);
    return PD_OK;
}

static void unref(catalog *c, ixref *r)
{
    pthread_mutex_lock(&c->lock);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) {
        search_free(r->ix);
        free(r);
    }
}

int catalog_open(store *s, catalog **out, buf *err)
{
    catalog *c = pd_xcalloc(1, sizeof *c);
    c->s = s;
    pthread_mutex_init(&c->lock, NULL);
    int ret = build(s, &c->cur);
    if (ret != PD_OK) {
        buf_printf(err, "cannot build the product search index: %s", pd_strerror(ret));
        pthread_mutex_destroy(&c->lock);
        free(c);
        return ret;
    }
    atomic_store(&c->next_check_us, pd_now_us() + 1000000);
    *out = c;
    return PD_OK;
}

void catalog_free(catalog *c)
{
    if (!c)
        return;
    /* a rebuild in flight uses c: wait for it (it ends on its own, bounded by the catalog) */
    int expected = 0;
    while (!atomic_compare_exchange_strong(&c->rebuilding, &expected, 1)) {
        expected = 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (c->cur)
        unref(c, c->cur);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* with the rebuilding flag held: compares generations, builds and swaps in a fresh index */
static int refresh_held(catalog *c, int force)
{
    long long gen;
    int ret = store_catalog_generation(c->s, &gen);
    if (ret != PD_OK)
        return ret;
    pthread_mutex_lock(&c->lock);
    int stale = force || c->cur->generation != gen;
    pthread_mutex_unlock(&c->lock);
    if (!stale)
        return PD_OK;
    ixref *fresh = NULL;
    if ((ret = build(c->s, &fresh)) != PD_OK)
        return ret;
    pthread_mutex_lock(&c->lock);
    ixref *old = c->cur;
    c->cur = fresh;
    pthread_mutex_unlock(&c->lock);
    unref(c, old);
    return PD_OK;
}

int catalog_refresh(catalog *c, int force)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&c->rebuilding, &expected, 1))
        return PD_OK; /* another thread is at it; keep serving the old index */
    int ret = refresh_held(c, force);
    atomic_store(&c->rebuilding, 0);
    return ret;
}

static void *refresh_thread(void *arg)
{
    catalog *c = arg;
    int r = refresh_held(c, 0);
    if (r != PD_OK)
        log_warn("event=search_index_refresh_failed err=\"%s\"", pd_strerror(r));
    atomic_store(&c->rebuilding, 0);
    return NULL;
}

/* at most once a second, a detached thread checks for an import and rebuilds; the request
 * that notices goes on with the old index, so no reader waits for a rebuild */
static void maybe_refresh(catalog *c)
{
    long long now = pd_now_us(), due = atomic_load(&c->next_check_us);
    if (now < due || !atomic_compare_exchange_strong(&c->next_check_us, &due, now + 1000000))
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&c->rebuilding, &expected, 1))
        return;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, refresh_thread, c) != 0) {
        log_warn("event=search_index_refresh_failed err=\"cannot start a thread\"");
        atomic_store(&c->rebuilding, 0);
    }
    pthread_attr_destroy(&attr);
}

int catalog_get(catalog *c, uint32_t pzn, product **out)
{
    return store_product_get(c->s, pzn, out);
}

/* ranked hits from the current index; the index may be swapped meanwhile, the hits stay valid */
static size_t hits_of(catalog *c, const char *q, size_t len, size_t limit, search_hit *hits)
{
    if (limit > CATALOG_MAX_RESULTS)
        limit = CATALOG_MAX_RESULTS;
    maybe_refresh(c);
    pthread_mutex_lock(&c->lock);
    ixref *r = c->cur;
    r->refs++;
    pthread_mutex_unlock(&c->lock);
    size_t nh = search_query(r->ix, q, len, hits, limit);
    unref(c, r);
    return nh;
}

int catalog_match(catalog *c, const char *q, size_t len, size_t limit, uint32_t *pzns, size_t *n)
{
    search_hit hits[CATALOG_MAX_RESULTS];
    size_t nh = hits_of(c, q, len, limit, hits);
    for (size_t i = 0; i < nh; i++)
        pzns[i] = hits[i].pzn;
    *n = nh;
    return PD_OK;
}

int catalog_search(catalog *c, const char *q, size_t len, size_t limit, product **out, size_t *n)
{
    return catalog_search_close(c, q, len, limit, 0.0f, out, n);
}

int catalog_search_close(catalog *c, const char *q, size_t len, size_t limit, float min_rel,
                         product **out, size_t *n)
{
    search_hit hits[CATALOG_MAX_RESULTS];
    uint32_t pzns[CATALOG_MAX_RESULTS];
    product *rows[CATALOG_MAX_RESULTS];

    *n = 0;
    size_t nh = hits_of(c, q, len, limit, hits);

    while (nh > 1 && min_rel > 0 && hits[nh - 1].score < min_rel * hits[0].score)
        nh--;
    for (size_t i = 0; i < nh; i++)
        pzns[i] = hits[i].pzn;
    int ret = store_products_get(c->s, pzns, nh, rows);
    if (ret != PD_OK)
        return ret;
    for (size_t i = 0; i < nh; i++)
        if (rows[i])
            out[(*n)++] = rows[i];
    return PD_OK;
}
