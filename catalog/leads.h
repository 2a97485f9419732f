/*
 * leads: marketing contacts only with explicit, provable, withdrawable consent (UWG §7, GDPR
 * Art. 6, 7). A sign-up records the exact consent text in the ledger and queues one
 * double-opt-in mail with a single-use confirmation token (48 hours) and a withdrawal token;
 * nothing else goes to an unconfirmed address. It also owns back-in-stock notices (HWG §10:
 * availability only for prescription-only products), the newsletter (its HWG guard and its
 * sending to confirmed leads), the purge of what is past its time, and the address-confirmed
 * data-rights requests (export, erasure).
 * Tokens and addresses never reach a log.
 */
#ifndef PD_LEADS_H
#define PD_LEADS_H

#include <stdint.h>

#include "consent.h"
#include "leads_store.h"
#include "mailq.h"
#include "mailtext.h"
#include "outbox.h"
#include "store.h"

#define LEADS_CONFIRM_HOURS 48   /* a confirmation or data-request link's life */
#define LEADS_UNCONFIRMED_DAYS 7 /* an unconfirmed sign-up is erased after this */
#define LEADS_ENDED_DAYS 30      /* a withdrawn or fulfilled lead is deleted after this */
#define LEADS_LEDGER_DAYS                                                                          \
    1095                   /* the ledger keeps the address 3 years after consent ended             \
                            * (limitation period, §195 BGB), then only its keyed hash */
#define LEADS_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */
#define LEADS_EMAIL_MAX 254

/* read-only after start; shared by the request threads */
typedef struct leads_ctx {
    store *store;
    const outbox_opts *out; /* sender, pharmacy name, address and phone for the mails */
    const mailtext *texts;
    const char *base_url;  /* public_base_url, without a trailing slash */
    int mail_window_s;     /* per address: at most mails_per_address confirmation mails */
    int mails_per_address; /* per window (and at most one per sign-up) */
    int store_ip_hash;     /* 1: the ledger keeps a keyed hash of the client address */
    mailq *queue;          /* woken after a mail is queued; NULL: nobody to wake */
} leads_ctx;

/* trims and lower-cases an address into out; PD_EINVAL with a reason safe to show */
int leads_email_normalize(const char *in, char out[LEADS_EMAIL_MAX + 1], const char **why);

typedef struct leads_signup_req {
    const char *email; /* as given: normalised here */
    enum lead_purpose purpose;
    uint32_t pzn;                /* back_in_stock: a known product; else 0 */
    const consent_text *consent; /* the text the person saw (consent_find) */
    const char *lang;            /* "de" or "en": the mails' language */
    const char *page;            /* where the consent was given; NULL or "" */
    const char *client_ip;       /* hashed only when store_ip_hash */
} leads_signup_req;

enum leads_signup_outcome {
    LEADS_MAIL_QUEUED,       /* a confirmation mail is on its way */
    LEADS_THROTTLED,         /* pending, but a mail went out recently: none now */
    LEADS_ALREADY_CONFIRMED, /* nothing to do, no mail */
};

/* PD_EINVAL: bad address (why set); PD_ENOTFOUND: back_in_stock for an unknown PZN */
int leads_signup(const leads_ctx *lc, const leads_signup_req *r, enum leads_signup_outcome *out,
                 const char **why);

enum leads_token_result {
    LEADS_OK,      /* done, or was done already (harmless repeat) */
    LEADS_UNKNOWN, /* no such token */
    LEADS_EXPIRED, /* the 48 hours are over */
    LEADS_GONE,    /* used, or its sign-up was withdrawn */
};

int leads_confirm(const leads_ctx *lc, const char *token, enum leads_token_result *res);
/* via: "link" (the page's button) or "one_click" (RFC 8058) */
int leads_withdraw(const leads_ctx *lc, const char *token, const char *via,
                   enum leads_token_result *res);

/* the stock of pzn rose from 0: one mail to each confirmed back_in_stock lead of it, which is
 * then fulfilled. Call after the import committed. */
int leads_back_in_stock(const leads_ctx *lc, uint32_t pzn, long *mailed);

typedef lstore_purged leads_purged;
/* erases unconfirmed sign-ups older than 7 days (and their ledger rows: no consent was given),
 * tokens and requests expired more than 7 days ago, withdrawn or fulfilled leads after 30 days, and
 * pseudonymises ledger rows 3 years after their consent ended. out may be NULL. */
int leads_purge(store *s, long long now_us, leads_purged *out);

/* HWG §10: 0 when newsletter content names no prescription-only product, neither by one of the
 * listed PZNs nor in its text (by name, an alias or a brand word that only rx products use);
 * PD_EPERM with the product in why otherwise */
int leads_newsletter_check(store *s, const char *text, const uint32_t *pzns, size_t npzns,
                           buf *why);

/* a newsletter's content: subject and body (UTF-8, "\n" line breaks), German [0] and English
 * [1]; hash identifies the content for the double-run guard (catalog/newsletter.h makes it) */
typedef struct leads_newsletter {
    const char *subject[2];
    const char *body[2];
    unsigned char hash[LSTORE_HASH];
} leads_newsletter;

#define LEADS_NEWSLETTER_REPEAT_HOURS 24 /* the same content again within this needs force */

typedef struct leads_newsletter_sent {
    long mails[2];         /* queued, German and English */
    long long previous_us; /* PD_EEXIST: when the same content went out */
    long previous_mails;   /* PD_EEXIST: to how many */
} leads_newsletter_sent;

/*
 * Sends a newsletter. First HWG §10: every subject and body passes leads_newsletter_check (with
 * the PZNs written in it); PD_EPERM with the part and the product in why, nothing queued. Then,
 * in one transaction: PD_EEXIST when the same content queued mails within the last
 * LEADS_NEWSLETTER_REPEAT_HOURS (unless force); else one mail to each confirmed newsletter lead
 * (never a pending or withdrawn one) in its language, each with a withdrawal token of its own
 * (the link in the footer, List-Unsubscribe with one-click POST), queued for the sender, and the
 * send recorded (time, mails per language, the hash; no address). Addresses never reach a log.
 */
int leads_newsletter_send(const leads_ctx *lc, const leads_newsletter *nl, int force,
                          leads_newsletter_sent *out, buf *why);

/* a data-rights request: queues a mail with a single-use link to the address, at most one per
 * mail_window_s and address (*mailed 0 otherwise). PD_EINVAL: bad address. */
int leads_data_request(const leads_ctx *lc, const char *email, enum data_request_kind kind,
                       const char *lang, int *mailed, const char **why);
/* the request of a data-request token (not yet completed, not expired) */
int leads_data_token(const leads_ctx *lc, const char *token, data_request_rec *out,
                     enum leads_token_result *res);
int leads_data_complete(store *s, long long request_id);

/* every row about a normalised address in the leads tables (lstore_export) */
int leads_export(store *s, const char *email, lstore_row_cb cb, void *arg);
/* Art. 17 for the leads tables (lstore_erase: ledger 0 the leads, their mails and requests,
 * ledger 1 the ledger's pseudonymisation); counts are added to out */
int leads_erase(store *s, const char *email, int ledger, lstore_erased *out);

#endif
