/*
 * leads_store: the tables of leads (newsletter and back-in-stock sign-ups), the consent ledger
 * that proves each consent, the single-use tokens (stored only as BLAKE2b hashes), the
 * customers' data-rights requests and the durable mail queue. All SQL of these tables lives in
 * store_leads.c; callers (catalog/leads.c, catalog/mailq.c) work inside one write transaction
 * (lstore_begin ... lstore_commit) and see records and PD_* codes.
 */
#ifndef PD_LEADS_STORE_H
#define PD_LEADS_STORE_H

#include <stdint.h>

#include "buf.h"
#include "store.h"

#define LSTORE_HASH 32 /* bytes of every stored hash (tokens, keyed address and IP hashes) */

typedef struct lstore lstore;

enum lead_purpose { LEAD_NEWSLETTER, LEAD_BACK_IN_STOCK };
enum lead_status { LEAD_PENDING, LEAD_CONFIRMED, LEAD_WITHDRAWN, LEAD_FULFILLED };
enum lead_token_kind { TOKEN_CONFIRM, TOKEN_WITHDRAW };
enum data_request_kind { DATA_EXPORT, DATA_ERASURE };

const char *lead_purpose_name(enum lead_purpose p);
int lead_purpose_parse(const char *s, enum lead_purpose *out);
const char *lead_status_name(enum lead_status s);

typedef struct lead_rec {
    long long id;
    char email[255];
    enum lead_purpose purpose;
    uint32_t pzn; /* 0 for the newsletter */
    char lang[3];
    enum lead_status status;
    long long ledger_id; /* the ledger entry of the current consent */
    long long created_us, confirmed_us, ended_us, last_mail_us; /* 0: not yet */
} lead_rec;

/* one consent as given: what the ledger records at sign-up */
typedef struct ledger_new {
    const char *email;
    const unsigned char *email_hash;
    enum lead_purpose purpose;
    uint32_t pzn;
    const char *text_version, *text_lang, *text_hash, *text;
    const char *page;             /* "" when not given */
    const unsigned char *ip_hash; /* NULL unless leads.store_ip_hash */
    long long signed_up_us;
} ledger_new;

typedef struct token_rec {
    long long lead_id;
    enum lead_token_kind kind;
    long long expires_us; /* 0: valid as long as the lead */
    long long used_us;    /* 0: not used */
} token_rec;

typedef struct data_request_rec {
    long long id;
    char email[255]; /* "" once completed erasure pseudonymised it */
    enum data_request_kind kind;
    char lang[3];
    long long created_us, expires_us, completed_us;
} data_request_rec;

typedef struct mail_rec {
    long long id;
    char kind[32];
    int attempts;
    buf message; /* the composed RFC 5322 message; lstore_mail_claim fills it, caller frees */
} mail_rec;

/* a write transaction (BEGIN IMMEDIATE) on one pooled connection */
int lstore_begin(store *s, lstore **out);
int lstore_commit(lstore *t);    /* frees t, rolled back on failure */
void lstore_rollback(lstore *t); /* frees t; NULL is fine */

/* the store's secret key for keyed hashes of addresses and IP addresses: made once (random),
 * kept in the encrypted store, never leaves this process and is never logged */
int lstore_secret(lstore *t, unsigned char key[32]);

/* leads, keyed by (address hash, purpose, pzn) */
int lstore_lead_find(lstore *t, const unsigned char *email_hash, enum lead_purpose purpose,
                     uint32_t pzn, lead_rec *out);           /* PD_ENOTFOUND */
int lstore_lead_get(lstore *t, long long id, lead_rec *out); /* PD_ENOTFOUND */
int lstore_lead_insert(lstore *t, const char *email, const unsigned char *email_hash,
                       enum lead_purpose purpose, uint32_t pzn, const char *lang,
                       long long ledger_id, long long now_us, long long *id);
/* status pending again with a new ledger entry (a sign-up after a withdrawal or fulfilment) */
int lstore_lead_restart(lstore *t, long long id, const char *lang, long long ledger_id,
                        long long now_us);
int lstore_lead_set_status(lstore *t, long long id, enum lead_status st, long long now_us);
int lstore_lead_mailed(lstore *t, long long id, long long now_us);
/* how many leads of this address had a confirmation mail at or after since_us */
int lstore_lead_recent_mails(lstore *t, const unsigned char *email_hash, long long since_us,
                             long long *count);
/* calls cb for each confirmed back_in_stock lead of pzn; cb gets a copy it may keep */
int lstore_leads_waiting(lstore *t, uint32_t pzn, int (*cb)(const lead_rec *l, void *arg),
                         void *arg);

/* calls cb for each confirmed newsletter lead (never a pending, withdrawn or fulfilled one) */
int lstore_leads_newsletter(lstore *t, int (*cb)(const lead_rec *l, void *arg), void *arg);

/* the newsletters sent: the latest send of this content at or after since_us that queued at
 * least one mail (PD_ENOTFOUND when none), and recording one (no address, no text) */
