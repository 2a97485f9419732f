/*
 * store: the one door to persistent data. It owns the SQLite database in the data folder, its
 * schema migrations (keyed on PRAGMA user_version), a guarded pool of connections with cached
 * prepared statements, and every SQL statement of the project. Callers see records and error
 * codes, never SQL, so that page encryption (a VFS underneath) and another backend (PostgreSQL)
 * can be added here without touching them.
 */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <stdint.h>

#include "buf.h"
#include "product.h"

typedef struct store store;
typedef struct store_txn store_txn;

#define STORE_DB_NAME "pharmdesk.db"
#define STORE_KEY_NAME "pharmdesk.key"

/* creates DIR (0700) with a new key (a 256-bit key file, 0600, or the salt of the passphrase
 * in PHARMDESK_PASSPHRASE) and an empty encrypted database; refuses when any exists. Errors
 * are explained in err. */
int store_create(const char *dir, buf *err);

/* opens an existing data folder; never creates a database. pool_size connections (>= 1).
 * A wrong key or a damaged file is PD_ECORRUPT ("wrong key or damaged data folder: ..."),
 * found before anything is written. */
int store_open(const char *dir, int pool_size, store **out, buf *err);
void store_close(store *s);

/* the same without encryption, for the plain-versus-encrypted benchmark only */
int store_create_plain(const char *dir, buf *err);
int store_open_plain(const char *dir, int pool_size, store **out, buf *err);

/* a consistent encrypted snapshot of the folder's database into DEST/pharmdesk.db (and the
 * passphrase's salt file), taken with SQLite's online backup while the service runs; the key
 * file is not copied */
int store_backup(const char *dir, const char *dest, buf *err);

/* re-encrypts every page with a new key: a new key file, or new_pass stretched when not NULL.
 * Needs the folder to itself (PD_EBUSY while the service runs). An interruption at any point
 * leaves a folder that opens with the old key or with the new one. */
int store_rekey(const char *dir, const char *new_pass, buf *err);

/* 0 when the database answers */
int store_ping(store *s);

/* runs SQLite's integrity check over every page (each page is decrypted and authenticated on
 * the way); 0 with "ok" in result, or PD_ECORRUPT with SQLite's first findings */
int store_check(store *s, buf *result);

/* one allocation holding the record and its strings: free() it. PD_ENOTFOUND when unknown. */
int store_product_get(store *s, uint32_t pzn, product **out);
/* fetches n products over one connection; out[i] is NULL for an unknown PZN */
int store_products_get(store *s, const uint32_t *pzns, size_t n, product **out);
/* calls cb for every product in PZN order; a non-zero return from cb stops and is returned */
int store_products_foreach(store *s, int (*cb)(const product *p, void *arg), void *arg);
/* a counter raised by every catalog import, so readers can tell when to rebuild caches */
int store_catalog_generation(store *s, long long *gen);

/* order with items, one allocation: free() it. PD_ENOTFOUND when unknown. */
int store_order_get(store *s, const char *number, order **out);

enum store_upsert { STORE_INSERTED, STORE_UPDATED, STORE_UNCHANGED };

/* a write transaction on one connection, for imports */
int store_txn_begin(store *s, store_txn **out);
int store_txn_commit(store_txn *t);    /* frees t, also on failure (then rolled back) */
void store_txn_rollback(store_txn *t); /* frees t; NULL is fine */
/* old_stock: the stock before the upsert, -1 for a new product (may be NULL) */
int store_product_upsert(store_txn *t, const product *p, enum store_upsert *result,
                         long long *old_stock);
/* PD_ENOTFOUND when an item names a PZN that is not in the catalog; the row is then not written */
int store_order_upsert(store_txn *t, const order *o, enum store_upsert *result);
int store_catalog_bump(store_txn *t);

#endif
