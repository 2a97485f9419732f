/*
 * assistant: one customer message in, one lawful answer out. It runs the guard
 * (policy_classify) first, then looks up products for availability questions, renders the
 * reply from the policy's texts and the pharmacy's configuration, records the decision in the
 * audit log and keeps only the flow's state for the conversation. The message text is neither
 * stored nor logged.
 */
#ifndef PD_ASSISTANT_H
#define PD_ASSISTANT_H

#include <stdint.h>

#include "app.h"
#include "convo.h"
#include "policy.h"
#include "tickets_store.h"

#define ASSISTANT_MAX_MESSAGE 2000 /* characters */
#define ASSISTANT_MAX_PRODUCTS 3

enum assistant_lookup { LOOKUP_NONE, LOOKUP_FOUND, LOOKUP_NOT_FOUND, LOOKUP_LIMITED };

typedef struct assistant_out {
    policy_result res;
    char lang[3];
    convo_state convo;
    buf reply;
    buf disclosure;
    product *products[ASSISTANT_MAX_PRODUCTS];
    size_t nproducts;
    char order_number[16]; /* "" when none named */
    enum assistant_lookup lookup;
    order *order; /* the verified order, when lookup is LOOKUP_FOUND */
    buf status_text;
    /* the conversation is handed off: a pharmacist's ticket is not closed yet, and the reply
     * only says so (an emergency still gets the emergency text first) */
    int handoff_active;
    char handoff_ticket[TICKET_ID_LEN + 1];
    enum ticket_status handoff_status;
} assistant_out;

/*
 * Answers text (valid UTF-8, at most ASSISTANT_MAX_MESSAGE characters: the caller checks).
 * conversation may be NULL or unknown (a new one starts); lang NULL, "de" or "en". Returns 0,
 * or an error when the decision could not be recorded (then nothing may be answered).
 */
int assistant_answer(app *a, const char *client, const char *text, size_t len,
                     const char *conversation, const char *lang, assistant_out *out);
void assistant_out_free(assistant_out *out);

/*
 * The order behind number (canonical) if postcode (5 digits) matches, in the same work and
 * time whether the order is unknown or the postcode wrong. Counts against the client's and the
 * order number's limits (LOOKUP_LIMITED with *retry_after seconds), writes an audit entry
 * (never the postcode). *out is one allocation: free() it.
 */
int assistant_order_lookup(app *a, const char *client, const char *conversation, const char *number,
                           const char *postcode, enum assistant_lookup *res, order **out,
                           int *retry_after);
/* the customer-facing text for an order's status (and expected date), appended to out */
void assistant_status_text(app *a, const order *o, const char *lang, buf *out);

/* the guard plus what the classify command reports: PZNs of the products named, and the
 * order number; no reply, no audit, no state */
int assistant_classify(app *a, const char *text, size_t len, policy_result *res, uint32_t *pzns,
                       size_t *npzns, char order_number[16]);

#endif
