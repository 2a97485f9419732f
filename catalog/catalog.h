/*
 * catalog: products as customers ask for them. It keeps the search index together with a copy
 * of the catalog's rows (stock, prices, supply) of the same catalog generation, and rebuilds
 * both in a thread of its own when an import has changed the catalog (checked at most once a
 * second), so that readers never wait for it and a search reads nothing from the store. Search
 * results therefore show an import's stock and prices once the index is rebuilt (about a second
 * after the import), together with its new products; catalog_get reads the store directly.
 */
#ifndef PD_CATALOG_H
#define PD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "product.h"
#include "store.h"

typedef struct catalog catalog;

#define CATALOG_MAX_RESULTS 50

int catalog_open(store *s, catalog **out, buf *err);
void catalog_free(catalog *c);

/* PD_ENOTFOUND for an unknown PZN; free() the product */
int catalog_get(catalog *c, uint32_t pzn, product **out);

/* best first, from the index's snapshot; *n products written to out (at most limit <=
 * CATALOG_MAX_RESULTS); free() each */
int catalog_search(catalog *c, const char *q, size_t len, size_t limit, product **out, size_t *n);

/* like catalog_search, keeping only hits that score at least min_rel times the best one: the
 * products that fit nearly as well as the best, for a reply that names them */
int catalog_search_close(catalog *c, const char *q, size_t len, size_t limit, float min_rel,
                         product **out, size_t *n);

/* the PZNs of the best hits only, without reading the products from the store */
int catalog_match(catalog *c, const char *q, size_t len, size_t limit, uint32_t *pzns, size_t *n);

/* rebuilds the index when the store's catalog generation changed (or always, with force) */
int catalog_refresh(catalog *c, int force);

#endif
