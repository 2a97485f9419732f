#include "web.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leads.h"
#include "pd.h"
#include "webassets.h"

#define LANGS 2 /* 0 German, 1 English */
#define MAX_VARS 40

static const char *const lang_code[LANGS] = {"de", "en"};

static const struct {
    const char *tmpl;
    const char *flag; /* a variable set to "1" for this page, or NULL */
} pages[WEB_NPAGES] = {
    [WEB_INDEX] = {"pages/index.html", NULL},
    [WEB_WIDGET] = {"pages/index.html", "embed"},
    [WEB_STAFF] = {"pages/staff.html", NULL},
    [WEB_PRIVACY] = {"pages/privacy.html", NULL},
    [WEB_LEAD_CONFIRM] = {"pages/lead.html", "confirm"},
    [WEB_LEAD_WITHDRAW] = {"pages/lead.html", "withdraw"},
    [WEB_DATA_CONFIRM] = {"pages/data.html", NULL},
};

typedef struct rendered {
    char *data;
    size_t len;
    char etag[40];
} rendered;

struct web {
    cJSON *texts[LANGS];
    rendered page[WEB_NPAGES][LANGS];
};

/* ---- assets ------------------------------------------------------------------------------ */

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < PD_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static const web_asset *asset_find(const char *path)
{
    for (size_t i = 0; i < web_nassets; i++)
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    return NULL;
}

int web_asset_get(const char *path, web_doc *out)
{
    const web_asset *a = strncmp(path, "pages/", 6) == 0 ? NULL : asset_find(path);
    if (!a)
        return PD_ENOTFOUND;
    out->data = (const char *)a->data;
    out->len = a->len;
    out->etag = a->etag;
    out->content_type = content_type(path);
    return PD_OK;
}

/* ---- templates ---------------------------------------------------------------------------- */

typedef struct rctx {
    const cJSON *texts;
    const web_var *vars;
    size_t nvars;
    buf *err;
} rctx;

static void escape(buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            buf_puts(out, "&amp;");
            break;
        case '<':
            buf_puts(out, "&lt;");
            break;
        case '>':
            buf_puts(out, "&gt;");
            break;
        case '"':
            buf_puts(out, "&quot;");
            break;
        case '\'':
            buf_puts(out, "&#39;");
            break;
        default:
            buf_putc(out, s[i]);
        }
    }
}

static const char *var_get(const rctx *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nvars; i++)
        if (strlen(r->vars[i].name) == n && memcmp(r->vars[i].name, name, n) == 0)
            return r->vars[i].value;
    buf_printf(r->err, "unknown variable '%.*s'", (int)(n > 60 ? 60 : n), name);
    return NULL;
}

/* a text by its dotted key, or NULL (err set) */
static const char *text_get(const rctx *r, const char *key, size_t n)
{
    const cJSON *node = r->texts;
    const char *p = key, *end = key + n;
    while (node && p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t seg = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char name[64];
        if (seg == 0 || seg >= sizeof name) {
            node = NULL;
            break;
        }
        memcpy(name, p, seg);
        name[seg] = '\0';
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, name) : NULL;
        p += seg + (dot ? 1 : 0);
    }
    if (!cJSON_IsString(node)) {
        buf_printf(r->err, "unknown text '%.*s'", (int)(n > 60 ? 60 : n), key);
        return NULL;
    }
    return node->valuestring;
}

/* a text with its {name} variables, all escaped */
static int expand_text(const rctx *r, const char *text, buf *out)
{
    const char *p = text;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open) {
            escape(out, p, strlen(p));
            break;
        }
        const char *close = strchr(open, '}');
        if (!close) {
            buf_printf(r->err, "unclosed '{' in the text '%.40s'", text);
            return PD_EINVAL;
        }
        escape(out, p, (size_t)(open - p));
        const char *v = var_get(r, open + 1, (size_t)(close - open - 1));
        if (!v)
            return PD_EINVAL;
        escape(out, v, strlen(v));
        p = close + 1;
    }
    return PD_OK;
}

static int tag_ok(const char *s, size_t n)
{
    if (n == 0 || n > 80)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '.'))
            return 0;
    return 1;
}

static const char *find_in(const char *s, const char *e, const char *needle)
{
    size_t n = strlen(needle);
    for (; s + n <= e; s++)
        if (memcmp(s, needle, n) == 0)
            return s;
    return NULL;
}

