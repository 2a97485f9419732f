/*
 * handlers: the thin HTTP handlers. Each parses its validated input, calls catalog/, renders
 * JSON and returns; the dispatcher (http.c) has already checked method, size, type and rate.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "assistant.h"
#include "handlers_leads.h"
#include "handlers_web.h"
#include "handlers_desk.h"
#include "jsonin.h"
#include "jsonw.h"
#include "orderno.h"
#include "log.h"
#include "pd.h"
#include "pzn.h"
#include "text.h"

#define MAX_QUERY 200

static cJSON *product_json(const product *p)
{
    char pzn[9];
    pzn_format(p->pzn, pzn);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "pzn", pzn);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "manufacturer", p->manufacturer);
    cJSON_AddStringToObject(o, "active_ingredient", p->active_ingredient);
    cJSON_AddStringToObject(o, "strength", p->strength);
    cJSON_AddStringToObject(o, "dosage_form", p->dosage_form);
    cJSON_AddStringToObject(o, "pack_size", p->pack_size);
    cJSON_AddStringToObject(o, "dispensing", dispensing_name(p->dispensing));
    cJSON_AddBoolToObject(o, "prescription_required", p->dispensing == DISPENSING_RX);
    cJSON_AddNumberToObject(o, "price_eur", (double)p->price_cents / 100.0);
    cJSON_AddStringToObject(o, "availability", availability_name(product_availability(p)));
    return o;
}

/* product_json's text, written directly (the inquiry's answer) */
static void product_write(jsonw *w, const product *p)
{
    char pzn[9];
    pzn_format(p->pzn, pzn);
    jsonw_object(w);
    jsonw_key(w, "pzn");
    jsonw_string(w, pzn);
    jsonw_key(w, "name");
    jsonw_string(w, p->name);
    jsonw_key(w, "manufacturer");
    jsonw_string(w, p->manufacturer);
    jsonw_key(w, "active_ingredient");
    jsonw_string(w, p->active_ingredient);
    jsonw_key(w, "strength");
    jsonw_string(w, p->strength);
    jsonw_key(w, "dosage_form");
    jsonw_string(w, p->dosage_form);
    jsonw_key(w, "pack_size");
    jsonw_string(w, p->pack_size);
    jsonw_key(w, "dispensing");
    jsonw_string(w, dispensing_name(p->dispensing));
    jsonw_key(w, "prescription_required");
    jsonw_bool(w, p->dispensing == DISPENSING_RX);
    jsonw_key(w, "price_eur");
    jsonw_cents(w, p->price_cents);
    jsonw_key(w, "availability");
    jsonw_string(w, availability_name(product_availability(p)));
    jsonw_end(w);
}

static void reply_store_error(http_req *req, int err)
{
    http_reply_store_failure(req, err); /* 503 with Retry-After when full or busy */
}

static void h_health(http_req *req, void *ctx)
{
    app *a = ctx;
    if (store_ping(a->store) != PD_OK) {
        http_reply_error(req, 503, "unavailable", "The data store does not answer.");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "version", PHARMDESK_VERSION);
    http_reply_json(req, 200, o);
}

static void h_product(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *raw = http_param(req, "pzn");
    uint32_t pzn;
    product *p = NULL;
    int rc = pzn_parse(raw, strlen(raw), &pzn);
    if (rc == PD_ECHECK) {
        http_reply_error(req, 400, "bad_pzn",
                         "The PZN's check digit is wrong; please check the number.");
        return;
    }
    if (rc != PD_OK) {
        http_reply_error(req, 400, "bad_pzn", "A PZN has 8 digits (or 7 for old numbers).");
        return;
    }
    rc = catalog_get(a->catalog, pzn, &p);
    if (rc == PD_ENOTFOUND) {
        http_reply_error(req, 404, "not_found", "No product with this PZN in our catalog.");
        return;
    }
    if (rc != PD_OK) {
        reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 200, product_json(p));
    free(p);
}

static void search_reply(http_req *req, app *a, const char *q, long limit)
{
    product *rows[CATALOG_MAX_RESULTS];
    size_t n = 0;
    size_t len = strlen(q);
    if (len == 0 || len > MAX_QUERY || !text_utf8_valid(q, len)) {
        http_reply_error(req, 400, "bad_query",
                         "Give a search text of 1 to 200 characters (q), e.g. q=Ibuprofen 400.");
        return;
    }
    int rc = catalog_search(a->catalog, q, len, (size_t)limit, rows, &n);
    if (rc != PD_OK) {
        reply_store_error(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "products");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, product_json(rows[i]));
        free(rows[i]);
    }
    http_reply_json(req, 200, o);
}

static int parse_limit(const char *s, long *out)
{
    char *end;
    if (!s) {
        *out = 10;
        return 1;
    }
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || v < 1 || v > CATALOG_MAX_RESULTS)
        return 0;
    *out = v;
    return 1;
}

