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
    /* the products of this generation, sorted by PZN: what a search answers with, so that a
     * search or an inquiry reads nothing from the store (an import bumps the generation and
     * brings a fresh index with fresh rows, stock and prices) */
    product **rows;
    size_t nrows, caprows;
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
    ixref *r = arg;
    search_add(r->ix, p);
    if (r->nrows == r->caprows) {
        r->caprows = r->caprows ? r->caprows * 2 : 1024;
        r->rows = pd_xreallocarray(r->rows, r->caprows, sizeof *r->rows);
    }
    r->rows[r->nrows++] = product_dup(p);
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    uint32_t x = (*(product *const *)a)->pzn, y = (*(product *const *)b)->pzn;
    return x < y ? -1 : x > y;
}

static void ixref_free(ixref *r)
{
    search_free(r->ix);
    for (size_t i = 0; i < r->nrows; i++)
        free(r->rows[i]);
    free(r->rows);
    free(r);
}

/* the snapshot's row for pzn, or NULL */
static const product *row_of(const ixref *r, uint32_t pzn)
{
    size_t lo = 0, hi = r->nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->rows[mid]->pzn < pzn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nrows && r->rows[lo]->pzn == pzn ? r->rows[lo] : NULL;
}

static int build(store *s, ixref **out)
{
    long long gen = 0, t0 = pd_now_us();
    int ret = store_catalog_generation(s, &gen);
    if (ret != PD_OK)
        return ret;
    ixref *r = pd_xcalloc(1, sizeof *r);
    r->ix = search_new();
    if ((ret = store_products_foreach(s, add_cb, r)) != PD_OK) {
        ixref_free(r);
        return ret;
    }
    search_finish(r->ix);
    search_index *ix = r->ix;
    qsort(r->rows, r->nrows, sizeof *r->rows, cmp_row);
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
    if (last)
        ixref_free(r);
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

/* at most once a second, the request that notices compares the store's catalog generation
 * with the index's (one small read); only after an import does a detached thread rebuild, and
 * that request goes on with the old index, so no reader waits for a rebuild. (A thread for
 * every check gave each its own malloc arena: the server's memory grew under load.) */
static void maybe_refresh(catalog *c)
{
    long long now = pd_now_us(), due = atomic_load(&c->next_check_us), gen;
    if (now < due || !atomic_compare_exchange_strong(&c->next_check_us, &due, now + 1000000))
        return;
    int r = store_catalog_generation(c->s, &gen);
    if (r != PD_OK) { /* at most once a second; the old index keeps serving */
        log_warn("event=search_index_check_failed err=\"%s\"", pd_strerror(r));
        return;
    }
    pthread_mutex_lock(&c->lock);
    int fresh = c->cur->generation == gen;
    pthread_mutex_unlock(&c->lock);
    if (fresh)
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

/* the current index, with a reference held: give it back with unref */
static ixref *current(catalog *c)
{
    maybe_refresh(c);
    pthread_mutex_lock(&c->lock);
    ixref *r = c->cur;
    r->refs++;
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* ranked hits from index r */
static size_t hits_of(ixref *r, const char *q, size_t len, size_t limit, search_hit *hits)
{
    if (limit > CATALOG_MAX_RESULTS)
        limit = CATALOG_MAX_RESULTS;
    return search_query(r->ix, q, len, hits, limit);
}

int catalog_match(catalog *c, const char *q, size_t len, size_t limit, uint32_t *pzns, size_t *n)
{
    search_hit hits[CATALOG_MAX_RESULTS];
    ixref *r = current(c);
    size_t nh = hits_of(r, q, len, limit, hits);
    unref(c, r);
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

    *n = 0;
    ixref *r = current(c);
    size_t nh = hits_of(r, q, len, limit, hits);
    while (nh > 1 && min_rel > 0 && hits[nh - 1].score < min_rel * hits[0].score)
        nh--;
    /* the rows of the index's own generation: the same catalog the hits were ranked on */
    for (size_t i = 0; i < nh; i++) {
        const product *p = row_of(r, hits[i].pzn);
        if (p)
            out[(*n)++] = product_dup(p);
    }
    unref(c, r);
    return PD_OK;
}
