/*
 * handlers_handoff: the customer's side of the pharmacist handoff. POST /api/v1/handoffs opens
 * a ticket (or returns the one a retry opened), GET /api/v1/handoffs/{ticket} shows its status
 * and the staff's replies to the holder of its token.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assistant.h"
#include "desk.h"
#include "handlers_desk.h"
#include "jsonin.h"
#include "text.h"

/* a full disk is 503 storage_full and a busy store 503 busy, both with Retry-After */
void desk_reply_store_error(http_req *req, int err)
{
    http_reply_store_failure(req, err);
}

static int limited(http_req *req, app *a, enum desk_limit which)
{
    int wait = desk_limit_hit(a->desk, which, http_client_ip(req));
    if (!wait)
        return 0;
    char ra[16];
    snprintf(ra, sizeof ra, "%d", wait);
    http_add_header(req, "Retry-After", ra);
    http_reply_error(req, 429, "rate_limited", "Too many requests; please wait and retry.");
    return 1;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\r\n", *s))
            return 0;
    return 1;
}

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* an optional contact string: "" counts as absent; a wrong type is 400 (*status), a bad
 * value 422 */
static int contact_field(const cJSON *c, const char *key, size_t max,
                         int (*check)(const char *, const char **), const char **out, int *status,
                         const char **why)
{
    int rc = jsonin_get_string(c, key, 0, max, out, why);
    if (rc == PD_ETOOBIG) {
        *status = 422;
        return rc;
    }
    if (rc != PD_OK) {
        *status = 400;
        return rc;
    }
    if (*out && !**out)
        *out = NULL;
    if (*out && check(*out, why) != PD_OK) {
        *status = 422;
        return PD_EINVAL;
    }
    return PD_OK;
}

void h_handoff_create(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *why = NULL, *lang = NULL;
    handoff_in in = {.consent = -1};
    handoff_out out;
    int status = 400, rc;
    if (limited(req, a, DESK_LIM_HANDOFF))
        return;
    rc = jsonin_get_string(body, "message", 1, ASSISTANT_MAX_MESSAGE * 4, &in.message, &why);
    if (rc == PD_ETOOBIG || (rc == PD_OK && chars(in.message) > ASSISTANT_MAX_MESSAGE)) {
        http_reply_error(req, 422, "message_too_long",
                         "Please shorten your message to 2,000 characters or call us.");
        return;
    }
    if (rc != PD_OK || jsonin_get_string(body, "conversation", 0, 64, &in.conversation, &why) ||
        jsonin_get_string(body, "lang", 0, 8, &lang, &why)) {
        http_reply_error(req, 400, "bad_request", why ? why : "Invalid request.");
        return;
    }
    if (blank(in.message)) {
        http_reply_error(req, 422, "empty_message", "Please write your message.");
        return;
    }
    if (lang && strcmp(lang, "de") != 0 && strcmp(lang, "en") != 0) {
        http_reply_error(req, 400, "bad_lang", "lang must be \"de\" or \"en\".");
        return;
    }
    in.lang = lang ? lang : http_lang(req);
    if (in.conversation && desk_check_conversation(in.conversation, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_conversation", why);
        return;
    }
    const cJSON *contact = cJSON_GetObjectItemCaseSensitive(body, "contact");
    if (contact && !cJSON_IsNull(contact)) {
        if (!cJSON_IsObject(contact)) {
            http_reply_error(req, 400, "bad_request", "contact must be an object.");
            return;
        }
        if (contact_field(contact, "name", 400, desk_check_name, &in.name, &status, &why) ||
            contact_field(contact, "email", 254, desk_check_email, &in.email, &status, &why) ||
            contact_field(contact, "phone", 32, desk_check_phone, &in.phone, &status, &why)) {
            http_reply_error(req, status, status == 400 ? "bad_request" : "bad_contact",
                             why ? why : "The contact details are not valid.");
            return;
        }
    }
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive(body, "consent");
    if (consent && !cJSON_IsNull(consent)) {
        int given = 0;
        if (!cJSON_IsObject(consent) ||
            jsonin_get_string(consent, "text_version", 0, 64, &in.consent_version, &why)) {
            http_reply_error(req, 400, "bad_request",
                             "consent must be {\"health_data\": true, \"text_version\": \"…\"}.");
            return;
        }
        /* only the literal true is consent; false, "true" or a missing member are not */
        in.consent = jsonin_get_bool(consent, "health_data", 1, &given, &why) == PD_OK && given;
    }
    if ((rc = desk_handoff(a->desk, &in, &out)) != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    if (out.outcome == HANDOFF_CONSENT_UNKNOWN) {
        http_reply_error(req, 422, "unknown_consent_version",
                         "This consent text version is not known; load the current one from "
                         "/api/v1/consent-texts and ask again.");
        return;
    }
    if (out.outcome == HANDOFF_CONSENT_MISSING) {
        http_reply_error(req, 422, "consent_required",
                         "Your message contains health information. We can only pass it on "
                         "with your explicit consent (consent.health_data: true with the text "
                         "version you were shown).");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticket", out.ticket);
    cJSON_AddStringToObject(o, "token", out.token);
    cJSON_AddStringToObject(o, "status", ticket_status_name(out.status));
    cJSON_AddStringToObject(o, "priority", ticket_priority_name(out.priority));
    cJSON_AddBoolToObject(o, "retry", out.outcome == HANDOFF_RETRY);
    http_reply_json(req, out.outcome == HANDOFF_RETRY ? 200 : 201, o);
}

void h_handoff_get(http_req *req, void *ctx)
{
    app *a = ctx;
    const char *auth = http_header(req, "Authorization");
    const char *token = NULL;
    ticket *t = NULL;
    if (limited(req, a, DESK_LIM_VIEW))
        return;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        token = auth + 7;
    int rc = desk_ticket_for_token(a->desk, http_param(req, "ticket"), token ? token : "", &t);
    if (rc == PD_ENOTFOUND) {
        /* one answer for an unknown ticket, a missing token and a wrong one */
        http_reply_error(req, 404, "not_found",
                         "No ticket with this number and token. Please check the link.");
        return;
    }
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    char iso[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticket", t->public_id);
    cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
    pd_iso_time(t->created_us, iso);
    cJSON_AddStringToObject(o, "created_at", iso);
    cJSON *arr = cJSON_AddArrayToObject(o, "replies");
    for (size_t i = 0; i < t->nreplies; i++) {
        if (!t->replies[i].text)
            continue;
        cJSON *r = cJSON_CreateObject();
        pd_iso_time(t->replies[i].at_us, iso);
        cJSON_AddStringToObject(r, "at", iso);
        cJSON_AddStringToObject(r, "text", t->replies[i].text);
        cJSON_AddItemToArray(arr, r);
    }
    ticket_free(t);
    http_reply_json(req, 200, o);
}
