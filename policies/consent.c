#include "consent.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"
#include "text.h"

#define CONSENT_MAX 64 /* texts over both languages; versions are few */

static const char *const purposes[] = {"handoff", "newsletter", "back_in_stock"};
static const char *const langs[] = {"de", "en"};

struct consent_set {
    consent_text t[CONSENT_MAX];
    size_t n;
    /* index of the current (last listed) text per purpose and language */
    int current[PD_ARRAY_LEN(purposes)][PD_ARRAY_LEN(langs)];
};

static int purpose_index(const char *p)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(purposes); i++)
        if (strcmp(purposes[i], p) == 0)
            return (int)i;
    return -1;
}

static int lang_index(const char *l)
{
    return l && strcmp(l, "en") == 0 ? 1 : 0;
}

/* lines of a text are joined with one space: the file wraps for reading, the text is one
 * paragraph; {pharmacy_name} is replaced */
static char *render(const char *raw, size_t len, const char *pharmacy_name, int ticket_days)
{
    char days[16];
    snprintf(days, sizeof days, "%d", ticket_days);
    buf out = {0};
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = raw[i];
        if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') {
            space = out.len > 0;
            continue;
        }
        if (space)
            buf_putc(&out, ' ');
        space = 0;
        static const char ph[] = "{pharmacy_name}", td[] = "{ticket_days}";
        if (ch == '{' && len - i >= sizeof ph - 1 && memcmp(raw + i, ph, sizeof ph - 1) == 0) {
            buf_puts(&out, pharmacy_name);
            i += sizeof ph - 2;
            continue;
        }
        if (ch == '{' && len - i >= sizeof td - 1 && memcmp(raw + i, td, sizeof td - 1) == 0) {
            buf_puts(&out, days);
            i += sizeof td - 2;
            continue;
        }
        buf_putc(&out, ch);
    }
    return buf_steal(&out);
}

static int add_text(consent_set *c, const char *path, int line, const char *lang,
                    const char *purpose, const char *version, const char *raw, size_t len,
                    const char *pharmacy_name, int ticket_days, buf *err)
{
    int p = purpose_index(purpose);
    if (p < 0) {
        buf_printf(err, "%s:%d: unknown purpose \"%s\" (handoff, newsletter, back_in_stock)", path,
                   line, purpose);
        return PD_EINVAL;
    }
    if (c->n == CONSENT_MAX) {
        buf_printf(err, "%s:%d: more than %d consent texts", path, line, CONSENT_MAX);
        return PD_EINVAL;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->t[i].version, version) == 0 && strcmp(c->t[i].lang, lang) == 0) {
            buf_printf(err, "%s:%d: version \"%s\" appears twice", path, line, version);
            return PD_EINVAL;
        }
    char *text = render(raw, len, pharmacy_name, ticket_days);
    if (!*text) {
        free(text);
        buf_printf(err, "%s:%d: the text of \"%s\" is empty", path, line, version);
        return PD_EINVAL;
    }
    consent_text *t = &c->t[c->n];
    t->purpose = purposes[p];
    t->lang = langs[lang_index(lang)];
    t->version = pd_xstrdup(version);
    t->text = text;
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
    sodium_bin2hex(t->hash, sizeof t->hash, h, sizeof h);
    c->current[p][lang_index(lang)] = (int)c->n;
    c->n++;
    return PD_OK;
}

static int is_version(const char *v, size_t n)
{
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] >= 'a' && v[i] <= 'z') && !(v[i] >= '0' && v[i] <= '9') && v[i] != '-' &&
            v[i] != '_' && v[i] != '.')
            return 0;
    return 1;
}

