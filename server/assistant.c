#include "assistant.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "log.h"
#include "orderno.h"
#include "pd.h"

/* a reply names the products that fit nearly as well as the best one */
#define ASSISTANT_CLOSE 0.8f

static void vars_init(app *a, const char *lang, policy_vars *v)
{
    const config *cfg = a->cfg;
    memset(v, 0, sizeof *v);
    v->pharmacy_name = cfg->pharmacy.name;
    v->pharmacy_phone = cfg->pharmacy.phone;
    v->poison_name = cfg->poison_control.name;
    v->poison_phone = cfg->poison_control.phone;
    v->emergency_url = cfg->emergency_service_url;
    v->hours = config_hours_line(cfg, lang);
}

/* appends the template key, rendered, as a sentence of its own */
static void say(app *a, const char *key, const char *lang, const policy_vars *v, buf *out)
{
    const char *t = policy_reply(a->policy, key, lang);
    if (!t) {
        log_warn("event=reply_missing key=%s lang=%s", key, lang);
        return;
    }
    if (out->len)
        buf_putc(out, ' ');
    policy_render(t, v, out);
}

static const char *availability_key(const product *p)
{
    switch (product_availability(p)) {
    case AVAIL_IN_STOCK:
        return "availability.in_stock";
    case AVAIL_ORDERABLE:
        return "availability.orderable";
    case AVAIL_SHORTAGE:
        return "availability.shortage";
    case AVAIL_DISCONTINUED:
        return "availability.discontinued";
    }
    return "availability.not_found";
}

/* a postcode: five digits standing alone (not part of a longer number such as an order's) */
static int find_postcode(const char *t, size_t len, char out[6])
{
    for (size_t i = 0; i < len;) {
        if (t[i] < '0' || t[i] > '9') {
            i++;
            continue;
        }
        size_t b = i;
        while (i < len && t[i] >= '0' && t[i] <= '9')
            i++;
        if (i - b == 5) {
            memcpy(out, t + b, 5);
            out[5] = '\0';
            return 1;
        }
    }
    return 0;
}

int assistant_order_lookup(app *a, const char *client, const char *conversation, const char *number,
                           const char *postcode, enum assistant_lookup *res, order **out,
                           int *retry_after)
{
    /* never a real postcode: the not-found path compares against it in the same time */
    static const char decoy[6] = "\xff\xff\xff\xff\xff";
    order *o = NULL;
    int ret = PD_OK, wait;
    *out = NULL;
    *retry_after = 0;
    if ((wait = ratelimit_hit(a->limiters[LIM_ORDER_CLIENT], client)) != 0 ||
        (wait = ratelimit_hit(a->limiters[LIM_ORDER_NUMBER], number)) != 0) {
        *res = LOOKUP_LIMITED;
        *retry_after = wait;
    } else {
        ret = store_order_get(a->store, number, &o);
        if (ret != PD_OK && ret != PD_ENOTFOUND)
            return ret;
        const char *want = o && strlen(o->postcode) == 5 ? o->postcode : decoy;
        int match = sodium_memcmp(want, postcode, 5) == 0;
        *res = o && match ? LOOKUP_FOUND : LOOKUP_NOT_FOUND;
        if (*res == LOOKUP_FOUND) {
            *out = o;
            o = NULL;
        }
        free(o);
    }
    audit_entry e = {0};
    e.kind = "order_lookup";
    e.conversation = conversation ? conversation : "";
    e.decision = *res == LOOKUP_FOUND ? "answer" : "refuse";
    e.intent = "order_status";
    e.rule = "order.lookup";
    e.policy_version = policy_version(a->policy);
    e.detail = *res == LOOKUP_FOUND     ? "outcome=found"
               : *res == LOOKUP_LIMITED ? "outcome=rate_limited"
                                        : "outcome=not_found";
    ret = audit_append(a->audit, &e);
    if (ret != PD_OK) {
        free(*out);
        *out = NULL;
    }
    return ret;
}

void assistant_status_text(app *a, const order *o, const char *lang, buf *out)
{
    buf key = BUF_INIT;
    policy_vars v;
    vars_init(a, lang, &v);
    v.expected = o->expected;
    v.note = o->note;
    buf_printf(&key, "order.status.%s", order_status_name(o->status));
    say(a, buf_cstr(&key), lang, &v, out);
    /* the pickup compartment for a ready order; the expected date while it is on its way */
    if (o->status == ORDER_READY_FOR_PICKUP && o->note[0])
        say(a, "order.pickup_note", lang, &v, out);
    else if (o->expected[0] && o->status != ORDER_DELIVERED && o->status != ORDER_PICKED_UP &&
             o->status != ORDER_CANCELLED && o->status != ORDER_READY_FOR_PICKUP)
        say(a, "order.expected", lang, &v, out);
    buf_free(&key);
}

