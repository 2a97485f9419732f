/*
 * main: the pharmdesk binary. Parses the command line (options may stand before or after
 * arguments), dispatches to one command per table row, and maps errors to exit codes:
 * 0 success, 1 failure (with a message saying what to do), 2 a usage error.
 */
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "assistant.h"
#include "jsonin.h"
#include "pzn.h"
#include "audit.h"
#include "desk.h"
#include "jobs.h"
#include "tickets_store.h"
#include "import.h"
#include "keys.h"
#include "leads_service.h"
#include "log.h"
#include "newsletter_cmd.h"
#include "pd.h"

#define MAX_ARGS 8

typedef struct cli {
    const char *data;
    const char *listen;
    const char *config;
    const char *role;
    int check_config;
    int passphrase;
    int force; /* newsletter-send */
    const char *args[MAX_ARGS];
    int nargs;
} cli;

typedef struct command {
    const char *name;
    int nargs; /* positional arguments after the command */
    int (*run)(cli *c);
    const char *usage;
} command;

static int cmd_init(cli *c);
static int cmd_import_catalog(cli *c);
static int cmd_import_orders(cli *c);
static int cmd_serve(cli *c);
static int cmd_backup(cli *c);
static int cmd_check(cli *c);
static int cmd_audit_verify(cli *c);
static int cmd_classify(cli *c);
static int cmd_rekey(cli *c);
#ifdef PD_FAULT_INJECTION
static int cmd_test_leads_dump(cli *c);
#endif
static int cmd_staff_add(cli *c);
static int cmd_staff_disable(cli *c);
static int cmd_staff_enable(cli *c);
static int cmd_staff_passwd(cli *c);
static int cmd_purge(cli *c);
static int cmd_newsletter_send(cli *c);

