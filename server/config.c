#include "config.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd.h"
#include "text.h"

#ifndef PD_POLICIES_DIR
#define PD_POLICIES_DIR "policies" /* the build sets the source tree's folder */
#endif

const char *const config_weekdays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

enum ctype { CT_STR, CT_INT, CT_BOOL, CT_LIST, CT_HOURS };
typedef int (*validator)(const char *v, buf *why);

typedef struct key_def {
    const char *path;
    enum ctype type;
    size_t off;
    const char *def_str; /* CT_STR, CT_HOURS ("08:00-18:30,..."), CT_LIST (comma-separated) */
    long def_int, min, max;
    validator check;
} key_def;

static int v_nonempty(const char *v, buf *why);
static int v_listen(const char *v, buf *why);
static int v_phone(const char *v, buf *why);
static int v_email(const char *v, buf *why);
static int v_https_url(const char *v, buf *why);
static int v_url_opt(const char *v, buf *why);
static int v_origin(const char *v, buf *why);
static int v_ip(const char *v, buf *why);
static int v_log_level(const char *v, buf *why);
static int v_base_url(const char *v, buf *why);

#define OFF(f) offsetof(config, f)
static const key_def keys[] = {
    {"listen", CT_STR, OFF(listen), "127.0.0.1:8080", 0, 0, 0, v_listen},
    {"threads", CT_INT, OFF(threads), NULL, 4, 1, 64, NULL},
    {"log_level", CT_STR, OFF(log_level), "info", 0, 0, 0, v_log_level},
    {"policies_dir", CT_STR, OFF(policies_dir), PD_POLICIES_DIR, 0, 0, 0, v_nonempty},
    {"pharmacy.name", CT_STR, OFF(pharmacy.name), "Apotheke am Markt (Demo)", 0, 0, 0, v_nonempty},
    {"pharmacy.address", CT_STR, OFF(pharmacy.address), "Marktplatz 1, 10115 Berlin", 0, 0, 0,
     v_nonempty},
    {"pharmacy.phone", CT_STR, OFF(pharmacy.phone), "030 1234567", 0, 0, 0, v_phone},
    {"pharmacy.email", CT_STR, OFF(pharmacy.email), "info@apotheke-am-markt.example", 0, 0, 0,
     v_email},
    {"pharmacy.website", CT_STR, OFF(pharmacy.website), "", 0, 0, 0, v_url_opt},
    {"opening_hours.mon", CT_HOURS, OFF(hours[0]), "08:00-18:30", 0, 0, 0, NULL},
    {"opening_hours.tue", CT_HOURS, OFF(hours[1]), "08:00-18:30", 0, 0, 0, NULL},
    {"opening_hours.wed", CT_HOURS, OFF(hours[2]), "08:00-13:00,14:00-18:30", 0, 0, 0, NULL},
    {"opening_hours.thu", CT_HOURS, OFF(hours[3]), "08:00-18:30", 0, 0, 0, NULL},
    {"opening_hours.fri", CT_HOURS, OFF(hours[4]), "08:00-18:30", 0, 0, 0, NULL},
    {"opening_hours.sat", CT_HOURS, OFF(hours[5]), "09:00-13:00", 0, 0, 0, NULL},
    {"opening_hours.sun", CT_HOURS, OFF(hours[6]), "", 0, 0, 0, NULL},
    {"emergency_service_url", CT_STR, OFF(emergency_service_url),
     "https://www.aponet.de/apotheke/notdienstsuche", 0, 0, 0, v_https_url},
    {"poison_control.name", CT_STR, OFF(poison_control.name), "Giftnotruf Berlin", 0, 0, 0,
     v_nonempty},
    {"poison_control.phone", CT_STR, OFF(poison_control.phone), "030 19240", 0, 0, 0, v_phone},
    {"privacy_contact.name", CT_STR, OFF(privacy_contact.name), "Datenschutzbeauftragte(r)", 0, 0,
     0, v_nonempty},
    {"privacy_contact.email", CT_STR, OFF(privacy_contact.email),
     "datenschutz@apotheke-am-markt.example", 0, 0, 0, v_email},
    {"privacy_contact.address", CT_STR, OFF(privacy_contact.address), "Marktplatz 1, 10115 Berlin",
     0, 0, 0, v_nonempty},
    {"allowed_origins", CT_LIST, OFF(allowed_origins), "", 0, 0, 0, v_origin},
    {"trusted_proxies", CT_LIST, OFF(trusted_proxies), "", 0, 0, 0, v_ip},
    {"rate_limit.inquiries_per_minute", CT_INT, OFF(rate_limit.inquiries_per_minute), NULL, 30, 0,
     100000, NULL},
    {"rate_limit.searches_per_minute", CT_INT, OFF(rate_limit.searches_per_minute), NULL, 120, 0,
     100000, NULL},
    {"rate_limit.order_lookups_per_client", CT_INT, OFF(rate_limit.order_lookups_per_client), NULL,
     10, 0, 100000, NULL},
    {"rate_limit.order_lookups_per_order", CT_INT, OFF(rate_limit.order_lookups_per_order), NULL, 5,
     0, 100000, NULL},
    {"rate_limit.order_lookup_window_s", CT_INT, OFF(rate_limit.order_lookup_window_s), NULL, 900,
     1, 86400, NULL},
    {"http.connection_timeout_s", CT_INT, OFF(http.connection_timeout_s), NULL, 30, 1, 600, NULL},
    {"http.max_connections", CT_INT, OFF(http.max_connections), NULL, 512, 4, 100000, NULL},
    {"http.per_ip_connections", CT_INT, OFF(http.per_ip_connections), NULL, 64, 1, 100000, NULL},
    {"http.cookie_secure", CT_BOOL, OFF(http.cookie_secure), NULL, 1, 0, 1, NULL},
    {"mail.sendmail", CT_STR, OFF(mail.sendmail), "", 0, 0, 0, NULL},
    {"mail.from", CT_STR, OFF(mail.from), "info@apotheke-am-markt.example", 0, 0, 0, v_email},
    {"mail.retry_initial_s", CT_INT, OFF(mail.retry_initial_s), NULL, 60, 1, 86400, NULL},
    {"mail.retry_max_s", CT_INT, OFF(mail.retry_max_s), NULL, 3600, 1, 604800, NULL},
    {"public_base_url", CT_STR, OFF(public_base_url), "http://127.0.0.1:8080", 0, 0, 0, v_base_url},
    {"leads.store_ip_hash", CT_BOOL, OFF(leads.store_ip_hash), NULL, 0, 0, 1, NULL},
    {"leads.mail_window_s", CT_INT, OFF(leads.mail_window_s), NULL, 600, 1, 86400, NULL},
    {"leads.mails_per_address", CT_INT, OFF(leads.mails_per_address), NULL, 1, 1, 100, NULL},
    {"rate_limit.leads_per_client", CT_INT, OFF(rate_limit.leads_per_client), NULL, 20, 0, 100000,
     NULL},
    {"privacy.controller", CT_STR, OFF(privacy.controller), "", 0, 0, 0, NULL},
    {"privacy.supervisory_authority", CT_STR, OFF(privacy.supervisory_authority),
     "Berliner Beauftragte für Datenschutz und Informationsfreiheit, Alt-Moabit 59–61, 10555 "
     "Berlin",
     0, 0, 0, v_nonempty},
    {"rate_limit.handoffs_per_hour", CT_INT, OFF(handoff_limits.handoffs_per_hour), NULL, 10, 0,
     100000, NULL},
    {"rate_limit.ticket_views_per_minute", CT_INT, OFF(handoff_limits.ticket_views_per_minute),
     NULL, 30, 0, 100000, NULL},
    {"rate_limit.logins_per_minute", CT_INT, OFF(handoff_limits.logins_per_minute), NULL, 10, 0,
     100000, NULL},
    {"staff.session_idle_s", CT_INT, OFF(staff.session_idle_s), NULL, 1800, 1, 86400, NULL},
    {"staff.session_max_s", CT_INT, OFF(staff.session_max_s), NULL, 43200, 1, 604800, NULL},
    {"staff.lockout_failures", CT_INT, OFF(staff.lockout_failures), NULL, 10, 1, 1000, NULL},
    {"staff.lockout_s", CT_INT, OFF(staff.lockout_s), NULL, 900, 1, 86400, NULL},
    {"staff.max_event_streams", CT_INT, OFF(staff.max_event_streams), NULL, 16, 1, 1000, NULL},
    {"staff.keepalive_s", CT_INT, OFF(staff.keepalive_s), NULL, 15, 1, 300, NULL},
    {"retention.ticket_days", CT_INT, OFF(retention.ticket_days), NULL, 30, 1, 3650, NULL},
    {"retention.audit_days", CT_INT, OFF(retention.audit_days), NULL, 1095, 30, 3650, NULL},
    {"retention.interval_s", CT_INT, OFF(retention.interval_s), NULL, 3600, 1, 86400, NULL},
};

