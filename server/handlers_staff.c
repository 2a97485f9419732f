/*
 * handlers_staff: the pharmacy team's side of the handoff. Login and sessions (cookie plus
 * X-CSRF-Token on every change), the queue with claim, reply, close and assign, the live event
 * stream and, for admins, the accounts.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "handlers_desk.h"
#include "jsonin.h"
#include "log.h"

#define REPLY_MAX_CHARS 5000

static void set_cookie(http_req *req, app *a, const char *value, int max_age)
{
    buf c = BUF_INIT;
    buf_printf(&c, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d", DESK_SESSION_COOKIE,
               value, a->cfg->http.cookie_secure ? "; Secure" : "", max_age);
    http_add_header(req, "Set-Cookie", buf_cstr(&c));
    buf_free(&c);
}

static int session_of(http_req *req, app *a, staff_session *who,
                      unsigned char hash[TICKET_HASH_BYTES])
{
    const char *cookie = http_cookie(req, DESK_SESSION_COOKIE);
    int rc = cookie ? desk_session(a->desk, cookie, who, hash) : PD_ENOTFOUND;
    if (rc == PD_OK)
        return 0;
    if (rc == PD_ENOTFOUND)
        http_reply_error(req, 401, "unauthorized", "Please log in.");
    else
        desk_reply_store_error(req, rc);
    return -1;
}

int staff_require(http_req *req, app *a, staff_session *who)
{
    unsigned char hash[TICKET_HASH_BYTES];
    return session_of(req, a, who, hash);
}

static int csrf_ok(http_req *req, const staff_session *who)
{
    const char *h = http_header(req, "X-CSRF-Token");
    size_t n = strlen(who->csrf);
    return h && n && strlen(h) == n && sodium_memcmp(h, who->csrf, n) == 0;
}

static int require_change(http_req *req, app *a, staff_session *who,
                          unsigned char hash[TICKET_HASH_BYTES])
{
    if (session_of(req, a, who, hash) != 0)
        return -1;
    if (!csrf_ok(req, who)) {
        http_reply_error(req, 403, "csrf", "The X-CSRF-Token header is missing or wrong.");
        return -1;
    }
    return 0;
}

int staff_require_change(http_req *req, app *a, staff_session *who)
{
    unsigned char hash[TICKET_HASH_BYTES];
    return require_change(req, a, who, hash);
}

int staff_require_admin(http_req *req, app *a, staff_session *who)
{
    if (staff_require_change(req, a, who) != 0)
        return -1;
    if (strcmp(who->who.role, "admin") != 0) {
        http_reply_error(req, 403, "forbidden", "Only an administrator may do this.");
        return -1;
    }
    return 0;
}

static cJSON *me_json(const staff_session *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "csrf_token", s->csrf);
    cJSON_AddStringToObject(o, "username", s->who.username);
    cJSON_AddStringToObject(o, "role", s->who.role);
    return o;
}

void h_staff_login(http_req *req, void *ctx)
{
    app *a = ctx;
    const cJSON *body = http_json(req);
    const char *user = NULL, *pw = NULL, *why = NULL;
    login_out out;
    int wait = desk_limit_hit(a->desk, DESK_LIM_LOGIN, http_client_ip(req));
    if (wait) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        http_add_header(req, "Retry-After", ra);
        http_reply_error(req, 429, "rate_limited", "Too many login attempts; please wait.");
        return;
    }
    if (jsonin_get_string(body, "username", 1, STAFF_NAME_MAX, &user, &why) != PD_OK ||
        jsonin_get_string(body, "password", 1, DESK_PASSWORD_MAX, &pw, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Give username and password.");
        return;
    }
    int rc = desk_login(a->desk, user, pw, &out);
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    if (out.result == LOGIN_BLOCKED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", out.retry_after);
        http_add_header(req, "Retry-After", ra);
        http_reply_error(req, 429, "login_delayed",
                         "Too many failed logins for this user name; please wait and retry.");
        return;
    }
    if (out.result != LOGIN_OK) {
        http_reply_error(req, 401, "login_failed", "User name or password is wrong.");
        return;
    }
    set_cookie(req, a, out.session, a->cfg->staff.session_max_s);
    sodium_memzero(out.session, sizeof out.session);
    http_reply_json(req, 200, me_json(&out.s));
}

void h_staff_logout(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    unsigned char hash[TICKET_HASH_BYTES];
    if (require_change(req, a, &who, hash) != 0)
        return;
    int rc = desk_logout(a->desk, &who, hash);
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    set_cookie(req, a, "", 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "logged_out");
    http_reply_json(req, 200, o);
}

void h_staff_me(http_req *req, void *ctx)
{
    staff_session who;
    if (staff_require(req, ctx, &who) != 0)
        return;
    http_reply_json(req, 200, me_json(&who));
}

void h_staff_password(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    unsigned char hash[TICKET_HASH_BYTES];
    const char *old_pw = NULL, *new_pw = NULL, *why = NULL;
    if (require_change(req, a, &who, hash) != 0)
        return;
    const cJSON *body = http_json(req);
    if (jsonin_get_string(body, "old_password", 1, DESK_PASSWORD_MAX, &old_pw, &why) != PD_OK ||
        jsonin_get_string(body, "new_password", 1, DESK_PASSWORD_MAX * 2, &new_pw, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request",
                         why ? why : "Give old_password and new_password.");
        return;
    }
    if (desk_check_password(new_pw, &why) != PD_OK) {
        http_reply_error(req, 422, "weak_password", why);
        return;
    }
    int rc = desk_change_password(a->desk, &who, hash, old_pw, new_pw);
    if (rc == PD_EPERM) {
        http_reply_error(req, 403, "wrong_password", "The current password is wrong.");
        return;
    }
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "changed");
    http_reply_json(req, 200, o);
}

static void add_time(cJSON *o, const char *name, long long us)
{
    char iso[32];
    pd_iso_time(us, iso);
    cJSON_AddStringToObject(o, name, iso);
}

static void add_opt(cJSON *o, const char *name, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *ticket_json(const ticket *t, long long now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticket", t->public_id);
    cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
    cJSON_AddStringToObject(o, "priority", ticket_priority_name(t->priority));
    add_time(o, "created_at", t->created_us);
    cJSON_AddNumberToObject(o, "age_s", (double)((now - t->created_us) / 1000000));
    add_opt(o, "claimed_by", t->claimed_by);
    add_opt(o, "message", t->message);
    cJSON_AddStringToObject(o, "lang", t->lang);
    cJSON_AddBoolToObject(o, "health_data", t->health_data);
    if (t->contact_name || t->contact_email || t->contact_phone) {
        cJSON *c = cJSON_AddObjectToObject(o, "contact");
        add_opt(c, "name", t->contact_name);
        add_opt(c, "email", t->contact_email);
        add_opt(c, "phone", t->contact_phone);
    } else {
        cJSON_AddNullToObject(o, "contact");
    }
    if (t->consent_version) {
        cJSON *c = cJSON_AddObjectToObject(o, "consent");
        cJSON_AddStringToObject(c, "text_version", t->consent_version);
        add_opt(c, "text_hash", t->consent_hash);
        add_time(c, "at", t->consent_us);
    } else {
        cJSON_AddNullToObject(o, "consent");
    }
    if (t->closed_us)
        add_time(o, "closed_at", t->closed_us);
    else
        cJSON_AddNullToObject(o, "closed_at");
    cJSON *arr = cJSON_AddArrayToObject(o, "replies");
    for (size_t i = 0; i < t->nreplies; i++) {
        cJSON *r = cJSON_CreateObject();
        add_time(r, "at", t->replies[i].at_us);
        add_opt(r, "by", t->replies[i].by);
        add_opt(r, "text", t->replies[i].text);
        cJSON_AddItemToArray(arr, r);
    }
    return o;
}

void h_staff_handoffs(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    enum ticket_status st;
    ticket **v = NULL;
    size_t n = 0;
    if (staff_require(req, a, &who) != 0)
        return;
    const char *status = http_query(req, "status");
    if (status && ticket_status_parse(status, &st) != PD_OK) {
        http_reply_error(req, 400, "bad_status",
                         "status must be open, claimed, answered or closed (or left out).");
        return;
    }
    int rc = tickets_list(a->store, status ? (int)st : -1, &v, &n);
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    long long now = pd_wall_us();
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "handoffs");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, ticket_json(v[i], now));
    tickets_free(v, n);
    http_reply_json(req, 200, o);
}

/* the ticket after an action, or the action's error */
static void action_reply(http_req *req, app *a, int rc, const char *id)
{
    ticket *t = NULL;
    switch (rc) {
    case PD_OK:
        break;
    case PD_ENOTFOUND:
        http_reply_error(req, 404, "not_found", "No such ticket.");
        return;
    case PD_EEXIST:
        http_reply_error(req, 409, "claimed_by_other", "Another team member holds this ticket.");
        return;
    case PD_EPERM:
        http_reply_error(req, 409, "closed", "This ticket is closed.");
        return;
    case PD_EINVAL:
        http_reply_error(req, 422, "unknown_user", "No enabled account with this user name.");
        return;
    default:
        desk_reply_store_error(req, rc);
        return;
    }
    if ((rc = tickets_get(a->store, id, &t)) != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 200, ticket_json(t, pd_wall_us()));
    ticket_free(t);
}

