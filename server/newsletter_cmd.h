/*
 * newsletter_cmd: `pharmdesk newsletter-send FILE [--force] [--config FILE] [--data DIR]`. Reads
 * the newsletter file (catalog/newsletter.h), sends it through leads_newsletter_send (the HWG §10
 * guard, the double-run guard, one queued mail per confirmed newsletter lead) and delivers the
 * queue at once as import-catalog does; what stays queued, serve's sender retries. Prints a
 * summary with counts only, never an address.
 */
#ifndef PD_NEWSLETTER_CMD_H
#define PD_NEWSLETTER_CMD_H

/* returns the exit status: 0 sent, 1 refused or failed (a message on stderr says why) */
int newsletter_cmd_run(const char *file, const char *config_path, const char *data_dir, int force);

#endif
