/*
 * config: the service's settings as one typed table with defaults, loaded from a JSON file
 * (// comments allowed) and validated at start; every error names the key. The struct is
 * read-only once loaded and shared by all threads.
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include "buf.h"

#define CONFIG_MAX_SPANS 4

typedef struct config_hours {
    int nspans;
    struct {
        int open, close; /* minutes after midnight */
    } span[CONFIG_MAX_SPANS];
} config_hours;

typedef struct config_list {
    char **items;
    int n;
} config_list;

typedef struct config {
    char *listen; /* HOST:PORT */
    char *listen_host;
    int listen_port;
    int threads;
    char *log_level;
    char *policies_dir;
    struct {
        char *name, *address, *phone, *email, *website;
    } pharmacy;
    config_hours hours[7]; /* Monday first */
    char *emergency_service_url;
    struct {
        char *name, *phone;
    } poison_control;
    struct {
        char *name, *email, *address;
    } privacy_contact;
    config_list allowed_origins;
    config_list trusted_proxies;
    struct {
        int inquiries_per_minute;
        int searches_per_minute;
        int order_lookups_per_client;
        int order_lookups_per_order;
        int order_lookup_window_s;
        int leads_per_client; /* sign-ups and data requests per client address and hour */
    } rate_limit;
    struct {
        int connection_timeout_s;
        int max_connections;
        int per_ip_connections;
        int cookie_secure;
    } http;
    struct {
        char *sendmail, *from;
        int retry_initial_s, retry_max_s; /* the durable queue's backoff */
    } mail;
    char *public_base_url; /* links in mails: {public_base_url}/leads/confirm?token=... */
    struct {
        int store_ip_hash;     /* the ledger keeps a keyed hash of the client address */
        int mail_window_s;     /* confirmation mails per address: at most mails_per_address */
        int mails_per_address; /* in mail_window_s, and one per sign-up */
    } leads;
    struct {
        char *controller; /* "" means pharmacy.name */
        char *supervisory_authority;
    } privacy;
    /* the pharmacist handoff (issue 6) */
    struct {
        int handoffs_per_hour;       /* new tickets per client address, 0 off */
        int ticket_views_per_minute; /* customer ticket reads per client address, 0 off */
        int logins_per_minute;       /* staff login attempts per client address, 0 off */
    } handoff_limits;
    struct {
        int session_idle_s, session_max_s;
        int lockout_failures, lockout_s;
        int max_event_streams, keepalive_s;
    } staff;
    struct {
        int ticket_days;
        int audit_days; /* audit entries older than this are pruned from the chain's start */
        int interval_s;
    } retention;
    /* the opening hours as customers read them, formatted once when loaded: [0] "de", [1] "en" */
    char *hours_line[2];
} config;

extern const char *const config_weekdays[7]; /* "mon" .. "sun" */

/* path NULL: the defaults. Errors go to err, naming the key (and line for syntax errors). */
int config_load(const char *path, config **out, buf *err);
/* the same from text in memory (name is used in messages); text NULL: the defaults */
int config_parse(const char *name, const char *text, size_t len, config **out, buf *err);
/* replaces listen (e.g. from --listen), validated like the key */
int config_set_listen(config *c, const char *listen, buf *err);
void config_free(config *c);

/* the opening hours as one line for customers: "Mo 08:00–18:30; …; So geschlossen" ("en":
 * "Mon …; Sun closed") */
void config_hours_text(const config *cfg, const char *lang, buf *out);
/* the same line, formatted once when the configuration was loaded (no work per call) */
const char *config_hours_line(const config *cfg, const char *lang);

#endif
