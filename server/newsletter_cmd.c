#include "newsletter_cmd.h"

#include <sodium.h>
#include <stdio.h>

#include "config.h"
#include "leads_service.h"
#include "newsletter.h"
#include "pd.h"

static int refuse(const char *what, const buf *detail)
{
    fprintf(stderr, "pharmdesk: %s%s%s\n", what, detail && detail->len ? ": " : "",
            detail ? buf_cstr(detail) : "");
    return 1;
}

int newsletter_cmd_run(const char *file, const char *config_path, const char *data_dir, int force)
{
    buf err = BUF_INIT;
    config *cfg = NULL;
    store *s = NULL;
    newsletter *nl = NULL;
    leads_service ls = {0};
    leads_newsletter_sent sent;
    long delivered = 0, failed = 0, pass_sent = 0, pass_failed = 0;
    char hex[2 * LSTORE_HASH + 1], when[32];
    int rc = 1, ret;
    if ((ret = config_load(config_path, &cfg, &err)) != PD_OK) {
        refuse("invalid configuration", &err);
        goto out;
    }
    /* the file first: a mistake in it needs no data folder to be found */
    if ((ret = newsletter_load(file, &nl, &err)) != PD_OK) {
        refuse("the newsletter file is not valid, nothing was sent", &err);
        goto out;
    }
    const leads_newsletter *c = newsletter_content(nl);
    sodium_bin2hex(hex, sizeof hex, c->hash, LSTORE_HASH);
    if ((ret = store_open(data_dir, 1, &s, &err)) != PD_OK) {
        refuse("cannot open the data folder", &err);
        goto out;
    }
    if ((ret = leads_service_open(&ls, cfg, s, data_dir, 0, &err)) != PD_OK) {
        refuse("cannot prepare the mails", &err);
        goto out;
    }
    ret = leads_newsletter_send(&ls.ctx, c, force, &sent, &err);
    if (ret == PD_EPERM) {
        buf_puts(&err, "; nothing was queued. Prescription-only medicines may not be advertised "
                       "to the public (HWG §10): take the product out of the text");
        refuse("newsletter refused", &err);
        goto out;
    }
    if (ret == PD_EEXIST) {
        pd_iso_time(sent.previous_us, when);
        fprintf(stderr,
                "pharmdesk: this newsletter (content %.16s) was sent already at %s to %ld "
                "recipients; nothing was queued. To send the same content again within %d hours, "
                "add --force\n",
                hex, when, sent.previous_mails, LEADS_NEWSLETTER_REPEAT_HOURS);
        goto out;
    }
    if (ret != PD_OK) {
        if (!err.len)
            buf_puts(&err, pd_strerror(ret));
        refuse("the newsletter could not be queued, nothing was sent", &err);
        goto out;
    }
    /* deliver now, as import-catalog does; a failure stays queued for serve's sender */
    do {
        if (mailq_drain(s, &ls.qopts, &pass_sent, &pass_failed) != PD_OK)
            break;
        delivered += pass_sent;
        failed += pass_failed;
    } while (pass_sent > 0);
    printf("newsletter %.16s: %ld mails queued (%ld German, %ld English)%s; mail queue: %ld "
           "delivered, %ld kept for a retry by serve\n",
           hex, sent.mails[0] + sent.mails[1], sent.mails[0], sent.mails[1],
           force ? ", sent again with --force" : "", delivered, failed);
    if (sent.mails[0] + sent.mails[1] == 0)
        printf("no confirmed newsletter leads yet: nobody to send to\n");
    rc = 0;
out:
    leads_service_close(&ls);
    store_close(s);
    newsletter_free(nl);
    config_free(cfg);
    buf_free(&err);
    return rc;
}
