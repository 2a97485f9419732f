#include "import.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "log.h"
#include "orderno.h"
#include "pd.h"
#include "pzn.h"
#include "text.h"

#define MAX_TEXT 300
#define MAX_LONG_TEXT 1000
#define MAX_ITEMS 100

enum cat_col {
    C_PZN,
    C_NAME,
    C_MANUFACTURER,
    C_INGREDIENT,
    C_STRENGTH,
    C_FORM,
    C_PACK,
    C_DISPENSING,
    C_PRICE,
    C_STOCK,
    C_SUPPLY,
    C_ALIASES,
    C_NCOLS
};
static const char *const cat_cols[C_NCOLS] = {
    "pzn",       "name",        "manufacturer", "active_ingredient",
    "strength",  "dosage_form", "pack_size",    "dispensing",
    "price_eur", "stock",       "supply",       "aliases"};

enum ord_col {
    O_NUMBER,
    O_CREATED,
    O_LAST_NAME,
    O_POSTCODE,
    O_EMAIL,
    O_STATUS,
    O_ITEMS,
    O_EXPECTED,
    O_NOTE,
    O_STATUS_MAILS, /* optional: the columns from here on may be missing */
    O_NCOLS
};
static const char *const ord_cols[O_NCOLS] = {
    "order_number", "created_at", "last_name", "postcode", "email",
    "status",       "items",      "expected",  "note",     "status_mails"};
#define O_NREQUIRED O_STATUS_MAILS

/* PZNs already seen in this file, with the line, to reject duplicates */
typedef struct seen_set {
    uint32_t *keys; /* pzn + 1, 0 empty */
    long *lines;
    size_t cap, n;
} seen_set;

static long seen_put(seen_set *s, uint32_t key, long line)
{
    if ((s->n + 1) * 2 > s->cap) {
        seen_set g = {pd_xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(uint32_t)),
                      pd_xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(long)),
                      s->cap ? s->cap * 2 : 1024, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i])
                seen_put(&g, s->keys[i] - 1, s->lines[i]);
        free(s->keys);
        free(s->lines);
        *s = g;
    }
    size_t i = (key * 2654435761u) & (s->cap - 1);
    while (s->keys[i]) {
        if (s->keys[i] == key + 1)
            return s->lines[i];
        i = (i + 1) & (s->cap - 1);
    }
    s->keys[i] = key + 1;
    s->lines[i] = line;
    s->n++;
    return 0;
}

static void seen_free(seen_set *s)
{
    free(s->keys);
    free(s->lines);
}

/* the column order comes from the header; the first nrequired columns are required, the rest
 * optional (pos -1 when missing), unknown ones refused */
static int map_header(csv_reader *r, const char *const *cols, int ncols, int nrequired, int *pos,
                      buf *err)
{
    for (int i = 0; i < ncols; i++)
        pos[i] = -1;
    size_t nf = csv_nfields(r);
    for (size_t f = 0; f < nf; f++) {
        size_t len;
        const char *name = csv_field(r, f, &len);
        int known = 0;
        for (int i = 0; i < ncols; i++) {
            if (strlen(cols[i]) == len && memcmp(cols[i], name, len) == 0) {
                if (pos[i] >= 0) {
                    buf_printf(err, "line %ld: column '%s' appears twice in the header",
                               csv_line(r), cols[i]);
                    return PD_EINVAL;
                }
                pos[i] = (int)f;
                known = 1;
            }
        }
        if (!known) {
            buf_printf(err,
                       "line %ld: unknown column '%.*s' in the header (expected: ", csv_line(r),
                       (int)(len > 40 ? 40 : len), name);
            for (int i = 0; i < ncols; i++)
                buf_printf(err, "%s%s%s", i ? "," : "", cols[i],
                           i < nrequired ? "" : " (optional)");
            buf_puts(err, ")");
            return PD_EINVAL;
        }
    }
    for (int i = 0; i < nrequired; i++) {
        if (pos[i] < 0) {
            buf_printf(err, "line %ld: the header lacks the column '%s'", csv_line(r), cols[i]);
            return PD_EINVAL;
        }
    }
    return PD_OK;
}

static const char *col(csv_reader *r, const int *pos, int c, size_t *len)
{
    size_t l;
    const char *v = csv_field(r, (size_t)pos[c], &l);
    if (len)
        *len = l;
    return v;
}

static int text_ok(const char *v, size_t len, size_t max, int required, const char *name, buf *why)
{
    if (required && len == 0) {
        buf_printf(why, "%s is empty", name);
        return 0;
    }
    if (len > max) {
        buf_printf(why, "%s is longer than %zu bytes", name, max);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t') {
            buf_printf(why, "%s contains a control character", name);
            return 0;
        }
    }
    return 1;
}

