/*
 * datarights: the customer's rights of access and portability (GDPR Art. 15, 20) and erasure
 * (Art. 17) over every module that stores something about an e-mail address. Each module
 * registers a source (name, export, erase); an export is one JSON object with a member per
 * source, an erasure runs every source's erase in order. The leads module registers "leads"
 * and "consent_ledger" (datarights_register_leads), the handoff desk "tickets"
 * (datarights_register_tickets).
 */
#ifndef PD_DATARIGHTS_H
#define PD_DATARIGHTS_H

#include <cjson/cJSON.h>

#include "store.h"

#define DATARIGHTS_MAX 16

typedef struct datarights_source {
    const char *name; /* the member of the export, e.g. "leads" */
    /* adds what the source stores about email (normalised, lower case) to out, an object */
    int (*export_fn)(store *s, const char *email, cJSON *out, void *arg);
    /* erases it, keeping only what the law requires (pseudonymised where possible); adds
     * counts of what it did to summary, an object */
    int (*erase_fn)(store *s, const char *email, cJSON *summary, void *arg);
    void *arg;
} datarights_source;

typedef struct datarights {
    datarights_source src[DATARIGHTS_MAX];
    size_t n;
} datarights;

/* PD_EFULL when DATARIGHTS_MAX sources are registered, PD_EEXIST for a name taken */
int datarights_register(datarights *r, const datarights_source *src);

/* {"email","generated_at","sources":{name:{...}}}; *out is the caller's (cJSON_Delete) */
int datarights_export(const datarights *r, store *s, const char *email, cJSON **out);
/* {"sources":{name:{counts}}}; runs every source even when one fails (the first error is
 * returned) */
int datarights_erase(const datarights *r, store *s, const char *email, cJSON **summary);

/* the sources of catalog/leads.h: "leads" (sign-ups, their data requests and queued mails)
 * and "consent_ledger" */
int datarights_register_leads(datarights *r);
/* the handoff tickets whose contact address it is: "tickets" (texts, contact, replies; the
 * erasure deletes them and closes the tickets, the audit entries stay) */
int datarights_register_tickets(datarights *r);

#endif