static int render_range(const rctx *r, const char *s, const char *e, buf *out)
{
    while (s < e) {
        const char *open = find_in(s, e, "{{");
        if (!open) {
            buf_append(out, s, (size_t)(e - s));
            break;
        }
        buf_append(out, s, (size_t)(open - s));
        const char *close = find_in(open + 2, e, "}}");
        if (!close) {
            buf_puts(r->err, "'{{' without '}}'");
            return PD_EINVAL;
        }
        const char *tag = open + 2;
        size_t tn = (size_t)(close - tag);
        char kind = *tag;
        const char *name = kind == '=' || kind == '#' || kind == '^' || kind == '/' ? tag + 1 : tag;
        size_t nn = tn - (size_t)(name - tag);
        s = close + 2;
        if (!tag_ok(name, nn)) {
            buf_printf(r->err, "bad tag '{{%.*s}}'", (int)(tn > 60 ? 60 : tn), tag);
            return PD_EINVAL;
        }
        if (kind == '=') {
            const char *v = var_get(r, name, nn);
            if (!v)
                return PD_EINVAL;
            escape(out, v, strlen(v));
        } else if (kind == '#' || kind == '^') {
            char marker[96];
            snprintf(marker, sizeof marker, "{{/%.*s}}", (int)nn, name);
            const char *end = find_in(s, e, marker);
            const char *v = var_get(r, name, nn);
            if (!v)
                return PD_EINVAL;
            if (!end) {
                buf_printf(r->err, "'{{%c%.*s}}' without '%s'", kind, (int)nn, name, marker);
                return PD_EINVAL;
            }
            if ((*v != '\0') == (kind == '#') && render_range(r, s, end, out) != PD_OK)
                return PD_EINVAL;
            s = end + strlen(marker);
        } else if (kind == '/') {
            buf_printf(r->err, "'{{/%.*s}}' without its opening tag", (int)nn, name);
            return PD_EINVAL;
        } else {
            const char *t = text_get(r, name, nn);
            if (!t || expand_text(r, t, out) != PD_OK)
                return PD_EINVAL;
        }
    }
    return PD_OK;
}

static int lang_index(const char *lang)
{
    return lang && strcmp(lang, "en") == 0 ? 1 : 0;
}

int web_render(const web *w, const char *tmpl, const char *lang, const web_var *vars, size_t nvars,
               buf *out, buf *err)
{
    rctx r = {w->texts[lang_index(lang)], vars, nvars, err};
    return render_range(&r, tmpl, tmpl + strlen(tmpl), out);
}

/* ---- texts -------------------------------------------------------------------------------- */

/* every key of a is in b with the same kind (object or text); path names the first that is not */
static int same_keys(const cJSON *a, const cJSON *b, buf *path)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        size_t mark = path->len;
        buf_printf(path, "%s%s", mark ? "." : "", it->string);
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(b, it->string);
        if (cJSON_IsObject(it) ? !cJSON_IsObject(other) || !same_keys(it, other, path)
                               : !cJSON_IsString(it) || !cJSON_IsString(other))
            return 0;
        path->len = mark;
        path->data[mark] = '\0';
    }
    return 1;
}

static int load_texts(web *w, buf *err)
{
    for (int l = 0; l < LANGS; l++) {
        char path[32];
        snprintf(path, sizeof path, "i18n/%s.json", lang_code[l]);
        const web_asset *a = asset_find(path);
        if (!a || !(w->texts[l] = cJSON_ParseWithLength((const char *)a->data, a->len)) ||
            !cJSON_IsObject(w->texts[l])) {
            buf_printf(err, "web/%s is missing or not a JSON object", path);
            return PD_EINVAL;
        }
    }
    for (int l = 0; l < LANGS; l++) {
        buf path = BUF_INIT;
        int ok = same_keys(w->texts[l], w->texts[1 - l], &path);
        if (!ok)
            buf_printf(err,
                       "web/i18n: the text '%s' of %s.json is missing or not a text in %s.json",
                       buf_cstr(&path), lang_code[l], lang_code[1 - l]);
        buf_free(&path);
        if (!ok)
            return PD_EINVAL;
    }
    return PD_OK;
}

/* ---- pages -------------------------------------------------------------------------------- */

/* a phone number for tel: links: the digits, and a leading + */
static void tel(const char *phone, buf *out)
{
    for (const char *p = phone; *p; p++)
        if ((*p >= '0' && *p <= '9') || (*p == '+' && out->len == 0))
            buf_putc(out, *p);
}

typedef struct page_vars {
    web_var v[MAX_VARS];
    size_t n;
    buf owned[8];
    int nowned;
} page_vars;

static void pv_set(page_vars *pv, const char *name, const char *value)
{
    for (size_t i = 0; i < pv->n; i++)
        if (strcmp(pv->v[i].name, name) == 0) {
            pv->v[i].value = value;
            return;
        }
    if (pv->n == MAX_VARS)
        abort(); /* a programming error: MAX_VARS is sized for base_vars */
    pv->v[pv->n++] = (web_var){name, value};
}

static buf *pv_buf(page_vars *pv)
{
    if (pv->nowned == (int)PD_ARRAY_LEN(pv->owned))
        abort(); /* a programming error: owned[] is sized for base_vars */
    return &pv->owned[pv->nowned++];
}

static void pv_int(page_vars *pv, const char *name, int v)
{
    buf *b = pv_buf(pv);
    buf_printf(b, "%d", v);
    pv_set(pv, name, buf_cstr(b));
}

static void pv_free(page_vars *pv)
{
    for (int i = 0; i < pv->nowned; i++)
        buf_free(&pv->owned[i]);
}