static int v_nonempty(const char *v, buf *why)
{
    if (*v == '\0') {
        buf_puts(why, "must not be empty");
        return 0;
    }
    return 1;
}

static int split_host_port(const char *v, char **host, int *port)
{
    const char *colon;
    const char *h = v;
    size_t hl;
    if (v[0] == '[') {
        const char *end = strchr(v, ']');
        if (!end || end[1] != ':')
            return 0;
        h = v + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon)
            return 0;
        hl = (size_t)(colon - v);
    }
    char *endp;
    errno = 0;
    long p = strtol(colon + 1, &endp, 10);
    if (colon[1] == '\0' || *endp || errno || p < 0 || p > 65535 || hl == 0 || hl > 64)
        return 0;
    char tmp[65];
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    unsigned char addr[16];
    if (strcmp(tmp, "localhost") != 0 && inet_pton(AF_INET, tmp, addr) != 1 &&
        inet_pton(AF_INET6, tmp, addr) != 1)
        return 0;
    if (host)
        *host = pd_xstrdup(strcmp(tmp, "localhost") == 0 ? "127.0.0.1" : tmp);
    if (port)
        *port = (int)p;
    return 1;
}

static int v_listen(const char *v, buf *why)
{
    if (!split_host_port(v, NULL, NULL)) {
        buf_puts(why, "must be HOST:PORT with an IP address (127.0.0.1:8080, [::1]:8080)");
        return 0;
    }
    return 1;
}

