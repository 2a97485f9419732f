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
/* the same, also storing the customer's consent to status mails (status_mails 0 or 1, a change
 * is an update; -1 keeps the stored value, 0 for a new order, as store_order_upsert does) and
 * reporting the status before the upsert in *old_status (an enum order_status, -1 for a new
 * order; may be NULL) */
int store_order_upsert_ex(store_txn *t, const order *o, int status_mails, enum store_upsert *result,
                          int *old_status);
int store_catalog_bump(store_txn *t);

/* one entry of the audit log (catalog/audit.h computes seq, at and the hashes). Strings are
 * never NULL ("" when empty) and never hold a message text. */
typedef struct audit_entry {
    long long seq;              /* 1, 2, 3, ... without gaps */
    const char *at;             /* UTC, ISO 8601 with ms: 2024-05-01T09:30:00.123Z */
    const char *kind;           /* inquiry, order_lookup, handoff, import, ... */
    const char *conversation;   /* conversation id, may be "" */
    const char *decision;       /* what was decided */
    const char *intent;         /* the classified intent */
    const char *rule;           /* the rule that decided */
    const char *policy_version; /* the policy the rule belongs to */
    int health_data;            /* 1 when the inquiry touched health data (GDPR Art. 9) */
    const char *detail;         /* non-personal facts, e.g. "outcome=not_found"; may be "" */
    unsigned char prev_hash[32];
    unsigned char hash[32];
    int bad_encoding; /* set by store_audit_foreach: a column is not what the store writes (a
                       * text with an embedded NUL, a hash that is not 32 bytes) */
} audit_entry;

/* appends n entries in one transaction, in order. The chain must continue the stored one:
 * e[0].seq is one past the last stored seq and e[0].prev_hash its hash (32 zero bytes for an
 * empty log), else PD_EEXIST and nothing is written (another process appended meanwhile:
 * read store_audit_last and chain again). Must not be called while this thread holds a
 * store_txn. */
int store_audit_append_batch(store *s, const audit_entry *e, size_t n);
/* the last entry's seq and hash; 0 and 32 zero bytes for an empty log */
int store_audit_last(store *s, long long *seq, unsigned char hash[32]);
/* calls cb for every entry in seq order, over one read snapshot; the entry's strings live only
 * during the call. A non-zero return from cb stops and is returned. cb must not call the store. */
int store_audit_foreach(store *s, int (*cb)(const audit_entry *e, void *arg), void *arg);
/* the same for the entries at or after since (an ISO 8601 UTC time as in audit_entry.at),
 * newest first; reads back only as far as since, as times follow the sequence (audit.c stamps
 * them in queue order) */
/* the same as store_audit_foreach, with the retention's anchor read in the same snapshot: the
 * seq and hash of the last entry pruned (0 and 32 zero bytes when none was) */
int store_audit_foreach_anchored(store *s, long long *anchor_seq, unsigned char anchor_hash[32],
                                 int (*cb)(const audit_entry *e, void *arg), void *arg);
/* retention: deletes the entries older than before (ISO 8601 UTC, as audit_entry.at) from the
 * start of the chain, never the last entry, and keeps the last deleted entry's seq and hash as
 * the anchor the rest verifies from. *last_pruned: that seq, 0 when nothing was old enough. */
int store_audit_prune(store *s, const char *before, long long *last_pruned);
int store_audit_foreach_since(store *s, const char *since,
                              int (*cb)(const audit_entry *e, void *arg), void *arg);

#ifdef PD_FAULT_INJECTION
/* test builds only: tamper with the audit log behind the chain's back. column is one of the
 * table's columns; text columns take value/len as text, prev_hash and hash as a blob. */
int store_audit_tamper(store *s, long long seq, const char *column, const void *value, size_t len);
/* health_data or seq (to reorder entries) */
int store_audit_tamper_int(store *s, long long seq, const char *column, long long value);
int store_audit_delete(store *s, long long seq);
#endif

#endif