static const command commands[] = {
    {"init", 0, cmd_init, "init [--data DIR]"},
    {"import-catalog", 1, cmd_import_catalog,
     "import-catalog FILE.csv [--config FILE] [--data DIR]   (mails back-in-stock notices)"},
    {"import-orders", 1, cmd_import_orders, "import-orders FILE.csv [--config FILE] [--data DIR]"},
    {"backup", 1, cmd_backup, "backup DEST [--data DIR]"},
    {"check", 0, cmd_check, "check [--data DIR]   (key, every page and the database's structure)"},
    {"classify", 0, cmd_classify,
     "classify [--config FILE] [--data DIR] < lines of {\"id\",\"text\"}"},
    {"audit-verify", 0, cmd_audit_verify,
     "audit-verify [--data DIR]   (recomputes the audit log's hash chain)"},
    {"rekey", 0, cmd_rekey,
     "rekey [--passphrase] [--data DIR]   (new passphrase in "
     "PHARMDESK_NEW_PASSPHRASE)"},
    {"staff-add", 1, cmd_staff_add,
     "staff-add USER --role pharmacist|admin [--data DIR]   (password: one line on stdin)"},
    {"staff-disable", 1, cmd_staff_disable,
     "staff-disable USER [--data DIR]   (ends its sessions)"},
    {"staff-enable", 1, cmd_staff_enable, "staff-enable USER [--data DIR]"},
    {"staff-passwd", 1, cmd_staff_passwd,
     "staff-passwd USER [--data DIR]   (new password: one line on stdin; ends its sessions)"},
    {"purge", 0, cmd_purge,
     "purge [--config FILE] [--data DIR]   (retention: ticket texts, unconfirmed sign-ups, ...)"},
    {"newsletter-send", 1, cmd_newsletter_send,
     "newsletter-send FILE [--force] [--config FILE] [--data DIR]   (to confirmed newsletter "
     "leads; FILE: [subject.de] [body.de] [subject.en] [body.en])"},
    {"serve", 0, cmd_serve,
     "serve [--listen HOST:PORT] [--config FILE] [--check-config] [--data DIR]"},
#ifdef PD_FAULT_INJECTION
    /* test builds only: every row of the leads tables */
    {"test-leads-dump", 0, cmd_test_leads_dump, "test-leads-dump [--data DIR]"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pharmdesk COMMAND [ARGS] [--data DIR]   (DIR defaults to ./var)\n");
    for (size_t i = 0; i < PD_ARRAY_LEN(commands); i++)
        fprintf(f, "  pharmdesk %s\n", commands[i].usage);
}

static int fail(const char *what, const buf *err)
{
    fprintf(stderr, "pharmdesk: %s%s%s\n", what, err && err->len ? ": " : "",
            err ? buf_cstr(err) : "");
    return 1;
}

static int cmd_init(cli *c)
{
    buf err = BUF_INIT;
    int ret = store_create(c->data, &err);
    if (ret != PD_OK) {
        ret = fail("init failed", &err);
    } else if (getenv(KEYS_ENV)) {
        printf("created %s, encrypted with a key stretched from %s (remember the passphrase: "
               "without it the data cannot be read)\n",
               c->data, KEYS_ENV);
    } else {
        printf("created %s with a new key (%s/%s, keep a copy in a safe place)\n", c->data, c->data,
               STORE_KEY_NAME);
    }
    buf_free(&err);
    return ret;
}

static int cmd_backup(cli *c)
{
    buf err = BUF_INIT;
    long long t0 = pd_now_us();
    int ret = store_backup(c->data, c->args[0], &err);
    if (ret != PD_OK) {
        ret = fail("backup failed", &err);
    } else {
        printf("backup of %s written to %s/%s in %.2f s: encrypted with this folder's key; keep "
               "the key (%s or the passphrase) apart from the backup\n",
               c->data, c->args[0], STORE_DB_NAME, (double)(pd_now_us() - t0) / 1e6,
               STORE_KEY_NAME);
    }
    buf_free(&err);
    return ret;
}

static int cmd_check(cli *c)
{
    buf err = BUF_INIT, result = BUF_INIT;
    store *s = NULL;
    int ret = store_open(c->data, 1, &s, &err);
    if (ret != PD_OK) {
        ret = fail("cannot open the data folder", &err);
        goto out;
    }
    if ((ret = store_check(s, &result)) != PD_OK) {
        buf_printf(&err, "%s", buf_cstr(&result));
        ret = fail("the data folder is damaged (restore a backup)", &err);
        goto out;
    }
    printf("%s: key and every page ok\n", c->data);
out:
    store_close(s);
    buf_free(&err);
    buf_free(&result);
    return ret;
}

/* one input line: {"id","text"} -> one output line, or an error line naming the problem */
static void classify_line(app *a, const char *line, size_t len, long lineno)
{
    cJSON *in = NULL, *out = cJSON_CreateObject();
    const char *why = NULL, *text = NULL;
    const cJSON *id;
    policy_result r;
    uint32_t pzns[ASSISTANT_MAX_PRODUCTS];
    size_t npzns = 0;
    char orderno[16], pzn[9];
    if (jsonin_parse_object(line, len, &in, &why) != PD_OK ||
        jsonin_get_string(in, "text", 1, 64 * 1024, &text, &why) != PD_OK) {
        cJSON_AddNumberToObject(out, "line", (double)lineno);
        cJSON_AddStringToObject(out, "error", why ? why : "not a JSON object");
        goto print;
    }
    if ((id = cJSON_GetObjectItemCaseSensitive(in, "id")) != NULL)
        cJSON_AddItemToObject(out, "id", cJSON_Duplicate(id, 1));
    if (assistant_classify(a, text, strlen(text), &r, pzns, &npzns, orderno) != PD_OK) {
        cJSON_AddStringToObject(out, "error", "the catalog could not be searched");
        goto print;
    }
    cJSON_AddStringToObject(out, "decision", policy_decision_name(r.decision));
    cJSON_AddStringToObject(out, "intent", policy_intent_name(r.intent));
    cJSON_AddBoolToObject(out, "health_data", r.health_data);
    cJSON *arr = cJSON_AddArrayToObject(out, "pzns");
    for (size_t i = 0; i < npzns; i++) {
        pzn_format(pzns[i], pzn);
        cJSON_AddItemToArray(arr, cJSON_CreateString(pzn));
    }
    if (orderno[0])
        cJSON_AddStringToObject(out, "order_number", orderno);
    else
        cJSON_AddNullToObject(out, "order_number");
    cJSON_AddStringToObject(out, "rule", r.rule ? r.rule : "");
print:;
    char *s = cJSON_PrintUnformatted(out);
    if (s) {
        puts(s);
        free(s);
    }
    cJSON_Delete(in);
    cJSON_Delete(out);
}

static int cmd_classify(cli *c)
{
    buf err = BUF_INIT;
    config *cfg = NULL;
    app a = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int ret = config_load(c->config, &cfg, &err);
    if (ret != PD_OK) {
        ret = fail("invalid configuration", &err);
        goto out;
    }
    a.cfg = cfg;
    if ((ret = policy_load(cfg->policies_dir, &a.policy, &err)) != PD_OK) {
        ret = fail("cannot load the policies", &err);
        goto out;
    }
    if ((ret = store_open(c->data, 1, &a.store, &err)) != PD_OK ||
        (ret = catalog_open(a.store, &a.catalog, &err)) != PD_OK) {
        ret = fail("cannot open the catalog", &err);
        goto out;
    }
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0)
            classify_line(&a, line, (size_t)n, lineno);
    }
    fflush(stdout);