static int v_phone(const char *v, buf *why)
{
    int digits = 0;
    for (const char *p = v; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (!strchr(" +/-()", *p))
            digits = -1000;
    }
    if (digits < 3 || digits > 20) {
        buf_puts(why, "must be a phone number of digits, spaces and + / - ( )");
        return 0;
    }
    return 1;
}

static int v_email(const char *v, buf *why)
{
    const char *at = strchr(v, '@');
    if (!at || at == v || !strchr(at, '.') || strchr(at + 1, '@') || strpbrk(v, " <>,;\"") ||
        at[1] == '.' || v[strlen(v) - 1] == '.') {
        buf_puts(why, "must be an e-mail address like name@example.org");
        return 0;
    }
    return 1;
}

static int url_ok(const char *v, const char *scheme)
{
    size_t sl = strlen(scheme);
    if (strncmp(v, scheme, sl) != 0 || v[sl] == '\0' || v[sl] == '/')
        return 0;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return 0;
    return 1;
}

static int v_https_url(const char *v, buf *why)
{
    if (!url_ok(v, "https://")) {
        buf_puts(why, "must be an https:// address");
        return 0;
    }
    return 1;
}

static int v_url_opt(const char *v, buf *why)
{
    if (*v && !url_ok(v, "https://") && !url_ok(v, "http://")) {
        buf_puts(why, "must be empty or an http(s):// address");
        return 0;
    }
    return 1;
}

/* the address customers reach the site at: http(s)://host[:port][/path], no query, no
 * trailing slash (links are appended to it) */
static int v_base_url(const char *v, buf *why)
{
    size_t n = strlen(v);
    if ((!url_ok(v, "https://") && !url_ok(v, "http://")) || strpbrk(v, "?#'") || v[n - 1] == '/') {
        buf_puts(why, "must be an http(s):// address without a trailing slash, query or fragment "
                      "(https://www.example-apotheke.de)");
        return 0;
    }
    return 1;
}