static int load_lang(consent_set *c, const char *dir, const char *lang, const char *pharmacy_name,
                     int ticket_days, buf *err)
{
    buf path = {0}, data = {0};
    int ret;
    buf_printf(&path, "%s/consent.%s.txt", dir, lang);
    if ((ret = buf_read_file(&data, buf_cstr(&path), 0)) != PD_OK) {
        buf_printf(err, "%s: cannot read: %s", buf_cstr(&path), strerror(errno));
        goto cleanup;
    }
    if (!text_utf8_valid(data.data ? data.data : "", data.len)) {
        buf_printf(err, "%s: not UTF-8", buf_cstr(&path));
        ret = PD_EINVAL;
        goto cleanup;
    }
    const char *s = buf_cstr(&data), *end = s + data.len;
    char purpose[32] = "", version[48] = "";
    const char *body = NULL;
    int line = 0, head_line = 0;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol)
            eol = end;
        line++;
        if (*s == '[') {
            if (body &&
                (ret = add_text(c, buf_cstr(&path), head_line, lang, purpose, version, body,
                                (size_t)(s - body), pharmacy_name, ticket_days, err)) != PD_OK)
                goto cleanup;
            const char *close = memchr(s, ']', (size_t)(eol - s));
            const char *sp = memchr(s, ' ', (size_t)(eol - s));
            if (!close || !sp || sp > close || (size_t)(sp - s - 1) >= sizeof purpose ||
                !is_version(sp + 1, (size_t)(close - sp - 1))) {
                buf_printf(err, "%s:%d: expected \"[purpose version]\"", buf_cstr(&path), line);
                ret = PD_EINVAL;
                goto cleanup;
            }
            memcpy(purpose, s + 1, (size_t)(sp - s - 1));
            purpose[sp - s - 1] = 0;
            memcpy(version, sp + 1, (size_t)(close - sp - 1));
            version[close - sp - 1] = 0;
            body = eol < end ? eol + 1 : end;
            head_line = line;
        } else if (*s == '#' && !body) {
            /* comments only before the first text: in a text, a line is text */
        } else if (!body && eol > s) {
            buf_printf(err, "%s:%d: text before the first \"[purpose version]\"", buf_cstr(&path),
                       line);
            ret = PD_EINVAL;
            goto cleanup;
        }
        s = eol < end ? eol + 1 : end;
    }
    if (body && (ret = add_text(c, buf_cstr(&path), head_line, lang, purpose, version, body,
                                (size_t)(end - body), pharmacy_name, ticket_days, err)) != PD_OK)
        goto cleanup;
    ret = PD_OK;
cleanup:
    buf_free(&path);
    buf_free(&data);
    return ret;
}

int consent_load(const char *dir, const char *pharmacy_name, int ticket_days, consent_set **out,
                 buf *err)
{
    consent_set *c = pd_xcalloc(1, sizeof *c);
    int ret;
    for (size_t p = 0; p < PD_ARRAY_LEN(purposes); p++)
        for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++)
            c->current[p][l] = -1;
    for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++)
        if ((ret = load_lang(c, dir, langs[l], pharmacy_name ? pharmacy_name : "", ticket_days,
                             err)) != PD_OK)
            goto fail;
    for (size_t p = 0; p < PD_ARRAY_LEN(purposes); p++)
        for (size_t l = 0; l < PD_ARRAY_LEN(langs); l++)
            if (c->current[p][l] < 0) {
                buf_printf(err, "%s/consent.%s.txt: no text for \"%s\"", dir, langs[l],
                           purposes[p]);
                ret = PD_EINVAL;
                goto fail;
            }
    /* every version in both languages, and the current one the same in both */
    for (size_t i = 0; i < c->n; i++)
        if (!consent_find(c, c->t[i].purpose, c->t[i].version,
                          c->t[i].lang[0] == 'd' ? "en" : "de")) {
            buf_printf(err, "%s: version \"%s\" of \"%s\" exists in one language only", dir,
                       c->t[i].version, c->t[i].purpose);
            ret = PD_EINVAL;
            goto fail;
        }
    for (size_t p = 0; p < PD_ARRAY_LEN(purposes); p++)
        if (strcmp(c->t[c->current[p][0]].version, c->t[c->current[p][1]].version) != 0) {
            buf_printf(err, "%s: the current \"%s\" text differs between the languages (%s, %s)",
                       dir, purposes[p], c->t[c->current[p][0]].version,
                       c->t[c->current[p][1]].version);
            ret = PD_EINVAL;
            goto fail;
        }
    *out = c;
    return PD_OK;
fail:
    consent_free(c);
    return ret;
}

void consent_free(consent_set *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free((char *)c->t[i].version);
        free((char *)c->t[i].text);
    }
    free(c);
}

const consent_text *consent_current(const consent_set *c, const char *purpose, const char *lang)
{
    int p = purpose ? purpose_index(purpose) : -1;
    if (p < 0)
        return NULL;
    return &c->t[c->current[p][lang_index(lang)]];
}

const consent_text *consent_find(const consent_set *c, const char *purpose, const char *version,
                                 const char *lang)
{
    if (!purpose || !version)
        return NULL;
    const char *l = langs[lang_index(lang)];
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->t[i].purpose, purpose) == 0 && strcmp(c->t[i].version, version) == 0 &&
            strcmp(c->t[i].lang, l) == 0)
            return &c->t[i];
    return NULL;
}