out:
    free(line);
    catalog_free(a.catalog);
    store_close(a.store);
    policy_free(a.policy);
    config_free(cfg);
    buf_free(&err);
    return ret;
}

static int cmd_audit_verify(cli *c)
{
    buf err = BUF_INIT;
    store *s = NULL;
    long long bad = 0;
    int ret = store_open(c->data, 1, &s, &err);
    if (ret != PD_OK) {
        ret = fail("cannot open the data folder", &err);
        goto out;
    }
    ret = audit_verify(s, stdout, &bad);
    if (ret == PD_ECORRUPT) {
        buf_printf(&err, "entry %lld and everything after it cannot be trusted", bad);
        ret = fail("the audit log has been tampered with", &err);
    } else if (ret != PD_OK) {
        ret = fail("cannot read the audit log", NULL);
    }
out:
    store_close(s);
    buf_free(&err);
    return ret;
}

static int cmd_rekey(cli *c)
{
    buf err = BUF_INIT;
    const char *pass = NULL;
    int ret = PD_OK;
    if (c->passphrase && !(pass = keys_passphrase("PHARMDESK_NEW_PASSPHRASE", &err))) {
        ret = fail("rekey needs the new passphrase", &err);
        goto out;
    }
    if ((ret = store_rekey(c->data, pass, &err)) != PD_OK) {
        ret = fail("rekey failed, the old key stays", &err);
        goto out;
    }
    printf("every page of %s re-encrypted with the new %s\n", c->data,
           pass ? "passphrase (set PHARMDESK_PASSPHRASE to it from now on)"
                : "key in " STORE_KEY_NAME " (keep a copy in a safe place)");
out:
    buf_free(&err);
    return ret;
}

static int run_import(cli *c, enum import_kind kind)
{
    buf err = BUF_INIT, hours = BUF_INIT;
    store *s = NULL;
    config *cfg = NULL;
    import_summary sum;
    outbox_opts mail = {0};
    leads_service ls = {0};
    long bis_sent = 0, bis_failed = 0;
    int ret = PD_OK;
    /* mails (ready for pickup, back in stock): sender, signature and delivery from it */
    if ((ret = config_load(c->config, &cfg, &err)) != PD_OK) {
        ret = fail("invalid configuration", &err);
        goto out;
    }
    if (kind == IMPORT_ORDERS) {
        config_hours_text(cfg, "de", &hours);
        mail = (outbox_opts){.dir = c->data,
                             .sendmail = cfg->mail.sendmail,
                             .from = cfg->mail.from,
                             .pharmacy_name = cfg->pharmacy.name,
                             .pharmacy_address = cfg->pharmacy.address,
                             .pharmacy_phone = cfg->pharmacy.phone,
                             .pharmacy_hours = buf_cstr(&hours)};
    }
    if ((ret = store_open(c->data, 1, &s, &err)) != PD_OK) {
        ret = fail("cannot open the data folder", &err);
        goto out;
    }
    /* the mail texts; for a catalog also the back-in-stock notices (queued, no sender thread) */
    if ((ret = leads_service_open(&ls, cfg, s, c->data, 0, &err)) != PD_OK) {
        ret = fail("cannot prepare the mails", &err);
        goto out;
    }
    mail.texts = ls.texts;
    FILE *progress = isatty(fileno(stderr)) ? stderr : NULL;
    long long t0 = pd_now_us();
    ret = import_csv_hooks(s, kind, c->args[0], kind == IMPORT_ORDERS ? &mail : NULL,
                           kind == IMPORT_CATALOG ? leads_service_restocked : NULL, &ls, stderr,
                           progress, &sum, &err);
    if (ret != PD_OK) {
        ret = fail("import failed, nothing was changed", &err);
        goto out;
    }
    /* back-in-stock mails queued after the commit: deliver now; a failure stays queued for
     * serve's sender */
    if (kind == IMPORT_CATALOG && sum.restocked)
        mailq_drain(s, &ls.qopts, &bis_sent, &bis_failed);
    printf("%s import: %ld rows read, %ld inserted, %ld updated, %ld unchanged, %ld rejected",
           kind == IMPORT_CATALOG ? "catalog" : "orders", sum.rows, sum.inserted, sum.updated,
           sum.unchanged, sum.rejected);
    if (kind == IMPORT_ORDERS)
        printf(", %ld mailed, %ld mails failed", sum.mailed, sum.mail_failed);
    if (kind == IMPORT_CATALOG)
        printf(", %ld back in stock (%ld mails sent, %ld queued for a retry)", sum.restocked,
               bis_sent, bis_failed);
    printf(" (%.2f s)\n", (double)(pd_now_us() - t0) / 1e6);
    if (sum.mail_failed)
        fprintf(stderr,
                "pharmdesk: %ld ready-for-pickup mails were not sent (orders above); the "
                "orders are imported, tell those customers another way\n",
                sum.mail_failed);
    if (sum.rejected) {
        fprintf(stderr,
                "pharmdesk: %ld rows were rejected (reasons above); fix them and import "
                "the file again\n",
                sum.rejected);
        ret = 1;
    }
out:
    leads_service_close(&ls);
    store_close(s);
    config_free(cfg);
    buf_free(&hours);
    buf_free(&err);
    return ret;
}