/* one ticket, for a link from a notification and for checks beside the list */
void h_staff_ticket(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    ticket *t = NULL;
    if (staff_require(req, a, &who) != 0)
        return;
    int rc = tickets_get(a->store, http_param(req, "ticket"), &t);
    if (rc == PD_ENOTFOUND) {
        http_reply_error(req, 404, "not_found", "No such ticket.");
        return;
    }
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 200, ticket_json(t, pd_wall_us()));
    ticket_free(t);
}

void h_staff_claim(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    if (staff_require_change(req, a, &who) != 0)
        return;
    const char *id = http_param(req, "ticket");
    action_reply(req, a, desk_claim(a->desk, &who, id), id);
}

void h_staff_reply(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    const char *text = NULL, *why = NULL;
    if (staff_require_change(req, a, &who) != 0)
        return;
    int rc = jsonin_get_string(http_json(req), "text", 1, REPLY_MAX_CHARS * 4, &text, &why);
    if (rc == PD_ETOOBIG) {
        http_reply_error(req, 422, "reply_too_long", "A reply has at most 5,000 characters.");
        return;
    }
    if (rc != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Give the reply as text.");
        return;
    }
    size_t chars = 0, blank = 1;
    for (const char *p = text; *p; p++) {
        chars += ((unsigned char)*p & 0xC0) != 0x80;
        if (!strchr(" \t\r\n", *p))
            blank = 0;
    }
    if (blank || chars > REPLY_MAX_CHARS) {
        http_reply_error(req, 422, blank ? "empty_reply" : "reply_too_long",
                         blank ? "Please write a reply." : "A reply has at most 5,000 characters.");
        return;
    }
    const char *id = http_param(req, "ticket");
    action_reply(req, a, desk_reply(a->desk, &who, id, text), id);
}

