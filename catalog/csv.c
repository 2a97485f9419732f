#include "csv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"

/* the file reader's input buffer; a build may shrink it to exercise refills in tests */
#ifndef CSV_CHUNK_SIZE
#define CSV_CHUNK_SIZE 65536
#endif
_Static_assert(CSV_CHUNK_SIZE >= 4, "the BOM check needs 3 bytes in the chunk");

/*
 * The record buffer holds the unquoted fields, each followed by a NUL. Every input byte of a
 * record adds at most one byte (a field byte, or the NUL for a comma), and the last field adds
 * one NUL more, so CSV_MAX_RECORD + 1 bytes always suffice.
 */
#define CSV_REC_CAP ((size_t)CSV_MAX_RECORD + 1)

enum csv_state {
    ST_RECORD,   /* before a record: empty lines and the rest of a CRLF are skipped */
    ST_FIELD,    /* at the start of a field */
    ST_UNQUOTED, /* inside an unquoted field */
    ST_QUOTED,   /* inside a quoted field */
    ST_QUOTE,    /* after a quote inside a quoted field: an escape or the closing quote */
    ST_SKIP_LINE /* discarding an over-long record up to the next line end */
};

struct csv_reader {
    FILE *in;                 /* NULL for a memory reader */
    unsigned char *chunk;     /* a file reader's input buffer */
    const unsigned char *win; /* start of the input window: chunk or the memory block */
    const unsigned char *pos; /* next unread byte */
    const unsigned char *end;
    unsigned long long base; /* stream offset of win[0] */
    int started;             /* the BOM check is done */
    int eof;
    int ioerr;
    char *rec;
    size_t *starts; /* field i is rec + starts[i]; starts[nfields] is one past the last NUL */
    size_t nfields;
    size_t starts_cap;
    long line;     /* the physical line of the next byte */
    long rec_line; /* the line the current record started on */
    int prev_cr;   /* the last byte was a CR: an LF now ends the same line */
    char err[96];
};

static csv_reader *reader_alloc(void)
{
    csv_reader *r = pd_xcalloc(1, sizeof(*r));
    r->rec = pd_xmalloc(CSV_REC_CAP);
    r->starts_cap = 16;
    r->starts = pd_xreallocarray(NULL, r->starts_cap, sizeof(*r->starts));
    r->line = 1;
    return r;
}

csv_reader *csv_reader_new(FILE *in)
{
    assert(in);
    csv_reader *r = reader_alloc();
    r->in = in;
    r->chunk = pd_xmalloc(CSV_CHUNK_SIZE);
    r->win = r->pos = r->end = r->chunk;
    return r;
}

csv_reader *csv_reader_new_mem(const char *data, size_t len)
{
    static const unsigned char empty[1];
    csv_reader *r = reader_alloc();
    r->win = r->pos = data ? (const unsigned char *)data : empty;
    r->end = r->pos + (data ? len : 0);
    r->eof = 1;
    return r;
}

void csv_reader_free(csv_reader *r)
{
    if (!r)
        return;
    free(r->chunk);
    free(r->rec);
    free(r->starts);
    free(r);
}

/*
 * Moves the unread bytes to the front of the chunk and reads more behind them. Returns 0 (also
 * at the end of the input, then r->eof is set) or PD_EIO.
 */
static int refill(csv_reader *r)
{
    if (r->eof)
        return 0;
    if (r->ioerr)
        return PD_EIO;
    size_t keep = (size_t)(r->end - r->pos);
    r->base += (unsigned long long)(r->pos - r->win);
    memmove(r->chunk, r->pos, keep);
    r->pos = r->win = r->chunk;
    size_t n = fread(r->chunk + keep, 1, CSV_CHUNK_SIZE - keep, r->in);
    r->end = r->chunk + keep + n;
    if (n == 0) {
        if (ferror(r->in)) {
            r->ioerr = 1;
            return PD_EIO;
        }
        r->eof = 1;
    }
    return 0;
}

