#include "leads.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pd.h"
#include "pzn.h"
#include "text.h"

#define HOUR_US (3600LL * 1000000)
#define DAY_US (24 * HOUR_US)

/* the placeholders of policies/mails.*.txt */
enum {
    V_NAME,
    V_ADDRESS,
    V_PHONE,
    V_CONFIRM,
    V_WITHDRAW,
    V_DATA,
    V_PURPOSE,
    V_PRODUCT,
    V_PZN,
    V_PRICE,
    V_HOURS,
    V_COUNT
};
static const char *const var_names[V_COUNT] = {
    "pharmacy_name", "pharmacy_address", "pharmacy_phone", "confirm_url", "withdraw_url",
    "data_url",      "purpose",          "product",        "pzn",         "price",
    "hours"};

typedef struct mail_vars {
    const char *v[V_COUNT];
} mail_vars;

static const char *lang_of(const char *lang)
{
    return lang && strcmp(lang, "en") == 0 ? "en" : "de";
}

int leads_email_normalize(const char *in, char out[LEADS_EMAIL_MAX + 1], const char **why)
{
    const char *s = in, *e = in + strlen(in);
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t len = (size_t)(e - s);
    const char *at = memchr(s, '@', len);
    *why = "The e-mail address is not valid; please check it (like name@example.org).";
    if (len < 6 || len > LEADS_EMAIL_MAX || !at || at == s || (size_t)(at - s) > 64 ||
        memchr(at + 1, '@', (size_t)(e - at - 1)))
        return PD_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            *why = "Please write the e-mail address in plain ASCII letters (for an umlaut domain, "
                   "its xn-- form).";
            return PD_EINVAL;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    const char *dom = out + (at - s), *local_end = dom;
    dom++;
    /* local part: the dot-atom of RFC 5322, no quoted strings */
    if (out[0] == '.' || local_end[-1] == '.' || strstr(out, ".."))
        return PD_EINVAL;
    for (const char *p = out; p < local_end; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-/=?^_`{|}~.", *p)))
            return PD_EINVAL;
    /* domain: labels of letters, digits and inner hyphens, at least two, a TLD of letters */
    size_t label = 0, labels = 0;
    const char *last = dom;
    for (const char *p = dom;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-' || *last == '-')
                return PD_EINVAL;
            labels++;
            if (*p == '\0')
                break;
            label = 0;
            last = p + 1;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return PD_EINVAL;
        label++;
    }
    if (labels < 2 || strlen(last) < 2 || strspn(last, "abcdefghijklmnopqrstuvwxyz") < 2)
        return PD_EINVAL;
    *why = NULL;
    return PD_OK;
}

/* BLAKE2b-256 keyed with the store's secret; domain ("email", "ip") keeps the two apart */
static void keyed_hash(const unsigned char key[32], const char *domain, const char *s,
                       unsigned char out[LSTORE_HASH])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, LSTORE_HASH);
    crypto_generichash_update(&st, (const unsigned char *)domain, strlen(domain) + 1);
    crypto_generichash_update(&st, (const unsigned char *)s, strlen(s));
    crypto_generichash_final(&st, out, LSTORE_HASH);
}

/* the keyed hash of an address, in a transaction of its own */
static int address_hash(store *s, const char *email, unsigned char out[LSTORE_HASH])
{
    lstore *t = NULL;
    unsigned char key[32];
    int ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    if ((ret = lstore_secret(t, key)) == PD_OK)
        ret = lstore_commit(t);
    else
        lstore_rollback(t);
    if (ret == PD_OK)
        keyed_hash(key, "email", email, out);
    sodium_memzero(key, sizeof key);
    return ret;
}

static void token_hash(const char *token, unsigned char out[LSTORE_HASH])
{
    crypto_generichash(out, LSTORE_HASH, (const unsigned char *)token, strlen(token), NULL, 0);
}

static void token_new(char tok[LEADS_TOKEN_LEN + 1], unsigned char hash[LSTORE_HASH])
{
    unsigned char r[32];
    if (sodium_init() < 0)
        abort();
    randombytes_buf(r, sizeof r);
    sodium_bin2base64(tok, LEADS_TOKEN_LEN + 1, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
    token_hash(tok, hash);
}

/* a token as the mails carry it, else no store lookup at all */
static int token_ok(const char *t)
{
    if (!t || strlen(t) != LEADS_TOKEN_LEN)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* a buffer that held a token or an address, cleared before it is freed */
static void wipe(buf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
}

static void url(buf *out, const char *base, const char *path, const char *token)
{
    buf_printf(out, "%s%s?token=%s", base, path, token);
}

static void price_text(long long cents, const char *lang, char out[32])
{
    if (strcmp(lang, "en") == 0)
        snprintf(out, 32, "EUR %lld.%02lld", cents / 100, cents % 100);
    else
        snprintf(out, 32, "%lld,%02lld EUR", cents / 100, cents % 100);
}

/* the pharmacy's signature into mv, and mv as the renderer's variables */
static void mail_vars_fill(const leads_ctx *lc, mail_vars *mv, mailtext_var vars[V_COUNT])
{
    mv->v[V_NAME] = lc->out->pharmacy_name;
    mv->v[V_ADDRESS] = lc->out->pharmacy_address;
    mv->v[V_PHONE] = lc->out->pharmacy_phone;
    for (int i = 0; i < V_COUNT; i++)
        vars[i] = (mailtext_var){var_names[i], mv->v[i]};
}

/* composes one mail from its subject and body and stores it in the queue */
static int enqueue_mail(const leads_ctx *lc, lstore *t, const char *kind, const char *to,
                        const unsigned char *to_hash, long long lead_id, const char *subject,
                        const char *body, const char *unsub, long long now)
{
    buf msg = BUF_INIT, err = BUF_INIT;
    outbox_mail m = {to, subject, body};
    int ret = outbox_compose(lc->out, &m, unsub, &msg, &err);
    if (ret != PD_OK)
        log_error("event=mail_compose_failed kind=%s error=\"%s\"", kind, buf_cstr(&err));
    else
        ret = lstore_mail_enqueue(t, kind, to_hash, lead_id, msg.data, msg.len, now, NULL);
    wipe(&msg);
    buf_free(&msg);
    buf_free(&err);
    return ret;
}

/* composes one mail (subject, body and footer texts in lang) and stores it in the queue */
static int queue_mail(const leads_ctx *lc, lstore *t, const char *kind, const char *to,
                      const unsigned char *to_hash, long long lead_id, const char *lang,
                      const char *key, const char *footer, mail_vars *mv, const char *unsub,
                      long long now)
{
    mailtext_var vars[V_COUNT];
    buf subject = BUF_INIT, body = BUF_INIT, k = BUF_INIT;
    mail_vars_fill(lc, mv, vars);
    buf_printf(&k, "%s.subject", key);
    mailtext_render(lc->texts, buf_cstr(&k), lang, vars, V_COUNT, &subject);
    buf_reset(&k);
    buf_printf(&k, "%s.body", key);
    mailtext_render(lc->texts, buf_cstr(&k), lang, vars, V_COUNT, &body);
    buf_puts(&body, "\n\n");
    mailtext_render(lc->texts, footer, lang, vars, V_COUNT, &body);
    buf_putc(&body, '\n');
    int ret = enqueue_mail(lc, t, kind, to, to_hash, lead_id, buf_cstr(&subject), buf_cstr(&body),
                           unsub, now);
    wipe(&body);
    buf_free(&subject);
    buf_free(&body);
    buf_free(&k);
    return ret;
}

/* a withdrawal token for one more mail to the lead, and its two links */
static int withdraw_links(const leads_ctx *lc, lstore *t, long long lead_id, long long now,
                          buf *page, buf *api)
{
    char tok[LEADS_TOKEN_LEN + 1];
    unsigned char h[LSTORE_HASH];
    token_new(tok, h);
    int ret = lstore_token_insert(t, h, lead_id, TOKEN_WITHDRAW, now, 0);
    url(page, lc->base_url, "/leads/withdraw", tok);
    url(api, lc->base_url, "/api/v1/leads/withdraw", tok);
    sodium_memzero(tok, sizeof tok);
    return ret;
}

/* the double opt-in mail: a fresh confirmation token (48 hours) and withdrawal token */
static int confirmation_mail(const leads_ctx *lc, lstore *t, const lead_rec *l,
                             const unsigned char *email_hash, const product *p, long long now)
{
    char tok[LEADS_TOKEN_LEN + 1], pzn[9] = "", hours[8];
    unsigned char h[LSTORE_HASH];
    buf confirm = BUF_INIT, wpage = BUF_INIT, wapi = BUF_INIT, purpose = BUF_INIT, label = BUF_INIT,
        key = BUF_INIT;
    mail_vars mv = {{0}};
    token_new(tok, h);
    int ret =
        lstore_token_insert(t, h, l->id, TOKEN_CONFIRM, now, now + LEADS_CONFIRM_HOURS * HOUR_US);
    url(&confirm, lc->base_url, "/leads/confirm", tok);
    sodium_memzero(tok, sizeof tok);
    if (ret == PD_OK)
        ret = withdraw_links(lc, t, l->id, now, &wpage, &wapi);
    if (ret != PD_OK)
        goto out;
    if (l->pzn)
        pzn_format(l->pzn, pzn);
    buf_puts(&label, p ? p->name : "");
    snprintf(hours, sizeof hours, "%d", LEADS_CONFIRM_HOURS);
    mv.v[V_PRODUCT] = buf_cstr(&label);
    mv.v[V_PZN] = pzn;
    buf_printf(&key, "purpose.%s", lead_purpose_name(l->purpose));
    mailtext_var pv[] = {{"product", buf_cstr(&label)}, {"pzn", pzn}};
    mailtext_render(lc->texts, buf_cstr(&key), l->lang, pv, PD_ARRAY_LEN(pv), &purpose);
    mv.v[V_PURPOSE] = buf_cstr(&purpose);
    mv.v[V_CONFIRM] = buf_cstr(&confirm);
    mv.v[V_WITHDRAW] = buf_cstr(&wpage);
    mv.v[V_HOURS] = hours;
    ret = queue_mail(lc, t, "lead_confirm", l->email, email_hash, l->id, l->lang, "lead_confirm",
                     "lead.footer", &mv, buf_cstr(&wapi), now);
    if (ret == PD_OK)
        ret = lstore_lead_mailed(t, l->id, now);
    if (ret == PD_OK)
        ret = lstore_ledger_mark(t, l->ledger_id, "mail_sent", now);
out:
    wipe(&confirm);
    buf_free(&confirm);
    buf_free(&wpage);
    buf_free(&wapi);
    buf_free(&purpose);
    buf_free(&label);
    buf_free(&key);
    return ret;
}

int leads_signup(const leads_ctx *lc, const leads_signup_req *r, enum leads_signup_outcome *out,
                 const char **why)
{
    char email[LEADS_EMAIL_MAX + 1];
    unsigned char key[32], ehash[LSTORE_HASH], iphash[LSTORE_HASH];
    product *p = NULL;
    lstore *t = NULL;
    lead_rec l;
    int ret;
    if ((ret = leads_email_normalize(r->email, email, why)) != PD_OK)
        return ret;
    if ((r->purpose == LEAD_BACK_IN_STOCK) != (r->pzn != 0))
        return PD_EINVAL;
    /* the product before the transaction: the store may have a single connection */
    if (r->pzn && (ret = store_product_get(lc->store, r->pzn, &p)) != PD_OK)
        return ret;
    const char *lang = lang_of(r->lang);
    long long now = pd_wall_us();
    /* the page's path only: a query string could carry anything */
    char page[201];
    snprintf(page, sizeof page, "%.*s", (int)strcspn(r->page ? r->page : "", "?#"),
             r->page ? r->page : "");
    if ((ret = lstore_begin(lc->store, &t)) != PD_OK)
        goto out;
    if ((ret = lstore_secret(t, key)) != PD_OK)
        goto out;
    keyed_hash(key, "email", email, ehash);
    if (lc->store_ip_hash && r->client_ip && r->client_ip[0])
        keyed_hash(key, "ip", r->client_ip, iphash);
    ledger_new e = {email,
                    ehash,
                    r->purpose,
                    r->pzn,
                    r->consent->version,
                    r->consent->lang,
                    r->consent->hash,
                    r->consent->text,
                    page,
                    lc->store_ip_hash && r->client_ip && r->client_ip[0] ? iphash : NULL,
                    now};
    long long ledger_id = 0, id = 0;
    ret = lstore_lead_find(t, ehash, r->purpose, r->pzn, &l);
    if (ret == PD_ENOTFOUND) {
        /* a new sign-up: its consent in the ledger, the lead pending */
        if ((ret = lstore_ledger_insert(t, &e, &ledger_id)) != PD_OK ||
            (ret = lstore_lead_insert(t, email, ehash, r->purpose, r->pzn, lang, ledger_id, now,
                                      &id)) != PD_OK ||
            (ret = lstore_lead_get(t, id, &l)) != PD_OK)
            goto out;
    } else if (ret != PD_OK) {
        goto out;
    } else if (l.status == LEAD_CONFIRMED) {
        *out = LEADS_ALREADY_CONFIRMED;
        goto commit;
    } else if (l.status == LEAD_WITHDRAWN || l.status == LEAD_FULFILLED) {
        /* asked again after a withdrawal or the notice: a new consent, a new double opt-in */
        if ((ret = lstore_ledger_insert(t, &e, &ledger_id)) != PD_OK ||
            (ret = lstore_lead_restart(t, l.id, lang, ledger_id, now)) != PD_OK ||
            (ret = lstore_lead_get(t, l.id, &l)) != PD_OK)
            goto out;
    }
    /* no flood: one mail per sign-up per window, a few per address */
    long long since = now - (long long)lc->mail_window_s * 1000000, recent = 0;
    if ((ret = lstore_lead_recent_mails(t, ehash, since, &recent)) != PD_OK)
        goto out;
    if ((l.last_mail_us && l.last_mail_us >= since) || recent >= lc->mails_per_address) {
        *out = LEADS_THROTTLED;
        goto commit;
    }
    if ((ret = confirmation_mail(lc, t, &l, ehash, p, now)) != PD_OK)
        goto out;
    *out = LEADS_MAIL_QUEUED;
commit:
    ret = lstore_commit(t);
    t = NULL;
    if (ret == PD_OK && *out == LEADS_MAIL_QUEUED)
        mailq_wake(lc->queue);
out:
    lstore_rollback(t);
    sodium_memzero(key, sizeof key);
    sodium_memzero(email, sizeof email);
    free(p);
    return ret;
}

/* the token's row and lead, in t; LEADS_UNKNOWN for a token of another kind */
static int token_lead(lstore *t, const char *token, enum lead_token_kind kind, token_rec *tr,
                      lead_rec *l, unsigned char h[LSTORE_HASH], enum leads_token_result *res)
{
    *res = LEADS_UNKNOWN;
    token_hash(token, h);
    int ret = lstore_token_find(t, h, tr);
    if (ret == PD_ENOTFOUND || (ret == PD_OK && tr->kind != kind))
        return PD_ENOTFOUND;
    if (ret == PD_OK)
        ret = lstore_lead_get(t, tr->lead_id, l);
    return ret;
}

int leads_confirm(const leads_ctx *lc, const char *token, enum leads_token_result *res)
{
    token_rec tr;
    lead_rec l;
    unsigned char h[LSTORE_HASH];
    lstore *t = NULL;
    *res = LEADS_UNKNOWN;
    if (!token_ok(token))
        return PD_OK;
    long long now = pd_wall_us();
    int ret = lstore_begin(lc->store, &t);
    if (ret != PD_OK)
        return ret;
    ret = token_lead(t, token, TOKEN_CONFIRM, &tr, &l, h, res);
    if (ret == PD_ENOTFOUND) {
        ret = PD_OK;
    } else if (ret != PD_OK) {
        /* a store error */
    } else if (l.status == LEAD_CONFIRMED || l.status == LEAD_FULFILLED) {
        *res = LEADS_OK; /* confirmed before: harmless */
    } else if (tr.used_us || l.status == LEAD_WITHDRAWN) {
        *res = LEADS_GONE;
    } else if (tr.expires_us && tr.expires_us < now) {
        *res = LEADS_EXPIRED;
    } else if ((ret = lstore_token_use(t, h, now)) == PD_OK &&
               (ret = lstore_lead_set_status(t, l.id, LEAD_CONFIRMED, now)) == PD_OK &&
               (ret = lstore_ledger_mark(t, l.ledger_id, "confirmed", now)) == PD_OK) {
        *res = LEADS_OK;
        log_info("event=lead_confirmed purpose=%s", lead_purpose_name(l.purpose));
    }
    if (ret == PD_OK)
        return lstore_commit(t);
    lstore_rollback(t);
    return ret;
}

int leads_withdraw(const leads_ctx *lc, const char *token, const char *via,
                   enum leads_token_result *res)
{
    token_rec tr;
    lead_rec l;
    unsigned char h[LSTORE_HASH];
    lstore *t = NULL;
    *res = LEADS_UNKNOWN;
    if (!token_ok(token))
        return PD_OK;
    long long now = pd_wall_us();
    int ret = lstore_begin(lc->store, &t);
    if (ret != PD_OK)
        return ret;
    ret = token_lead(t, token, TOKEN_WITHDRAW, &tr, &l, h, res);
    if (ret == PD_ENOTFOUND) {
        ret = PD_OK;
    } else if (ret != PD_OK) {
        /* a store error */
    } else if (l.status == LEAD_WITHDRAWN) {
        *res = LEADS_OK;
    } else if ((ret = lstore_lead_set_status(t, l.id, LEAD_WITHDRAWN, now)) == PD_OK &&
               (ret = lstore_ledger_withdrawn(t, l.ledger_id, via, now)) == PD_OK &&
               (ret = lstore_tokens_drop_confirm(t, l.id)) == PD_OK &&
               (ret = lstore_mail_drop_lead(t, l.id, NULL)) == PD_OK) {
        /* effective at once: no confirmation pending, no mail still queued */
        *res = LEADS_OK;
        log_info("event=lead_withdrawn purpose=%s via=%s", lead_purpose_name(l.purpose), via);
    }
    if (ret == PD_OK)
        return lstore_commit(t);
    lstore_rollback(t);
    return ret;
}

typedef struct bis_arg {
    const leads_ctx *lc;
    lstore *t;
    const product *p;
    long long now;
    long mailed;
} bis_arg;

static int bis_one(const lead_rec *l, void *arg)
{
    bis_arg *a = arg;
    const product *p = a->p;
    buf wpage = BUF_INIT, wapi = BUF_INIT;
    char pzn[9], price[32];
    unsigned char ehash[LSTORE_HASH], key[32];
    mail_vars mv = {{0}};
    int rx = p->dispensing == DISPENSING_RX;
    int ret = lstore_secret(a->t, key);
    if (ret == PD_OK)
        ret = withdraw_links(a->lc, a->t, l->id, a->now, &wpage, &wapi);
    if (ret != PD_OK)
        goto out;
    keyed_hash(key, "email", l->email, ehash);
    pzn_format(p->pzn, pzn);
    price_text(p->price_cents, l->lang, price);
    mv.v[V_PRODUCT] = p->name;
    mv.v[V_PZN] = pzn;
    /* HWG §10: a prescription-only product's notice states availability, never a price */
    mv.v[V_PRICE] = rx ? NULL : price;
    mv.v[V_WITHDRAW] = buf_cstr(&wpage);
    ret = queue_mail(a->lc, a->t, "back_in_stock", l->email, ehash, l->id, l->lang,
                     rx ? "back_in_stock_rx" : "back_in_stock", "lead.footer", &mv, buf_cstr(&wapi),
                     a->now);
    if (ret == PD_OK)
        ret = lstore_lead_set_status(a->t, l->id, LEAD_FULFILLED, a->now);
    if (ret == PD_OK)
        ret = lstore_ledger_mark(a->t, l->ledger_id, "fulfilled", a->now);
    if (ret == PD_OK)
        a->mailed++;
out:
    sodium_memzero(key, sizeof key);
    buf_free(&wpage);
    buf_free(&wapi);
    return ret;
}

int leads_back_in_stock(const leads_ctx *lc, uint32_t pzn, long *mailed)
{
    product *p = NULL;
    lstore *t = NULL;
    bis_arg a = {lc, NULL, NULL, pd_wall_us(), 0};
    *mailed = 0;
    int ret = store_product_get(lc->store, pzn, &p);
    if (ret != PD_OK)
        return ret == PD_ENOTFOUND ? PD_OK : ret;
    if (p->stock <= 0) {
        free(p);
        return PD_OK;
    }
    if ((ret = lstore_begin(lc->store, &t)) != PD_OK) {
        free(p);
        return ret;
    }
    a.t = t;
    a.p = p;
    ret = lstore_leads_waiting(t, pzn, bis_one, &a);
    if (ret == PD_OK) {
        ret = lstore_commit(t);
        if (ret == PD_OK) {
            *mailed = a.mailed;
            if (a.mailed)
                mailq_wake(lc->queue);
        }
    } else {
        lstore_rollback(t);
    }
    free(p);
    return ret;
}

int leads_purge(store *s, long long now_us, leads_purged *out)
{
    leads_purged tmp;
    lstore *t = NULL;
    int ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    ret = lstore_purge(t, now_us, now_us - LEADS_UNCONFIRMED_DAYS * DAY_US,
                       now_us - LEADS_ENDED_DAYS * DAY_US, now_us - LEADS_LEDGER_DAYS * DAY_US,
                       out ? out : &tmp);
    if (ret != PD_OK) {
        lstore_rollback(t);
        return ret;
    }
    return lstore_commit(t);
}

/* ---- HWG §10: no prescription-only product in newsletter content ---- */

typedef struct hwg_arg {
    const char *text; /* folded, with a space at both ends */
    buf nonrx;        /* every non-rx product's folded name and aliases, " a b " joined */
    int pass;         /* 0: collect non-rx, 1: test rx */
    buf *why;
    int found;
} hwg_arg;

static void fold_spaced(const char *s, size_t len, buf *out)
{
    buf_putc(out, ' ');
    text_fold(s, len, out);
    buf_putc(out, ' ');
}

/* term (folded) is named in the text and is no non-rx product's name part */
static int names_rx(hwg_arg *a, const char *term, size_t len)
{
    if (len < 4)
        return 0;
    buf pat = BUF_INIT;
    fold_spaced(term, len, &pat);
    int hit = pat.len > 2 && strstr(a->text, buf_cstr(&pat)) &&
              !strstr(buf_cstr(&a->nonrx), buf_cstr(&pat));
    buf_free(&pat);
    return hit;
}

static int hwg_product(const product *p, void *arg)
{
    hwg_arg *a = arg;
    if (a->pass == 0) {
        if (p->dispensing != DISPENSING_RX) {
            fold_spaced(p->name, strlen(p->name), &a->nonrx);
            for (const char *s = p->aliases; s && *s;) {
                const char *e = strchr(s, ';');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                fold_spaced(s, n, &a->nonrx);
                s += n + (e ? 1 : 0);
            }
        }
        return 0;
    }
    if (p->dispensing != DISPENSING_RX)
        return 0;
    char pzn[9];
    pzn_format(p->pzn, pzn);
    buf first = BUF_INIT;
    text_fold(p->name, strlen(p->name), &first);
    const char *sp = strchr(buf_cstr(&first), ' ');
    size_t flen = sp ? (size_t)(sp - buf_cstr(&first)) : first.len;
    int hit = names_rx(a, p->name, strlen(p->name)) ||
              (!text_is_number(buf_cstr(&first), flen) && names_rx(a, buf_cstr(&first), flen)) ||
              strstr(a->text, pzn) != NULL;
    for (const char *s = p->aliases; !hit && s && *s;) {
        const char *e = strchr(s, ';');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        hit = names_rx(a, s, n);
        s += n + (e ? 1 : 0);
    }
    buf_free(&first);
    if (hit) {
        buf_printf(a->why, "the text names the prescription-only product %s (PZN %s)", p->name,
                   pzn);
        a->found = 1;
        return 1;
    }
    return 0;
}

int leads_newsletter_check(store *s, const char *text, const uint32_t *pzns, size_t npzns, buf *why)
{
    for (size_t i = 0; i < npzns; i++) {
        product *p = NULL;
        int ret = store_product_get(s, pzns[i], &p);
        if (ret == PD_ENOTFOUND)
            continue;
        if (ret != PD_OK)
            return ret;
        int rx = p->dispensing == DISPENSING_RX;
        if (rx)
            buf_printf(why, "%s (PZN %08u) is prescription-only", p->name, pzns[i]);
        free(p);
        if (rx)
            return PD_EPERM;
    }
    if (!text || !*text)
        return PD_OK;
    buf folded = BUF_INIT;
    fold_spaced(text, strlen(text), &folded);
    hwg_arg a = {NULL, BUF_INIT, 0, why, 0};
    int ret = store_products_foreach(s, hwg_product, &a);
    if (ret == PD_OK) {
        /* the text as typed too, for a PZN written in one piece */
        buf_puts(&folded, text);
        a.text = buf_cstr(&folded);
        a.pass = 1;
        ret = store_products_foreach(s, hwg_product, &a);
    }
    buf_free(&a.nonrx);
    buf_free(&folded);
    if (ret == 1 || a.found)
        return PD_EPERM;
    return ret;
}

/* ---- the newsletter ---- */

static const char *const part_names[2][2] = {{"German subject", "German body"},
                                             {"English subject", "English body"}};

/* HWG §10 over every part of the newsletter, the PZNs written in it included */
static int newsletter_hwg(store *s, const leads_newsletter *nl, buf *why)
{
    for (int l = 0; l < 2; l++)
        for (int part = 0; part < 2; part++) {
            const char *text = part ? nl->body[l] : nl->subject[l];
            uint32_t pzns[64];
            size_t n = pzn_find(text, strlen(text), pzns, PD_ARRAY_LEN(pzns));
            buf detail = BUF_INIT;
            int ret = leads_newsletter_check(s, text, pzns, n, &detail);
            if (ret == PD_EPERM)
                buf_printf(why, "the %s: %s", part_names[l][part], buf_cstr(&detail));
            buf_free(&detail);
            if (ret != PD_OK)
                return ret;
        }
    return PD_OK;
}

typedef struct nl_arg {
    const leads_ctx *lc;
    lstore *t;
    const leads_newsletter *nl;
    unsigned char key[32];
    long long now;
    long mails[2];
} nl_arg;

static int nl_one(const lead_rec *l, void *arg)
{
    nl_arg *a = arg;
    int en = strcmp(l->lang, "en") == 0;
    const char *lang = en ? "en" : "de";
    buf wpage = BUF_INIT, wapi = BUF_INIT, body = BUF_INIT;
    unsigned char ehash[LSTORE_HASH];
    mailtext_var vars[V_COUNT];
    mail_vars mv = {{0}};
    int ret = withdraw_links(a->lc, a->t, l->id, a->now, &wpage, &wapi);
    if (ret != PD_OK)
        goto out;
    keyed_hash(a->key, "email", l->email, ehash);
    mv.v[V_WITHDRAW] = buf_cstr(&wpage);
    mail_vars_fill(a->lc, &mv, vars);
    buf_puts(&body, a->nl->body[en]);
    buf_puts(&body, "\n\n");
    mailtext_render(a->lc->texts, "newsletter.footer", lang, vars, V_COUNT, &body);
    buf_putc(&body, '\n');
    ret = enqueue_mail(a->lc, a->t, "newsletter", l->email, ehash, l->id, a->nl->subject[en],
                       buf_cstr(&body), buf_cstr(&wapi), a->now);
    if (ret == PD_OK)
        a->mails[en]++;
out:
    wipe(&wpage);
    wipe(&wapi);
    wipe(&body);
    buf_free(&wpage);
    buf_free(&wapi);
    buf_free(&body);
    return ret;
}

int leads_newsletter_send(const leads_ctx *lc, const leads_newsletter *nl, int force,
                          leads_newsletter_sent *out, buf *why)
{
    nl_arg a = {lc, NULL, nl, {0}, pd_wall_us(), {0, 0}};
    lstore *t = NULL;
    memset(out, 0, sizeof *out);
    for (int l = 0; l < 2; l++)
        if (!nl->subject[l] || !nl->subject[l][0] || !nl->body[l] || !nl->body[l][0]) {
            buf_puts(why, "every newsletter needs a subject and a body in German and English");
            return PD_EINVAL;
        }
    /* the guard before the transaction: the store may have a single connection */
    int ret = newsletter_hwg(lc->store, nl, why);
    if (ret == PD_EPERM)
        log_warn("event=newsletter_refused reason=hwg_rx");
    if (ret != PD_OK)
        return ret;
    if ((ret = lstore_begin(lc->store, &t)) != PD_OK)
        return ret;
    ret = lstore_newsletter_last(t, nl->hash, a.now - LEADS_NEWSLETTER_REPEAT_HOURS * HOUR_US,
                                 &out->previous_us, &out->previous_mails);
    if (ret == PD_OK && !force) {
        log_warn("event=newsletter_refused reason=repeat");
        ret = PD_EEXIST;
        goto out;
    }
    if (ret != PD_OK && ret != PD_ENOTFOUND)
        goto out;
    a.t = t;
    if ((ret = lstore_secret(t, a.key)) != PD_OK ||
        (ret = lstore_leads_newsletter(t, nl_one, &a)) != PD_OK ||
        (ret = lstore_newsletter_record(t, nl->hash, a.now, a.mails[0], a.mails[1], force)) !=
            PD_OK)
        goto out;
    ret = lstore_commit(t);
    t = NULL;
    if (ret == PD_OK) {
        out->mails[0] = a.mails[0];
        out->mails[1] = a.mails[1];
        char hex[2 * LSTORE_HASH + 1];
        sodium_bin2hex(hex, sizeof hex, nl->hash, LSTORE_HASH);
        log_info("event=newsletter_queued mails=%ld de=%ld en=%ld forced=%d content_hash=%.16s",
                 a.mails[0] + a.mails[1], a.mails[0], a.mails[1], force ? 1 : 0, hex);
        if (a.mails[0] + a.mails[1])
            mailq_wake(lc->queue);
    }
out:
    lstore_rollback(t);
    sodium_memzero(a.key, sizeof a.key);
    return ret;
}

/* ---- data rights ---- */

int leads_data_request(const leads_ctx *lc, const char *email_in, enum data_request_kind kind,
                       const char *lang_in, int *mailed, const char **why)
{
    char email[LEADS_EMAIL_MAX + 1], tok[LEADS_TOKEN_LEN + 1], hours[8];
    unsigned char key[32], ehash[LSTORE_HASH], th[LSTORE_HASH];
    buf link = BUF_INIT;
    lstore *t = NULL;
    long long last = 0, now = pd_wall_us();
    const char *lang = lang_of(lang_in);
    mail_vars mv = {{0}};
    int ret;
    *mailed = 0;
    if ((ret = leads_email_normalize(email_in, email, why)) != PD_OK)
        return ret;
    if ((ret = lstore_begin(lc->store, &t)) != PD_OK)
        return ret;
    if ((ret = lstore_secret(t, key)) != PD_OK)
        goto out;
    keyed_hash(key, "email", email, ehash);
    if ((ret = lstore_request_last(t, ehash, &last)) != PD_OK)
        goto out;
    if (last && last >= now - (long long)lc->mail_window_s * 1000000)
        goto commit; /* one mail per window: a flood helps no one */
    token_new(tok, th);
    url(&link, lc->base_url, "/data/confirm", tok);
    /* the page names what its button will do before the click; the server decides by token */
    buf_printf(&link, "&kind=%s", kind == DATA_EXPORT ? "export" : "erasure");
    sodium_memzero(tok, sizeof tok);
    if ((ret = lstore_request_insert(t, email, ehash, kind, lang, th, now,
                                     now + LEADS_CONFIRM_HOURS * HOUR_US)) != PD_OK)
        goto out;
    snprintf(hours, sizeof hours, "%d", LEADS_CONFIRM_HOURS);
    mv.v[V_DATA] = buf_cstr(&link);
    mv.v[V_HOURS] = hours;
    ret = queue_mail(lc, t, kind == DATA_EXPORT ? "data_export" : "data_erasure", email, ehash, 0,
                     lang, kind == DATA_EXPORT ? "data_export" : "data_erasure", "data.footer", &mv,
                     NULL, now);
    if (ret != PD_OK)
        goto out;
    *mailed = 1;
commit:
    ret = lstore_commit(t);
    t = NULL;
    if (ret == PD_OK && *mailed)
        mailq_wake(lc->queue);
out:
    lstore_rollback(t);
    wipe(&link);
    buf_free(&link);
    sodium_memzero(key, sizeof key);
    sodium_memzero(email, sizeof email);
    return ret;
}

int leads_data_token(const leads_ctx *lc, const char *token, data_request_rec *out,
                     enum leads_token_result *res)
{
    unsigned char h[LSTORE_HASH];
    lstore *t = NULL;
    *res = LEADS_UNKNOWN;
    if (!token_ok(token))
        return PD_OK;
    token_hash(token, h);
    int ret = lstore_begin(lc->store, &t);
    if (ret != PD_OK)
        return ret;
    ret = lstore_request_by_token(t, h, out);
    lstore_rollback(t); /* read only */
    if (ret == PD_ENOTFOUND)
        return PD_OK;
    if (ret != PD_OK)
        return ret;
    if (out->completed_us || !out->email[0])
        *res = LEADS_GONE;
    else if (out->expires_us < pd_wall_us())
        *res = LEADS_EXPIRED;
    else
        *res = LEADS_OK;
    return PD_OK;
}

int leads_data_complete(store *s, long long request_id)
{
    lstore *t = NULL;
    int ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    if ((ret = lstore_request_complete(t, request_id, pd_wall_us())) != PD_OK) {
        lstore_rollback(t);
        return ret;
    }
    return lstore_commit(t);
}

int leads_export(store *s, const char *email, lstore_row_cb cb, void *arg)
{
    unsigned char h[LSTORE_HASH];
    lstore *t = NULL;
    int ret = address_hash(s, email, h);
    if (ret == PD_OK)
        ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    ret = lstore_export(t, h, cb, arg);
    lstore_rollback(t); /* read only */
    return ret;
}

int leads_erase(store *s, const char *email, int ledger, lstore_erased *out)
{
    unsigned char h[LSTORE_HASH];
    lstore *t = NULL;
    int ret = address_hash(s, email, h);
    if (ret == PD_OK)
        ret = lstore_begin(s, &t);
    if (ret != PD_OK)
        return ret;
    if ((ret = lstore_erase(t, h, pd_wall_us(), ledger, out)) != PD_OK) {
        lstore_rollback(t);
        return ret;
    }
    ret = lstore_commit(t);
    if (ret == PD_OK)
        log_info("event=lead_erasure part=%s leads=%ld ledger_pseudonymised=%ld",
                 ledger ? "ledger" : "leads", out->leads, out->ledger_pseudonymised);
    return ret;
}
