#include "assistant.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "orderno.h"
#include "pd.h"

/* a reply names the products that fit nearly as well as the best one */
#define ASSISTANT_CLOSE 0.8f

static const char *const day_de[7] = {"Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"};
static const char *const day_en[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

/* "Mo 08:00–18:30; Mi 08:00–13:00, 14:00–18:30; So geschlossen" from the configuration */
static void render_hours(const config *cfg, const char *lang, buf *out)
{
    int en = strcmp(lang, "en") == 0;
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

static void vars_init(app *a, const char *lang, buf *hours, policy_vars *v)
{
    const config *cfg = a->cfg;
    render_hours(cfg, lang, hours);
    memset(v, 0, sizeof *v);
    v->pharmacy_name = cfg->pharmacy.name;
    v->pharmacy_phone = cfg->pharmacy.phone;
    v->poison_name = cfg->poison_control.name;
    v->poison_phone = cfg->poison_control.phone;
    v->emergency_url = cfg->emergency_service_url;
    v->hours = buf_cstr(hours);
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

int assistant_answer(app *a, const char *text, size_t len, const char *conversation,
                     const char *lang, assistant_out *out)
{
    buf hours = BUF_INIT;
    policy_vars v;
    int ret = PD_OK;

    memset(out, 0, sizeof *out);
    policy_classify(a->policy, text, len, &out->res);
    orderno_find(text, len, out->order_number);

    /* the conversation: continued when known, else a new one; it keeps no text */
    if (!conversation || convo_get(a->convos, conversation, &out->convo) != PD_OK)
        convo_start(a->convos, lang ? lang : out->res.lang, &out->convo);
    if (lang)
        snprintf(out->convo.lang, sizeof out->convo.lang, "%s", lang);
    snprintf(out->lang, sizeof out->lang, "%s", out->convo.lang);
    vars_init(a, out->lang, &hours, &v);

    const policy_result *r = &out->res;
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
        if (r->intent == POLICY_AVAILABILITY) {
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
        } else if (r->intent == POLICY_ORDER_STATUS) {
            /* nothing about an order before the customer is verified */
            say(a, "order.ask_number", out->lang, &v, &out->reply);
        } else {
            say(a, r->reply_key ? r->reply_key : "general.other", out->lang, &v, &out->reply);
        }
        break;
    }
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
    ret = audit_append(a->audit, &e);
out:
    buf_free(&hours);
    if (ret != PD_OK)
        assistant_out_free(out);
    return ret;
}

void assistant_out_free(assistant_out *out)
{
    for (size_t i = 0; i < out->nproducts; i++)
        free(out->products[i]);
    out->nproducts = 0;
    buf_free(&out->reply);
    buf_free(&out->disclosure);
}
