/*
 * web: the pages pharmdesk serves. It owns the page texts (web/i18n/de.json and en.json, the
 * same keys in both), renders every page template (web/pages/) for both languages once at
 * start from the configuration (the privacy notice names the configured controller, contact
 * and retention periods) and keeps the results with their ETags; it also finds the static
 * assets (web/static/) compiled into the binary. Read-only after web_open.
 *
 * Template syntax: {{key.path}} a text of the language (HTML-escaped; {name} inside it is a
 * variable), {{=name}} a variable (HTML-escaped), {{#name}}…{{/name}} shown when the variable
 * is not empty, {{^name}}…{{/name}} when it is. An unknown key or variable is an error.
 */
#ifndef PD_WEB_H
#define PD_WEB_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

typedef struct web web;

enum web_page {
    WEB_INDEX,
    WEB_WIDGET,
    WEB_STAFF,
    WEB_PRIVACY,
    WEB_LEAD_CONFIRM,
    WEB_LEAD_WITHDRAW,
    WEB_DATA_CONFIRM,
    WEB_NPAGES
};

typedef struct web_doc {
    const char *data;
    size_t len;
    const char *etag;         /* quoted */
    const char *content_type; /* with charset for text */
} web_doc;

typedef struct web_var {
    const char *name, *value;
} web_var;

/* loads the texts, checks that both languages have the same keys and renders every page;
 * an error names the page, key or variable */
int web_open(const config *cfg, web **out, buf *err);
void web_free(web *w);

/* lang "en" or anything else for German */
void web_page_get(const web *w, enum web_page page, const char *lang, web_doc *out);

/* a compiled-in file by its path under web/ ("static/app.css", "i18n/de.json"); pages/ are
 * templates and not found here. 0 when found. */
int web_asset_get(const char *path, web_doc *out);

/* renders one template (NUL-terminated) with lang's texts and the variables; for web_open and
 * the tests */
int web_render(const web *w, const char *tmpl, const char *lang, const web_var *vars, size_t nvars,
               buf *out, buf *err);

#endif