void h_staff_close(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    if (staff_require_change(req, a, &who) != 0)
        return;
    const char *id = http_param(req, "ticket");
    action_reply(req, a, desk_close(a->desk, &who, id), id);
}

void h_staff_assign(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    const char *user = NULL, *why = NULL;
    if (staff_require_admin(req, a, &who) != 0)
        return;
    if (jsonin_get_string(http_json(req), "username", 1, STAFF_NAME_MAX, &user, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Give the username.");
        return;
    }
    const char *id = http_param(req, "ticket");
    action_reply(req, a, desk_assign(a->desk, &who, id, user), id);
}

void h_staff_events(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    unsigned char hash[TICKET_HASH_BYTES];
    if (session_of(req, a, &who, hash) != 0)
        return;
    events_stream(desk_events(a->desk), req, http_header(req, "Last-Event-ID"), hash);
}

static cJSON *account_json(const staff_account *acc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "username", acc->username);
    cJSON_AddStringToObject(o, "role", acc->role);
    cJSON_AddBoolToObject(o, "disabled", acc->disabled);
    add_time(o, "created_at", acc->created_us);
    return o;
}

void h_staff_accounts(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    staff_account *v = NULL;
    size_t n = 0;
    if (staff_require(req, a, &who) != 0)
        return;
    if (strcmp(who.who.role, "admin") != 0) {
        http_reply_error(req, 403, "forbidden", "Only an administrator may do this.");
        return;
    }
    int rc = staff_list(a->store, &v, &n);
    if (rc != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "accounts");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, account_json(&v[i]));
    free(v);
    http_reply_json(req, 200, o);
}

void h_staff_account_add(http_req *req, void *ctx)
{
    app *a = ctx;
    staff_session who;
    const char *user = NULL, *pw = NULL, *role = NULL, *why = NULL;
    staff_account acc;
    if (staff_require_admin(req, a, &who) != 0)
        return;
    const cJSON *body = http_json(req);
    if (jsonin_get_string(body, "username", 1, 256, &user, &why) != PD_OK ||
        jsonin_get_string(body, "password", 1, DESK_PASSWORD_MAX * 2, &pw, &why) != PD_OK ||
        jsonin_get_string(body, "role", 1, 32, &role, &why) != PD_OK) {
        http_reply_error(req, 400, "bad_request", why ? why : "Give username, password and role.");
        return;
    }
    if (desk_check_username(user, &why) != PD_OK) {
        http_reply_error(req, 422, "bad_username", why);
        return;
    }
    if (strcmp(role, "pharmacist") != 0 && strcmp(role, "admin") != 0) {
        http_reply_error(req, 422, "bad_role", "role must be \"pharmacist\" or \"admin\".");
        return;
    }
    if (desk_check_password(pw, &why) != PD_OK) {
        http_reply_error(req, 422, "weak_password", why);
        return;
    }
    int rc = desk_account_add(a->desk, &who, user, pw, role);
    if (rc == PD_EEXIST) {
        http_reply_error(req, 409, "exists", "An account with this user name exists.");
        return;
    }
    if (rc != PD_OK || (rc = staff_get(a->store, user, &acc, NULL)) != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 201, account_json(&acc));
}

static void account_switch(http_req *req, app *a, int disabled)
{
    staff_session who;
    staff_account acc;
    if (staff_require_admin(req, a, &who) != 0)
        return;
    const char *user = http_param(req, "username");
    int rc = desk_account_disable(a->desk, &who, user, disabled);
    if (rc == PD_ENOTFOUND) {
        http_reply_error(req, 404, "not_found", "No account with this user name.");
        return;
    }
    if (rc == PD_EPERM) {
        http_reply_error(req, 409, "self", "You cannot disable your own account.");
        return;
    }
    if (rc != PD_OK || (rc = staff_get(a->store, user, &acc, NULL)) != PD_OK) {
        desk_reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 200, account_json(&acc));
}

void h_staff_account_disable(http_req *req, void *ctx)
{
    account_switch(req, ctx, 1);
}

void h_staff_account_enable(http_req *req, void *ctx)
{
    account_switch(req, ctx, 0);
}
