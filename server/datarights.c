#include "datarights.h"

#include <string.h>

#include "leads.h"
#include "tickets_store.h"
#include "pd.h"

int datarights_register(datarights *r, const datarights_source *src)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->src[i].name, src->name) == 0)
            return PD_EEXIST;
    if (r->n == DATARIGHTS_MAX)
        return PD_EFULL;
    r->src[r->n++] = *src;
    return PD_OK;
}

int datarights_export(const datarights *r, store *s, const char *email, cJSON **out)
{
    char at[32];
    cJSON *o = cJSON_CreateObject();
    pd_iso_time(pd_wall_us(), at);
    cJSON_AddStringToObject(o, "email", email);
    cJSON_AddStringToObject(o, "generated_at", at);
    cJSON *srcs = cJSON_AddObjectToObject(o, "sources");
    for (size_t i = 0; i < r->n; i++) {
        cJSON *one = cJSON_AddObjectToObject(srcs, r->src[i].name);
        int ret = r->src[i].export_fn(s, email, one, r->src[i].arg);
        if (ret != PD_OK) {
            cJSON_Delete(o);
            *out = NULL;
            return ret;
        }
    }
    *out = o;
    return PD_OK;
}

int datarights_erase(const datarights *r, store *s, const char *email, cJSON **summary)
{
    int first = PD_OK;
    cJSON *o = cJSON_CreateObject(), *srcs = cJSON_AddObjectToObject(o, "sources");
    for (size_t i = 0; i < r->n; i++) {
        cJSON *one = cJSON_AddObjectToObject(srcs, r->src[i].name);
        int ret = r->src[i].erase_fn(s, email, one, r->src[i].arg);
        if (ret != PD_OK && first == PD_OK)
            first = ret;
        cJSON_AddBoolToObject(one, "done", ret == PD_OK);
    }
    *summary = o;
    return first;
}

/* ---- the leads module's sources ---- */

typedef struct rows_arg {
    cJSON *out;
    int ledger; /* 1: only consent_ledger rows, 0: all others */
} rows_arg;

static int add_row(const char *table, const lstore_field *f, size_t n, void *arg)
{
    rows_arg *a = arg;
    if ((strcmp(table, "consent_ledger") == 0) != a->ledger)
        return 0;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(a->out, table);
    if (!arr)
        arr = cJSON_AddArrayToObject(a->out, table);
    cJSON *row = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) {
        if (f[i].text)
            cJSON_AddStringToObject(row, f[i].name, f[i].text);
        else
            cJSON_AddNumberToObject(row, f[i].name, (double)f[i].num);
    }
    cJSON_AddItemToArray(arr, row);
    return 0;
}

static int leads_export_src(store *s, const char *email, cJSON *out, void *arg)
{
    rows_arg a = {out, arg != NULL};
    /* empty lists rather than missing members: the reader sees what was looked at */
    if (a.ledger) {
        cJSON_AddArrayToObject(out, "consent_ledger");
    } else {
        cJSON_AddArrayToObject(out, "leads");
        cJSON_AddArrayToObject(out, "data_requests");
        cJSON_AddArrayToObject(out, "mail_queue");
    }
    return leads_export(s, email, add_row, &a);
}

static int leads_erase_src(store *s, const char *email, cJSON *summary, void *arg)
{
    lstore_erased e = {0};
    int ret = leads_erase(s, email, arg != NULL, &e);
    if (arg) {
        cJSON_AddNumberToObject(summary, "pseudonymised", (double)e.ledger_pseudonymised);
    } else {
        cJSON_AddNumberToObject(summary, "deleted", (double)e.leads);
        cJSON_AddNumberToObject(summary, "queued_mails_dropped", (double)e.mails_dropped);
        cJSON_AddNumberToObject(summary, "requests_pseudonymised",
                                (double)e.requests_pseudonymised);
    }
    return ret;
}

/* handoff tickets (catalog/tickets_store.h): the customer's messages, contacts and replies */
static int tickets_export_src(store *s, const char *email, cJSON *out, void *arg)
{
    (void)arg;
    cJSON *arr = NULL;
    int ret = tickets_export_by_email(s, email, &arr);
    if (ret == PD_OK)
        cJSON_AddItemToObject(out, "tickets", arr);
    return ret;
}

static int tickets_erase_src(store *s, const char *email, cJSON *summary, void *arg)
{
    (void)arg;
    int n = 0, ret = tickets_erase_by_email(s, email, pd_wall_us(), &n);
    cJSON_AddNumberToObject(summary, "tickets_erased", n);
    return ret;
}

int datarights_register_tickets(datarights *r)
{
    datarights_source tickets = {"tickets", tickets_export_src, tickets_erase_src, NULL};
    return datarights_register(r, &tickets);
}

static char ledger_marker; /* a non-NULL arg selects the ledger */

int datarights_register_leads(datarights *r)
{
    datarights_source leads = {"leads", leads_export_src, leads_erase_src, NULL};
    datarights_source ledger = {"consent_ledger", leads_export_src, leads_erase_src,
                                &ledger_marker};
    int ret = datarights_register(r, &leads);
    if (ret == PD_OK)
        ret = datarights_register(r, &ledger);
    return ret;
}