static int cmd_import_catalog(cli *c)
{
    return run_import(c, IMPORT_CATALOG);
}

static int cmd_import_orders(cli *c)
{
    return run_import(c, IMPORT_ORDERS);
}

#ifdef PD_FAULT_INJECTION
static int test_leads(cli *c, int (*fn)(store *s, FILE *out))
{
    buf err = BUF_INIT;
    store *s = NULL;
    int ret = store_open(c->data, 1, &s, &err);
    if (ret != PD_OK)
        ret = fail("cannot open the data folder", &err);
    else if ((ret = fn(s, stdout)) != PD_OK)
        ret = fail(pd_strerror(ret), NULL);
    store_close(s);
    buf_free(&err);
    return ret;
}

static int cmd_test_leads_dump(cli *c)
{
    return test_leads(c, leads_service_test_dump);
}
#endif

static enum log_level level_of(const char *s)
{
    return strcmp(s, "debug") == 0   ? LOG_DEBUG
           : strcmp(s, "warn") == 0  ? LOG_WARN
           : strcmp(s, "error") == 0 ? LOG_ERROR
                                     : LOG_INFO;
}

/*
 * The allocator of a long-running server with connections that come and go. glibc gives each
 * thread an arena; libmicrohttpd's 32 KiB connection pools, freed on close and allocated again
 * by whichever worker accepts the next connection, left holes in one arena while another grew:
 * RSS rose by about 2 MiB with each new wave of 256 connections. Two arenas (no measurable
 * throughput loss in bench/inquiry_bench.sh) and pools of 32 KiB and more from mmap, so that a
 * closed connection's pool goes back to the system, keep it flat.
 */
static void tune_allocator(void)
{
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 32 * 1024);
}

