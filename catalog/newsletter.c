#include "newsletter.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"
#include "text.h"

/* the sections in the order of leads_newsletter: German subject, body, English subject, body */
enum { S_SUBJECT_DE, S_BODY_DE, S_SUBJECT_EN, S_BODY_EN, S_COUNT };
static const char *const section_names[S_COUNT] = {"subject.de", "body.de", "subject.en",
                                                   "body.en"};

struct newsletter {
    buf part[S_COUNT];
    leads_newsletter content;
};

void newsletter_free(newsletter *n)
{
    if (!n)
        return;
    for (int i = 0; i < S_COUNT; i++)
        buf_free(&n->part[i]);
    free(n);
}

const leads_newsletter *newsletter_content(const newsletter *n)
{
    return &n->content;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* drops whitespace-only lines at the start and whitespace at the end */
static void trim_section(buf *b)
{
    if (!b->data)
        return;
    const char *s = b->data, *end = s + b->len, *keep = s;
    for (const char *p = s; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (!is_blank(p, n))
            break;
        p += n + (eol ? 1 : 0);
        keep = p;
    }
    size_t len = (size_t)(end - keep);
    while (len > 0 && strchr(" \t\n", keep[len - 1]))
        len--;
    memmove(b->data, keep, len);
    b->len = len;
    b->data[len] = '\0';
}

static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* one line's bytes: UTF-8, no control characters but tabs; err says what and where */
static int check_line(const char *name, int line, const char *s, size_t len, buf *err)
{
    if (!text_utf8_valid(s, len)) {
        buf_printf(err, "%s:%d: not UTF-8 (save the file as UTF-8)", name, line);
        return PD_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            buf_printf(err, "%s:%d: a control character (byte 0x%02x) in column %zu", name, line, c,
                       i + 1);
            return PD_EINVAL;
        }
    }
    return PD_OK;
}

/* a section header "[name]" (trailing blanks allowed): its index, or PD_EINVAL with err */
static int section_of(const char *name, int line, const char *s, size_t len, buf *err)
{
    const char *close = memchr(s, ']', len);
    if (close && is_blank(close + 1, (size_t)(s + len - close - 1)))
        for (int i = 0; i < S_COUNT; i++)
            if ((size_t)(close - s - 1) == strlen(section_names[i]) &&
                memcmp(s + 1, section_names[i], strlen(section_names[i])) == 0)
                return i;
    buf_printf(err,
               "%s:%d: a line starting with \"[\" starts a section, and only [subject.de], "
               "[body.de], [subject.en] and [body.en] are known (indent a text line that starts "
               "with \"[\" by a space)",
               name, line);
    return PD_EINVAL;
}

static void content_hash(newsletter *n)
{
    static const char domain[] = "pharmdesk newsletter 1";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, LSTORE_HASH);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof domain);
    for (int i = 0; i < S_COUNT; i++)
        crypto_generichash_update(&st, (const unsigned char *)buf_cstr(&n->part[i]),
                                  n->part[i].len + 1);
    crypto_generichash_final(&st, n->content.hash, LSTORE_HASH);
}

int newsletter_parse(const char *name, const char *text, size_t len, newsletter **out, buf *err)
{
    newsletter *n = pd_xcalloc(1, sizeof *n);
    int head[S_COUNT] = {0}, subject_line[S_COUNT] = {0}, cur = -1, line = 0, ret = PD_EINVAL;
    const char *s = text, *end = text + len;
    *out = NULL;
    if (len > NEWSLETTER_FILE_MAX) {
        buf_printf(err, "%s: larger than %d KiB", name, NEWSLETTER_FILE_MAX / 1024);
        ret = PD_ETOOBIG;
        goto out;
    }
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n_ = eol ? (size_t)(eol - s) : (size_t)(end - s);
        const char *next = s + n_ + (eol ? 1 : 0);
        line++;
        if (n_ > 0 && s[n_ - 1] == '\r')
            n_--;
        if (check_line(name, line, s, n_, err) != PD_OK)
            goto out;
        if (n_ > 0 && s[0] == '[') {
            if ((cur = section_of(name, line, s, n_, err)) < 0)
                goto out;
            if (head[cur]) {
                buf_printf(err, "%s:%d: [%s] appears twice (first on line %d)", name, line,
                           section_names[cur], head[cur]);
                goto out;
            }
            head[cur] = line;
        } else if (cur < 0) {
            if (!is_blank(s, n_) && s[0] != '#') {
                buf_printf(err, "%s:%d: text before the first section (start with [subject.de])",
                           name, line);
                goto out;
            }
        } else if (cur == S_SUBJECT_DE || cur == S_SUBJECT_EN) {
            if (!is_blank(s, n_) && subject_line[cur]) {
                buf_printf(err, "%s:%d: a subject is one line ([%s] has another on line %d)", name,
                           line, section_names[cur], subject_line[cur]);
                goto out;
            }
            if (!is_blank(s, n_)) {
                if (memchr(s, '\t', n_)) {
                    buf_printf(err, "%s:%d: a tab in the subject", name, line);
                    goto out;
                }
                subject_line[cur] = line;
                buf_append(&n->part[cur], s, n_);
            }
        } else {
            if (n->part[cur].len + n_ + 1 > NEWSLETTER_BODY_MAX) {
                buf_printf(err, "%s:%d: [%s] is longer than %d KiB", name, line, section_names[cur],
                           NEWSLETTER_BODY_MAX / 1024);
                ret = PD_ETOOBIG;
                goto out;
            }
            buf_append(&n->part[cur], s, n_);
            buf_putc(&n->part[cur], '\n');
        }
        s = next;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (!head[i]) {
            buf_printf(err,
                       "%s: [%s] is missing: a newsletter needs [subject.de], [body.de], "
                       "[subject.en] and [body.en] (each lead gets its own language)",
                       name, section_names[i]);
            goto out;
        }
        trim_section(&n->part[i]);
        if (n->part[i].len == 0) {
            buf_printf(err, "%s:%d: [%s] is empty", name, head[i], section_names[i]);
            goto out;
        }
        size_t chars = code_points(buf_cstr(&n->part[i]), n->part[i].len);
        if ((i == S_SUBJECT_DE || i == S_SUBJECT_EN) && chars > NEWSLETTER_SUBJECT_MAX) {
            buf_printf(err, "%s:%d: the subject has %zu characters, at most %d are allowed", name,
                       subject_line[i], chars, NEWSLETTER_SUBJECT_MAX);
            goto out;
        }
    }
    content_hash(n);
    for (int l = 0; l < 2; l++) {
        n->content.subject[l] = buf_cstr(&n->part[2 * l]);
        n->content.body[l] = buf_cstr(&n->part[2 * l + 1]);
    }
    *out = n;
    n = NULL;
    ret = PD_OK;
out:
    newsletter_free(n);
    return ret;
}

int newsletter_load(const char *path, newsletter **out, buf *err)
{
    buf data = BUF_INIT;
    *out = NULL;
    int ret = buf_read_file(&data, path, NEWSLETTER_FILE_MAX);
    if (ret == PD_ETOOBIG)
        buf_printf(err, "%s: larger than %d KiB", path, NEWSLETTER_FILE_MAX / 1024);
    else if (ret != PD_OK)
        buf_printf(err, "%s: cannot read: %s", path, strerror(errno));
    else
        ret = newsletter_parse(path, buf_cstr(&data), data.len, out, err);
    buf_free(&data);
    return ret;
}