static void base_vars(const web *w, const config *cfg, int l, page_vars *pv)
{
    const cJSON *other = cJSON_GetObjectItemCaseSensitive(w->texts[1 - l], "common");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(other, "language_name");
    buf *hours = pv_buf(pv), *ptel = pv_buf(pv), *poison = pv_buf(pv);
    config_hours_text(cfg, lang_code[l], hours);
    tel(cfg->pharmacy.phone, ptel);
    tel(cfg->poison_control.phone, poison);
    pv_set(pv, "lang", lang_code[l]);
    pv_set(pv, "other_lang", lang_code[1 - l]);
    pv_set(pv, "other_lang_name", cJSON_IsString(name) ? name->valuestring : lang_code[1 - l]);
    pv_set(pv, "pharmacy_name", cfg->pharmacy.name);
    pv_set(pv, "pharmacy_address", cfg->pharmacy.address);
    pv_set(pv, "pharmacy_phone", cfg->pharmacy.phone);
    pv_set(pv, "pharmacy_tel", buf_cstr(ptel));
    pv_set(pv, "pharmacy_email", cfg->pharmacy.email);
    pv_set(pv, "pharmacy_website", cfg->pharmacy.website);
    pv_set(pv, "hours", buf_cstr(hours));
    pv_set(pv, "emergency_url", cfg->emergency_service_url);
    pv_set(pv, "poison_name", cfg->poison_control.name);
    pv_set(pv, "poison_phone", cfg->poison_control.phone);
    pv_set(pv, "poison_tel", buf_cstr(poison));
    pv_set(pv, "privacy_name", cfg->privacy_contact.name);
    pv_set(pv, "privacy_email", cfg->privacy_contact.email);
    pv_set(pv, "privacy_address", cfg->privacy_contact.address);
    pv_set(pv, "controller",
           *cfg->privacy.controller ? cfg->privacy.controller : cfg->pharmacy.name);
    pv_set(pv, "supervisory_authority", cfg->privacy.supervisory_authority);
    /* the periods the code deletes after, so the notice cannot drift from them */
    pv_int(pv, "handoff_days", cfg->retention.ticket_days);
    pv_int(pv, "signup_days", LEADS_UNCONFIRMED_DAYS);
    pv_int(pv, "link_hours", LEADS_CONFIRM_HOURS);
    pv_int(pv, "audit_days", cfg->retention.audit_days);
    for (int p = 0; p < WEB_NPAGES; p++)
        if (pages[p].flag)
            pv_set(pv, pages[p].flag, "");
}

static int render_page(web *w, const config *cfg, int p, int l, buf *err)
{
    page_vars pv = {0};
    buf out = BUF_INIT, why = BUF_INIT;
    int ret = PD_OK;
    const web_asset *a = asset_find(pages[p].tmpl);
    if (!a) {
        buf_printf(err, "web/%s is missing", pages[p].tmpl);
        ret = PD_EINVAL;
        goto out;
    }
    base_vars(w, cfg, l, &pv);
    if (pages[p].flag)
        pv_set(&pv, pages[p].flag, "1");
    if ((ret = web_render(w, (const char *)a->data, lang_code[l], pv.v, pv.n, &out, &why)) !=
        PD_OK) {
        buf_printf(err, "web/%s (%s): %s", pages[p].tmpl, lang_code[l], buf_cstr(&why));
        goto out;
    }
    rendered *r = &w->page[p][l];
    unsigned char h[10];
    crypto_generichash(h, sizeof h, (const unsigned char *)buf_cstr(&out), out.len, NULL, 0);
    char hex[sizeof h * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(r->etag, sizeof r->etag, "\"%s\"", hex);
    r->len = out.len;
    r->data = buf_steal(&out);
out:
    pv_free(&pv);
    buf_free(&out);
    buf_free(&why);
    return ret;
}

int web_open(const config *cfg, web **out, buf *err)
{
    if (sodium_init() < 0) {
        buf_puts(err, "libsodium cannot start");
        return PD_EIO;
    }
    web *w = pd_xcalloc(1, sizeof *w);
    int ret = load_texts(w, err);
    for (int p = 0; ret == PD_OK && p < WEB_NPAGES; p++)
        for (int l = 0; ret == PD_OK && l < LANGS; l++)
            ret = render_page(w, cfg, p, l, err);
    if (ret != PD_OK) {
        web_free(w);
        return ret;
    }
    *out = w;
    return PD_OK;
}

void web_free(web *w)
{
    if (!w)
        return;
    for (int l = 0; l < LANGS; l++) {
        cJSON_Delete(w->texts[l]);
        for (int p = 0; p < WEB_NPAGES; p++)
            free(w->page[p][l].data);
    }
    free(w);
}

void web_page_get(const web *w, enum web_page page, const char *lang, web_doc *out)
{
    const rendered *r = &w->page[page][lang_index(lang)];
    *out = (web_doc){r->data, r->len, r->etag, "text/html; charset=utf-8"};
}
