#include "mailtext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"
#include "text.h"

#define MAILTEXT_MAX 64

static const char *const langs[] = {"de", "en"};

/* every key the code renders; a file must have all of them */
static const char *const required[] = {
    "lead_confirm.subject",     "lead_confirm.body",     "purpose.newsletter",
    "purpose.back_in_stock",    "back_in_stock.subject", "back_in_stock.body",
    "back_in_stock_rx.subject", "back_in_stock_rx.body", "lead.footer",
    "data_export.subject",      "data_export.body",      "data_erasure.subject",
    "data_erasure.body",        "data.footer",           "newsletter.footer",
};

static const char *const placeholders[] = {
    "pharmacy_name", "pharmacy_address", "pharmacy_phone", "confirm_url", "withdraw_url",
    "data_url",      "purpose",          "product",        "pzn",         "price",
    "hours",         "number",           "note",
};

struct mailtext {
    struct {
        char *key, *text;
    } t[PD_ARRAY_LEN(langs)][MAILTEXT_MAX];
    size_t n[PD_ARRAY_LEN(langs)];
};

/* every {name} in text must be a known placeholder */
static int check_placeholders(const char *text, const char **bad, size_t *badlen)
{
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        size_t n = close ? (size_t)(close - p - 1) : strlen(p + 1);
        int known = 0;
        for (size_t i = 0; close && i < PD_ARRAY_LEN(placeholders); i++)
            known |= strlen(placeholders[i]) == n && memcmp(placeholders[i], p + 1, n) == 0;
        if (!known) {
            *bad = p;
            *badlen = n + 1 > 30 ? 30 : n + 1;
            return 0;
        }
    }
    return 1;
}

/* the text between a header line and the next: blank lines at both ends removed */
static int add(mailtext *m, size_t l, const char *path, int line, const char *key, const char *s,
               const char *e, buf *err)
{
    while (s < e && (*s == '\n' || *s == '\r'))
        s++;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
        e--;
    if (s == e) {
        buf_printf(err, "%s:%d: the text of [%s] is empty", path, line, key);
        return PD_EINVAL;
    }
    for (size_t i = 0; i < m->n[l]; i++)
        if (strcmp(m->t[l][i].key, key) == 0) {
            buf_printf(err, "%s:%d: [%s] appears twice", path, line, key);
            return PD_EINVAL;
        }
    if (m->n[l] == MAILTEXT_MAX) {
        buf_printf(err, "%s:%d: more than %d texts", path, line, MAILTEXT_MAX);
        return PD_EINVAL;
    }
    buf text = BUF_INIT;
    for (const char *p = s; p < e; p++)
        if (*p != '\r')
            buf_putc(&text, *p);
    const char *bad;
    size_t badlen;
    if (!check_placeholders(buf_cstr(&text), &bad, &badlen)) {
        buf_printf(err, "%s:%d: [%s] uses an unknown placeholder %.*s", path, line, key,
                   (int)badlen, bad);
        buf_free(&text);
        return PD_EINVAL;
    }
    m->t[l][m->n[l]].key = pd_xstrdup(key);
    m->t[l][m->n[l]].text = buf_steal(&text);
    m->n[l]++;
    return PD_OK;
}

static const char *lookup(const mailtext *m, const char *key, size_t l);

static int load_lang(mailtext *m, size_t l, const char *dir, buf *err)
{
    buf path = BUF_INIT, data = BUF_INIT;
    char key[64] = "";
    const char *body = NULL;
    int line = 0, head = 0, ret;
    buf_printf(&path, "%s/mails.%s.txt", dir, langs[l]);
    if ((ret = buf_read_file(&data, buf_cstr(&path), 0)) != PD_OK) {
        buf_printf(err, "%s: cannot read: %s", buf_cstr(&path), strerror(errno));
        goto out;
    }
    if (!text_utf8_valid(buf_cstr(&data), data.len)) {
        buf_printf(err, "%s: not UTF-8", buf_cstr(&path));
        ret = PD_EINVAL;
        goto out;
    }
    const char *s = buf_cstr(&data), *end = s + data.len;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol)
            eol = end;
        line++;
        if (*s == '[') {
            if (body && (ret = add(m, l, buf_cstr(&path), head, key, body, s, err)) != PD_OK)
                goto out;
            const char *close = memchr(s, ']', (size_t)(eol - s));
            size_t kl = close ? (size_t)(close - s - 1) : 0;
            if (!close || kl == 0 || kl >= sizeof key ||
                strspn(s + 1, "abcdefghijklmnopqrstuvwxyz"
                              "0123456789_.") != kl) {
                buf_printf(err, "%s:%d: expected \"[key]\"", buf_cstr(&path), line);
                ret = PD_EINVAL;
                goto out;
            }
            memcpy(key, s + 1, kl);
            key[kl] = '\0';
            body = eol < end ? eol + 1 : end;
            head = line;
        } else if (!body && *s != '#' && eol > s) {
            buf_printf(err, "%s:%d: text before the first \"[key]\"", buf_cstr(&path), line);
            ret = PD_EINVAL;
            goto out;
        }
        s = eol < end ? eol + 1 : end;
    }
    if (body && (ret = add(m, l, buf_cstr(&path), head, key, body, end, err)) != PD_OK)
        goto out;
    for (size_t i = 0; i < PD_ARRAY_LEN(required); i++)
        if (!lookup(m, required[i], l)) {
            buf_printf(err, "%s: the text [%s] is missing", buf_cstr(&path), required[i]);
            ret = PD_EINVAL;
            goto out;
        }
    ret = PD_OK;
out:
    buf_free(&path);
    buf_free(&data);
    return ret;
}

int mailtext_load(const char *dir, mailtext **out, buf *err)
{
    mailtext *m = pd_xcalloc(1, sizeof *m);
    *out = NULL;
    for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++) {
        int ret = load_lang(m, l, dir, err);
        if (ret != PD_OK) {
            mailtext_free(m);
            return ret;
        }
    }
    *out = m;
    return PD_OK;
}

void mailtext_free(mailtext *m)
{
    if (!m)
        return;
    for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++)
        for (size_t i = 0; i < m->n[l]; i++) {
            free(m->t[l][i].key);
            free(m->t[l][i].text);
        }
    free(m);
}

static const char *lookup(const mailtext *m, const char *key, size_t l)
{
    for (size_t i = 0; i < m->n[l]; i++)
        if (strcmp(m->t[l][i].key, key) == 0)
            return m->t[l][i].text;
    return NULL;
}

const char *mailtext_get(const mailtext *m, const char *key, const char *lang)
{
    const char *t = lookup(m, key, lang && strcmp(lang, "en") == 0 ? 1 : 0);
    return t ? t : lookup(m, key, 0);
}

void mailtext_render(const mailtext *m, const char *key, const char *lang, const mailtext_var *vars,
                     size_t nvars, buf *out)
{
    const char *t = mailtext_get(m, key, lang);
    for (const char *p = t ? t : ""; *p; p++) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        size_t i = nvars;
        if (close)
            for (i = 0; i < nvars; i++)
                if (strlen(vars[i].name) == (size_t)(close - p - 1) &&
                    memcmp(vars[i].name, p + 1, (size_t)(close - p - 1)) == 0)
                    break;
        if (close && i < nvars) {
            buf_puts(out, vars[i].value ? vars[i].value : "");
            p = close;
        } else if (close) {
            p = close; /* a known placeholder this mail does not fill */
        } else {
            buf_putc(out, *p);
        }
    }
}
