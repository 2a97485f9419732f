/*
 * mailtext: the texts of the mails pharmdesk writes (double opt-in confirmation, back in stock,
 * the newsletter's footer, data-rights requests), German and English, as data in
 * policies/mails.de.txt and mails.en.txt.
 * Loading checks that every key the code uses exists in both languages and that each text uses
 * only known placeholders, so a broken file stops the start with FILE:LINE.
 */
#ifndef PD_MAILTEXT_H
#define PD_MAILTEXT_H

#include <stddef.h>

#include "buf.h"

typedef struct mailtext mailtext;

typedef struct mailtext_var {
    const char *name;  /* without braces: "confirm_url" */
    const char *value; /* NULL renders as "" */
} mailtext_var;

int mailtext_load(const char *dir, mailtext **out, buf *err);
void mailtext_free(mailtext *m);

/* the text of key in lang ("en", else German); never NULL for the keys the code uses */
const char *mailtext_get(const mailtext *m, const char *key, const char *lang);

/* appends key's text in lang with {name} replaced from vars */
void mailtext_render(const mailtext *m, const char *key, const char *lang, const mailtext_var *vars,
                     size_t nvars, buf *out);

#endif
