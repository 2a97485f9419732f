/*
 * consent: the consent texts a person is shown before pharmdesk stores anything that needs
 * consent (a handoff with health data, GDPR Art. 9(2)(a); a newsletter or back-in-stock
 * sign-up, UWG §7 and GDPR Art. 7). The texts are versioned data (policies/consent.de.txt and
 * consent.en.txt); every version ever shipped stays in the files, so a ledger entry that cites
 * a version can always show the exact text, and a request citing an unknown version is refused.
 */
#ifndef PD_CONSENT_H
#define PD_CONSENT_H

#include "buf.h"

typedef struct consent_set consent_set;

/* purposes: "handoff", "newsletter", "back_in_stock" */
typedef struct consent_text {
    const char *purpose;
    const char *version; /* e.g. "handoff-1", the same in every language */
    const char *lang;    /* "de" or "en" */
    const char *text;    /* rendered: the placeholders replaced */
    char hash[65];       /* hex BLAKE2b-256 of the rendered text: what the ledger records */
} consent_text;

/*
 * Loads DIR/consent.de.txt and DIR/consent.en.txt, replacing {pharmacy_name} and {ticket_days}
 * (the retention of a closed ticket's texts, retention.ticket_days) in the texts.
 * Each version must exist in both languages, and each purpose needs one. The last version of
 * a purpose in the file is its current one. PD_EINVAL with "FILE:LINE: what" in err.
 */
int consent_load(const char *dir, const char *pharmacy_name, int ticket_days, consent_set **out,
                 buf *err);
void consent_free(consent_set *c);

/* the current text of purpose in lang (other langs fall back to "de"); NULL for an unknown
 * purpose */
const consent_text *consent_current(const consent_set *c, const char *purpose, const char *lang);
/* a known version of purpose (current or earlier) in lang; NULL when unknown */
const consent_text *consent_find(const consent_set *c, const char *purpose, const char *version,
                                 const char *lang);

#endif