static int v_origin(const char *v, buf *why)
{
    /* an origin is scheme://host[:port], nothing after it */
    const char *rest = strncmp(v, "https://", 8) == 0  ? v + 8
                       : strncmp(v, "http://", 7) == 0 ? v + 7
                                                       : NULL;
    int ok = rest && *rest && !strchr(rest, '/') && !strchr(rest, '?') && !strchr(rest, '#') &&
             !strchr(rest, '@');
    for (const char *p = v; ok && *p; p++)
        ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7F && *p != '*';
    if (!ok) {
        buf_puts(why, "must be an origin like https://www.example-apotheke.de (no path, no *)");
        return 0;
    }
    return 1;
}

static int v_ip(const char *v, buf *why)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1) {
        buf_puts(why, "must be an IPv4 or IPv6 address");
        return 0;
    }
    return 1;
}

static int v_log_level(const char *v, buf *why)
{
    if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error")) {
        buf_puts(why, "must be one of debug, info, warn, error");
        return 0;
    }
    return 1;
}

static int parse_hhmm(const char *p, int *min)
{
    if (!(p[0] >= '0' && p[0] <= '2') || !(p[1] >= '0' && p[1] <= '9') || p[2] != ':' ||
        !(p[3] >= '0' && p[3] <= '5') || !(p[4] >= '0' && p[4] <= '9'))
        return 0;
    int h = (p[0] - '0') * 10 + p[1] - '0', m = (p[3] - '0') * 10 + p[4] - '0';
    if (h > 24 || (h == 24 && m != 0))
        return 0;
    *min = h * 60 + m;
    return 1;
}

static int add_span(config_hours *h, const char *s, size_t len, buf *why)
{
    int open, close;
    if (len != 11 || s[5] != '-' || !parse_hhmm(s, &open) || !parse_hhmm(s + 6, &close) ||
        open >= close) {
        buf_printf(why, "'%.*s' is not a time span like 08:00-18:30", (int)(len > 20 ? 20 : len),
                   s);
        return 0;
    }
    if (h->nspans == CONFIG_MAX_SPANS) {
        buf_printf(why, "has more than %d spans", CONFIG_MAX_SPANS);
        return 0;
    }
    if (h->nspans && open < h->span[h->nspans - 1].close) {
        buf_puts(why, "spans must be in order and must not overlap");
        return 0;
    }
    h->span[h->nspans].open = open;
    h->span[h->nspans].close = close;
    h->nspans++;
    return 1;
}

static void list_free(config_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void list_add(config_list *l, const char *s, size_t len)
{
    l->items = pd_xreallocarray(l->items, (size_t)l->n + 1, sizeof *l->items);
    l->items[l->n++] = pd_xstrndup(s, len);
}

static int set_defaults(config *c, buf *err)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(keys); i++) {
        const key_def *k = &keys[i];
        char *field = (char *)c + k->off;
        switch (k->type) {
        case CT_STR:
            *(char **)field = pd_xstrdup(k->def_str);
            break;
        case CT_INT:
        case CT_BOOL:
            *(int *)field = (int)k->def_int;
            break;
        case CT_LIST:
        case CT_HOURS: {
            const char *s = k->def_str;
            while (*s) {
                const char *e = strchr(s, ',');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                if (k->type == CT_LIST) {
                    list_add((config_list *)field, s, n);
                } else if (!add_span((config_hours *)field, s, n, err)) {
                    return PD_EINVAL;
                }
                s += n + (e ? 1 : 0);
            }
            break;
        }
        }
    }
    return PD_OK;
}

static const key_def *find_key(const char *path)
{
    for (size_t i = 0; i < PD_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static int is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < PD_ARRAY_LEN(keys); i++)
        if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.')
            return 1;
    return 0;
}

