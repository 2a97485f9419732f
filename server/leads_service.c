#include <stdio.h>
#include <string.h>

#include "leads_service.h"
#include "log.h"
#include "pd.h"

int leads_service_open(leads_service *ls, const config *cfg, store *s, const char *data_dir,
                       int sender, buf *err)
{
    int ret;
    config_hours_text(cfg, "de", &ls->hours);
    ls->out = (outbox_opts){.dir = data_dir,
                            .sendmail = cfg->mail.sendmail,
                            .from = cfg->mail.from,
                            .pharmacy_name = cfg->pharmacy.name,
                            .pharmacy_address = cfg->pharmacy.address,
                            .pharmacy_phone = cfg->pharmacy.phone,
                            .pharmacy_hours = buf_cstr(&ls->hours)};
    if ((ret = mailtext_load(cfg->policies_dir, &ls->texts, err)) != PD_OK)
        return ret;
    ls->qopts = (mailq_opts){&ls->out, cfg->mail.retry_initial_s, cfg->mail.retry_max_s};
    if (sender && (ret = mailq_start(s, &ls->qopts, &ls->queue)) != PD_OK) {
        buf_puts(err, "cannot start the mail sender thread");
        return ret;
    }
    ls->ctx = (leads_ctx){.store = s,
                          .out = &ls->out,
                          .texts = ls->texts,
                          .base_url = cfg->public_base_url,
                          .mail_window_s = cfg->leads.mail_window_s,
                          .mails_per_address = cfg->leads.mails_per_address,
                          .store_ip_hash = cfg->leads.store_ip_hash,
                          .queue = ls->queue};
    if ((ret = datarights_register_leads(&ls->rights)) != PD_OK ||
        (ret = datarights_register_tickets(&ls->rights)) != PD_OK)
        buf_puts(err, "cannot register the data-rights sources");
    return ret;
}

void leads_service_close(leads_service *ls)
{
    mailq_stop(ls->queue);
    ls->queue = NULL;
    mailtext_free(ls->texts);
    ls->texts = NULL;
    buf_free(&ls->hours);
}

void leads_service_restocked(uint32_t pzn, void *arg)
{
    leads_service *ls = arg;
    long mailed = 0;
    int rc = leads_back_in_stock(&ls->ctx, pzn, &mailed);
    if (rc != PD_OK)
        log_error("event=back_in_stock_failed pzn=%08u error=\"%s\"", pzn, pd_strerror(rc));
    else if (mailed)
        log_info("event=back_in_stock pzn=%08u mails=%ld", pzn, mailed);
}

#ifdef PD_FAULT_INJECTION
static int dump_row(const char *table, const lstore_field *f, size_t n, void *arg)
{
    FILE *out = arg;
    fprintf(out, "%s:", table);
    for (size_t i = 0; i < n; i++) {
        if (f[i].text)
            fprintf(out, " %s=%s", f[i].name, f[i].text);
        else
            fprintf(out, " %s=%lld", f[i].name, f[i].num);
    }
    fputc('\n', out);
    return 0;
}

int leads_service_test_dump(store *s, FILE *out)
{
    return lstore_dump(s, dump_row, out);
}
#endif
