/*
 * handlers_web: serves the rendered pages and the compiled-in assets with ETags (a matching
 * If-None-Match gets 304; Cache-Control no-cache, so a new binary's pages are fetched at once),
 * and counts today's inquiries by decision from the audit log for the staff dashboard.
 */
#include "handlers_web.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "handlers_desk.h"
#include "pd.h"

static int etag_matches(http_req *req, const char *etag)
{
    const char *inm = http_header(req, "If-None-Match");
    return inm && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

static void serve_doc(http_req *req, const web_doc *d)
{
    http_add_header(req, "ETag", d->etag);
    http_add_header(req, "Cache-Control", "no-cache");
    if (etag_matches(req, d->etag))
        http_reply_raw(req, 304, d->content_type, "", 0);
    else
        http_reply_raw(req, 200, d->content_type, d->data, d->len);
}

static void serve_page(http_req *req, void *ctx, enum web_page page)
{
    app *a = ctx;
    web_doc d;
    /* German unless the page is asked for in English (the language switch is a link) */
    const char *lang = http_query(req, "lang");
    web_page_get(a->web, page, lang && strcmp(lang, "en") == 0 ? "en" : "de", &d);
    serve_doc(req, &d);
}

void hw_index(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_INDEX);
}

void hw_widget(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_WIDGET);
}

void hw_staff(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_STAFF);
}

void hw_privacy(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_PRIVACY);
}

void hw_lead_confirm(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_LEAD_CONFIRM);
}

void hw_lead_withdraw(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_LEAD_WITHDRAW);
}

void hw_data_confirm(http_req *req, void *ctx)
{
    serve_page(req, ctx, WEB_DATA_CONFIRM);
}

static void serve_asset(http_req *req, const char *dir)
{
    const char *file = http_param(req, "file");
    char path[128];
    web_doc d;
    int n = snprintf(path, sizeof path, "%s/%s", dir, file ? file : "");
    if (n < 0 || (size_t)n >= sizeof path || web_asset_get(path, &d) != PD_OK) {
        http_reply_error(req, 404, "not_found", "No such file.");
        return;
    }
    serve_doc(req, &d);
}

void hw_static(http_req *req, void *ctx)
{
    (void)ctx;
    serve_asset(req, "static");
}

void hw_i18n(http_req *req, void *ctx)
{
    (void)ctx;
    serve_asset(req, "i18n");
}

/* ---- statistics ----------------------------------------------------------------------------- */

static void utc_iso(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void hw_local_day(time_t now, char date[11], char from[32], char to[32])
{
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, 11, "%Y-%m-%d", &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1; /* midnight may be in another DST state than now */
    time_t start = mktime(&tm);
    tm.tm_mday++;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t end = mktime(&tm);
    utc_iso(start, from);
    utc_iso(end, to);
}

static const char *const decisions[] = {"answer", "refuse", "handoff", "emergency"};

typedef struct day_count {
    const char *to;
    long long n[PD_ARRAY_LEN(decisions) + 1]; /* the last: a decision this build does not know */
} day_count;

static int count_entry(const audit_entry *e, void *arg)
{
    day_count *c = arg;
    if (strcmp(e->kind, "inquiry") != 0 || strcmp(e->at, c->to) >= 0)
        return 0;
    size_t i = 0;
    while (i < PD_ARRAY_LEN(decisions) && strcmp(e->decision, decisions[i]) != 0)
        i++;
    c->n[i]++;
    return 0;
}

void hw_stats_today(http_req *req, void *ctx)
{
    app *a = ctx;
    char date[11], from[32], to[32];
    day_count c = {to, {0}};
    staff_session who;
    if (staff_require(req, a, &who) != 0)
        return; /* answered 401: the dashboard's chart is for staff */
    hw_local_day(time(NULL), date, from, to);
    int rc = store_audit_foreach_since(a->store, from, count_entry, &c);
    if (rc != PD_OK) {
        http_reply_store_failure(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "date", date);
    cJSON *d = cJSON_AddObjectToObject(o, "decisions");
    long long total = 0;
    for (size_t i = 0; i < PD_ARRAY_LEN(decisions); i++) {
        cJSON_AddNumberToObject(d, decisions[i], (double)c.n[i]);
        total += c.n[i];
    }
    if (c.n[PD_ARRAY_LEN(decisions)])
        cJSON_AddNumberToObject(d, "other", (double)c.n[PD_ARRAY_LEN(decisions)]);
    cJSON_AddNumberToObject(o, "total", (double)(total + c.n[PD_ARRAY_LEN(decisions)]));
    http_reply_json(req, 200, o);
}