static int set_value(config *c, const key_def *k, const cJSON *v, buf *err)
{
    char *field = (char *)c + k->off;
    buf why = BUF_INIT;
    int ok = 1;
    switch (k->type) {
    case CT_STR:
        if (!cJSON_IsString(v)) {
            buf_puts(&why, "must be a string");
            ok = 0;
        } else if (!text_utf8_valid(v->valuestring, strlen(v->valuestring))) {
            buf_puts(&why, "must be valid UTF-8");
            ok = 0;
        } else if (k->check && !k->check(v->valuestring, &why)) {
            ok = 0;
        } else {
            free(*(char **)field);
            *(char **)field = pd_xstrdup(v->valuestring);
        }
        break;
    case CT_INT: {
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!cJSON_IsNumber(v) || d != (double)(long)d || d < (double)k->min ||
            d > (double)k->max) {
            buf_printf(&why, "must be a whole number from %ld to %ld", k->min, k->max);
            ok = 0;
        } else {
            *(int *)field = (int)d;
        }
        break;
    }
    case CT_BOOL:
        if (!cJSON_IsBool(v)) {
            buf_puts(&why, "must be true or false");
            ok = 0;
        } else {
            *(int *)field = cJSON_IsTrue(v);
        }
        break;
    case CT_LIST: {
        config_list *l = (config_list *)field;
        if (!cJSON_IsArray(v)) {
            buf_puts(&why, "must be a list of strings");
            ok = 0;
            break;
        }
        list_free(l);
        const cJSON *e;
        int idx = 0;
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsString(e)) {
                buf_printf(&why, "entry %d must be a string", idx);
                ok = 0;
                break;
            }
            if (k->check && !k->check(e->valuestring, &why)) {
                buf tmp = BUF_INIT;
                buf_printf(&tmp, "entry %d ('%.60s') %s", idx, e->valuestring, buf_cstr(&why));
                buf_free(&why);
                why = tmp;
                ok = 0;
                break;
            }
            list_add(l, e->valuestring, strlen(e->valuestring));
            idx++;
        }
        break;
    }
    case CT_HOURS: {
        config_hours *h = (config_hours *)field;
        if (!cJSON_IsArray(v)) {
            buf_puts(&why, "must be a list of spans like [\"08:00-13:00\", \"14:00-18:30\"] "
                           "([] for closed)");
            ok = 0;
            break;
        }
        memset(h, 0, sizeof *h);
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsString(e)) {
                buf_puts(&why, "entries must be strings like \"08:00-18:30\"");
                ok = 0;
                break;
            }
            if (!add_span(h, e->valuestring, strlen(e->valuestring), &why)) {
                ok = 0;
                break;
            }
        }
        break;
    }
    }
    if (!ok)
        buf_printf(err, "configuration key '%s' %s", k->path, buf_cstr(&why));
    buf_free(&why);
    return ok ? PD_OK : PD_EINVAL;
}

static int walk(config *c, const cJSON *obj, const char *prefix, buf *err)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        buf path = BUF_INIT;
        int ret = PD_OK;
        if (*prefix)
            buf_printf(&path, "%s.%s", prefix, it->string);
        else
            buf_puts(&path, it->string);
        const key_def *k = find_key(path.data);
        if (k) {
            ret = set_value(c, k, it, err);
        } else if (is_section(path.data)) {
            if (!cJSON_IsObject(it)) {
                buf_printf(err, "configuration key '%s' must be an object", path.data);
                ret = PD_EINVAL;
            } else {
                ret = walk(c, it, path.data, err);
            }
        } else {
            buf_printf(err, "unknown configuration key '%.100s'", path.data);
            ret = PD_EINVAL;
        }
        buf_free(&path);
        if (ret != PD_OK)
            return ret;
    }
    return PD_OK;
}

/* blanks // comments outside strings, keeping every newline so line numbers stay right */
static void strip_comments(char *s, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            else if (s[i] == '"')
                in_str = 0;
        } else if (s[i] == '"') {
            in_str = 1;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                s[i++] = ' ';
        }
    }
}

static int parse_into(config *c, const char *name, buf *text, buf *err)
{
    cJSON *root = NULL;
    int ret = PD_OK;
    if (!text_utf8_valid(buf_cstr(text), text->len) || memchr(buf_cstr(text), 0, text->len)) {
        buf_printf(err, "%s: the configuration must be UTF-8 text", name);
        return PD_EINVAL;
    }
    strip_comments(text->data ? text->data : (char *)"", text->len);
    const char *end = NULL;
    root = cJSON_ParseWithOpts(buf_cstr(text), &end, 1);
    if (!root || !cJSON_IsObject(root)) {
        /* cJSON's error pointer is process-wide; configuration is read before threads start */
        const char *at = root ? buf_cstr(text) : cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = buf_cstr(text); at && p < at && *p; p++)
            line += *p == '\n';
        buf_printf(err, "%s:%d: %s", name, line,
                   root ? "the configuration must be one JSON object"
                        : "JSON syntax error (check commas, quotes and braces)");
        ret = PD_EINVAL;
        goto out;
    }
    buf prefixed = BUF_INIT;
    if ((ret = walk(c, root, "", &prefixed)) != PD_OK)
        buf_printf(err, "%s: %s", name, buf_cstr(&prefixed));
    buf_free(&prefixed);