/* the order flow of a conversation: ask for the number and the postcode, verify, tell */
static int order_flow(app *a, const char *client, const char *text, size_t len, assistant_out *out,
                      policy_vars *v)
{
    convo_state *c = &out->convo;
    char postcode[6];
    int ret = PD_OK, retry;
    if (c->failures >= 3) {
        say(a, "order.give_up", out->lang, v, &out->reply);
        return PD_OK;
    }
    if (out->order_number[0]) {
        snprintf(c->order_number, sizeof c->order_number, "%s", out->order_number);
        c->pending = CONVO_ASK_POSTCODE;
    }
    if (c->pending != CONVO_ASK_POSTCODE || !c->order_number[0]) {
        say(a, "order.ask_number", out->lang, v, &out->reply);
        return PD_OK;
    }
    if (!find_postcode(text, len, postcode)) {
        v->order = c->order_number;
        say(a, "order.ask_postcode", out->lang, v, &out->reply);
        return PD_OK;
    }
    snprintf(out->order_number, sizeof out->order_number, "%s", c->order_number);
    ret = assistant_order_lookup(a, client, c->id, c->order_number, postcode, &out->lookup,
                                 &out->order, &retry);
    if (ret != PD_OK)
        return ret;
    if (out->lookup == LOOKUP_FOUND) {
        assistant_status_text(a, out->order, out->lang, &out->status_text);
        buf_printf(&out->reply, "%s%s", out->reply.len ? " " : "", buf_cstr(&out->status_text));
        c->pending = CONVO_NONE;
        c->failures = 0;
    } else if (out->lookup == LOOKUP_LIMITED || ++c->failures >= 3) {
        say(a, "order.give_up", out->lang, v, &out->reply);
        c->pending = CONVO_NONE;
        c->failures = 3;
    } else {
        say(a, "order.retry_postcode", out->lang, v, &out->reply);
    }
    return PD_OK;
}

int assistant_classify(app *a, const char *text, size_t len, policy_result *res, uint32_t *pzns,
                       size_t *npzns, char order_number[16])
{
    policy_classify(a->policy, text, len, res);
    order_number[0] = '\0';
    orderno_find(text, len, order_number);
    *npzns = 0;
    if (res->intent == POLICY_ORDER_STATUS || res->intent == POLICY_GENERAL)
        return PD_OK; /* no product is meant */
    return catalog_match(a->catalog, text, len, ASSISTANT_MAX_PRODUCTS, pzns, npzns);
}