static int skip_bom(csv_reader *r)
{
    while (r->end - r->pos < 3 && !r->eof) {
        int rc = refill(r);
        if (rc < 0)
            return rc;
    }
    if (r->end - r->pos >= 3 && r->pos[0] == 0xEF && r->pos[1] == 0xBB && r->pos[2] == 0xBF)
        r->pos += 3;
    r->started = 1;
    return 0;
}

/*
 * Checks a field: returns 0, 1 for a NUL byte or 2 for invalid UTF-8 (an overlong form, a
 * surrogate, a value above U+10FFFF, a stray continuation byte or a truncated sequence).
 */
static int field_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        if (c == 0)
            return 1;
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return 2; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if (n - i - 1 < need)
            return 2;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 2;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 2;
        i += need + 1;
    }
    return 0;
}

/* the bytes that end a run of plain field bytes */
enum { STOP_UNQUOTED = 1, STOP_QUOTED = 2 };
static const unsigned char stop_at[256] = {
    ['\n'] = STOP_UNQUOTED | STOP_QUOTED,
    ['\r'] = STOP_UNQUOTED | STOP_QUOTED,
    ['"'] = STOP_UNQUOTED | STOP_QUOTED,
    [','] = STOP_UNQUOTED,
};

/* per-call parsing state, kept out of the reader so the compiler can hold it in registers */
typedef struct csv_parse {
    enum csv_state state;
    int bad;       /* the record has failed; its bytes are only skipped */
    size_t rawlen; /* input bytes of the record so far, line end excluded */
    size_t rlen;   /* bytes used in r->rec */
    size_t fstart; /* where the current field starts in r->rec */
} csv_parse;

/* marks the record bad; the first reason wins. The format gets the current field's number. */
static void fail(csv_reader *r, csv_parse *p, const char *fmt) PD_PRINTF(3, 0);

static void fail(csv_reader *r, csv_parse *p, const char *fmt)
{
    if (p->bad)
        return;
    p->bad = 1;
    snprintf(r->err, sizeof(r->err), fmt, r->nfields + 1);
}

static void end_field(csv_reader *r, csv_parse *p)
{
    if (!p->bad) {
        const unsigned char *f = (const unsigned char *)r->rec + p->fstart;
        int bad = field_check(f, p->rlen - p->fstart);
        if (bad) {
            fail(r, p, bad == 1 ? "NUL byte in field %zu" : "invalid UTF-8 in field %zu");
        } else {
            if (r->nfields + 1 >= r->starts_cap) {
                r->starts_cap *= 2;
                r->starts = pd_xreallocarray(r->starts, r->starts_cap, sizeof(*r->starts));
            }
            assert(p->rlen < CSV_REC_CAP);
            r->starts[r->nfields] = p->fstart;
            r->rec[p->rlen++] = '\0';
            p->fstart = p->rlen;
        }
    }
    r->nfields++;
}

static int finish(csv_reader *r, csv_parse *p)
{
    if (p->bad) {
        r->nfields = 0;
        return PD_EINVAL;
    }
    r->starts[r->nfields] = p->rlen;
    return 1;
}

