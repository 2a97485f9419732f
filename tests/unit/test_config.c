/* the configuration table: defaults, the shipped example, and an error naming every bad key */
#include "check.h"
#include "config.h"
#include "pd.h"
#include "testutil.h"

static char file[300];

static int load_text(const char *text, const char *expect_in_error)
{
    buf err = BUF_INIT;
    config *c = NULL;
    testutil_write(file, text);
    int rc = config_load(file, &c, &err);
    int ok = expect_in_error ? rc != PD_OK && strstr(buf_cstr(&err), expect_in_error) != NULL
                             : rc == PD_OK;
    if (!ok)
        fprintf(stderr, "config %s -> rc=%d err=%s\n", text, rc, buf_cstr(&err));
    config_free(c);
    buf_free(&err);
    return ok;
}

int main(int argc, char **argv)
{
    buf err = BUF_INIT;
    config *c = NULL;
    snprintf(file, sizeof file, "%s/c.json", testutil_tmpdir());

    /* defaults */
    CHECK_EQ_INT(config_load(NULL, &c, &err), PD_OK);
    if (c) {
        CHECK_EQ_STR(c->listen_host, "127.0.0.1");
        CHECK_EQ_INT(c->listen_port, 8080);
        CHECK_EQ_INT(c->rate_limit.inquiries_per_minute, 30);
        CHECK_EQ_INT(c->hours[2].nspans, 2);
        CHECK_EQ_INT(c->hours[6].nspans, 0);
        CHECK_EQ_INT(c->trusted_proxies.n, 0);
        CHECK_EQ_INT(c->http.cookie_secure, 1);
        CHECK_EQ_STR(c->public_base_url, "http://127.0.0.1:8080");
        CHECK_EQ_INT(c->leads.store_ip_hash, 0);
        CHECK_EQ_INT(c->leads.mails_per_address, 1);
        CHECK_EQ_INT(c->mail.retry_initial_s, 60);
        CHECK_EQ_STR(c->privacy.controller, "");
        CHECK_EQ_INT(c->retention.audit_days, 1095);
        CHECK(strstr(c->privacy.supervisory_authority, "Berlin") != NULL);
        CHECK_EQ_INT(config_set_listen(c, "[::1]:9000", &err), PD_OK);
        CHECK_EQ_STR(c->listen_host, "::1");
        CHECK_EQ_INT(c->listen_port, 9000);
        CHECK_EQ_INT(config_set_listen(c, "example.org:80", &err), PD_EINVAL);
        CHECK_EQ_INT(config_set_listen(c, "127.0.0.1:70000", &err), PD_EINVAL);
        CHECK_EQ_INT(config_set_listen(c, "127.0.0.1", &err), PD_EINVAL);
    }
    config_free(c);
    c = NULL;

    /* the shipped, commented example is valid */
    if (argc > 1) {
        buf_reset(&err);
        CHECK_EQ_INT(config_load(argv[1], &c, &err), PD_OK);
        if (c) {
            CHECK_EQ_INT(c->allowed_origins.n, 1);
            CHECK_EQ_STR(c->poison_control.phone, "030 19240");
        }
        config_free(c);
        c = NULL;
    }

    /* partial files keep the other defaults */
    CHECK(load_text("{\"threads\": 2}", NULL));
    CHECK(load_text("// only a comment\n{\"pharmacy\": {\"name\": \"A // B\"}}", NULL));
    CHECK(load_text("{\"rate_limit\": {\"inquiries_per_minute\": 0}}", NULL));
    CHECK(load_text("{\"trusted_proxies\": [\"10.0.0.1\", \"::1\"]}", NULL));
    /* each error names the key */
    CHECK(load_text("{\"thread\": 2}", "unknown configuration key 'thread'"));
    CHECK(
        load_text("{\"pharmacy\": {\"fax\": \"1\"}}", "unknown configuration key 'pharmacy.fax'"));
    CHECK(load_text("{\"threads\": 0}", "'threads' must be a whole number from 1 to 64"));
    CHECK(load_text("{\"threads\": 2.5}", "'threads'"));
    CHECK(load_text("{\"threads\": \"4\"}", "'threads'"));
    CHECK(load_text("{\"listen\": \"localhost\"}", "'listen'"));
    CHECK(load_text("{\"pharmacy\": {\"name\": \"\"}}", "'pharmacy.name' must not be empty"));
    CHECK(load_text("{\"pharmacy\": {\"phone\": \"call us\"}}", "'pharmacy.phone'"));
    CHECK(load_text("{\"pharmacy\": {\"email\": \"nobody\"}}", "'pharmacy.email'"));
    CHECK(load_text("{\"pharmacy\": 5}", "'pharmacy' must be an object"));
    CHECK(load_text("{\"opening_hours\": {\"mon\": [\"18:00-08:00\"]}}", "'opening_hours.mon'"));
    CHECK(
        load_text("{\"opening_hours\": {\"mon\": [\"08:00-12:00\", \"11:00-13:00\"]}}", "overlap"));
    CHECK(load_text("{\"opening_hours\": {\"mon\": \"08:00-12:00\"}}", "'opening_hours.mon'"));
    CHECK(load_text("{\"opening_hours\": {\"mon\": [\"8-12\"]}}", "'opening_hours.mon'"));
    CHECK(load_text("{\"emergency_service_url\": \"http://x.example\"}",
                    "'emergency_service_url' must be an https:// address"));
    CHECK(load_text("{\"poison_control\": {\"phone\": \"\"}}", "'poison_control.phone'"));
    CHECK(load_text("{\"allowed_origins\": [\"https://a.example/path\"]}", "'allowed_origins'"));
    CHECK(load_text("{\"allowed_origins\": [\"*\"]}", "'allowed_origins'"));
    CHECK(load_text("{\"allowed_origins\": \"https://a.example\"}", "'allowed_origins'"));
    CHECK(load_text("{\"trusted_proxies\": [\"proxy.local\"]}", "'trusted_proxies'"));
    CHECK(load_text("{\"http\": {\"cookie_secure\": 1}}", "'http.cookie_secure'"));
    CHECK(load_text("{\"log_level\": \"loud\"}", "'log_level'"));
    CHECK(load_text(
        "{\"privacy\": {\"controller\": \"Apotheke X e.K.\"}, \"retention\": {\"audit_days\": 90}}",
        NULL));
    CHECK(load_text("{\"privacy\": {\"handoff_retention_days\": 90}}",
                    "'privacy.handoff_retention_days'")); /* it is retention.ticket_days */
    CHECK(load_text("{\"retention\": {\"audit_days\": \"1y\"}}", "'retention.audit_days'"));
    CHECK(load_text("{\"retention\": {\"audit_days\": 7}}", "'retention.audit_days'"));
    CHECK(load_text("{\"privacy\": {\"supervisory_authority\": \"\"}}",
                    "'privacy.supervisory_authority'"));
    CHECK(load_text("{\"privacy\": {\"controler\": \"x\"}}", "'privacy.controler'"));
    CHECK(load_text("{\"rate_limit\": {\"inquiries_per_minute\": -1}}",
                    "'rate_limit.inquiries_per_minute'"));
    /* leads and the mail queue */
    CHECK(load_text("{\"public_base_url\": \"https://apotheke.example/\"}", "'public_base_url'"));
    CHECK(load_text("{\"public_base_url\": \"ftp://apotheke.example\"}", "'public_base_url'"));
    CHECK(load_text("{\"public_base_url\": \"https://a.example/?x=1\"}", "'public_base_url'"));
    CHECK(load_text("{\"public_base_url\": \"https://a.example/shop\"}", NULL));
    CHECK(load_text("{\"leads\": {\"store_ip_hash\": \"yes\"}}", "'leads.store_ip_hash'"));
    CHECK(load_text("{\"leads\": {\"mails_per_address\": 0}}", "'leads.mails_per_address'"));
    CHECK(load_text("{\"leads\": {\"mail_window_s\": 0}}", "'leads.mail_window_s'"));
    CHECK(load_text("{\"mail\": {\"retry_initial_s\": 0}}", "'mail.retry_initial_s'"));
    CHECK(load_text("{\"mail\": {\"retry_max_s\": 9999999}}", "'mail.retry_max_s'"));
    CHECK(
        load_text("{\"rate_limit\": {\"leads_per_client\": -1}}", "'rate_limit.leads_per_client'"));
    /* syntax errors name the line */
    CHECK(load_text("{\n\"threads\": 2,\n}", ":3:"));
    CHECK(load_text("[1]", "one JSON object"));
    CHECK(load_text("", "c.json:1:"));
    CHECK(load_text("{\"threads\": 2} x", "JSON syntax error"));
    CHECK(load_text("{\"pharmacy\": {\"name\": \"\xff\"}}", "UTF-8"));
    buf_reset(&err);
    CHECK_EQ_INT(config_load("/nonexistent/config.json", &c, &err), PD_EIO);
    CHECK(strstr(buf_cstr(&err), "cannot open") != NULL);
    buf_free(&err);
    return check_done();
}