static int cmd_serve(cli *c)
{
    buf err = BUF_INIT;
    config *cfg = NULL;
    app a = {0};
    http_server *srv = NULL;
    leads_service ls = {0};
    jobs *maint = NULL;
    tune_allocator();
    int ret = config_load(c->config, &cfg, &err);
    if (ret == PD_OK && c->listen)
        ret = config_set_listen(cfg, c->listen, &err);
    if (ret != PD_OK) {
        ret = fail("invalid configuration", &err);
        goto out;
    }
    if (c->check_config) {
        if ((ret = policy_load(cfg->policies_dir, &a.policy, &err)) != PD_OK) {
            ret = fail("invalid policies", &err);
            goto out;
        }
        if ((ret = consent_load(cfg->policies_dir, cfg->pharmacy.name, cfg->retention.ticket_days,
                                &a.consent, &err)) != PD_OK) {
            ret = fail("invalid consent texts", &err);
            goto out;
        }
        mailtext *mt = NULL;
        if ((ret = mailtext_load(cfg->policies_dir, &mt, &err)) != PD_OK) {
            ret = fail("invalid mail texts", &err);
            goto out;
        }
        mailtext_free(mt);
        if ((ret = web_open(cfg, &a.web, &err)) != PD_OK) {
            ret = fail("cannot render the web pages", &err);
            goto out;
        }
        printf("configuration ok%s%s; policies %s (version %s)\n", c->config ? ": " : " (defaults)",
               c->config ? c->config : "", cfg->policies_dir, policy_version(a.policy));
        goto out;
    }
    log_set_level(level_of(cfg->log_level));

    /* signals are taken by sigwait in this thread; every thread started later inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    a.cfg = cfg;
    if ((ret = store_open(c->data, cfg->threads + 2, &a.store, &err)) != PD_OK) {
        ret = fail("cannot open the data folder", &err);
        goto out;
    }
    if ((ret = audit_open(a.store, &a.audit, &err)) != PD_OK) {
        ret = fail("cannot open the audit log", &err);
        goto out;
    }
    if ((ret = policy_load(cfg->policies_dir, &a.policy, &err)) != PD_OK) {
        ret = fail("cannot load the policies", &err);
        goto out;
    }
    if ((ret = consent_load(cfg->policies_dir, cfg->pharmacy.name, cfg->retention.ticket_days,
                            &a.consent, &err)) != PD_OK) {
        ret = fail("cannot load the consent texts", &err);
        goto out;
    }
    if ((ret = leads_service_open(&ls, cfg, a.store, c->data, 1, &err)) != PD_OK) {
        ret = fail("cannot set up leads and mail", &err);
        goto out;
    }
    a.leads = &ls.ctx;
    a.rights = &ls.rights;
    if ((ret = web_open(cfg, &a.web, &err)) != PD_OK) {
        ret = fail("cannot render the web pages", &err);
        goto out;
    }
    a.convos = convo_new(10000, 30 * 60);
    if ((ret = catalog_open(a.store, &a.catalog, &err)) != PD_OK) {
        ret = fail("cannot load the catalog", &err);
        goto out;
    }
    a.limiters[LIM_SEARCH] = ratelimit_new(cfg->rate_limit.searches_per_minute, 60, 100000);
    a.limiters[LIM_INQUIRY] = ratelimit_new(cfg->rate_limit.inquiries_per_minute, 60, 100000);
    /* order lookups: per client and per order number, so that guessing either is slow */
    a.limiters[LIM_ORDER_CLIENT] = ratelimit_new(cfg->rate_limit.order_lookups_per_client,
                                                 cfg->rate_limit.order_lookup_window_s, 100000);
    a.limiters[LIM_ORDER_NUMBER] = ratelimit_new(cfg->rate_limit.order_lookups_per_order,
                                                 cfg->rate_limit.order_lookup_window_s, 100000);
    /* leads and data requests: per client and hour; tokens are unguessable, still bounded */
    a.limiters[LIM_LEADS_CLIENT] = ratelimit_new(cfg->rate_limit.leads_per_client, 3600, 100000);
    a.limiters[LIM_LEADS_TOKEN] = ratelimit_new(60, 60, 100000);
    if ((ret = desk_new(&a, c->data, &a.desk, &err)) != PD_OK) {
        ret = fail("cannot start the handoff desk", &err);
        goto out;
    }
    if ((ret = jobs_start(a.store, cfg, &maint)) != PD_OK) {
        ret = fail("cannot start the maintenance thread", NULL);
        goto out;
    }
    http_options ho = {cfg, app_routes, app_nroutes, a.limiters, LIM_COUNT, &a, PHARMDESK_VERSION};
    if ((ret = http_start(&ho, &srv, &err)) != PD_OK) {
        ret = fail("cannot start the server", &err);
        goto out;
    }
    int port = http_port(srv);
    log_info("event=listening host=%s port=%d threads=%d", cfg->listen_host, port, cfg->threads);
    printf("pharmdesk %s serving on http://%s%s%s:%d (Ctrl-C stops)\n", PHARMDESK_VERSION,
           strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
           strchr(cfg->listen_host, ':') ? "]" : "", port);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("event=stopping signal=%d", sig);
    ret = 0;
out:
    desk_shutdown(a.desk); /* live event streams end before the server stops */
    http_stop(srv);
    leads_service_close(&ls);
    jobs_stop(maint);
    desk_free(a.desk);
    for (int i = 0; i < LIM_COUNT; i++)
        ratelimit_free(a.limiters[i]);
    catalog_free(a.catalog);
    policy_free(a.policy);
    consent_free(a.consent);
    convo_free(a.convos);
    web_free(a.web);
    audit_close(a.audit);
    store_close(a.store);
    config_free(cfg);
    buf_free(&err);
    if (srv)
        log_info("event=stopped");
    return ret;
}