int csv_read(csv_reader *r)
{
    csv_parse p = {ST_RECORD, 0, 0, 0, 0};
    int rc;

    r->nfields = 0;
    r->err[0] = '\0';
    if (r->ioerr)
        goto io_error;
    if (!r->started && skip_bom(r) < 0)
        goto io_error;
    for (;;) {
        if (r->pos == r->end) {
            if (refill(r) < 0)
                goto io_error;
            if (r->pos == r->end)
                break;
        }
        if ((p.state == ST_UNQUOTED || p.state == ST_QUOTED) && !p.bad) {
            /* the common case: copy the bytes that need no decision in one go */
            const unsigned char *s = r->pos, *e = r->end;
            unsigned char stop = p.state == ST_UNQUOTED ? STOP_UNQUOTED : STOP_QUOTED;
            size_t room = CSV_MAX_RECORD - p.rawlen;
            if ((size_t)(e - s) > room)
                e = s + room;
            while (s < e && !(stop_at[*s] & stop))
                s++;
            size_t k = (size_t)(s - r->pos);
            if (k) {
                memcpy(r->rec + p.rlen, r->pos, k);
                p.rlen += k;
                p.rawlen += k;
                r->pos = s;
                r->prev_cr = 0;
                if (s == r->end)
                    continue;
            }
        }
        unsigned char c = *r->pos++;
        int nl = c == '\n' || c == '\r';
        if (c == '\r') {
            r->line++;
            r->prev_cr = 1;
        } else if (c == '\n') {
            if (!r->prev_cr)
                r->line++;
            r->prev_cr = 0;
        } else {
            r->prev_cr = 0;
        }

        if (p.state == ST_RECORD) {
            if (nl)
                continue; /* an empty line, or the LF of a CRLF */
            r->rec_line = r->line;
            p.state = ST_FIELD;
        }
        if (nl && p.state != ST_QUOTED) {
            if (p.state != ST_SKIP_LINE)
                end_field(r, &p);
            return finish(r, &p);
        }
        if (++p.rawlen > CSV_MAX_RECORD) {
            if (!p.bad) {
                p.bad = 1;
                snprintf(r->err, sizeof(r->err), "record longer than %d bytes", CSV_MAX_RECORD);
            }
            p.state = ST_SKIP_LINE;
            if (nl)
                return finish(r, &p);
        }
        switch (p.state) {
        case ST_FIELD:
            if (c == '"') {
                p.state = ST_QUOTED;
            } else if (c == ',') {
                end_field(r, &p);
            } else {
                p.state = ST_UNQUOTED;
                if (!p.bad)
                    r->rec[p.rlen++] = (char)c;
            }
            break;
        case ST_UNQUOTED:
            if (c == ',') {
                end_field(r, &p);
                p.state = ST_FIELD;
            } else if (c == '"') {
                fail(r, &p, "stray quote in unquoted field %zu");
            } else if (!p.bad) {
                r->rec[p.rlen++] = (char)c;
            }
            break;
        case ST_QUOTED:
            if (c == '"')
                p.state = ST_QUOTE;
            else if (!p.bad)
                r->rec[p.rlen++] = (char)c;
            break;
        case ST_QUOTE:
            if (c == '"') {
                if (!p.bad)
                    r->rec[p.rlen++] = '"';
                p.state = ST_QUOTED;
            } else if (c == ',') {
                end_field(r, &p);
                p.state = ST_FIELD;
            } else {
                fail(r, &p, "text after the closing quote of field %zu");
                p.state = ST_UNQUOTED;
            }
            break;
        case ST_RECORD:
        case ST_SKIP_LINE:
            break;
        }
    }

    /* the end of the input */
    switch (p.state) {
    case ST_RECORD:
        return 0;
    case ST_FIELD:
    case ST_UNQUOTED:
    case ST_QUOTE:
        end_field(r, &p);
        break;
    case ST_QUOTED:
        fail(r, &p, "unterminated quoted field %zu");
        break;
    case ST_SKIP_LINE:
        break;
    }
    return finish(r, &p);

io_error:
    rc = PD_EIO;
    r->nfields = 0;
    snprintf(r->err, sizeof(r->err), "read error");
    return rc;
}

size_t csv_nfields(const csv_reader *r)
{
    return r->nfields;
}

const char *csv_field(const csv_reader *r, size_t i, size_t *len)
{
    if (i >= r->nfields) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->starts[i + 1] - r->starts[i] - 1;
    return r->rec + r->starts[i];
}

const char *csv_error(const csv_reader *r)
{
    return r->err;
}

long csv_line(const csv_reader *r)
{
    return r->rec_line;
}

unsigned long long csv_offset(const csv_reader *r)
{
    return r->base + (unsigned long long)(r->pos - r->win);
}