/* "3.49", "3,49", "12" -> cents; at most two decimals */
static int parse_price(const char *v, size_t len, long long *cents)
{
    long long whole = 0;
    size_t i = 0;
    if (len == 0)
        return 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
        whole = whole * 10 + (v[i] - '0');
        if (whole > 1000000)
            return 0;
    }
    if (i == 0)
        return 0;
    long long frac = 0;
    if (i < len) {
        if (v[i] != '.' && v[i] != ',')
            return 0;
        size_t d = 0;
        for (i++; i < len && v[i] >= '0' && v[i] <= '9'; i++, d++)
            frac = frac * 10 + (v[i] - '0');
        if (i != len || d == 0 || d > 2)
            return 0;
        if (d == 1)
            frac *= 10;
    }
    *cents = whole * 100 + frac;
    return 1;
}

static int parse_uint(const char *v, size_t len, long long max, long long *out)
{
    long long n = 0;
    if (len == 0 || len > 12)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        n = n * 10 + (v[i] - '0');
    }
    if (n > max)
        return 0;
    *out = n;
    return 1;
}

static int digits(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

static int valid_date(const char *v, size_t len)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 || v[4] != '-' || v[7] != '-' || !digits(v, 4) || !digits(v + 5, 2) ||
        !digits(v + 8, 2))
        return 0;
    int y = atoi(v), m = (v[5] - '0') * 10 + v[6] - '0', d = (v[8] - '0') * 10 + v[9] - '0';
    if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    return 1;
}

/* 2026-11-20T09:14:00+01:00 or ...Z */
static int valid_timestamp(const char *v, size_t len)
{
    if (len < 20 || !valid_date(v, 10) || v[10] != 'T' || !digits(v + 11, 2) || v[13] != ':' ||
        !digits(v + 14, 2) || v[16] != ':' || !digits(v + 17, 2))
        return 0;
    int hh = atoi(v + 11), mm = atoi(v + 14), ss = atoi(v + 17);
    if (hh > 23 || mm > 59 || ss > 59)
        return 0;
    const char *z = v + 19;
    size_t zl = len - 19;
    if (zl == 1 && z[0] == 'Z')
        return 1;
    return zl == 6 && (z[0] == '+' || z[0] == '-') && digits(z + 1, 2) && z[3] == ':' &&
           digits(z + 4, 2) && atoi(z + 1) <= 14 && atoi(z + 4) <= 59;
}