static void h_products(http_req *req, void *ctx)
{
    long limit;
    const char *q = http_query(req, "q");
    if (!q) {
        http_reply_error(req, 400, "bad_query", "Add a search text: /api/v1/products?q=...");
        return;
    }
    if (!parse_limit(http_query(req, "limit"), &limit)) {
        http_reply_error(req, 400, "bad_limit", "limit must be a whole number from 1 to 50.");
        return;
    }
    search_reply(req, ctx, q, limit);
}

/* the same search with the text in a body, so that it stays out of URLs and proxy logs */
static void h_products_search(http_req *req, void *ctx)
{
    const cJSON *body = http_json(req);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(body, "q");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(body, "limit");
    long limit = 10;
    if (!cJSON_IsString(q)) {
        http_reply_error(req, 400, "bad_query", "Field 'q' must be a string.");
        return;
    }
    if (lim) {
        if (!cJSON_IsNumber(lim) || lim->valuedouble != (double)(long)lim->valuedouble ||
            lim->valuedouble < 1 || lim->valuedouble > CATALOG_MAX_RESULTS) {
            http_reply_error(req, 400, "bad_limit", "limit must be a whole number from 1 to 50.");
            return;
        }
        limit = (long)lim->valuedouble;
    }
    search_reply(req, ctx, q->valuestring, limit);
}

/* the status and nothing more: no items, no name, no address */
static cJSON *order_json(const order *ord, const char *status_text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "order_number", ord->number);
    cJSON_AddStringToObject(o, "status", order_status_name(ord->status));
    cJSON_AddStringToObject(o, "status_text", status_text);
    if (ord->expected[0])
        cJSON_AddStringToObject(o, "expected", ord->expected);
    else
        cJSON_AddNullToObject(o, "expected");
    return o;
}