int assistant_answer(app *a, const char *client, const char *text, size_t len,
                     const char *conversation, const char *lang, assistant_out *out)
{
    policy_vars v;
    char postcode[6];
    int ret = PD_OK;

    memset(out, 0, sizeof *out);
    /* a reply of a few sentences and the disclosure: one allocation each, not a doubling series */
    buf_reserve(&out->reply, 512);
    buf_reserve(&out->disclosure, 512);
    buf_reset(&out->reply); /* reserved, still empty: "" */
    buf_reset(&out->disclosure);
    policy_classify(a->policy, text, len, &out->res);
    orderno_find(text, len, out->order_number);

    /* a conversation handed to a pharmacist: the link is in the store, so that it holds across
     * a restart and after the conversation's memory expired */
    const char *why = NULL;
    if (conversation && a->desk && desk_check_conversation(conversation, &why) == PD_OK) {
        ret = tickets_active_for_conversation(a->store, conversation, out->handoff_ticket,
                                              &out->handoff_status);
        if (ret != PD_OK && ret != PD_ENOTFOUND)
            goto out;
        out->handoff_active = ret == PD_OK;
        ret = PD_OK;
    }
    /* the conversation: continued when known, else a new one; it keeps no text */
    if (!conversation || convo_get(a->convos, conversation, &out->convo) != PD_OK) {
        if (out->handoff_active) {
            memset(&out->convo, 0, sizeof out->convo);
            snprintf(out->convo.id, sizeof out->convo.id, "%s", conversation);
            const char *l = lang ? lang : out->res.lang;
            snprintf(out->convo.lang, sizeof out->convo.lang, "%s",
                     l && strcmp(l, "en") == 0 ? "en" : "de");
        } else {
            convo_start(a->convos, lang ? lang : out->res.lang, &out->convo);
        }
    }
    if (lang)
        snprintf(out->convo.lang, sizeof out->convo.lang, "%s", lang);
    snprintf(out->lang, sizeof out->lang, "%s", out->convo.lang);
    vars_init(a, out->lang, &v);

    const policy_result *r = &out->res;
    if (out->handoff_active) {
        /* a pharmacist is on it: the assistant does not answer by itself. Only an emergency
         * still gets 112 and poison control at once, and raises the ticket to the top. */
        if (r->decision == POLICY_EMERGENCY) {
            say(a, "emergency", out->lang, &v, &out->reply);
            if (desk_escalate(a->desk, out->handoff_ticket, TICKET_PRIO_EMERGENCY) != PD_OK)
                log_error("event=escalate_failed");
        }
        say(a, "handoff.active", out->lang, &v, &out->reply);
        out->convo.handed_off = 1;
        out->convo.pending = CONVO_NONE;
        goto decided;
    }
    if (out->convo.handed_off) {
        /* the ticket was closed since the last message: say so once, then answer as usual */
        say(a, "handoff.closed", out->lang, &v, &out->reply);
        out->convo.handed_off = 0;
    }
    switch (r->decision) {
    case POLICY_EMERGENCY:
        say(a, "emergency", out->lang, &v, &out->reply);
        break;
    case POLICY_REFUSE:
        say(a, "refuse.medical_advice", out->lang, &v, &out->reply);
        if (r->health_data)
            say(a, "consent.health_data", out->lang, &v, &out->reply);
        break;
    case POLICY_HANDOFF:
        say(a, r->reply_key ? r->reply_key : "handoff.human_request", out->lang, &v, &out->reply);
        if (r->health_data)
            say(a, "consent.health_data", out->lang, &v, &out->reply);
        break;
    case POLICY_ANSWER:
    default:
        /* an order question, or the postcode the conversation asked for */
        if (r->intent == POLICY_ORDER_STATUS ||
            (out->convo.pending == CONVO_ASK_POSTCODE && find_postcode(text, len, postcode))) {
            /* nothing about an order before the customer is verified */
            if ((ret = order_flow(a, client, text, len, out, &v)) != PD_OK)
                goto out;
        } else if (r->intent == POLICY_AVAILABILITY) {
            if ((ret = catalog_search_close(a->catalog, text, len, ASSISTANT_MAX_PRODUCTS,
                                            ASSISTANT_CLOSE, out->products, &out->nproducts)) !=
                PD_OK)
                goto out;
            if (out->nproducts == 0)
                say(a, "availability.not_found", out->lang, &v, &out->reply);
            buf label = BUF_INIT;
            for (size_t i = 0; i < out->nproducts; i++) {
                const product *p = out->products[i];
                /* name and pack: two packs of one product must not read alike */
                buf_reset(&label);
                buf_printf(&label, "%s (%s)", p->name, p->pack_size);
                v.product = buf_cstr(&label);
                /* prescription-only: availability and the need for a prescription, nothing
                 * that advertises it (HWG §10) */
                say(a,
                    p->dispensing == DISPENSING_RX ? "availability.prescription_required"
                                                   : availability_key(p),
                    out->lang, &v, &out->reply);
                if (p->dispensing == DISPENSING_RX)
                    say(a, availability_key(p), out->lang, &v, &out->reply);
            }
            v.product = NULL;
            buf_free(&label);
            /* several fit: ask which one rather than guess */
            if (out->nproducts > 1)
                say(a, "availability.which", out->lang, &v, &out->reply);
        } else {
            say(a, r->reply_key ? r->reply_key : "general.other", out->lang, &v, &out->reply);
        }
        break;
    }
decided:
    say(a, "disclosure", out->lang, &v, &out->disclosure);
    convo_put(a->convos, &out->convo);

    /* the decision is recorded before it is answered; never the text */
    audit_entry e = {0};
    e.kind = "inquiry";
    e.conversation = out->convo.id;
    e.decision = policy_decision_name(r->decision);
    e.intent = policy_intent_name(r->intent);
    e.rule = r->rule;
    e.policy_version = policy_version(a->policy);
    e.health_data = r->health_data;
    e.detail = out->handoff_active ? "handoff=active" : "";
    ret = audit_append(a->audit, &e);
out:
    if (ret != PD_OK)
        assistant_out_free(out);
    return ret;
}

void assistant_out_free(assistant_out *out)
{
    free(out->order);
    out->order = NULL;
    buf_free(&out->status_text);
    for (size_t i = 0; i < out->nproducts; i++)
        free(out->products[i]);
    out->nproducts = 0;
    buf_free(&out->reply);
    buf_free(&out->disclosure);
}
