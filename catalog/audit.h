/*
 * audit: the tamper-evident log of every automated decision. Each entry (time, conversation id,
 * decision, intent, rule, policy version, health-data flag, event kind, a non-personal detail;
 * never a message text) is chained to the one before by a BLAKE2b-256 hash, so an edited,
 * deleted, reordered or forged entry shows in audit_verify. A background writer commits
 * appends from many threads in batches (group commit) through the store.
 */
#ifndef PD_AUDIT_H
#define PD_AUDIT_H

#include <stdio.h>

#include "buf.h"
#include "store.h"

typedef struct audit audit;

#define AUDIT_HASH_BYTES 32
#define AUDIT_FIELD_MAX 256 /* bytes per text field; a longer one is PD_EINVAL */

/* reads the chain's head and starts the writer thread */
int audit_open(store *s, audit **out, buf *err);

/*
 * Appends one entry and returns once it is durable (committed, the WAL synced), so a decision
 * is on disk before its answer leaves (inside an audit_defer scope it returns at once and the
 * scope's owner holds the answer back instead, see below). Thread-safe; concurrent appends share
 * one commit. The caller fills kind, conversation, decision, intent, rule, policy_version,
 * health_data and detail (NULL counts as ""); seq, at and the hashes are set here and ignored in e.
 * Must not be called while this thread holds a store_txn. PD_EINVAL for a missing kind or an
 * overlong field, PD_EBUSY after audit_close began, else the store's error (nothing was written
 * then).
 */
int audit_append(audit *a, const audit_entry *e);

/*
 * Deferred durability, for the HTTP layer: with hundreds of requests waiting, a thread per
 * waiting request would bound throughput by the thread pool. Between audit_defer_begin and
 * audit_defer_end on one thread, audit_append validates and queues a copy of its entry and
 * returns 0 at once instead of waiting; the caller promises to hold back the answer until
 * done(arg, status) reports every entry of the scope committed (status 0) or failed (the
 * first error). done runs on the audit writer thread, after the commit: keep it short.
 */
typedef struct audit_defer {
    void (*done)(void *arg, int status);
    void *arg;
    /* audit.c's: the log appended to, entries in flight, whether the scope ended, result */
    audit *a;
    int pending, ended, status;
} audit_defer;

void audit_defer_begin(audit_defer *d, void (*done)(void *arg, int status), void *arg);
/* ends the scope: 1 when entries are still in flight (done will be called), 0 when none are
 * (done is not called; *status is the scope's result) */
int audit_defer_end(audit_defer *d, int *status);

/* waits until every append queued so far is committed (or failed) */
int audit_flush(audit *a);

/* flushes, stops the writer and frees a; NULL is fine */
void audit_close(audit *a);

/* batches committed and entries in them since audit_open, for measurements */
void audit_stats(audit *a, long long *batches, long long *entries);

/* the chain hash of e from e->prev_hash and its fields (seq included) */
void audit_entry_hash(const audit_entry *e, unsigned char out[AUDIT_HASH_BYTES]);

/*
 * Recomputes every hash and checks the links and the sequence. 0 when intact (report gets the
 * count and the head hash: record it elsewhere to detect a cut-off tail later), PD_ECORRUPT
 * with *first_bad the seq of the first entry that cannot be trusted (report says why), or the
 * store's error. report and first_bad may be NULL.
 */
int audit_verify(store *s, FILE *report, long long *first_bad);

#endif