static void h_order_lookup(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *num = NULL, *pc = NULL, *lang = NULL, *why = NULL;
    char canon[16], postcode[6];
    enum assistant_lookup res;
    order *ord = NULL;
    int retry = 0;
    if (jsonin_get_string(body, "order_number", 1, 32, &num, &why) != PD_OK ||
        jsonin_get_string(body, "postcode", 1, 16, &pc, &why) != PD_OK ||
        jsonin_get_string(body, "lang", 0, 8, &lang, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Invalid request.");
        return;
    }
    if (orderno_parse(num, strlen(num), canon) != PD_OK) {
        http_reply_error(req, 400, "bad_order_number",
                         "An order number looks like AP-100231 (it is on your order mail).");
        return;
    }
    size_t n = 0;
    for (const char *p = pc; *p && n < 6; p++)
        if (*p != ' ')
            postcode[n++] = *p;
    postcode[n < 6 ? n : 5] = '\0';
    if (n != 5 || strspn(postcode, "0123456789") != 5 || strlen(pc) > 7) {
        http_reply_error(req, 400, "bad_postcode", "A postcode has five digits, e.g. 10115.");
        return;
    }
    int rc =
        assistant_order_lookup(a, http_client_ip(req), NULL, canon, postcode, &res, &ord, &retry);
    if (rc == PD_EFULL) {
        http_reply_store_error(req, rc);
        return;
    }
    if (rc != PD_OK) {
        http_reply_error(req, 503, "unavailable", "Please try again in a moment or call us.");
        return;
    }
    if (res == LOOKUP_LIMITED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        http_add_header(req, "Retry-After", ra);
        http_reply_error(req, 429, "rate_limited",
                         "Too many lookups; please wait a little or call us.");
        return;
    }
    if (res != LOOKUP_FOUND) {
        /* one answer for an unknown order and a wrong postcode */
        http_reply_error(req, 404, "not_found",
                         "No order with this number and postcode. Please check both.");
        return;
    }
    buf text = BUF_INIT;
    const char *l = lang && strcmp(lang, "en") == 0 ? "en" : lang ? "de" : http_lang(req);
    assistant_status_text(a, ord, l, &text);
    http_reply_json(req, 200, order_json(ord, buf_cstr(&text)));
    buf_free(&text);
    free(ord);
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

static void h_inquiry(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *msg = NULL, *conv = NULL, *lang = NULL, *why = NULL;
    assistant_out out;
    int rc = jsonin_get_string(body, "message", 1, ASSISTANT_MAX_MESSAGE * 4, &msg, &why);
    if (rc == PD_ETOOBIG || (rc == PD_OK && utf8_chars(msg) > ASSISTANT_MAX_MESSAGE)) {
        http_reply_error(req, 422, "message_too_long",
                         "Please shorten your message to 2,000 characters or call us.");
        return;
    }
    if (rc != PD_OK || jsonin_get_string(body, "conversation", 0, 64, &conv, &why) != PD_OK ||
        jsonin_get_string(body, "lang", 0, 8, &lang, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Invalid request.");
        return;
    }
    if (lang && strcmp(lang, "de") != 0 && strcmp(lang, "en") != 0) {
        http_reply_error(req, 400, "bad_lang", "lang must be \"de\" or \"en\".");
        return;
    }
    if (blank(msg)) {
        http_reply_error(req, 422, "empty_message", "Please write your question.");
        return;
    }
    if ((rc = assistant_answer(a, http_client_ip(req), msg, strlen(msg), conv, lang, &out)) ==
        PD_EFULL) {
        http_reply_store_error(req, rc);
        return;
    }
    if (rc != PD_OK) {
        http_reply_error(req, 503, "unavailable",
                         "The assistant cannot answer right now; please try again or call us.");
        return;
    }
    /* written as text directly (server/jsonw.c): the same bytes cJSON would print for the
     * tree, without one allocation per node; the busiest answer of the service */
    const policy_result *r = &out.res;
    buf text = BUF_INIT;
    jsonw w;
    buf_reserve(&text, 2048); /* an answer naming a few products, in one allocation */
    buf_reset(&text);
    jsonw_init(&w, &text);
    jsonw_object(&w);
    jsonw_key(&w, "conversation");
    jsonw_string(&w, out.convo.id);
    jsonw_key(&w, "decision");
    jsonw_string(&w, policy_decision_name(r->decision));
    jsonw_key(&w, "intent");
    jsonw_string(&w, policy_intent_name(r->intent));
    jsonw_key(&w, "health_data");
    jsonw_bool(&w, r->health_data);
    jsonw_key(&w, "reply");
    jsonw_string(&w, buf_cstr(&out.reply));
    jsonw_key(&w, "disclosure");
    jsonw_string(&w, buf_cstr(&out.disclosure));
    jsonw_key(&w, "lang");
    jsonw_string(&w, out.lang);
    jsonw_key(&w, "products");
    jsonw_array(&w);
    for (size_t i = 0; i < out.nproducts; i++)
        product_write(&w, out.products[i]);
    jsonw_end(&w);
    jsonw_key(&w, "order");
    if (out.lookup == LOOKUP_FOUND) {
        cJSON *oj = order_json(out.order, buf_cstr(&out.status_text));
        char *ord = cJSON_PrintUnformatted(oj);
        cJSON_Delete(oj);
        if (!ord) {
            buf_free(&text);
            assistant_out_free(&out);
            http_reply_error(req, 500, "internal", "Internal error, please retry.");
            return;
        }
        jsonw_raw(&w, ord);
        free(ord);
    } else if (out.order_number[0] && out.convo.pending == CONVO_ASK_POSTCODE) {
        /* the number the customer named, nothing about the order before verification */
        jsonw_object(&w);
        jsonw_key(&w, "order_number");
        jsonw_string(&w, out.order_number);
        jsonw_key(&w, "verification");
        jsonw_string(&w, "postcode_required");
        jsonw_end(&w);
    } else {
        jsonw_null(&w);
    }
    jsonw_key(&w, "handoff");
    if (out.handoff_active) {
        /* handed off already: no new offer; the ticket the customer is waiting on */
        jsonw_object(&w);
        jsonw_key(&w, "offered");
        jsonw_bool(&w, 0);
        jsonw_key(&w, "consent_required");
        jsonw_bool(&w, 0);
        jsonw_key(&w, "active");
        jsonw_bool(&w, 1);
        jsonw_key(&w, "ticket");
        jsonw_string(&w, out.handoff_ticket);
        jsonw_key(&w, "status");
        jsonw_string(&w, ticket_status_name(out.handoff_status));
        jsonw_end(&w);
    } else if (r->decision != POLICY_ANSWER) {
        jsonw_object(&w);
        jsonw_key(&w, "offered");
        jsonw_bool(&w, 1);
        jsonw_key(&w, "consent_required");
        jsonw_bool(&w, r->health_data);
        jsonw_key(&w, "active");
        jsonw_bool(&w, 0);
        jsonw_end(&w);
    } else {
        jsonw_null(&w);
    }
    jsonw_key(&w, "policy");
    jsonw_object(&w);
    jsonw_key(&w, "version");
    jsonw_string(&w, policy_version(a->policy));
    jsonw_key(&w, "rule");
    jsonw_string(&w, r->rule ? r->rule : "");
    jsonw_end(&w);
    jsonw_end(&w);
    assistant_out_free(&out);
    http_reply_json_text(req, 200, &text);
}

static void add_consent(cJSON *o, const app *a, const char *purpose, const char *lang)
{
    const consent_text *t = consent_current(a->consent, purpose, lang);
    cJSON *e = cJSON_AddObjectToObject(o, purpose);
    cJSON_AddStringToObject(e, "version", t->version);
    cJSON_AddStringToObject(e, "text", t->text);
    cJSON_AddStringToObject(e, "lang", t->lang);
}

/* the texts a person sees before consenting; the version they cite is checked on use */
static void h_consent_texts(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *lang = http_lang(req);
    cJSON *o = cJSON_CreateObject();
    add_consent(o, a, "handoff", lang);
    add_consent(o, a, "newsletter", lang);
    add_consent(o, a, "back_in_stock", lang);
    http_reply_json(req, 200, o);
}

const http_route app_routes[] = {
    {HTTP_GET, "/api/v1/health", h_health, 0, HTTP_API, -1},
    {HTTP_GET, "/api/v1/products", h_products, 0, HTTP_API, LIM_SEARCH},
    {HTTP_POST, "/api/v1/products/search", h_products_search, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     LIM_SEARCH},
    {HTTP_GET, "/api/v1/products/{pzn}", h_product, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/inquiries", h_inquiry, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, LIM_INQUIRY},
    {HTTP_POST, "/api/v1/orders/lookup", h_order_lookup, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, -1},
    {HTTP_GET, "/api/v1/consent-texts", h_consent_texts, 0, HTTP_API, -1},
    /* leads (handlers_leads.c) */
    {HTTP_POST, "/api/v1/leads", h_lead_signup, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, LIM_LEADS_CLIENT},
    {HTTP_POST, "/api/v1/leads/confirm", h_lead_confirm, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     LIM_LEADS_TOKEN},
    {HTTP_POST, "/api/v1/leads/withdraw", h_lead_withdraw, HTTP_PUBLIC_BODY_LIMIT, HTTP_API_FORM,
     LIM_LEADS_TOKEN},
    {HTTP_GET, "/api/v1/leads/withdraw", h_lead_withdraw_get, 0, HTTP_API, LIM_LEADS_TOKEN},
    {HTTP_POST, "/api/v1/data-requests", h_data_request, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     LIM_LEADS_CLIENT},
    {HTTP_POST, "/api/v1/data-requests/confirm", h_data_confirm, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     LIM_LEADS_TOKEN},
    /* the pages and their assets (server/handlers_web.c) */
    {HTTP_GET, "/", hw_index, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/widget", hw_widget, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/staff", hw_staff, 0, HTTP_PAGE_PRIVATE, -1},
    {HTTP_GET, "/privacy", hw_privacy, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/leads/confirm", hw_lead_confirm, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/leads/withdraw", hw_lead_withdraw, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/data/confirm", hw_data_confirm, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/static/{file}", hw_static, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/i18n/{file}", hw_i18n, 0, HTTP_PAGE, -1},
    {HTTP_GET, "/api/v1/staff/stats/today", hw_stats_today, 0, HTTP_API, LIM_SEARCH},
    /* the pharmacist handoff (handlers_handoff.c, handlers_staff.c); their limits are their own */
    {HTTP_POST, "/api/v1/handoffs", h_handoff_create, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, -1},
    {HTTP_GET, "/api/v1/handoffs/{ticket}", h_handoff_get, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/login", h_staff_login, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/logout", h_staff_logout, 0, HTTP_API, -1},
    {HTTP_GET, "/api/v1/staff/me", h_staff_me, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/password", h_staff_password, HTTP_PUBLIC_BODY_LIMIT, HTTP_API, -1},
    {HTTP_GET, "/api/v1/staff/handoffs", h_staff_handoffs, 0, HTTP_API, -1},
    {HTTP_GET, "/api/v1/staff/handoffs/{ticket}", h_staff_ticket, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/handoffs/{ticket}/claim", h_staff_claim, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/handoffs/{ticket}/reply", h_staff_reply, HTTP_PUBLIC_BODY_LIMIT,
     HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/handoffs/{ticket}/close", h_staff_close, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/handoffs/{ticket}/assign", h_staff_assign, HTTP_PUBLIC_BODY_LIMIT,
     HTTP_API, -1},
    {HTTP_GET, "/api/v1/staff/events", h_staff_events, 0, HTTP_API, -1},
    {HTTP_GET, "/api/v1/staff/accounts", h_staff_accounts, 0, HTTP_API, -1},
    {HTTP_POST, "/api/v1/staff/accounts", h_staff_account_add, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     -1},
    {HTTP_POST, "/api/v1/staff/accounts/{username}/disable", h_staff_account_disable, 0, HTTP_API,
     -1},
    {HTTP_POST, "/api/v1/staff/accounts/{username}/enable", h_staff_account_enable, 0, HTTP_API,
     -1},
};
const size_t app_nroutes = PD_ARRAY_LEN(app_routes);
