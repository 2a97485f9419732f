/*
 * search: an in-memory index over the catalog's searchable words, built once from the store
 * and then read by many threads. It finds products from what customers type: a PZN in any
 * spelling, names, aliases and active ingredients folded (ä = ae = a, ß = ss), typos, word
 * prefixes and compound heads ("Hustensaftvorrat"), strengths ("400 mg") and pack sizes
 * ("50 Stück", "N2"). It returns ranked PZNs (catalog.c keeps the rows that go with them).
 */
#ifndef PD_SEARCH_H
#define PD_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "product.h"

typedef struct search_index search_index;

typedef struct search_hit {
    uint32_t pzn;
    float score;
} search_hit;

search_index *search_new(void);
/* adds one product; call for every product, then search_finish once */
void search_add(search_index *ix, const product *p);
void search_finish(search_index *ix);
void search_free(search_index *ix);
size_t search_size(const search_index *ix);

/*
 * Ranks products for the query (UTF-8, any length; invalid bytes act as separators). Writes
 * at most max hits, best first, and returns how many. Safe to call from several threads.
 */
size_t search_query(search_index *ix, const char *q, size_t len, search_hit *out, size_t max);

#endif
