#include "handlers_leads.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "jsonin.h"
#include "log.h"
#include "pd.h"
#include "pzn.h"

#define MAX_EMAIL_FIELD 320 /* longer is refused before any check */
#define MAX_PAGE 200
#define MAX_TOKEN 128

/* a full disk is 503 storage_full and a busy store 503 busy, both with Retry-After */
static void store_error(http_req *req, int err)
{
    http_reply_store_failure(req, err);
}

static void reply_status(http_req *req, int code, const char *status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", status);
    http_reply_json(req, code, o);
}

/* "de", "en" or absent (then the request's language); 0 for anything else */
static int get_lang(http_req *req, const cJSON *body, const char **lang)
{
    const char *l = NULL, *why = NULL;
    if (jsonin_get_string(body, "lang", 0, 8, &l, &why) != PD_OK ||
        (l && strcmp(l, "de") != 0 && strcmp(l, "en") != 0)) {
        http_reply_error(req, 400, "bad_lang", "lang must be \"de\" or \"en\".");
        return 0;
    }
    *lang = l ? l : http_lang(req);
    return 1;
}

/* consent exactly as {"given": true, "text_version": "..."}: anything else is no consent */
static const consent_text *get_consent(http_req *req, const app *a, const cJSON *body,
                                       const char *purpose, const char *lang)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "consent");
    const char *version = NULL, *why = NULL;
    int given = 0;
    /* the literal true only: false, "true", 1, a missing or repeated member are no consent */
    if (!cJSON_IsObject(c) || jsonin_get_bool(c, "given", 1, &given, &why) != PD_OK || !given) {
        http_reply_error(req, 422, "consent_required",
                         "We can only sign you up with your explicit consent: consent.given must "
                         "be true (the JSON literal).");
        return NULL;
    }
    if (jsonin_get_string(c, "text_version", 1, 64, &version, &why) != PD_OK) {
        http_reply_error(req, 422, "consent_version_required",
                         "consent.text_version must name the consent text shown "
                         "(GET /api/v1/consent-texts).");
        return NULL;
    }
    const consent_text *t = consent_find(a->consent, purpose, version, lang);
    if (!t) {
        http_reply_error(req, 422, "unknown_consent_version",
                         "This consent text version is unknown for this purpose; please reload "
                         "the page and agree to the current text.");
        return NULL;
    }
    return t;
}

