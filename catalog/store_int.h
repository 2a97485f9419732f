/*
 * store_int: the store's inside, for the catalog/ files that own a group of tables
 * (store_tickets.c: handoff tickets and staff; store_leads.c: leads, the consent ledger and the
 * mail queue). Each such file keeps its own SQL beside its records, prepared once per pooled
 * connection in its own range of statement slots. Nothing outside catalog/ includes this.
 */
#ifndef PD_STORE_INT_H
#define PD_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

typedef struct store_conn store_conn;

/* statement slot ranges, one per module (a slot caches one SQL text per connection) */
enum {
    STORE_SLOTS_TICKETS = 0,
    STORE_SLOTS_LEADS = 64,
    STORE_SLOTS_COUNT = 128,
};

/* the schema migrations of the modules, entries of store.c's migration list (append-only once
 * released): defined in store_tickets.c and store_leads.c */
extern const char store_migration_tickets[];
extern const char store_migration_leads[];
extern const char store_migration_newsletter[];

/* a pooled connection: waits while all are in use; give it back with store_release */
store_conn *store_acquire(store *s);
void store_release(store *s, store_conn *c);
sqlite3 *store_conn_db(store_conn *c);

/* the cached prepared statement of slot (always the same sql for a slot); NULL on failure
 * (logged). Reset it with store_stmt_done after use. */
sqlite3_stmt *store_stmt(store_conn *c, int slot, const char *sql);
void store_stmt_done(sqlite3_stmt *st);

/* one step that must finish the statement (SQLITE_DONE); PD_* error otherwise, logged as what */
int store_step_done(store_conn *c, sqlite3_stmt *st, const char *what);

/* SQLite result code to PD_* (SQLITE_FULL is PD_EFULL, a constraint PD_EINVAL, ...) */
int store_map_rc(int rc);
/* logs SQLite's message (never bound values) and maps rc */
int store_fail(store_conn *c, int rc, const char *what);

/* write transactions on one connection: BEGIN IMMEDIATE, COMMIT (durable on return, WAL with
 * synchronous=FULL), ROLLBACK (never fails) */
int store_begin(store_conn *c);
int store_commit(store_conn *c);
void store_rollback(store_conn *c);

#endif