out:
    cJSON_Delete(root);
    return ret;
}

static void hours_lines(config *c);

int config_parse(const char *name, const char *text, size_t len, config **out, buf *err)
{
    config *c = pd_xcalloc(1, sizeof *c);
    buf copy = BUF_INIT;
    int ret = set_defaults(c, err);
    if (ret != PD_OK)
        goto out;
    if (text) {
        buf_append(&copy, text, len);
        if ((ret = parse_into(c, name, &copy, err)) != PD_OK)
            goto out;
    }
    if (!split_host_port(c->listen, &c->listen_host, &c->listen_port)) {
        buf_puts(err, "configuration key 'listen' is not HOST:PORT");
        ret = PD_EINVAL;
        goto out;
    }
    hours_lines(c);
    *out = c;
    c = NULL;
out:
    buf_free(&copy);
    config_free(c);
    return ret;
}

int config_load(const char *path, config **out, buf *err)
{
    buf text = BUF_INIT;
    int ret = PD_OK;
    if (path && (ret = buf_read_file(&text, path, 1024 * 1024)) != PD_OK) {
        if (ret == PD_ETOOBIG)
            buf_printf(err, "the configuration file %s is larger than 1 MiB", path);
        else
            buf_printf(err, "cannot open the configuration file %s: %s", path, strerror(errno));
    }
    if (ret != PD_OK)
        goto out;
    ret = config_parse(path ? path : "defaults", path ? buf_cstr(&text) : NULL, text.len, out, err);
out:
    buf_free(&text);
    return ret;
}

int config_set_listen(config *c, const char *listen, buf *err)
{
    char *host = NULL;
    int port;
    if (!split_host_port(listen, &host, &port)) {
        buf_printf(err,
                   "--listen '%.80s' must be HOST:PORT with an IP address "
                   "(127.0.0.1:8080, [::1]:8080)",
                   listen);
        return PD_EINVAL;
    }
    free(c->listen);
    free(c->listen_host);
    c->listen = pd_xstrdup(listen);
    c->listen_host = host;
    c->listen_port = port;
    return PD_OK;
}

void config_free(config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < PD_ARRAY_LEN(keys); i++) {
        char *field = (char *)c + keys[i].off;
        if (keys[i].type == CT_STR)
            free(*(char **)field);
        else if (keys[i].type == CT_LIST)
            list_free((config_list *)field);
    }
    free(c->listen_host);
    free(c->hours_line[0]);
    free(c->hours_line[1]);
    free(c);
}

void config_hours_text(const config *cfg, const char *lang, buf *out)
{
    static const char *const day_de[7] = {"Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"};
    static const char *const day_en[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    int en = lang && strcmp(lang, "en") == 0;
    for (int d = 0; d < 7; d++) {
        const config_hours *h = &cfg->hours[d];
        buf_printf(out, "%s%s ", d ? "; " : "", en ? day_en[d] : day_de[d]);
        if (h->nspans == 0)
            buf_puts(out, en ? "closed" : "geschlossen");
        for (int i = 0; i < h->nspans; i++)
            buf_printf(out, "%s%02d:%02d–%02d:%02d", i ? ", " : "", h->span[i].open / 60,
                       h->span[i].open % 60, h->span[i].close / 60, h->span[i].close % 60);
    }
}

/* the hours never change after loading: every reply that names them uses these two lines */
static void hours_lines(config *c)
{
    static const char *const langs[2] = {"de", "en"};
    for (int i = 0; i < 2; i++) {
        buf b = BUF_INIT;
        config_hours_text(c, langs[i], &b);
        c->hours_line[i] = pd_xstrdup(buf_cstr(&b));
        buf_free(&b);
    }
}

const char *config_hours_line(const config *cfg, const char *lang)
{
    return cfg->hours_line[lang && strcmp(lang, "en") == 0 ? 1 : 0];
}
