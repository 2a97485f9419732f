/*
 * buf: one growable byte buffer, always NUL-terminated, for building strings, SQL-free text
 * and response bodies. The struct is public so a buffer can live on the stack; touch the
 * fields only through the functions. Growth aborts on out-of-memory (pd_xrealloc).
 */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "pd.h"

typedef struct buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *data, size_t len);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) PD_PRINTF(2, 3);
void buf_vprintf(buf *b, const char *fmt, va_list ap);
void buf_reset(buf *b);
/* hands the data to the caller (free() it) and leaves b empty */
char *buf_steal(buf *b);
/* never NULL: "" for an empty buffer */
const char *buf_cstr(const buf *b);
void buf_free(buf *b);

/* appends the whole file at path to out (afterwards out->data is never NULL). PD_EIO when it
 * cannot be opened or read (errno kept for the caller's message), PD_ETOOBIG past max bytes
 * (0: no limit). The callers word the error, since only they know what the file is. */
int buf_read_file(buf *out, const char *path, size_t max);

#endif
