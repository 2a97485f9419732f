/*
 * import: loads the pharmacy's catalog and order exports (CSV, columns as in catalog/demo/)
 * into the store. Every row is validated; a bad row is reported with its line number and
 * reason and skipped while the good rows go in, all in one transaction.
 */
#ifndef PD_IMPORT_H
#define PD_IMPORT_H

#include <stdio.h>

#include "outbox.h"
#include "store.h"

typedef struct import_summary {
    long rows; /* data records read */
    long inserted, updated, unchanged, rejected;
    long mailed, mail_failed; /* ready-for-pickup notifications sent / not sent (orders) */
    long restocked;           /* products whose stock rose from 0 (catalog) */
} import_summary;

enum import_kind { IMPORT_CATALOG, IMPORT_ORDERS };

/*
 * Imports path. Rejected rows are written to report ("line 12: reason"), a progress bar to
 * progress when not NULL (a terminal). Returns 0 when the file was read and committed (rows
 * may still have been rejected: see the summary), or an error when nothing was imported.
 */
int import_csv(store *s, enum import_kind kind, const char *path, FILE *report, FILE *progress,
               import_summary *sum, buf *err);

/*
 * import_csv that also notifies customers: an order whose status becomes ready_for_pickup
 * (inserted so, or changed to it) and that has an e-mail address and status_mails consent gets
 * a mail through mail (NULL: no mails, as import_csv). Mails go out only after the commit; one
 * that fails is a line in report naming the order (never the address) and counts in
 * sum->mail_failed, and does not fail the import.
 */
int import_csv_mail(store *s, enum import_kind kind, const char *path, const outbox_opts *mail,
                    FILE *report, FILE *progress, import_summary *sum, buf *err);

/* after the commit, called once per product whose stock rose from 0 to more (catalog imports;
 * back-in-stock notices, catalog/leads.h) */
typedef void (*import_restock_fn)(uint32_t pzn, void *arg);

/* import_csv_mail with the restock callback (NULL: none) */
int import_csv_hooks(store *s, enum import_kind kind, const char *path, const outbox_opts *mail,
                     import_restock_fn restocked, void *arg, FILE *report, FILE *progress,
                     import_summary *sum, buf *err);

#ifdef PD_FAULT_INJECTION
/* test builds only: the next import reads every row, then fails before its commit (PD_EIO) */
void import_fault_fail_before_commit(void);
#endif

#endif
