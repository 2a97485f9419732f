/*
 * catalog: search answers come from the index's own snapshot of the catalog. The rows it
 * returns equal the store's, field by field; a changed stock or price in the store is not seen
 * until the catalog generation moves and the index is rebuilt, and then it is; catalog_get
 * reads the store directly; close matches are a prefix of the full ranking.
 */
#include <pthread.h>

#include "catalog.h"
#include "check.h"
#include "import.h"
#include "pd.h"
#include "store.h"
#include "testutil.h"

static void same_product(const product *a, const product *b)
{
    CHECK_EQ_INT(a->pzn, b->pzn);
    CHECK_EQ_STR(a->name, b->name);
    CHECK_EQ_STR(a->manufacturer, b->manufacturer);
    CHECK_EQ_STR(a->active_ingredient, b->active_ingredient);
    CHECK_EQ_STR(a->strength, b->strength);
    CHECK_EQ_STR(a->dosage_form, b->dosage_form);
    CHECK_EQ_STR(a->pack_size, b->pack_size);
    CHECK_EQ_STR(a->aliases, b->aliases);
    CHECK_EQ_INT(a->dispensing, b->dispensing);
    CHECK_EQ_INT(a->price_cents, b->price_cents);
    CHECK_EQ_INT(a->stock, b->stock);
    CHECK_EQ_INT(a->supply, b->supply);
}

/* the first hit for q, or NULL; free() it */
static product *first_hit(catalog *c, const char *q)
{
    product *rows[CATALOG_MAX_RESULTS];
    size_t n = 0;
    CHECK_EQ_INT(catalog_search(c, q, strlen(q), 5, rows, &n), PD_OK);
    for (size_t i = 1; i < n; i++)
        free(rows[i]);
    return n ? rows[0] : NULL;
}

static void set_stock(store *s, uint32_t pzn, long long stock, long long price_cents)
{
    product *p = NULL;
    store_txn *t = NULL;
    enum store_upsert res;
    CHECK_EQ_INT(store_product_get(s, pzn, &p), PD_OK);
    if (!p)
        return;
    p->stock = stock;
    p->price_cents = price_cents;
    CHECK_EQ_INT(store_txn_begin(s, &t), PD_OK);
    CHECK_EQ_INT(store_product_upsert(t, p, &res, NULL), PD_OK);
    CHECK_EQ_INT(store_catalog_bump(t), PD_OK);
    CHECK_EQ_INT(store_txn_commit(t), PD_OK);
    free(p);
}

int main(int argc, char **argv)
{
    char data[300], path[400];
    buf err = BUF_INIT;
    store *s = NULL;
    catalog *c = NULL;
    import_summary sum;
    if (argc < 2) {
        fprintf(stderr, "usage: test_catalog DEMO_DIR\n");
        return 2;
    }
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    snprintf(path, sizeof path, "%s/catalog.csv", argv[1]);
    CHECK_EQ_INT(store_create(data, &err), PD_OK);
    CHECK_EQ_INT(store_open(data, 2, &s, &err), PD_OK);
    CHECK_EQ_INT(import_csv(s, IMPORT_CATALOG, path, NULL, NULL, &sum, &err), PD_OK);
    CHECK_EQ_INT(catalog_open(s, &c, &err), PD_OK);
    if (!c) {
        fprintf(stderr, "%s\n", buf_cstr(&err));
        return check_done();
    }

    /* every hit equals the store's row */
    const char *queries[] = {"Ibuprofen 400", "Paracetamol", "Nasenspray",
                             "Amoxicillin",   "81287667",    "Hustensaft"};
    for (size_t q = 0; q < PD_ARRAY_LEN(queries); q++) {
        product *rows[CATALOG_MAX_RESULTS];
        size_t n = 0;
        CHECK_EQ_INT(
            catalog_search(c, queries[q], strlen(queries[q]), CATALOG_MAX_RESULTS, rows, &n),
            PD_OK);
        for (size_t i = 0; i < n; i++) {
            product *p = NULL;
            CHECK_EQ_INT(store_product_get(s, rows[i]->pzn, &p), PD_OK);
            if (p)
                same_product(rows[i], p);
            free(p);
            free(rows[i]);
        }
    }

    /* a change in the store: search shows it once the generation moved and the index is new */
    product *before = first_hit(c, "Ibuprofen AL 400");
    CHECK(before != NULL);
    if (before) {
        CHECK_EQ_INT(before->pzn, 81287667);
        set_stock(s, before->pzn, 0, 399);
        product *still = first_hit(c, "Ibuprofen AL 400");
        CHECK(still && still->stock == before->stock && still->price_cents == before->price_cents);
        free(still);
        CHECK_EQ_INT(catalog_refresh(c, 0), PD_OK);
        product *after = first_hit(c, "Ibuprofen AL 400");
        CHECK(after && after->stock == 0 && after->price_cents == 399);
        if (after)
            CHECK_EQ_INT(product_availability(after), AVAIL_ORDERABLE);
        free(after);
        /* catalog_get reads the store: the new values at once */
        product *g = NULL;
        CHECK_EQ_INT(catalog_get(c, before->pzn, &g), PD_OK);
        CHECK(g && g->stock == 0 && g->price_cents == 399);
        free(g);
        free(before);
    }

    /* close matches: only products that score near the best, all from the snapshot */
    product *close[CATALOG_MAX_RESULTS];
    size_t nclose = 0, nall = 0;
    product *all[CATALOG_MAX_RESULTS];
    CHECK_EQ_INT(catalog_search_close(c, "Ibuprofen", 9, 10, 0.8f, close, &nclose), PD_OK);
    CHECK_EQ_INT(catalog_search(c, "Ibuprofen", 9, 10, all, &nall), PD_OK);
    CHECK(nclose >= 1 && nclose <= nall);
    for (size_t i = 0; i < nclose; i++) {
        CHECK_EQ_INT(close[i]->pzn, all[i]->pzn);
        free(close[i]);
    }
    for (size_t i = 0; i < nall; i++)
        free(all[i]);

    catalog_free(c);
    store_close(s);
    buf_free(&err);
    return check_done();
}
