/*
 * newsletter: the newsletter file that `pharmdesk newsletter-send` reads. It owns the file's
 * format and its checks (UTF-8, sizes, the four sections, errors with FILE:LINE) and the
 * content hash of the double-run guard; sending, with the HWG §10 guard, is leads.h's
 * leads_newsletter_send.
 *
 * The format (UTF-8; CRLF or LF; a byte-order mark is skipped):
 *
 *     # comment lines ("#" first) only before the first section
 *     [subject.de]
 *     Neues aus Ihrer Apotheke
 *     [body.de]
 *     Guten Tag, ...
 *     [subject.en]
 *     News from your pharmacy
 *     [body.en]
 *     Hello, ...
 *
 * A line starting with "[" starts a section; all four are required, each once. Blank lines at
 * the edges of a section are dropped. A subject is one line of at most NEWSLETTER_SUBJECT_MAX
 * characters; a body at most NEWSLETTER_BODY_MAX bytes; no control characters but tabs (in
 * bodies); the whole file at most NEWSLETTER_FILE_MAX bytes. Bodies are sent as written, with
 * the withdrawal footer (policies/mails.*.txt, newsletter.footer) after them.
 */
#ifndef PD_NEWSLETTER_H
#define PD_NEWSLETTER_H

#include <stddef.h>

#include "buf.h"
#include "leads.h"

#define NEWSLETTER_FILE_MAX (256 * 1024)
#define NEWSLETTER_BODY_MAX (64 * 1024)
#define NEWSLETTER_SUBJECT_MAX 150 /* characters (code points) */

typedef struct newsletter newsletter;

/* parses text (len bytes; name is used in messages). PD_EINVAL or PD_ETOOBIG with
 * "NAME:LINE: what is wrong" in err. */
int newsletter_parse(const char *name, const char *text, size_t len, newsletter **out, buf *err);
/* reads and parses the file at path; PD_EIO when it cannot be read */
int newsletter_load(const char *path, newsletter **out, buf *err);
void newsletter_free(newsletter *n);

/* the content (subjects, bodies, the hash) for leads_newsletter_send; lives as long as n */
const leads_newsletter *newsletter_content(const newsletter *n);

#endif
