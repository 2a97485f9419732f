/* the handoff's service layer without sockets: consent rules, retries and tokens, logins and
 * sessions, staff actions, and what they leave in the audit log (the staff member's id, never a
 * message text) */
#include <stdlib.h>

#include "app.h"
#include "check.h"
#include "desk.h"
#include "pd.h"
#include "testutil.h"

static const char *health = "Meine Tochter hat seit gestern Fieber, bitte rufen Sie mich an";

typedef struct seen {
    int staff_claim, staff_reply, staff_close, staff_login, refused, opened, retry, text;
    char want[64];
} seen;

static int audit_cb(const audit_entry *e, void *arg)
{
    seen *s = arg;
    const char *fields[] = {e->kind, e->conversation, e->decision, e->intent, e->rule, e->detail};
    for (size_t i = 0; i < PD_ARRAY_LEN(fields); i++)
        if (strstr(fields[i], "Fieber") || strstr(fields[i], "rufen"))
            s->text++;
    if (strcmp(e->kind, "staff") == 0 && strstr(e->detail, s->want)) {
        s->staff_claim += strcmp(e->decision, "claim") == 0;
        s->staff_reply += strcmp(e->decision, "reply") == 0;
        s->staff_close += strcmp(e->decision, "close") == 0;
    }
    if (strcmp(e->kind, "staff") == 0 && strcmp(e->decision, "login") == 0)
        s->staff_login++;
    if (strcmp(e->kind, "handoff") == 0) {
        s->refused += strcmp(e->decision, "refused") == 0 &&
                      strcmp(e->detail, "reason=consent_missing") == 0 && e->health_data;
        s->opened += strcmp(e->decision, "ticket_opened") == 0 &&
                     strstr(e->detail, "consent=handoff-1") != NULL;
        s->retry += strcmp(e->decision, "ticket_retry") == 0;
    }
    return 0;
}