/* one line from stdin (the password), without its line end; NULL at end of input */
static char *read_secret_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static void free_secret(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

/* reads and checks a new password; prints why it is refused */
static char *new_password(void)
{
    const char *why = NULL;
    char *pw = read_secret_line();
    if (!pw || !*pw) {
        fprintf(stderr, "pharmdesk: the password is empty: give it as one line on stdin, e.g. "
                        "`printf '%%s\\n' \"$PW\" | pharmdesk ...`\n");
        free_secret(pw);
        return NULL;
    }
    if (desk_check_password(pw, &why) != PD_OK) {
        fprintf(stderr, "pharmdesk: %s\n", why);
        free_secret(pw);
        return NULL;
    }
    return pw;
}

static int cmd_staff_add(cli *c)
{
    buf err = BUF_INIT;
    store *s = NULL;
    char *pw = NULL, hash[STAFF_HASH_MAX];
    const char *why = NULL, *user = c->args[0];
    int ret = 1;
    if (!c->role || (strcmp(c->role, "pharmacist") != 0 && strcmp(c->role, "admin") != 0)) {
        fprintf(stderr, "pharmdesk: staff-add needs --role pharmacist or --role admin\n");
        return 2;
    }
    if (desk_check_username(user, &why) != PD_OK) {
        fprintf(stderr, "pharmdesk: %s\n", why);
        return 1;
    }
    if (!(pw = new_password()))
        return 1;
    if (store_open(c->data, 1, &s, &err) != PD_OK) {
        fail("cannot open the data folder", &err);
        goto out;
    }
    if (desk_password_hash(NULL, pw, hash) != PD_OK) {
        fail("cannot hash the password (out of memory?)", NULL);
        goto out;
    }
    int rc = staff_create(s, user, c->role, hash, pd_wall_us());
    sodium_memzero(hash, sizeof hash);
    if (rc == PD_EEXIST) {
        fprintf(stderr,
                "pharmdesk: an account named '%s' exists already (staff-passwd changes "
                "its password)\n",
                user);
        goto out;
    }
    if (rc != PD_OK) {
        fail("cannot create the account", NULL);
        goto out;
    }
    char extra[32];
    snprintf(extra, sizeof extra, "role=%s", c->role);
    if (desk_cli_audit(s, "account_add", user, extra) != PD_OK)
        fprintf(stderr, "pharmdesk: warning: the audit entry could not be written\n");
    printf("staff account '%s' (%s) created\n", user, c->role);
    ret = 0;
out:
    free_secret(pw);
    store_close(s);
    buf_free(&err);
    return ret;
}

static int staff_change(cli *c, int what)
{
    buf err = BUF_INIT;
    store *s = NULL;
    char *pw = NULL, hash[STAFF_HASH_MAX];
    const char *user = c->args[0];
    int ret = 1, rc;
    if (what == 2 && !(pw = new_password()))
        return 1;
    if (store_open(c->data, 1, &s, &err) != PD_OK) {
        fail("cannot open the data folder", &err);
        goto out;
    }
    if (what == 2) {
        if (desk_password_hash(NULL, pw, hash) != PD_OK) {
            fail("cannot hash the password (out of memory?)", NULL);
            goto out;
        }
        rc = staff_set_password(s, user, hash, NULL);
        sodium_memzero(hash, sizeof hash);
    } else {
        rc = staff_set_disabled(s, user, what == 1);
    }
    if (rc == PD_ENOTFOUND) {
        fprintf(stderr, "pharmdesk: no staff account named '%s'\n", user);
        goto out;
    }
    if (rc != PD_OK) {
        fail("cannot change the account", NULL);
        goto out;
    }
    if (desk_cli_audit(s,
                       what == 2   ? "password_change"
                       : what == 1 ? "account_disable"
                                   : "account_enable",
                       user, NULL) != PD_OK)
        fprintf(stderr, "pharmdesk: warning: the audit entry could not be written\n");
    printf("staff account '%s': %s\n", user,
           what == 2   ? "password changed, its sessions ended"
           : what == 1 ? "disabled, its sessions ended"
                       : "enabled");
    ret = 0;
out:
    free_secret(pw);
    store_close(s);
    buf_free(&err);
    return ret;
}

static int cmd_staff_disable(cli *c)
{
    return staff_change(c, 1);
}

static int cmd_staff_enable(cli *c)
{
    return staff_change(c, 0);
}

static int cmd_staff_passwd(cli *c)
{
    return staff_change(c, 2);
}

static int cmd_purge(cli *c)
{
    buf err = BUF_INIT, report = BUF_INIT;
    config *cfg = NULL;
    store *s = NULL;
    int ret = config_load(c->config, &cfg, &err);
    if (ret != PD_OK) {
        ret = fail("invalid configuration", &err);
        goto out;
    }
    if ((ret = store_open(c->data, 1, &s, &err)) != PD_OK) {
        ret = fail("cannot open the data folder", &err);
        goto out;
    }
    ret = jobs_run_once(s, cfg, pd_wall_us(), &report);
    fputs(buf_cstr(&report), stdout);
    if (ret != PD_OK)
        ret = fail("a retention job failed (see above); run purge again", NULL);
out:
    store_close(s);
    config_free(cfg);
    buf_free(&report);
    buf_free(&err);
    return ret;
}

static int cmd_newsletter_send(cli *c)
{
    return newsletter_cmd_run(c->args[0], c->config, c->data, c->force);
}

static int parse_cli(int argc, char **argv, cli *c, const char **cmd)
{
    *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (strcmp(a, "--data") == 0)
            val = &c->data;
        else if (strcmp(a, "--listen") == 0)
            val = &c->listen;
        else if (strcmp(a, "--config") == 0)
            val = &c->config;
        else if (strcmp(a, "--role") == 0)
            val = &c->role;
        if (val) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "pharmdesk: %s needs a value\n", a);
                return 0;
            }
            *val = argv[++i];
        } else if (strcmp(a, "--check-config") == 0) {
            c->check_config = 1;
        } else if (strcmp(a, "--passphrase") == 0) {
            c->passphrase = 1;
        } else if (strcmp(a, "--force") == 0) {
            c->force = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "pharmdesk: unknown option %s\n", a);
            return 0;
        } else if (!*cmd) {
            *cmd = a;
        } else if (c->nargs < MAX_ARGS) {
            c->args[c->nargs++] = a;
        } else {
            fprintf(stderr, "pharmdesk: too many arguments\n");
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    cli c = {.data = "./var"};
    const char *cmd;
    umask(077); /* the database, its WAL and keys are for this user only */
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("pharmdesk %s\n", PHARMDESK_VERSION);
        return 0;
    }
    if (!parse_cli(argc, argv, &c, &cmd)) {
        usage(stderr);
        return 2;
    }
    if (!cmd) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < PD_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, cmd) != 0)
            continue;
        if (c.nargs != commands[i].nargs) {
            fprintf(stderr, "pharmdesk: usage: pharmdesk %s\n", commands[i].usage);
            return 2;
        }
        if (((c.check_config || c.listen) && commands[i].run != cmd_serve) ||
            (c.config && commands[i].run != cmd_serve && commands[i].run != cmd_classify &&
             commands[i].run != cmd_import_orders && commands[i].run != cmd_import_catalog &&
             commands[i].run != cmd_purge && commands[i].run != cmd_newsletter_send)) {
            fprintf(stderr, "pharmdesk: --listen, --config and --check-config belong to serve\n");
            return 2;
        }
        if (c.passphrase && commands[i].run != cmd_rekey) {
            fprintf(stderr, "pharmdesk: --passphrase belongs to rekey\n");
            return 2;
        }
        if (c.force && commands[i].run != cmd_newsletter_send) {
            fprintf(stderr, "pharmdesk: --force belongs to newsletter-send\n");
            return 2;
        }
        if (c.role && commands[i].run != cmd_staff_add) {
            fprintf(stderr, "pharmdesk: --role belongs to staff-add\n");
            return 2;
        }
        return commands[i].run(&c);
    }
    fprintf(stderr, "pharmdesk: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
