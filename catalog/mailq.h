/*
 * mailq: the durable mail queue's sender. Mails are composed and stored in the encrypted store
 * (leads_store.h, in the same transaction as the change they report); mailq delivers them
 * through the outbox (maildir or the sendmail command), deletes a delivered one and keeps a
 * failed one for a retry with exponential backoff, so that no mail is lost. A claimed mail is
 * leased, so a sender that dies mid-delivery leaves it to the next (at-least-once delivery).
 */
#ifndef PD_MAILQ_H
#define PD_MAILQ_H

#include "outbox.h"
#include "store.h"

typedef struct mailq mailq;

typedef struct mailq_opts {
    const outbox_opts *out; /* borrowed; lives as long as the sender */
    int retry_initial_s;    /* the first retry's delay; each further one doubles it */
    int retry_max_s;        /* the longest delay between attempts */
} mailq_opts;

/* the delay before the next attempt after `attempts` failed ones (1, 2, ...) */
long long mailq_backoff_us(int attempts, int initial_s, int max_s);

/* one pass: delivers every mail due now. sent/failed may be NULL. */
int mailq_drain(store *s, const mailq_opts *o, long *sent, long *failed);

/* the sender thread of serve: drains at once, when woken and when the next retry is due */
int mailq_start(store *s, const mailq_opts *o, mailq **out);
/* a mail was queued: deliver it now (NULL is fine) */
void mailq_wake(mailq *q);
/* stops the thread after the delivery in progress; NULL is fine */
void mailq_stop(mailq *q);

#endif
