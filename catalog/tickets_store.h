/*
 * tickets_store: the persistent side of the pharmacist handoff. Tickets (the customer's message,
 * contact, consent, priority, status, staff replies), the hashes of the customers' ticket tokens,
 * staff accounts with their Argon2id hashes, staff sessions (hashed ids), login-failure state per
 * user name and the ticket event log that live dashboards replay. Its SQL lives in
 * store_tickets.c; callers get records and PD_* codes. Secrets arrive here already hashed.
 */
#ifndef PD_TICKETS_STORE_H
#define PD_TICKETS_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store.h"

#define TICKET_ID_LEN 16     /* base32, 80 random bits */
#define TICKET_HASH_BYTES 32 /* BLAKE2b-256 of a token or a session id */
#define TICKET_MAX_TOKENS 5  /* token hashes kept per ticket (retries add one each) */
#define STAFF_NAME_MAX 64
#define STAFF_HASH_MAX 128 /* an Argon2id string (crypto_pwhash_STRBYTES) */

enum ticket_status { TICKET_OPEN = 0, TICKET_CLAIMED, TICKET_ANSWERED, TICKET_CLOSED };
/* sorted by this: emergencies first, then adverse events, then everything else */
enum ticket_priority { TICKET_PRIO_EMERGENCY = 0, TICKET_PRIO_ADVERSE_EVENT, TICKET_PRIO_NORMAL };

const char *ticket_status_name(enum ticket_status s);
int ticket_status_parse(const char *s, enum ticket_status *out); /* 0 or PD_EINVAL */
const char *ticket_priority_name(enum ticket_priority p);

typedef struct ticket_new {
    const char *public_id;                    /* TICKET_ID_LEN characters, made by the caller */
    const char *conversation;                 /* NULL: none, and no retry detection */
    unsigned char msg_key[TICKET_HASH_BYTES]; /* hash of conversation and message: retries */
    unsigned char token_hash[TICKET_HASH_BYTES];
    const char *message;
    const char *lang; /* "de" or "en" */
    enum ticket_priority priority;
    int health_data;
    const char *consent_version, *consent_hash;               /* NULL without consent */
    const char *contact_name, *contact_email, *contact_phone; /* NULL when not given */
    long long now_us;
} ticket_new;

typedef struct ticket_reply {
    long long at_us;
    char *by;   /* staff user name */
    char *text; /* NULL after retention deleted it */
} ticket_reply;

typedef struct ticket {
    long long id;
    char public_id[TICKET_ID_LEN + 1];
    enum ticket_status status;
    enum ticket_priority priority;
    char lang[3];
    int health_data;
    long long created_us, updated_us, closed_us, consent_us; /* 0 when not set */
    char *conversation, *message; /* NULL when none, or deleted by retention */
    char *consent_version, *consent_hash;
    char *contact_name, *contact_email, *contact_phone;
    char *claimed_by; /* user name, NULL when unclaimed */
    int purged;       /* the texts are gone (retention or erasure) */
    ticket_reply *replies;
    size_t nreplies;
} ticket;

void ticket_free(ticket *t);
void tickets_free(ticket **v, size_t n);

/*
 * Opens a ticket, or finds the open one with the same conversation and msg_key (a retry): then
 * *existed is 1, public_id gets that ticket's id and token_hash is added to its tokens (at most
 * TICKET_MAX_TOKENS, the oldest goes). A new ticket logs a "new" event. public_id_out holds
 * TICKET_ID_LEN + 1 bytes.
 */
int tickets_create(store *s, const ticket_new *t, char *public_id_out, int *existed);

/* the ticket whose id is public_id and one of whose token hashes equals token_hash (compared in
 * constant time). PD_ENOTFOUND for an unknown ticket and a wrong token alike. *out: ticket_free */
int tickets_get_by_token(store *s, const char *public_id,
                         const unsigned char token_hash[TICKET_HASH_BYTES], ticket **out);
/* for staff: by id; PD_ENOTFOUND */
int tickets_get(store *s, const char *public_id, ticket **out);
/* status -1: every ticket that is not closed; sorted by priority, then age (oldest first) */
int tickets_list(store *s, int status, ticket ***out, size_t *n);
/* the open ticket (not closed) of a conversation, newest first; PD_ENOTFOUND when none */
int tickets_active_for_conversation(store *s, const char *conversation, char *public_id_out,
                                    enum ticket_status *status);

/*
 * Staff actions, each one transaction with its event. staff_id acts; admin lifts the "held by
 * someone else" rule for close. PD_ENOTFOUND unknown ticket, PD_EEXIST held by another staff
 * member (claim is a compare-and-set), PD_EPERM closed already. *changed is 0 when nothing had to
 * change (a repeated claim by the holder, closing a closed ticket is PD_EPERM).
 */