void h_lead_signup(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *email = NULL, *purpose_s = NULL, *page = NULL, *lang = NULL, *why = NULL;
    char norm[LEADS_EMAIL_MAX + 1];
    enum lead_purpose purpose;
    uint32_t pzn = 0;
    if (jsonin_get_string(body, "email", 1, MAX_EMAIL_FIELD, &email, &why) != PD_OK ||
        jsonin_get_string(body, "purpose", 1, 32, &purpose_s, &why) != PD_OK ||
        jsonin_get_string(body, "page", 0, MAX_PAGE, &page, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Invalid request.");
        return;
    }
    if (!get_lang(req, body, &lang))
        return;
    if (page && page[0] && page[0] != '/') {
        http_reply_error(req, 400, "bad_page", "page must be a path on this site, like /.");
        return;
    }
    if (lead_purpose_parse(purpose_s, &purpose) != PD_OK) {
        http_reply_error(req, 422, "bad_purpose", "purpose must be newsletter or back_in_stock.");
        return;
    }
    const consent_text *ct = get_consent(req, a, body, purpose_s, lang);
    if (!ct)
        return;
    if (leads_email_normalize(email, norm, &why) != PD_OK) {
        http_reply_error(req, 422, "invalid_email", why);
        return;
    }
    if (purpose == LEAD_BACK_IN_STOCK) {
        const char *p = NULL;
        int rc = jsonin_get_string(body, "pzn", 1, 16, &p, &why);
        if (rc == PD_OK)
            rc = pzn_parse(p, strlen(p), &pzn);
        if (rc != PD_OK || pzn == 0) {
            http_reply_error(req, 422, "bad_pzn",
                             "back_in_stock needs the product's PZN (8 digits, as a string).");
            return;
        }
    }
    leads_signup_req r = {norm, purpose, pzn, ct, lang, page, http_client_ip(req)};
    enum leads_signup_outcome outcome;
    int rc = leads_signup(a->leads, &r, &outcome, &why);
    if (rc == PD_ENOTFOUND) {
        http_reply_error(req, 422, "unknown_product", "No product with this PZN in our catalog.");
        return;
    }
    if (rc == PD_EINVAL) {
        http_reply_error(req, 422, "invalid_request", why ? why : "Invalid sign-up.");
        return;
    }
    if (rc != PD_OK) {
        store_error(req, rc);
        return;
    }
    log_info("event=lead_signup purpose=%s outcome=%s", purpose_s,
             outcome == LEADS_MAIL_QUEUED ? "mail_queued"
             : outcome == LEADS_THROTTLED ? "throttled"
                                          : "already_confirmed");
    /* one answer for every case: it tells nobody whether the address is known */
    reply_status(req, 202, "pending_confirmation");
}

static int get_token(http_req *req, const cJSON *body, const char **token)
{
    const char *why = NULL;
    if (jsonin_get_string(body, "token", 1, MAX_TOKEN, token, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Field 'token' is required.");
        return 0;
    }
    return 1;
}

static void token_error(http_req *req, enum leads_token_result res, const char *what)
{
    if (res == LEADS_EXPIRED)
        http_reply_error(req, 410, "expired",
                         strcmp(what, "data") == 0
                             ? "This link has expired (48 hours). Please send your request again."
                             : "This confirmation link has expired (48 hours). Please sign up "
                               "again; you will get a new link.");
    else if (res == LEADS_GONE)
        http_reply_error(req, 410, "no_longer_valid",
                         "This link is no longer valid (used, or the sign-up was withdrawn).");
    else
        http_reply_error(req, 404, "unknown_token",
                         "This link is unknown. Please use the complete link from the e-mail.");
}

void h_lead_confirm(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *token = NULL;
    enum leads_token_result res;
    if (!get_token(req, http_json(req), &token))
        return;
    int rc = leads_confirm(a->leads, token, &res);
    if (rc != PD_OK)
        store_error(req, rc);
    else if (res == LEADS_OK)
        reply_status(req, 200, "confirmed");
    else
        token_error(req, res, "lead");
}

/* RFC 8058: the body carries List-Unsubscribe=One-Click, the token is in the URL */
static int one_click_body(const char *b, size_t len)
{
    static const char key[] = "List-Unsubscribe=One-Click";
    for (size_t i = 0; i + sizeof key - 1 <= len; i++)
        if ((i == 0 || b[i - 1] == '&') && memcmp(b + i, key, sizeof key - 1) == 0 &&
            (i + sizeof key - 1 == len || b[i + sizeof key - 1] == '&' ||
             b[i + sizeof key - 1] == '\r' || b[i + sizeof key - 1] == '\n'))
            return 1;
    /* multipart/form-data: a part named List-Unsubscribe with the value One-Click */
    const char *name = memmem(b, len, "name=\"List-Unsubscribe\"", 23);
    return name && memmem(name, len - (size_t)(name - b), "One-Click", 9) != NULL;
}

void h_lead_withdraw(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *token = NULL, *via = "link";
    enum leads_token_result res;
    if (http_body_is_form(req)) {
        size_t len;
        const char *b = http_body(req, &len);
        if (!one_click_body(b, len)) {
            http_reply_error(req, 400, "bad_request",
                             "A form POST must carry List-Unsubscribe=One-Click (RFC 8058).");
            return;
        }
        if (!(token = http_query(req, "token"))) {
            http_reply_error(req, 400, "bad_request", "The link's token is missing.");
            return;
        }
        via = "one_click";
    } else if (!get_token(req, http_json(req), &token)) {
        return;
    }
    int rc = leads_withdraw(a->leads, token, via, &res);
    if (rc != PD_OK)
        store_error(req, rc);
    else if (res == LEADS_OK)
        reply_status(req, 200, "withdrawn");
    else
        token_error(req, res, "lead");
}

void h_lead_withdraw_get(http_req *req, void *ctx)
{
    (void)ctx;
    const char *token = http_query(req, "token");
    buf loc = BUF_INIT;
    buf_puts(&loc, "/leads/withdraw");
    /* only a token's characters go into the header */
    if (token && strlen(token) == LEADS_TOKEN_LEN &&
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
            LEADS_TOKEN_LEN)
        buf_printf(&loc, "?token=%s", token);
    http_add_header(req, "Location", buf_cstr(&loc));
    http_add_header(req, "Cache-Control", "no-store");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "see_page");
    cJSON_AddStringToObject(o, "message",
                            "Opening this link changes nothing; the page has the button.");
    http_reply_json(req, 303, o);
    buf_free(&loc);
}

void h_data_request(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *email = NULL, *kind_s = NULL, *lang = NULL, *why = NULL;
    int mailed = 0;
    if (jsonin_get_string(body, "email", 1, MAX_EMAIL_FIELD, &email, &why) != PD_OK ||
        jsonin_get_string(body, "kind", 1, 16, &kind_s, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Invalid request.");
        return;
    }
    if (!get_lang(req, body, &lang))
        return;
    enum data_request_kind kind;
    if (strcmp(kind_s, "export") == 0) {
        kind = DATA_EXPORT;
    } else if (strcmp(kind_s, "erasure") == 0) {
        kind = DATA_ERASURE;
    } else {
        http_reply_error(req, 422, "bad_kind", "kind must be export or erasure.");
        return;
    }
    int rc = leads_data_request(a->leads, email, kind, lang, &mailed, &why);
    if (rc == PD_EINVAL) {
        http_reply_error(req, 422, "invalid_email", why);
        return;
    }
    if (rc != PD_OK) {
        store_error(req, rc);
        return;
    }
    log_info("event=data_request kind=%s mailed=%d", kind_s, mailed);
    /* the same answer whether or not we know the address: the mail goes to its owner */
    reply_status(req, 202, "pending_confirmation");
}

void h_data_confirm(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *token = NULL;
    enum leads_token_result res;
    data_request_rec r;
    cJSON *data = NULL;
    if (!get_token(req, http_json(req), &token))
        return;
    int rc = leads_data_token(a->leads, token, &r, &res);
    if (rc != PD_OK) {
        store_error(req, rc);
        return;
    }
    if (res != LEADS_OK) {
        token_error(req, res, "data");
        return;
    }
    if (r.kind == DATA_EXPORT)
        rc = datarights_export(a->rights, a->store, r.email, &data);
    else
        rc = datarights_erase(a->rights, a->store, r.email, &data);
    if (rc == PD_OK)
        rc = leads_data_complete(a->store, r.id);
    sodium_memzero(r.email, sizeof r.email);
    if (rc != PD_OK) {
        cJSON_Delete(data);
        log_error("event=data_request_failed kind=%s",
                  r.kind == DATA_EXPORT ? "export" : "erasure");
        store_error(req, rc);
        return;
    }
    log_info("event=data_request_done kind=%s", r.kind == DATA_EXPORT ? "export" : "erasure");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", r.kind == DATA_EXPORT ? "exported" : "erased");
    cJSON_AddStringToObject(o, "kind", r.kind == DATA_EXPORT ? "export" : "erasure");
    cJSON_AddItemToObject(o, r.kind == DATA_EXPORT ? "data" : "summary", data);
    http_add_header(req, "Cache-Control", "no-store");
    http_reply_json(req, 200, o);
}
