#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_reserve(buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need < b->len)
        abort(); /* size_t overflow: cannot happen with sane inputs */
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    b->data = pd_xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_puts(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_putc(buf *b, char c)
{
    buf_append(b, &c, 1);
}

void buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n < 0)
        abort(); /* an encoding error in a format we wrote ourselves */
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *buf_steal(buf *b)
{
    char *p = b->data ? b->data : pd_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *buf_cstr(const buf *b)
{
    return b->data ? b->data : "";
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int buf_read_file(buf *out, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return PD_EIO;
    char chunk[8192];
    size_t n;
    int ret = PD_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(out, chunk, n);
        if (max && out->len > max) {
            ret = PD_ETOOBIG;
            break;
        }
    }
    if (ret == PD_OK && ferror(f))
        ret = PD_EIO;
    int saved = errno;
    fclose(f);
    errno = saved;
    if (!out->data)
        buf_puts(out, "");
    return ret;
}
