/*
 * webassets: the files of web/ (static assets, texts, page templates) compiled into the
 * binary by tools/embed_web.cmake, with their SHA-256-based ETags. Read-only data.
 */
#ifndef PD_WEBASSETS_H
#define PD_WEBASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* relative to web/: "static/app.css", "pages/index.html" */
    const unsigned char *data; /* len bytes and a NUL after them */
    size_t len;
    const char *etag; /* quoted, ready for the header */
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_nassets;

#endif
