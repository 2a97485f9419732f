/*
 * desk: the pharmacist handoff's service layer between the handlers and the store. It opens
 * tickets (the guard decides priority and whether the message holds health data, which needs
 * the customer's consent), makes and checks the customers' ticket tokens and the staff's
 * sessions (256 random bits each, only their BLAKE2b hashes stored, compared in constant time),
 * hashes passwords with Argon2id, applies the login delay and lockout, and carries out staff
 * actions with their audit entries, live events and reply mails. Handlers stay thin.
 */
#ifndef PD_DESK_H
#define PD_DESK_H

#include "app.h"
#include "events.h"
#include "tickets_store.h"

typedef struct desk desk;

#define DESK_TOKEN_LEN 43 /* base64url of 32 bytes, without padding */
#define DESK_PASSWORD_MIN 10
#define DESK_PASSWORD_MAX 1024
#define DESK_SESSION_COOKIE "pd_session"

/* a->cfg, a->store, a->audit, a->policy and a->consent must be set; data_dir for the outbox */
int desk_new(app *a, const char *data_dir, desk **out, buf *err);
/* ends the live event streams, so that the HTTP server can stop */
void desk_shutdown(desk *d);
void desk_free(desk *d);
events_hub *desk_events(desk *d);

/* rate limits of the handoff routes, per client address: 0 when allowed, else seconds to wait */
enum desk_limit { DESK_LIM_HANDOFF, DESK_LIM_VIEW, DESK_LIM_LOGIN, DESK_LIM_COUNT };
int desk_limit_hit(desk *d, enum desk_limit which, const char *client);

/* ---- checks of input (0 or PD_EINVAL with *why for the client) ------------------------------ */
int desk_check_username(const char *u, const char **why);
int desk_check_password(const char *pw, const char **why);
int desk_check_email(const char *e, const char **why);
int desk_check_phone(const char *p, const char **why);
int desk_check_name(const char *n, const char **why);
/* a conversation id as POST /api/v1/inquiries hands them out (26 characters a-z, 2-7) */
int desk_check_conversation(const char *c, const char **why);

/* ---- tickets -------------------------------------------------------------------------------- */

typedef struct handoff_in {
    const char *message;      /* valid UTF-8, checked for length and blankness by the caller */
    const char *conversation; /* NULL or checked with desk_check_conversation */
    const char *lang;         /* "de" or "en" */
    const char *name, *email, *phone; /* NULL or checked */
    int consent;                      /* -1 absent, 0 given as anything but true, 1 true */
    const char *consent_version;      /* NULL when absent */
} handoff_in;

enum handoff_outcome {
    HANDOFF_CREATED,
    HANDOFF_RETRY,           /* the same conversation and message: the same ticket */
    HANDOFF_CONSENT_MISSING, /* health data without explicit consent: nothing stored */
    HANDOFF_CONSENT_UNKNOWN  /* a consent that cites a version we never showed */
};

typedef struct handoff_out {
    enum handoff_outcome outcome;
    char ticket[TICKET_ID_LEN + 1];
    char token[DESK_TOKEN_LEN + 1];
    enum ticket_priority priority;
    enum ticket_status status; /* open for a new ticket; a retry's current status */
} handoff_out;

/* opens the ticket (or finds the retried one, with a new token that works beside the old
 * ones), audits the decision and wakes the dashboards */
int desk_handoff(desk *d, const handoff_in *in, handoff_out *out);
/* the ticket for its customer: PD_ENOTFOUND for an unknown ticket and a wrong token alike */
int desk_ticket_for_token(desk *d, const char *ticket_id, const char *token, ticket **out);

/* ---- staff ---------------------------------------------------------------------------------- */

/* Argon2id with libsodium's moderate limits; out holds STAFF_HASH_MAX bytes. d may be NULL
 * (command line); with d, concurrent hashes are bounded to keep memory in check. */
int desk_password_hash(desk *d, const char *pw, char *out);

enum login_result { LOGIN_OK, LOGIN_FAILED, LOGIN_BLOCKED };

typedef struct login_out {
    enum login_result result;
    int retry_after; /* seconds, for LOGIN_BLOCKED */
    char session[DESK_TOKEN_LEN + 1];
    staff_session s;
} login_out;

/* the same LOGIN_FAILED for an unknown name, a wrong password and a disabled account, in about
 * the same time; failures grow a wait per name, then lock it for staff.lockout_s */
int desk_login(desk *d, const char *username, const char *password, login_out *out);
/* the live session of a cookie value: PD_ENOTFOUND when missing, unknown or expired; hash gets
 * the session's hash (for logout and password change) */
int desk_session(desk *d, const char *cookie, staff_session *out,
                 unsigned char hash[TICKET_HASH_BYTES]);
int desk_logout(desk *d, const staff_session *who, const unsigned char hash[TICKET_HASH_BYTES]);
/* own password: PD_EPERM when old is wrong; other sessions of the account end */
int desk_change_password(desk *d, const staff_session *who,
                         const unsigned char hash[TICKET_HASH_BYTES], const char *old_pw,
                         const char *new_pw);
/* admin actions on accounts, audited with who's id: PD_EEXIST, PD_ENOTFOUND, PD_EPERM (an admin
 * disabling themselves) */
int desk_account_add(desk *d, const staff_session *who, const char *username, const char *pw,
                     const char *role);
int desk_account_disable(desk *d, const staff_session *who, const char *username, int disabled);

/* ticket actions (store codes: PD_ENOTFOUND, PD_EEXIST held by another, PD_EPERM closed,
 * PD_EINVAL unknown assignee), each audited with who's id and announced to the dashboards; a
 * reply also goes by mail when the customer gave an address */
int desk_claim(desk *d, const staff_session *who, const char *ticket_id);
int desk_reply(desk *d, const staff_session *who, const char *ticket_id, const char *text);
int desk_close(desk *d, const staff_session *who, const char *ticket_id);
int desk_assign(desk *d, const staff_session *who, const char *ticket_id, const char *username);
/* the command line's account changes (staff-add, -disable, -enable, -passwd) in the audit log,
 * with the account's id */
int desk_cli_audit(store *s, const char *action, const char *username, const char *extra);

/* an emergency in a conversation that is handed off raises its ticket's priority */
int desk_escalate(desk *d, const char *ticket_id, enum ticket_priority p);

#endif
