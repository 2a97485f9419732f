/*
 * leads_service: wires the leads module for the binary. From the configuration it builds the
 * outbox sender (maildir or sendmail), loads the mail texts, sets up catalog/leads.h's context,
 * registers the data-rights sources and, for serve, starts the mail queue's sender thread.
 * Used by serve and by import-catalog (back-in-stock notices).
 */
#ifndef PD_LEADS_SERVICE_H
#define PD_LEADS_SERVICE_H

#include "buf.h"
#include "config.h"
#include "datarights.h"
#include "leads.h"
#include "mailq.h"
#include "mailtext.h"

typedef struct leads_service {
    outbox_opts out;
    buf hours;
    mailtext *texts;
    mailq_opts qopts;
    mailq *queue; /* serve only */
    leads_ctx ctx;
    datarights rights;
} leads_service;

/* sender: 1 starts the queue's sender thread (serve). err says what is wrong. */
int leads_service_open(leads_service *ls, const config *cfg, store *s, const char *data_dir,
                       int sender, buf *err);
/* stops the sender (a delivery in progress finishes) and frees; a zeroed ls is fine */
void leads_service_close(leads_service *ls);

/* import-catalog's restock callback (arg: the leads_service) */
void leads_service_restocked(uint32_t pzn, void *arg);

#ifdef PD_FAULT_INJECTION
/* test builds only: `pharmdesk test-leads-dump` prints every row of the leads tables, for
 * integration tests (the purge runs through `pharmdesk purge`, server/jobs.c) */
int leads_service_test_dump(store *s, FILE *out);
#endif

#endif
