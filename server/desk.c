#include "desk.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "pd.h"

#define PWHASH_PARALLEL 2 /* Argon2id runs at once: 256 MiB each */

struct desk {
    app *a;
    events_hub *events;
    ratelimit *lim[DESK_LIM_COUNT];
    char *data_dir;
    buf hours; /* the opening hours line for mail signatures */
    outbox_opts mail;
    pthread_mutex_t pw_lock;
    pthread_cond_t pw_cond;
    int pw_busy;
    pthread_mutex_t dummy_lock;
    char dummy_hash[STAFF_HASH_MAX]; /* verified for unknown names, so they take as long; made
                                      * on first need, so that a start costs no Argon2id run */
};

static int pw_hash_plain(const char *pw, char *out)
{
    char tmp[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(tmp, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MODERATE,
                              crypto_pwhash_MEMLIMIT_MODERATE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return PD_ENOMEM;
    snprintf(out, STAFF_HASH_MAX, "%s", tmp);
    sodium_memzero(tmp, sizeof tmp);
    return PD_OK;
}

static void pw_enter(desk *d)
{
    pthread_mutex_lock(&d->pw_lock);
    while (d->pw_busy >= PWHASH_PARALLEL)
        pthread_cond_wait(&d->pw_cond, &d->pw_lock);
    d->pw_busy++;
    pthread_mutex_unlock(&d->pw_lock);
}

static void pw_leave(desk *d)
{
    pthread_mutex_lock(&d->pw_lock);
    d->pw_busy--;
    pthread_cond_signal(&d->pw_cond);
    pthread_mutex_unlock(&d->pw_lock);
}

int desk_password_hash(desk *d, const char *pw, char *out)
{
    if (!d)
        return pw_hash_plain(pw, out);
    pw_enter(d);
    int ret = pw_hash_plain(pw, out);
    pw_leave(d);
    return ret;
}

/* the hash an unknown user name is checked against: a random password's, made once */
static const char *dummy_hash(desk *d)
{
    pthread_mutex_lock(&d->dummy_lock);
    if (!d->dummy_hash[0]) {
        unsigned char rnd[32];
        char pw[65];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
        if (desk_password_hash(d, pw, d->dummy_hash) != PD_OK)
            d->dummy_hash[0] = '\0'; /* verification of "" fails: still a refusal */
        sodium_memzero(pw, sizeof pw);
    }
    pthread_mutex_unlock(&d->dummy_lock);
    return d->dummy_hash;
}

/* 0 when pw matches hash */
static int pw_verify(desk *d, const char *hash, const char *pw)
{
    pw_enter(d);
    int rc = crypto_pwhash_str_verify(hash, pw, strlen(pw));
    pw_leave(d);
    return rc;
}

int desk_new(app *a, const char *data_dir, desk **out, buf *err)
{
    const config *cfg = a->cfg;
    desk *d = pd_xcalloc(1, sizeof *d);
    (void)err;
    d->a = a;
    d->data_dir = pd_xstrdup(data_dir);
    pthread_mutex_init(&d->pw_lock, NULL);
    pthread_cond_init(&d->pw_cond, NULL);
    pthread_mutex_init(&d->dummy_lock, NULL);
    d->lim[DESK_LIM_HANDOFF] = ratelimit_new(cfg->handoff_limits.handoffs_per_hour, 3600, 100000);
    d->lim[DESK_LIM_VIEW] = ratelimit_new(cfg->handoff_limits.ticket_views_per_minute, 60, 100000);
    d->lim[DESK_LIM_LOGIN] = ratelimit_new(cfg->handoff_limits.logins_per_minute, 60, 100000);
    config_hours_text(cfg, "de", &d->hours);
    d->mail = (outbox_opts){.dir = d->data_dir,
                            .sendmail = cfg->mail.sendmail,
                            .from = cfg->mail.from,
                            .pharmacy_name = cfg->pharmacy.name,
                            .pharmacy_address = cfg->pharmacy.address,
                            .pharmacy_phone = cfg->pharmacy.phone,
                            .pharmacy_hours = buf_cstr(&d->hours)};
    d->events = events_new(a->store, cfg->staff.max_event_streams, cfg->staff.keepalive_s,
                           (long long)cfg->staff.session_idle_s * 1000000,
                           (long long)cfg->staff.session_max_s * 1000000);
    *out = d;
    return PD_OK;
}

void desk_shutdown(desk *d)
{
    if (d)
        events_shutdown(d->events);
}

void desk_free(desk *d)
{
    if (!d)
        return;
    events_free(d->events);
    for (int i = 0; i < DESK_LIM_COUNT; i++)
        ratelimit_free(d->lim[i]);
    pthread_cond_destroy(&d->pw_cond);
    pthread_mutex_destroy(&d->pw_lock);
    pthread_mutex_destroy(&d->dummy_lock);
    buf_free(&d->hours);
    free(d->data_dir);
    free(d);
}

events_hub *desk_events(desk *d)
{
    return d->events;
}

int desk_limit_hit(desk *d, enum desk_limit which, const char *client)
{
    return ratelimit_hit(d->lim[which], client);
}

/* ---- input checks ---------------------------------------------------------------------------- */

static int utf8_len(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int desk_check_username(const char *u, const char **why)
{
    size_t n = strlen(u);
    int ok = n >= 1 && n <= STAFF_NAME_MAX &&
             ((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= '0' && u[0] <= '9'));
    for (size_t i = 0; ok && i < n; i++)
        ok = (u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || strchr("._-", u[i]);
    if (!ok)
        *why = "A user name has 1 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
               "starting with a letter or digit.";
    return ok ? PD_OK : PD_EINVAL;
}

int desk_check_password(const char *pw, const char **why)
{
    int n = utf8_len(pw);
    if (n < DESK_PASSWORD_MIN) {
        *why = "The password is too short: use at least 10 characters.";
        return PD_EINVAL;
    }
    if (strlen(pw) > DESK_PASSWORD_MAX || has_control(pw)) {
        *why = "The password must be at most 1024 bytes without control characters.";
        return PD_EINVAL;
    }
    return PD_OK;
}

int desk_check_email(const char *e, const char **why)
{
    const char *at = strchr(e, '@');
    size_t n = strlen(e);
    int ok = n >= 3 && n <= 254 && at && at != e && !strchr(at + 1, '@') &&
             (size_t)(at - e) <= 64 && !has_control(e) && !strpbrk(e, " <>,;:\"()[]\\") &&
             strchr(at + 1, '.') && at[1] != '.' && e[n - 1] != '.' && !strstr(at, "..");
    if (!ok)
        *why = "contact.email must be an e-mail address like name@example.org.";
    return ok ? PD_OK : PD_EINVAL;
}

int desk_check_phone(const char *p, const char **why)
{
    int digits = 0, ok = strlen(p) <= 32;
    for (const char *c = p; ok && *c; c++) {
        if (*c >= '0' && *c <= '9')
            digits++;
        else if (!strchr(" +/-()", *c))
            ok = 0;
    }
    if (!ok || digits < 3 || digits > 20) {
        *why = "contact.phone must be a phone number of 3 to 20 digits with spaces, + / - ( ).";
        return PD_EINVAL;
    }
    return PD_OK;
}

int desk_check_name(const char *n, const char **why)
{
    if (utf8_len(n) > 100 || has_control(n)) {
        *why = "contact.name must be at most 100 characters on one line.";
        return PD_EINVAL;
    }
    return PD_OK;
}

int desk_check_conversation(const char *c, const char **why)
{
    int ok = strlen(c) == CONVO_ID_LEN;
    for (const char *p = c; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '2' && *p <= '7');
    if (!ok)
        *why = "conversation must be the id that POST /api/v1/inquiries returned (26 characters).";
    return ok ? PD_OK : PD_EINVAL;
}

/* ---- tokens ------------------------------------------------------------------------------------
 */

static void token_hash(const char *token, unsigned char hash[TICKET_HASH_BYTES])
{
    crypto_generichash(hash, TICKET_HASH_BYTES, (const unsigned char *)token, strlen(token), NULL,
                       0);
}

/* 256 random bits as base64url; only the hash is kept */
static void token_new(char out[DESK_TOKEN_LEN + 1], unsigned char hash[TICKET_HASH_BYTES])
{
    unsigned char rnd[32];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2base64(out, DESK_TOKEN_LEN + 1, rnd, sizeof rnd,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(rnd, sizeof rnd);
    if (hash)
        token_hash(out, hash);
}

static int token_wellformed(const char *t)
{
    if (!t || strlen(t) != DESK_TOKEN_LEN)
        return 0;
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_'))
            return 0;
    return 1;
}

static void ticket_id_new(char out[TICKET_ID_LEN + 1])
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789"; /* no l, o, 0, 1 */
    unsigned char rnd[TICKET_ID_LEN];
    randombytes_buf(rnd, sizeof rnd);
    for (int i = 0; i < TICKET_ID_LEN; i++)
        out[i] = alphabet[rnd[i] & 31];
    out[TICKET_ID_LEN] = '\0';
}

/* ---- audit -------------------------------------------------------------------------------------
 */

static int audit_staff(desk *d, const staff_session *who, const char *action, const char *ticket_id,
                       const char *extra)
{
    char detail[200];
    audit_entry e = {0};
    snprintf(detail, sizeof detail, "staff_id=%lld%s%s%s%s", who ? who->who.id : 0,
             ticket_id ? " ticket=" : "", ticket_id ? ticket_id : "", extra ? " " : "",
             extra ? extra : "");
    e.kind = "staff";
    e.decision = action;
    e.intent = "";
    e.rule = "";
    e.policy_version = policy_version(d->a->policy);
    e.detail = detail;
    int ret = audit_append(d->a->audit, &e);
    if (ret != PD_OK)
        log_error("event=audit_failed kind=staff action=%s err=%s", action, pd_strerror(ret));
    return ret;
}

/* ---- tickets -----------------------------------------------------------------------------------
 */

int desk_handoff(desk *d, const handoff_in *in, handoff_out *out)
{
    app *a = d->a;
    policy_result r;
    const consent_text *ct = NULL;
    char detail[160];
    int ret, existed = 0;
    memset(out, 0, sizeof *out);
    policy_classify(a->policy, in->message, strlen(in->message), &r);
    out->priority = r.decision == POLICY_EMERGENCY        ? TICKET_PRIO_EMERGENCY
                    : r.intent == POLICY_ADVERSE_EVENT    ? TICKET_PRIO_ADVERSE_EVENT
                    : r.intent == POLICY_INTENT_EMERGENCY ? TICKET_PRIO_EMERGENCY
                                                          : TICKET_PRIO_NORMAL;
    if (in->consent_version)
        ct = consent_find(a->consent, "handoff", in->consent_version, in->lang);
    if (in->consent_version && !ct)
        out->outcome = HANDOFF_CONSENT_UNKNOWN;
    else if (r.health_data && (in->consent != 1 || !ct))
        out->outcome = HANDOFF_CONSENT_MISSING;
    if (out->outcome == HANDOFF_CONSENT_UNKNOWN || out->outcome == HANDOFF_CONSENT_MISSING) {
        /* refused: nothing of the message is kept; the decision is */
        audit_entry e = {0};
        e.kind = "handoff";
        e.conversation = in->conversation;
        e.decision = "refused";
        e.intent = policy_intent_name(r.intent);
        e.rule = r.rule;
        e.policy_version = policy_version(a->policy);
        e.health_data = r.health_data;
        e.detail = out->outcome == HANDOFF_CONSENT_UNKNOWN ? "reason=unknown_consent_version"
                                                           : "reason=consent_missing";
        return audit_append(a->audit, &e);
    }
    int consented = in->consent == 1 && ct;
    ticket_new t = {0};
    char id[TICKET_ID_LEN + 1];
    ticket_id_new(id);
    token_new(out->token, t.token_hash);
    if (in->conversation) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, TICKET_HASH_BYTES);
        crypto_generichash_update(&st, (const unsigned char *)in->conversation,
                                  strlen(in->conversation) + 1);
        crypto_generichash_update(&st, (const unsigned char *)in->message, strlen(in->message));
        crypto_generichash_final(&st, t.msg_key, TICKET_HASH_BYTES);
    }
    t.public_id = id;
    t.conversation = in->conversation;
    t.message = in->message;
    t.lang = in->lang;
    t.priority = out->priority;
    t.health_data = r.health_data;
    t.consent_version = consented ? ct->version : NULL;
    t.consent_hash = consented ? ct->hash : NULL;
    t.contact_name = in->name;
    t.contact_email = in->email;
    t.contact_phone = in->phone;
    t.now_us = pd_wall_us();
    if ((ret = tickets_create(a->store, &t, out->ticket, &existed)) != PD_OK)
        return ret;
    out->outcome = existed ? HANDOFF_RETRY : HANDOFF_CREATED;
    out->status = TICKET_OPEN;
    if (existed) {
        /* a retry reports where the ticket stands now */
        ticket *cur = NULL;
        if (tickets_get(a->store, out->ticket, &cur) == PD_OK)
            out->status = cur->status;
        ticket_free(cur);
    } else {
        events_notify(d->events);
    }
    convo_state cs;
    if (in->conversation && a->convos && convo_get(a->convos, in->conversation, &cs) == PD_OK) {
        /* remembered, so that the customer hears once when the ticket is closed */
        cs.handed_off = 1;
        cs.pending = CONVO_NONE;
        convo_put(a->convos, &cs);
    }
    snprintf(detail, sizeof detail, "ticket=%s priority=%s consent=%s", out->ticket,
             ticket_priority_name(out->priority), consented ? ct->version : "none");
    audit_entry e = {0};
    e.kind = "handoff";
    e.conversation = in->conversation;
    e.decision = existed ? "ticket_retry" : "ticket_opened";
    e.intent = policy_intent_name(r.intent);
    e.rule = r.rule;
    e.policy_version = policy_version(a->policy);
    e.health_data = r.health_data;
    e.detail = detail;
    return audit_append(a->audit, &e);
}

int desk_ticket_for_token(desk *d, const char *ticket_id, const char *token, ticket **out)
{
    unsigned char h[TICKET_HASH_BYTES];
    *out = NULL;
    if (!token_wellformed(token) || strlen(ticket_id) != TICKET_ID_LEN) {
        /* the same work as a real lookup, so that a malformed token tells nothing either */
        token_hash("-", h);
        return PD_ENOTFOUND;
    }
    token_hash(token, h);
    return tickets_get_by_token(d->a->store, ticket_id, h, out);
}

int desk_escalate(desk *d, const char *ticket_id, enum ticket_priority p)
{
    int ret = tickets_escalate(d->a->store, ticket_id, p, pd_wall_us());
    if (ret == PD_OK)
        events_notify(d->events);
    return ret;
}

/* ---- staff -------------------------------------------------------------------------------------
 */

static long long login_wait_s(const config *cfg, int failures)
{
    if (failures >= cfg->staff.lockout_failures)
        return cfg->staff.lockout_s;
    if (failures < 3)
        return 0;
    long long w = 1LL << (failures - 3 > 6 ? 6 : failures - 3);
    return w > 60 ? 60 : w;
}

int desk_login(desk *d, const char *username, const char *password, login_out *out)
{
    app *a = d->a;
    staff_account acc;
    char hash[STAFF_HASH_MAX];
    int failures = 0, ret, found;
    long long blocked = 0, now = pd_wall_us();
    memset(out, 0, sizeof *out);
    /* made before the first attempt of any kind, so that no attempt pays for it alone */
    const char *dummy = dummy_hash(d);
    if ((ret = staff_login_state(a->store, username, &failures, &blocked)) != PD_OK)
        return ret;
    if (blocked > now) {
        out->result = LOGIN_BLOCKED;
        out->retry_after = (int)((blocked - now + 999999) / 1000000);
        return PD_OK;
    }
    ret = staff_get(a->store, username, &acc, hash);
    if (ret != PD_OK && ret != PD_ENOTFOUND)
        return ret;
    found = ret == PD_OK;
    /* an unknown name costs the same Argon2id run as a known one */
    int ok = pw_verify(d, found ? hash : dummy, password) == 0 && found && !acc.disabled;
    sodium_memzero(hash, sizeof hash);
    now = pd_wall_us(); /* the wait counts from the answer, however long Argon2id took */
    if (!ok) {
        failures++;
        long long wait = login_wait_s(a->cfg, failures);
        if ((ret = staff_login_failed(a->store, username, failures, wait ? now + wait * 1000000 : 0,
                                      now)) != PD_OK)
            return ret;
        out->result = LOGIN_FAILED;
        if (found)
            audit_staff(d, &(staff_session){.who = acc}, "login_failed", NULL,
                        failures >= a->cfg->staff.lockout_failures ? "locked=1" : NULL);
        log_info("event=staff_login_failed");
        return PD_OK;
    }
    if (failures && (ret = staff_login_clear(a->store, username)) != PD_OK)
        return ret;
    unsigned char sh[TICKET_HASH_BYTES];
    token_new(out->session, sh);
    token_new(out->s.csrf, NULL);
    out->s.who = acc;
    out->s.created_us = out->s.last_seen_us = now;
    if ((ret = staff_session_create(a->store, sh, acc.id, out->s.csrf, now)) != PD_OK) {
        sodium_memzero(out, sizeof *out);
        return ret;
    }
    out->result = LOGIN_OK;
    return audit_staff(d, &out->s, "login", NULL, NULL);
}

int desk_session(desk *d, const char *cookie, staff_session *out,
                 unsigned char hash[TICKET_HASH_BYTES])
{
    const config *cfg = d->a->cfg;
    memset(out, 0, sizeof *out);
    if (!token_wellformed(cookie))
        return PD_ENOTFOUND;
    token_hash(cookie, hash);
    return staff_session_get(d->a->store, hash, pd_wall_us(),
                             (long long)cfg->staff.session_idle_s * 1000000,
                             (long long)cfg->staff.session_max_s * 1000000, out);
}

int desk_logout(desk *d, const staff_session *who, const unsigned char hash[TICKET_HASH_BYTES])
{
    int ret = staff_session_delete(d->a->store, hash);
    if (ret == PD_OK)
        ret = audit_staff(d, who, "logout", NULL, NULL);
    return ret;
}

int desk_change_password(desk *d, const staff_session *who,
                         const unsigned char hash[TICKET_HASH_BYTES], const char *old_pw,
                         const char *new_pw)
{
    staff_account acc;
    char stored[STAFF_HASH_MAX], fresh[STAFF_HASH_MAX];
    int ret = staff_get(d->a->store, who->who.username, &acc, stored);
    if (ret != PD_OK)
        return ret;
    int ok = pw_verify(d, stored, old_pw) == 0;
    sodium_memzero(stored, sizeof stored);
    if (!ok) {
        audit_staff(d, who, "password_change_failed", NULL, NULL);
        return PD_EPERM;
    }
    if ((ret = desk_password_hash(d, new_pw, fresh)) != PD_OK)
        return ret;
    ret = staff_set_password(d->a->store, who->who.username, fresh, hash);
    sodium_memzero(fresh, sizeof fresh);
    if (ret == PD_OK)
        ret = audit_staff(d, who, "password_change", NULL, NULL);
    return ret;
}

int desk_account_add(desk *d, const staff_session *who, const char *username, const char *pw,
                     const char *role)
{
    char hash[STAFF_HASH_MAX], extra[120];
    int ret = desk_password_hash(d, pw, hash);
    if (ret != PD_OK)
        return ret;
    ret = staff_create(d->a->store, username, role, hash, pd_wall_us());
    sodium_memzero(hash, sizeof hash);
    if (ret != PD_OK)
        return ret;
    staff_account acc;
    if ((ret = staff_get(d->a->store, username, &acc, NULL)) != PD_OK)
        return ret;
    snprintf(extra, sizeof extra, "account_id=%lld role=%s", acc.id, role);
    return audit_staff(d, who, "account_add", NULL, extra);
}

int desk_account_disable(desk *d, const staff_session *who, const char *username, int disabled)
{
    staff_account acc;
    char extra[64];
    int ret = staff_get(d->a->store, username, &acc, NULL);
    if (ret != PD_OK)
        return ret;
    if (disabled && acc.id == who->who.id)
        return PD_EPERM;
    if ((ret = staff_set_disabled(d->a->store, username, disabled)) != PD_OK)
        return ret;
    snprintf(extra, sizeof extra, "account_id=%lld", acc.id);
    return audit_staff(d, who, disabled ? "account_disable" : "account_enable", NULL, extra);
}

static int after_action(desk *d, const staff_session *who, const char *action,
                        const char *ticket_id, const char *extra, int ret)
{
    if (ret != PD_OK)
        return ret;
    events_notify(d->events);
    return audit_staff(d, who, action, ticket_id, extra);
}

int desk_claim(desk *d, const staff_session *who, const char *ticket_id)
{
    int changed = 0;
    int ret = tickets_claim(d->a->store, ticket_id, who->who.id, pd_wall_us(), &changed);
    if (ret == PD_OK && !changed)
        return PD_OK; /* already held by this staff member: nothing happened, nothing to tell */
    return after_action(d, who, "claim", ticket_id, NULL, ret);
}

/* the reply by mail, in the ticket's language, when the customer gave an address */
static void reply_mail(desk *d, const char *ticket_id, const char *text)
{
    ticket *t = NULL;
    buf subject = BUF_INIT, body = BUF_INIT, err = BUF_INIT;
    policy_vars v = {0};
    const policy *p = d->a->policy;
    if (tickets_get(d->a->store, ticket_id, &t) != PD_OK || !t->contact_email)
        goto out;
    const char *lang = t->lang;
    v.pharmacy_name = d->a->cfg->pharmacy.name;
    v.pharmacy_phone = d->a->cfg->pharmacy.phone;
    v.hours = buf_cstr(&d->hours);
    const char *s = policy_reply(p, "mail.handoff_reply.subject", lang);
    const char *intro = policy_reply(p, "mail.handoff_reply.intro", lang);
    const char *outro = policy_reply(p, "mail.handoff_reply.outro", lang);
    if (!s || !intro || !outro) {
        log_error("event=mail_text_missing key=mail.handoff_reply lang=%s", lang);
        goto out;
    }
    policy_render(s, &v, &subject);
    buf_printf(&subject, " (%s)", t->public_id);
    policy_render(intro, &v, &body);
    buf_printf(&body, "\n\n%s\n\n", text);
    policy_render(outro, &v, &body);
    buf_putc(&body, '\n');
    outbox_mail m = {
        .to = t->contact_email, .subject = buf_cstr(&subject), .body = buf_cstr(&body)};
    if (outbox_send(&d->mail, &m, &err) != PD_OK)
        log_error("event=handoff_mail_failed reason=\"%s\"", buf_cstr(&err));
out:
    ticket_free(t);
    buf_free(&subject);
    buf_free(&body);
    buf_free(&err);
}

int desk_reply(desk *d, const staff_session *who, const char *ticket_id, const char *text)
{
    int ret = tickets_reply(d->a->store, ticket_id, who->who.id, text, pd_wall_us());
    ret = after_action(d, who, "reply", ticket_id, NULL, ret);
    if (ret == PD_OK)
        reply_mail(d, ticket_id, text);
    return ret;
}

int desk_close(desk *d, const staff_session *who, const char *ticket_id)
{
    int admin = strcmp(who->who.role, "admin") == 0;
    int ret = tickets_close(d->a->store, ticket_id, who->who.id, admin, pd_wall_us());
    return after_action(d, who, "close", ticket_id, NULL, ret);
}

int desk_assign(desk *d, const staff_session *who, const char *ticket_id, const char *username)
{
    staff_account to;
    char extra[64];
    int ret = tickets_assign(d->a->store, ticket_id, username, pd_wall_us());
    if (ret == PD_OK && staff_get(d->a->store, username, &to, NULL) == PD_OK)
        snprintf(extra, sizeof extra, "to_staff_id=%lld", to.id);
    else
        snprintf(extra, sizeof extra, "to_staff_id=?");
    return after_action(d, who, "assign", ticket_id, extra, ret);
}

int desk_cli_audit(store *s, const char *action, const char *username, const char *extra)
{
    audit *au = NULL;
    buf err = BUF_INIT;
    staff_account acc;
    char detail[160];
    int ret = staff_get(s, username, &acc, NULL);
    if (ret != PD_OK)
        return ret;
    if ((ret = audit_open(s, &au, &err)) != PD_OK) {
        buf_free(&err);
        return ret;
    }
    snprintf(detail, sizeof detail, "via=cli account_id=%lld%s%s", acc.id, extra ? " " : "",
             extra ? extra : "");
    audit_entry e = {0};
    e.kind = "staff";
    e.decision = action;
    e.detail = detail;
    ret = audit_append(au, &e);
    audit_close(au);
    buf_free(&err);
    return ret;
}
