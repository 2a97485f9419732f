/*
 * handlers: the thin HTTP handlers. Each parses its validated input, calls catalog/, renders
 * JSON and returns; the dispatcher (http.c) has already checked method, size, type and rate.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"
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

static void reply_store_error(http_req *req, int err)
{
    if (err == PD_EBUSY)
        http_reply_error(req, 503, "busy", "The service is busy; please retry in a moment.");
    else
        http_reply_error(req, 500, "internal", "Internal error, please retry.");
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

const http_route app_routes[] = {
    {HTTP_GET, "/api/v1/health", h_health, 0, HTTP_API, -1},
    {HTTP_GET, "/api/v1/products", h_products, 0, HTTP_API, LIM_SEARCH},
    {HTTP_POST, "/api/v1/products/search", h_products_search, HTTP_PUBLIC_BODY_LIMIT, HTTP_API,
     LIM_SEARCH},
    {HTTP_GET, "/api/v1/products/{pzn}", h_product, 0, HTTP_API, -1},
};
const size_t app_nroutes = PD_ARRAY_LEN(app_routes);
