/*
 * import: loads the pharmacy's catalog and order exports (CSV, columns as in catalog/demo/)
 * into the store. Every row is validated; a bad row is reported with its line number and
 * reason and skipped while the good rows go in, all in one transaction.
 */
#ifndef PD_IMPORT_H
#define PD_IMPORT_H

#include <stdio.h>

#include "store.h"

typedef struct import_summary {
    long rows; /* data records read */
    long inserted, updated, unchanged, rejected;
} import_summary;

enum import_kind { IMPORT_CATALOG, IMPORT_ORDERS };

/*
 * Imports path. Rejected rows are written to report ("line 12: reason"), a progress bar to
 * progress when not NULL (a terminal). Returns 0 when the file was read and committed (rows
 * may still have been rejected: see the summary), or an error when nothing was imported.
 */
int import_csv(store *s, enum import_kind kind, const char *path, FILE *report, FILE *progress,
               import_summary *sum, buf *err);

#endif