static int valid_email(const char *v, size_t len)
{
    const char *at = memchr(v, '@', len);
    if (!at || at == v || len > 254)
        return 0;
    const char *dom = at + 1;
    size_t dl = len - (size_t)(dom - v);
    if (dl < 3 || !memchr(dom, '.', dl) || memchr(dom, '@', dl) || dom[0] == '.' ||
        dom[dl - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == ',' || v[i] == ';' || v[i] == '<' || v[i] == '>')
            return 0;
    return 1;
}

static int catalog_row(csv_reader *r, const int *pos, product *p, buf *why)
{
    size_t len;
    const char *v = col(r, pos, C_PZN, &len);
    int rc = pzn_parse(v, len, &p->pzn);
    if (rc == PD_ECHECK) {
        buf_printf(why, "PZN '%.*s' has a wrong check digit", (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    if (rc != PD_OK) {
        buf_printf(why, "PZN '%.*s' is not 7 or 8 digits", (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    static const struct {
        int c;
        size_t max;
        int required;
    } texts[] = {{C_NAME, MAX_TEXT, 1},        {C_MANUFACTURER, MAX_TEXT, 0},
                 {C_INGREDIENT, MAX_TEXT, 0},  {C_STRENGTH, MAX_TEXT, 0},
                 {C_FORM, MAX_TEXT, 0},        {C_PACK, MAX_TEXT, 0},
                 {C_ALIASES, MAX_LONG_TEXT, 0}};
    for (size_t i = 0; i < PD_ARRAY_LEN(texts); i++) {
        v = col(r, pos, texts[i].c, &len);
        if (!text_ok(v, len, texts[i].max, texts[i].required, cat_cols[texts[i].c], why))
            return 0;
    }
    p->name = col(r, pos, C_NAME, NULL);
    p->manufacturer = col(r, pos, C_MANUFACTURER, NULL);
    p->active_ingredient = col(r, pos, C_INGREDIENT, NULL);
    p->strength = col(r, pos, C_STRENGTH, NULL);
    p->dosage_form = col(r, pos, C_FORM, NULL);
    p->pack_size = col(r, pos, C_PACK, NULL);
    p->aliases = col(r, pos, C_ALIASES, NULL);
    v = col(r, pos, C_DISPENSING, &len);
    if (dispensing_parse(v, &p->dispensing) != PD_OK) {
        buf_printf(why, "dispensing '%.*s' is not one of pharmacy, rx, free",
                   (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    v = col(r, pos, C_PRICE, &len);
    if (!parse_price(v, len, &p->price_cents)) {
        buf_printf(why, "price_eur '%.*s' is not a price like 3.49 (0 to 1000000)",
                   (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    v = col(r, pos, C_STOCK, &len);
    if (!parse_uint(v, len, 1000000000LL, &p->stock)) {
        buf_printf(why, "stock '%.*s' is not a whole number from 0 to 1000000000",
                   (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    v = col(r, pos, C_SUPPLY, &len);
    if (supply_parse(v, &p->supply) != PD_OK) {
        buf_printf(why, "supply '%.*s' is not one of available, shortage, discontinued",
                   (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    return 1;
}

static int order_row(csv_reader *r, const int *pos, order *o, order_item *items, int *status_mails,
                     buf *why)
{
    size_t len;
    const char *v = col(r, pos, O_NUMBER, &len);
    if (orderno_parse(v, len, o->number) != PD_OK) {
        buf_printf(why, "order_number '%.*s' is not like AP-100231", (int)(len > 20 ? 20 : len), v);
        return 0;
    }
    v = col(r, pos, O_CREATED, &len);
    if (!valid_timestamp(v, len)) {
        buf_printf(why, "created_at is not a time like 2026-11-20T09:14:00+01:00");
        return 0;
    }
    o->created_at = v;
    v = col(r, pos, O_LAST_NAME, &len);
    if (!text_ok(v, len, 100, 1, "last_name", why))
        return 0;
    o->last_name = v;
    v = col(r, pos, O_POSTCODE, &len);
    if (len != 5 || !digits(v, 5)) {
        buf_printf(why, "postcode is not five digits");
        return 0;
    }
    o->postcode = v;
    v = col(r, pos, O_EMAIL, &len);
    if (len && !valid_email(v, len)) {
        buf_printf(why, "email is not an address like name@example.org");
        return 0;
    }
    o->email = v;
    v = col(r, pos, O_STATUS, &len);
    if (order_status_parse(v, &o->status) != PD_OK) {
        buf_printf(why, "status '%.*s' is not a known order status", (int)(len > 30 ? 30 : len), v);
        return 0;
    }
    v = col(r, pos, O_EXPECTED, &len);
    if (len && !valid_date(v, len)) {
        buf_printf(why, "expected is not a date like 2026-11-21");
        return 0;
    }
    o->expected = v;
    v = col(r, pos, O_NOTE, &len);
    if (!text_ok(v, len, 500, 0, "note", why))
        return 0;
    o->note = v;
    /* consent to status mails: a missing column or an empty field is no */
    *status_mails = 0;
    if (pos[O_STATUS_MAILS] >= 0) {
        v = col(r, pos, O_STATUS_MAILS, &len);
        if (len == 3 && memcmp(v, "yes", 3) == 0) {
            *status_mails = 1;
        } else if (len != 0 && !(len == 2 && memcmp(v, "no", 2) == 0)) {
            buf_printf(why, "status_mails '%.*s' is not yes, no or empty",
                       (int)(len > 20 ? 20 : len), v);
            return 0;
        }
    }

    /* items: PZN:QTY;PZN:QTY */
    v = col(r, pos, O_ITEMS, &len);
    o->nitems = 0;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && v[e] != ';')
            e++;
        const char *colon = memchr(v + i, ':', e - i);
        long long qty;
        uint32_t pzn;
        if (!colon || pzn_parse(v + i, (size_t)(colon - (v + i)), &pzn) != PD_OK ||
            !parse_uint(colon + 1, (size_t)(v + e - colon - 1), 999, &qty) || qty < 1) {
            buf_printf(why, "items entry %d is not PZN:QUANTITY with a valid PZN and 1 to 999",
                       o->nitems + 1);
            return 0;
        }
        if (o->nitems == MAX_ITEMS) {
            buf_printf(why, "more than %d items", MAX_ITEMS);
            return 0;
        }
        for (int k = 0; k < o->nitems; k++) {
            if (items[k].pzn == pzn) {
                buf_printf(why, "items name PZN %08u twice", pzn);
                return 0;
            }
        }
        items[o->nitems++] = (order_item){pzn, (int)qty};
        i = e + 1;
    }
    if (o->nitems == 0) {
        buf_printf(why, "items is empty");
        return 0;
    }
    o->items = items;
    return 1;
}

static void progress_draw(FILE *tty, unsigned long long done, unsigned long long total, long rows)
{
    int pct = total ? (int)(done * 100 / total) : 100;
    int bar = pct * 30 / 100;
    fprintf(tty, "\r[%.*s%*s] %3d%% %ld rows", bar, "##############################", 30 - bar, "",
            pct, rows);
    fflush(tty);
}

/* a ready-for-pickup mail waiting for the commit */
typedef struct pending_mail {
    char number[16];
    char *email, *note;
} pending_mail;

typedef struct mail_queue {
    pending_mail *m;
    size_t n, cap;
} mail_queue;

static void queue_put(mail_queue *q, const order *o)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->m = pd_xreallocarray(q->m, q->cap, sizeof *q->m);
    }
    pending_mail *p = &q->m[q->n++];
    snprintf(p->number, sizeof p->number, "%s", o->number);
    p->email = pd_xstrdup(o->email);
    p->note = pd_xstrdup(o->note ? o->note : "");
}

static void queue_free(mail_queue *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->m[i].email);
        free(q->m[i].note);
    }
    free(q->m);
}

/* after the commit: a failure is reported by order number, never by address */
static void queue_send(const mail_queue *q, const outbox_opts *mail, const char *path, FILE *report,
                       import_summary *sum)
{
    buf why = BUF_INIT;
    for (size_t i = 0; i < q->n; i++) {
        buf_reset(&why);
        if (outbox_order_ready(mail, q->m[i].number, q->m[i].email, q->m[i].note, &why) == PD_OK) {
            sum->mailed++;
        } else {
            sum->mail_failed++;
            if (report)
                fprintf(report,
                        "%s: warning: order %s: the ready-for-pickup mail was not sent: %s\n", path,
                        q->m[i].number, buf_cstr(&why));
        }
    }
    buf_free(&why);
}

#ifdef PD_FAULT_INJECTION
static int fault_fail_before_commit;

void import_fault_fail_before_commit(void)
{
    fault_fail_before_commit = 1;
}
#endif

int import_csv(store *s, enum import_kind kind, const char *path, FILE *report, FILE *progress,
               import_summary *sum, buf *err)
{
    return import_csv_mail(s, kind, path, NULL, report, progress, sum, err);
}

int import_csv_mail(store *s, enum import_kind kind, const char *path, const outbox_opts *mail,
                    FILE *report, FILE *progress, import_summary *sum, buf *err)
{
    return import_csv_hooks(s, kind, path, mail, NULL, NULL, report, progress, sum, err);
}

int import_csv_hooks(store *s, enum import_kind kind, const char *path, const outbox_opts *mail,
                     import_restock_fn restocked, void *arg, FILE *report, FILE *progress,
                     import_summary *sum, buf *err)
{
    FILE *in = NULL;
    uint32_t *restock = NULL; /* PZNs whose stock rose from 0, told after the commit */
    mail_queue queue = {0};
    csv_reader *r = NULL;
    store_txn *t = NULL;
    seen_set seen = {0};
    buf why = BUF_INIT;
    order_item items[MAX_ITEMS];
    int pos[(int)C_NCOLS > (int)O_NCOLS ? (int)C_NCOLS : (int)O_NCOLS];
    int ret = PD_OK, rc;
    struct stat sb;
    unsigned long long total = 0, last_drawn = 0;
    const char *const *cols = kind == IMPORT_CATALOG ? cat_cols : ord_cols;
    int ncols = kind == IMPORT_CATALOG ? C_NCOLS : O_NCOLS;
    int nrequired = kind == IMPORT_CATALOG ? C_NCOLS : O_NREQUIRED;
    size_t nfields;

    memset(sum, 0, sizeof *sum);
    in = fopen(path, "rb");
    if (!in) {
        buf_printf(err, "cannot open %s: %s", path, strerror(errno));
        ret = PD_EIO;
        goto out;
    }
    if (fstat(fileno(in), &sb) == 0)
        total = (unsigned long long)sb.st_size;
    r = csv_reader_new(in);
    rc = csv_read(r);
    if (rc <= 0) {
        buf_printf(err, "%s: %s", path,
                   rc == 0 ? "the file is empty: expected a header line" : csv_error(r));
        ret = PD_EINVAL;
        goto out;
    }
    if ((ret = map_header(r, cols, ncols, nrequired, pos, err)) != PD_OK)
        goto out;
    nfields = csv_nfields(r);
    if ((ret = store_txn_begin(s, &t)) != PD_OK) {
        buf_printf(err, "cannot start a transaction: %s", pd_strerror(ret));
        goto out;
    }
    for (;;) {
        rc = csv_read(r);
        if (rc == 0)
            break;
        if (rc == PD_EIO) {
            buf_printf(err, "%s: read error near line %ld", path, csv_line(r));
            ret = PD_EIO;
            goto out;
        }
        sum->rows++;
        buf_reset(&why);
        enum store_upsert res = STORE_UNCHANGED;
        int ok = 0;
        if (rc < 0) {
            buf_puts(&why, csv_error(r));
        } else if (csv_nfields(r) != nfields) {
            buf_printf(&why, "expected %zu fields, found %zu", nfields, csv_nfields(r));
        } else if (kind == IMPORT_CATALOG) {
            product p = {0};
            long long old_stock = -1;
            if (catalog_row(r, pos, &p, &why)) {
                long first = seen_put(&seen, p.pzn, csv_line(r));
                if (first) {
                    buf_printf(&why, "PZN %08u already appeared on line %ld", p.pzn, first);
                } else if ((ret = store_product_upsert(t, &p, &res, &old_stock)) != PD_OK) {
                    buf_printf(err, "line %ld: cannot store the product: %s", csv_line(r),
                               pd_strerror(ret));
                    goto out;
                } else {
                    ok = 1;
                    if (old_stock == 0 && p.stock > 0) {
                        restock =
                            pd_xreallocarray(restock, (size_t)sum->restocked + 1, sizeof *restock);
                        restock[sum->restocked++] = p.pzn;
                    }
                }
            }
        } else {
            order o = {0};
            long first = 0;
            int status_mails = 0, old_status = -1;
            if (order_row(r, pos, &o, items, &status_mails, &why) &&
                (first = seen_put(&seen, (uint32_t)atol(o.number + 3), csv_line(r))) != 0) {
                buf_printf(&why, "order %s already appeared on line %ld", o.number, first);
            } else if (why.len == 0) {
                ret = store_order_upsert_ex(t, &o, status_mails, &res, &old_status);
                if (ret == PD_ENOTFOUND) {
                    buf_printf(&why, "an item names a PZN that is not in the catalog "
                                     "(import the catalog first)");
                    ret = PD_OK;
                } else if (ret != PD_OK) {
                    buf_printf(err, "line %ld: cannot store the order: %s", csv_line(r),
                               pd_strerror(ret));
                    goto out;
                } else {
                    ok = 1;
                    /* the status became ready_for_pickup: tell a customer who agreed */
                    if (mail && res != STORE_UNCHANGED && o.status == ORDER_READY_FOR_PICKUP &&
                        old_status != ORDER_READY_FOR_PICKUP && status_mails && o.email[0])
                        queue_put(&queue, &o);
                }
            }
        }
        if (!ok) {
            sum->rejected++;
            if (report)
                fprintf(report, "%s%s: line %ld: %s\n", progress ? "\r\033[K" : "", path,
                        csv_line(r), buf_cstr(&why));
        } else if (res == STORE_INSERTED) {
            sum->inserted++;
        } else if (res == STORE_UPDATED) {
            sum->updated++;
        } else {
            sum->unchanged++;
        }
        if (progress && (csv_offset(r) - last_drawn) * 200 > total) {
            last_drawn = csv_offset(r);
            progress_draw(progress, last_drawn, total, sum->rows);
        }
    }
    if (kind == IMPORT_CATALOG && (ret = store_catalog_bump(t)) != PD_OK) {
        buf_printf(err, "cannot record the import: %s", pd_strerror(ret));
        goto out;
    }
#ifdef PD_FAULT_INJECTION
    if (fault_fail_before_commit) {
        fault_fail_before_commit = 0;
        buf_puts(err, "injected failure before the commit");
        ret = PD_EIO;
        goto out;
    }
#endif
    ret = store_txn_commit(t);
    t = NULL;
    if (ret != PD_OK) {
        buf_printf(err, "cannot commit the import: %s", pd_strerror(ret));
        goto out;
    }
    if (progress) {
        progress_draw(progress, total, total, sum->rows);
        fputc('\n', progress);
    }
    /* only now: never a mail about data that was rolled back */
    if (mail)
        queue_send(&queue, mail, path, report, sum);
    for (long i = 0; restocked && i < sum->restocked; i++)
        restocked(restock[i], arg);
out:
    free(restock);
    if (ret != PD_OK && progress)
        fputc('\n', progress);
    store_txn_rollback(t);
    csv_reader_free(r);
    if (in)
        fclose(in);
    seen_free(&seen);
    queue_free(&queue);
    buf_free(&why);
    return ret;
}