int lstore_newsletter_last(lstore *t, const unsigned char hash[LSTORE_HASH], long long since_us,
                           long long *sent_us, long *mails);
int lstore_newsletter_record(lstore *t, const unsigned char hash[LSTORE_HASH], long long now_us,
                             long mails_de, long mails_en, int forced);

/* the consent ledger */
int lstore_ledger_insert(lstore *t, const ledger_new *e, long long *id);
/* what: "mail_sent", "confirmed", "fulfilled" set that time (once: a later call keeps it) */
int lstore_ledger_mark(lstore *t, long long id, const char *what, long long now_us);
/* via: "link", "one_click" or "erasure" */
int lstore_ledger_withdrawn(lstore *t, long long id, const char *via, long long now_us);

/* tokens: only their hashes are stored */
int lstore_token_insert(lstore *t, const unsigned char hash[LSTORE_HASH], long long lead_id,
                        enum lead_token_kind kind, long long now_us, long long expires_us);
int lstore_token_find(lstore *t, const unsigned char hash[LSTORE_HASH], token_rec *out);
int lstore_token_use(lstore *t, const unsigned char hash[LSTORE_HASH], long long now_us);
/* the unused confirmation tokens of a lead (after a withdrawal) */
int lstore_tokens_drop_confirm(lstore *t, long long lead_id);

/* data-rights requests (Art. 15, 17, 20) */
int lstore_request_insert(lstore *t, const char *email, const unsigned char *email_hash,
                          enum data_request_kind kind, const char *lang,
                          const unsigned char token_hash[LSTORE_HASH], long long now_us,
                          long long expires_us);
int lstore_request_by_token(lstore *t, const unsigned char token_hash[LSTORE_HASH],
                            data_request_rec *out); /* PD_ENOTFOUND */
int lstore_request_last(lstore *t, const unsigned char *email_hash, long long *last_us);
int lstore_request_complete(lstore *t, long long id, long long now_us);

/*
 * One exported row: its columns as name/value pairs (text, or integer when is_int; a NULL
 * column is left out; blobs as lower-case hex). Export hands every row of the address from
 * leads, consent_ledger, data_requests and mail_queue (without the message) to cb.
 */
typedef struct lstore_field {
    const char *name;
    const char *text; /* NULL for an integer */
    long long num;
} lstore_field;
typedef int (*lstore_row_cb)(const char *table, const lstore_field *f, size_t n, void *arg);
int lstore_export(lstore *t, const unsigned char *email_hash, lstore_row_cb cb, void *arg);

#ifdef PD_FAULT_INJECTION
/* test builds only: every row of every leads table (hashes as hex, the queued messages as
 * text with line breaks as "\n"), so tests can prove an address is gone */
int lstore_dump(store *s, lstore_row_cb cb, void *arg);
#endif

typedef struct lstore_erased {
    long leads, ledger_pseudonymised, requests_pseudonymised, mails_dropped;
} lstore_erased;
/* Art. 17. ledger 0: deletes the address's leads (and their tokens) and queued mails and keeps
 * of its data requests only the keyed hash (the address column set to NULL). ledger 1: ends a
 * consent still running (withdrawn_via "erasure") and keeps of the ledger rows only the keyed
 * hash. Counts are added to out. */
int lstore_erase(lstore *t, const unsigned char *email_hash, long long now_us, int ledger,
                 lstore_erased *out);

/* the durable mail queue. recipient_hash and lead_id may be NULL / 0. */
int lstore_mail_enqueue(lstore *t, const char *kind, const unsigned char *recipient_hash,
                        long long lead_id, const char *message, size_t len, long long now_us,
                        long long *id);
/* the next mail due at now_us, leased until lease_us (attempts counted): PD_ENOTFOUND when none */
int lstore_mail_claim(lstore *t, long long now_us, long long lease_us, mail_rec *out);
int lstore_mail_done(lstore *t, long long id);
/* a failed attempt: retried at next_us; error is stored (it never names the recipient) */
int lstore_mail_failed(lstore *t, long long id, long long next_us, const char *error);
int lstore_mail_drop_lead(lstore *t, long long lead_id, long *dropped);
/* queue length and the earliest next attempt (0 when empty) */
int lstore_mail_stats(lstore *t, long *queued, long long *next_us);

typedef struct lstore_purged {
    long unconfirmed;   /* sign-ups never confirmed within the limit, with their ledger rows */
    long ended;         /* withdrawn or fulfilled leads past the limit (the ledger keeps them) */
    long tokens;        /* expired confirmation tokens */
    long requests;      /* data requests past their expiry, never completed */
    long pseudonymised; /* ledger rows whose consent ended before the ledger's retention */
} lstore_purged;
/* deletes what is past its time: unconfirmed sign-ups created before unconfirmed_before_us,
 * ended leads before ended_before_us, expired tokens and requests; pseudonymises ledger rows
 * ended before ledger_before_us */
int lstore_purge(lstore *t, long long now_us, long long unconfirmed_before_us,
                 long long ended_before_us, long long ledger_before_us, lstore_purged *out);

#endif