int main(void)
{
    char data[300];
    buf err = BUF_INIT;
    config *cfg = NULL;
    app a = {0};
    desk *d = NULL;
    snprintf(data, sizeof data, "%s/data", testutil_tmpdir());
    if (config_parse("test", NULL, 0, &cfg, &err) != PD_OK || store_create(data, &err) != PD_OK ||
        store_open(data, 4, &a.store, &err) != PD_OK || audit_open(a.store, &a.audit, &err) ||
        policy_load(PD_POLICIES_DIR, &a.policy, &err) != PD_OK ||
        consent_load(PD_POLICIES_DIR, cfg->pharmacy.name, cfg->retention.ticket_days, &a.consent,
                     &err) != PD_OK) {
        fprintf(stderr, "setup: %s\n", buf_cstr(&err));
        return 2;
    }
    a.cfg = cfg;
    a.convos = convo_new(100, 1800);
    CHECK_EQ_INT(desk_new(&a, data, &d, &err), PD_OK);
    a.desk = d;

    /* health data: consent or nothing */
    handoff_in in = {.message = health, .lang = "de", .consent = -1};
    handoff_out out;
    ticket **v = NULL;
    size_t n = 0;
    CHECK_EQ_INT(desk_handoff(d, &in, &out), PD_OK);
    CHECK_EQ_INT(out.outcome, HANDOFF_CONSENT_MISSING);
    in.consent = 0;
    in.consent_version = "handoff-1";
    CHECK_EQ_INT(desk_handoff(d, &in, &out), PD_OK);
    CHECK_EQ_INT(out.outcome, HANDOFF_CONSENT_MISSING);
    in.consent = 1;
    in.consent_version = "handoff-7";
    CHECK_EQ_INT(desk_handoff(d, &in, &out), PD_OK);
    CHECK_EQ_INT(out.outcome, HANDOFF_CONSENT_UNKNOWN);
    CHECK_EQ_INT(tickets_list(a.store, -1, &v, &n), PD_OK);
    CHECK_EQ_INT(n, 0);
    tickets_free(v, n);
    in.consent_version = "handoff-1";
    in.conversation = "abcdefghijklmnopqrstuvwxyz";
    CHECK_EQ_INT(desk_handoff(d, &in, &out), PD_OK);
    CHECK_EQ_INT(out.outcome, HANDOFF_CREATED);
    CHECK_EQ_INT(strlen(out.token), DESK_TOKEN_LEN);
    handoff_out again;
    CHECK_EQ_INT(desk_handoff(d, &in, &again), PD_OK);
    CHECK(again.outcome == HANDOFF_RETRY && strcmp(again.ticket, out.ticket) == 0 &&
          strcmp(again.token, out.token) != 0);
    ticket *t = NULL;
    CHECK_EQ_INT(desk_ticket_for_token(d, out.ticket, out.token, &t), PD_OK);
    CHECK(t && strcmp(t->message, health) == 0 && t->health_data &&
          strcmp(t->consent_version, "handoff-1") == 0 && strlen(t->consent_hash) == 64);
    ticket_free(t);
    CHECK_EQ_INT(desk_ticket_for_token(d, out.ticket, again.token, &t), PD_OK);
    ticket_free(t);
    CHECK_EQ_INT(desk_ticket_for_token(d, out.ticket, "short", &t), PD_ENOTFOUND);
    CHECK_EQ_INT(desk_ticket_for_token(d, "x", out.token, &t), PD_ENOTFOUND);

    /* staff: login, session, actions */
    char h[STAFF_HASH_MAX];
    CHECK_EQ_INT(desk_password_hash(NULL, "anna-passwort-1", h), PD_OK);
    CHECK(strncmp(h, "$argon2id$", 10) == 0 && strstr(h, "m=262144") != NULL); /* moderate */
    CHECK_EQ_INT(staff_create(a.store, "anna", "admin", h, pd_wall_us()), PD_OK);
    CHECK_EQ_INT(staff_create(a.store, "bert", "pharmacist", h, pd_wall_us()), PD_OK);
    login_out lo;
    CHECK_EQ_INT(desk_login(d, "anna", "falsch-falsch", &lo), PD_OK);
    CHECK_EQ_INT(lo.result, LOGIN_FAILED);
    CHECK_EQ_INT(desk_login(d, "niemand", "anna-passwort-1", &lo), PD_OK);
    CHECK_EQ_INT(lo.result, LOGIN_FAILED);
    CHECK_EQ_INT(desk_login(d, "anna", "anna-passwort-1", &lo), PD_OK);
    CHECK(lo.result == LOGIN_OK && strlen(lo.session) == DESK_TOKEN_LEN &&
          strlen(lo.s.csrf) == DESK_TOKEN_LEN && strcmp(lo.s.who.role, "admin") == 0);
    staff_session anna;
    unsigned char sh[TICKET_HASH_BYTES];
    CHECK_EQ_INT(desk_session(d, lo.session, &anna, sh), PD_OK);
    CHECK_EQ_STR(anna.csrf, lo.s.csrf);
    CHECK_EQ_INT(desk_session(d, "not-a-session", &anna, sh), PD_ENOTFOUND);
    CHECK_EQ_INT(desk_session(d, lo.session, &anna, sh), PD_OK);
    login_out lb;
    staff_session bert;
    unsigned char bh[TICKET_HASH_BYTES];
    CHECK_EQ_INT(desk_login(d, "bert", "anna-passwort-1", &lb), PD_OK);
    CHECK_EQ_INT(desk_session(d, lb.session, &bert, bh), PD_OK);
    CHECK_EQ_INT(desk_claim(d, &anna, out.ticket), PD_OK);
    CHECK_EQ_INT(desk_claim(d, &bert, out.ticket), PD_EEXIST);
    CHECK_EQ_INT(desk_reply(d, &anna, out.ticket, "Wir rufen Sie an."), PD_OK);
    CHECK_EQ_INT(desk_close(d, &anna, out.ticket), PD_OK);
    CHECK_EQ_INT(desk_close(d, &anna, out.ticket), PD_EPERM);
    CHECK_EQ_INT(desk_account_disable(d, &anna, "anna", 1), PD_EPERM);
    CHECK_EQ_INT(desk_account_disable(d, &anna, "bert", 1), PD_OK);
    CHECK_EQ_INT(desk_session(d, lb.session, &bert, bh), PD_ENOTFOUND);
    CHECK_EQ_INT(desk_logout(d, &anna, sh), PD_OK);
    CHECK_EQ_INT(desk_session(d, lo.session, &anna, sh), PD_ENOTFOUND);

    /* the audit log: every decision and staff action, with the staff id, never the text */
    seen s = {0};
    snprintf(s.want, sizeof s.want, "staff_id=%lld ticket=%s", lo.s.who.id, out.ticket);
    CHECK_EQ_INT(audit_flush(a.audit), PD_OK);
    CHECK_EQ_INT(store_audit_foreach(a.store, audit_cb, &s), PD_OK);
    CHECK_EQ_INT(s.refused, 2);
    CHECK_EQ_INT(s.opened, 1);
    CHECK_EQ_INT(s.retry, 1);
    CHECK_EQ_INT(s.staff_claim, 1);
    CHECK_EQ_INT(s.staff_reply, 1);
    CHECK_EQ_INT(s.staff_close, 1);
    CHECK_EQ_INT(s.staff_login, 2);
    CHECK_EQ_INT(s.text, 0);
    /* the command line's entry continues the same chain */
    CHECK_EQ_INT(desk_cli_audit(a.store, "account_add", "bert", "role=pharmacist"), PD_OK);
    CHECK_EQ_INT(desk_cli_audit(a.store, "account_add", "nobody", NULL), PD_ENOTFOUND);
    CHECK_EQ_INT(audit_verify(a.store, NULL, NULL), PD_OK);

    desk_free(d);
    convo_free(a.convos);
    consent_free(a.consent);
    policy_free(a.policy);
    audit_close(a.audit);
    store_close(a.store);
    config_free(cfg);
    buf_free(&err);
    return check_done();
}
