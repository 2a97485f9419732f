/*
 * outbox: the service's outgoing mail. One call writes one RFC 5322 message (UTF-8 text,
 * RFC 2047 headers for non-ASCII), either maildir-style into DIR/outbox/new/ or piped to a
 * sendmail-compatible command. It owns the message format and refuses header injection, and
 * renders the order-ready notification from the mail texts (policies/mails.*.txt).
 */
#ifndef PD_OUTBOX_H
#define PD_OUTBOX_H

#include "buf.h"

typedef struct mailtext mailtext; /* policies/mailtext.h */

/* where mail goes and who sends it; the strings are borrowed. main.c fills it from the
 * configuration (mail.*, pharmacy.*). */
typedef struct outbox_opts {
    const char *dir;           /* the data folder: messages go to DIR/outbox/{tmp,new}/ */
    const char *sendmail;      /* NULL or "": the folder; else a command such as "sendmail -t -i",
                                * split on spaces (no shell), fed the message on stdin */
    const char *from;          /* the sender's address (mail.from) */
    const char *pharmacy_name; /* the From display name and the signature; may be NULL */
    const char *pharmacy_address; /* for the signature; NULL or "" leaves it out */
    const char *pharmacy_phone;
    const char *pharmacy_hours; /* one line, e.g. "Mo-Fr 08:00-18:30, Sa 09:00-13:00" */
    const mailtext *texts;      /* the mail texts (policies/mails.*.txt), for outbox_order_ready */
} outbox_opts;

typedef struct outbox_mail {
    const char *to;      /* one address */
    const char *subject; /* UTF-8 */
    const char *body;    /* UTF-8 text, lines separated by "\n" */
} outbox_mail;

/*
 * Sends one message. PD_EINVAL when a header value holds CR or LF, an address is not a plain
 * address or a text is not UTF-8; PD_EIO when the outbox cannot be written or the command
 * cannot be run or exits non-zero. err never names the recipient.
 */
int outbox_send(const outbox_opts *o, const outbox_mail *m, buf *err);

/* the message as outbox_send would write it (Date, Message-ID, MIME headers, encodings), for
 * the durable queue (catalog/mailq.h); same errors as outbox_send. list_unsubscribe: NULL, or
 * the http(s) URL that withdraws consent at once, written as List-Unsubscribe (RFC 2369) with
 * List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058); the URL must accept that POST. */
int outbox_compose(const outbox_opts *o, const outbox_mail *m, const char *list_unsubscribe,
                   buf *msg, buf *err);
/* delivers a composed message the way outbox_send does (maildir or the sendmail command) */
int outbox_deliver(const outbox_opts *o, const char *msg, size_t len, buf *err);

/* the notification that order `number` (canonical, "AP-100231") is ready for pickup, to `to`;
 * note (the pickup note, e.g. "Abholfach 7") may be NULL or "". Never names the items. Its
 * texts are order_ready.* of o->texts (PD_EINVAL when o->texts is NULL). */
int outbox_order_ready(const outbox_opts *o, const char *number, const char *to, const char *note,
                       buf *err);

#endif