int tickets_claim(store *s, const char *public_id, long long staff_id, long long now_us,
                  int *changed);
/* claims an unclaimed ticket on the way; the status becomes answered */
int tickets_reply(store *s, const char *public_id, long long staff_id, const char *text,
                  long long now_us);
int tickets_close(store *s, const char *public_id, long long staff_id, int admin, long long now_us);
/* admin: hands the ticket to another (enabled) account; PD_EINVAL when that account is unknown
 * or disabled */
int tickets_assign(store *s, const char *public_id, const char *username, long long now_us);
/* raises the priority (never lowers it) and logs an event when it changed */
int tickets_escalate(store *s, const char *public_id, enum ticket_priority p, long long now_us);

/* one entry of the event log */
typedef struct ticket_event {
    long long id, at_us;
    char type[16]; /* new, claimed, replied, closed, assigned, escalated */
    char ticket[TICKET_ID_LEN + 1];
    enum ticket_status status;
    enum ticket_priority priority;
    char claimed_by[STAFF_NAME_MAX + 1]; /* "" when unclaimed */
} ticket_event;

/* events with id > after, oldest first, at most max; *n how many */
int tickets_events_after(store *s, long long after, ticket_event *out, size_t max, size_t *n);
int tickets_events_last(store *s, long long *id);

/*
 * Retention: deletes message, contact, conversation, reply texts and tokens of tickets closed
 * before before_us (the rows, their times and the audit entries stay); also event-log entries
 * and login-failure rows older than before_us and expired sessions. *n: tickets purged.
 */
int tickets_purge_closed(store *s, long long before_us, long long sessions_before_us, int *n);

/*
 * Data-subject rights by e-mail address (GDPR Art. 15 and 17), the address compared without
 * regard to ASCII case. export: a JSON array of every ticket with that contact address (message,
 * contact, consent, replies, times), *out to cJSON_Delete. erase: deletes the texts and contacts
 * of those tickets and closes them (audit entries stay); *n tickets erased.
 */
int tickets_export_by_email(store *s, const char *email, cJSON **out);
int tickets_erase_by_email(store *s, const char *email, long long now_us, int *n);

/* ---- staff accounts ------------------------------------------------------------------------ */

typedef struct staff_account {
    long long id;
    char username[STAFF_NAME_MAX + 1];
    char role[16]; /* "pharmacist" or "admin" */
    int disabled;
    long long created_us;
} staff_account;

/* PD_EEXIST when the name is taken */
int staff_create(store *s, const char *username, const char *role, const char *pwhash,
                 long long now_us);
/* pwhash may be NULL; PD_ENOTFOUND */
int staff_get(store *s, const char *username, staff_account *out, char pwhash[STAFF_HASH_MAX]);
int staff_get_by_id(store *s, long long id, staff_account *out);
/* ends the account's sessions except keep (a session id hash, or NULL for all) */
int staff_set_password(store *s, const char *username, const char *pwhash,
                       const unsigned char *keep);
/* disabling ends every session of the account */
int staff_set_disabled(store *s, const char *username, int disabled);
int staff_list(store *s, staff_account **out, size_t *n); /* by name; free(*out) */
int staff_count(store *s, long long *n);

/* login failures per user name (known or not, so that both behave alike) */
int staff_login_state(store *s, const char *username, int *failures, long long *blocked_until_us);
int staff_login_failed(store *s, const char *username, int failures, long long blocked_until_us,
                       long long now_us);
int staff_login_clear(store *s, const char *username);

typedef struct staff_session {
    staff_account who;
    char csrf[64];
    long long created_us, last_seen_us;
} staff_session;

int staff_session_create(store *s, const unsigned char id_hash[TICKET_HASH_BYTES],
                         long long staff_id, const char *csrf, long long now_us);
/* the live session: PD_ENOTFOUND when unknown, idle longer than idle_us, older than max_us or
 * its account is disabled (an expired one is deleted); otherwise its last use becomes now */
int staff_session_get(store *s, const unsigned char id_hash[TICKET_HASH_BYTES], long long now_us,
                      long long idle_us, long long max_us, staff_session *out);
int staff_session_delete(store *s, const unsigned char id_hash[TICKET_HASH_BYTES]);
/* the same check as staff_session_get without using the session (it neither renews nor deletes
 * it): 0 while it lives, PD_ENOTFOUND otherwise. For long-lived streams. */
int staff_session_alive(store *s, const unsigned char id_hash[TICKET_HASH_BYTES], long long now_us,
                        long long idle_us, long long max_us);

#endif
