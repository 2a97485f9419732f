/* the web module: the template language (texts, variables, sections, escaping, errors), every
 * page rendered in both languages from the configuration, the compiled-in assets, and the
 * local day the dashboard's statistics count */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "config.h"
#include "handlers_web.h"
#include "pd.h"
#include "web.h"

static web *open_with(const char *json)
{
    config *c = NULL;
    web *w = NULL;
    buf err = BUF_INIT;
    if (config_parse("test", json, json ? strlen(json) : 0, &c, &err) != PD_OK ||
        web_open(c, &w, &err) != PD_OK)
        fprintf(stderr, "open_with: %s\n", buf_cstr(&err));
    config_free(c);
    buf_free(&err);
    return w;
}

/* renders tmpl; returns the output (static) or NULL and the error in errout */
static const char *render(web *w, const char *tmpl, const char *lang, char *errout, size_t n)
{
    static char out[4096];
    static const web_var vars[] = {
        {"name", "Müller & Söhne <OHG>"}, {"empty", ""}, {"one", "1"}, {"quote", "\"x'"}};
    buf b = BUF_INIT, err = BUF_INIT;
    int rc = web_render(w, tmpl, lang, vars, PD_ARRAY_LEN(vars), &b, &err);
    snprintf(out, sizeof out, "%s", buf_cstr(&b));
    if (errout)
        snprintf(errout, n, "%s", buf_cstr(&err));
    buf_free(&b);
    buf_free(&err);
    return rc == PD_OK ? out : NULL;
}

static void test_templates(web *w)
{
    char err[256];
    CHECK_EQ_STR(render(w, "a {{=name}} b", "de", NULL, 0), "a Müller &amp; Söhne &lt;OHG&gt; b");
    CHECK_EQ_STR(render(w, "<p title=\"{{=quote}}\">", "de", NULL, 0),
                 "<p title=\"&quot;x&#39;\">");
    CHECK_EQ_STR(render(w, "{{common.language_name}}", "de", NULL, 0), "Deutsch");
    CHECK_EQ_STR(render(w, "{{common.language_name}}", "en", NULL, 0), "English");
    CHECK_EQ_STR(render(w, "[{{#one}}yes{{/one}}{{^one}}no{{/one}}]", "de", NULL, 0), "[yes]");
    CHECK_EQ_STR(render(w, "[{{#empty}}yes{{/empty}}{{^empty}}no{{/empty}}]", "de", NULL, 0),
                 "[no]");
    CHECK_EQ_STR(render(w, "{{#one}}a{{#empty}}b{{/empty}}c{{=one}}{{/one}}", "de", NULL, 0),
                 "ac1");
    CHECK_EQ_STR(render(w, "no tags at all", "en", NULL, 0), "no tags at all");
    /* a text with a {variable}: the variable's value is escaped too */
    CHECK(render(w, "{{privacy.right_complaint}}", "de", err, sizeof err) == NULL);
    CHECK(strstr(err, "supervisory_authority") != NULL);
    /* errors name what is wrong */
    CHECK(render(w, "{{nope.key}}", "de", err, sizeof err) == NULL);
    CHECK(strstr(err, "unknown text 'nope.key'") != NULL);
    CHECK(render(w, "{{common}}", "de", err, sizeof err) == NULL); /* an object, not a text */
    CHECK(render(w, "{{=missing}}", "de", err, sizeof err) == NULL);
    CHECK(strstr(err, "unknown variable 'missing'") != NULL);
    CHECK(render(w, "{{#one}}open", "de", err, sizeof err) == NULL);
    CHECK(strstr(err, "{{/one}}") != NULL);
    CHECK(render(w, "x{{/one}}", "de", err, sizeof err) == NULL);
    CHECK(render(w, "{{=name", "de", err, sizeof err) == NULL);
    CHECK(render(w, "{{ bad tag }}", "de", err, sizeof err) == NULL);
    CHECK(strstr(err, "bad tag") != NULL);
    CHECK(render(w, "{{}}", "de", err, sizeof err) == NULL);
}

static void test_pages(web *w)
{
    static const char *const langs[] = {"de", "en"};
    for (int p = 0; p < WEB_NPAGES; p++) {
        for (int l = 0; l < 2; l++) {
            web_doc d;
            char want[32];
            web_page_get(w, (enum web_page)p, langs[l], &d);
            snprintf(want, sizeof want, "<html lang=\"%s\">", langs[l]);
            CHECK(d.len > 500 && strlen(d.data) == d.len);
            CHECK(strstr(d.data, want) != NULL);
            CHECK(strstr(d.data, "{{") == NULL && strstr(d.data, "}}") == NULL);
            CHECK(strstr(d.data, "<script>") == NULL && strstr(d.data, "style=") == NULL);
            CHECK(d.etag[0] == '"' && d.etag[strlen(d.etag) - 1] == '"');
            CHECK_EQ_STR(d.content_type, "text/html; charset=utf-8");
            web_doc other;
            web_page_get(w, (enum web_page)p, langs[1 - l], &other);
            CHECK(strcmp(d.etag, other.etag) != 0);
        }
    }
    web_doc d;
    web_page_get(w, WEB_WIDGET, "de", &d);
    CHECK(strstr(d.data, "class=\"page-inquiry embedded\"") != NULL);
    web_page_get(w, WEB_INDEX, "de", &d);
    CHECK(strstr(d.data, "class=\"page-inquiry\"") != NULL);
    web_page_get(w, WEB_LEAD_WITHDRAW, "en", &d);
    CHECK(strstr(d.data, "data-action=\"withdraw\"") != NULL);
    web_page_get(w, WEB_LEAD_CONFIRM, "en", &d);
    CHECK(strstr(d.data, "data-action=\"confirm\"") != NULL);
    /* an unknown language is German */
    web_doc de;
    web_page_get(w, WEB_PRIVACY, "fr", &d);
    web_page_get(w, WEB_PRIVACY, "de", &de);
    CHECK(d.data == de.data);
}

static void test_privacy_from_config(void)
{
    web *w = open_with("{\"privacy\": {\"controller\": \"Müller & Söhne <OHG>\"}, "
                       "\"retention\": {\"ticket_days\": 77, "
                       "\"audit_days\": 400}, "
                       "\"pharmacy\": {\"website\": \"\"}}");
    CHECK(w != NULL);
    if (!w)
        return;
    web_doc d;
    web_page_get(w, WEB_PRIVACY, "de", &d);
    CHECK(strstr(d.data, "Müller &amp; Söhne &lt;OHG&gt;") != NULL);
    CHECK(strstr(d.data, "<OHG>") == NULL);
    CHECK(strstr(d.data, "77 Tage nach Abschluss") != NULL);
    CHECK(strstr(d.data, "400 Tage") != NULL);
    CHECK(strstr(d.data, "Berliner Beauftragte") != NULL);
    CHECK(strstr(d.data, "<br><a href=") == NULL); /* no website: no link */
    web_page_get(w, WEB_PRIVACY, "en", &d);
    CHECK(strstr(d.data, "77 days after") != NULL);
    web_free(w);
    /* without privacy.controller the pharmacy is named */
    w = open_with("{\"pharmacy\": {\"name\": \"Linden-Apotheke\", \"website\": "
                  "\"https://linden.example\"}}");
    CHECK(w != NULL);
    if (!w)
        return;
    web_page_get(w, WEB_PRIVACY, "de", &d);
    CHECK(strstr(d.data, "<strong id=\"controller-name\">Linden-Apotheke</strong>") != NULL);
    CHECK(strstr(d.data, "<br><a href=\"https://linden.example\">") != NULL);
    web_free(w);
}

static void test_assets(void)
{
    web_doc d;
    CHECK_EQ_INT(web_asset_get("static/app.css", &d), PD_OK);
    CHECK_EQ_STR(d.content_type, "text/css; charset=utf-8");
    CHECK(d.len > 1000 && d.etag[0] == '"');
    CHECK_EQ_INT(web_asset_get("static/inquiry.js", &d), PD_OK);
    CHECK_EQ_STR(d.content_type, "text/javascript; charset=utf-8");
    CHECK_EQ_INT(web_asset_get("static/favicon.svg", &d), PD_OK);
    CHECK_EQ_STR(d.content_type, "image/svg+xml");
    CHECK_EQ_INT(web_asset_get("i18n/en.json", &d), PD_OK);
    CHECK_EQ_STR(d.content_type, "application/json; charset=utf-8");
    /* templates are rendered, never served raw */
    CHECK_EQ_INT(web_asset_get("pages/index.html", &d), PD_ENOTFOUND);
    CHECK_EQ_INT(web_asset_get("static/../pages/index.html", &d), PD_ENOTFOUND);
    CHECK_EQ_INT(web_asset_get("static/nope.js", &d), PD_ENOTFOUND);
    CHECK_EQ_INT(web_asset_get("", &d), PD_ENOTFOUND);
}

static void test_local_day(void)
{
    char date[11], from[32], to[32];
    /* Berlin, without tzdata: CET/CEST as a POSIX rule */
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
    hw_local_day((time_t)1795995000, date, from, to); /* 2026-11-29T23:30:00Z: 00:30 local */
    CHECK_EQ_STR(date, "2026-11-30");
    CHECK_EQ_STR(from, "2026-11-29T23:00:00.000Z");
    CHECK_EQ_STR(to, "2026-11-30T23:00:00.000Z");
    hw_local_day((time_t)1774785600, date, from, to); /* 2026-03-29T12:00:00Z: a 23-hour day */
    CHECK_EQ_STR(date, "2026-03-29");
    CHECK_EQ_STR(from, "2026-03-28T23:00:00.000Z");
    CHECK_EQ_STR(to, "2026-03-29T22:00:00.000Z");
    setenv("TZ", "UTC0", 1);
    tzset();
    hw_local_day((time_t)1795995000, date, from, to);
    CHECK_EQ_STR(date, "2026-11-29");
    CHECK_EQ_STR(from, "2026-11-29T00:00:00.000Z");
    CHECK_EQ_STR(to, "2026-11-30T00:00:00.000Z");
}

int main(void)
{
    web *w = open_with(NULL);
    CHECK(w != NULL);
    if (w) {
        test_templates(w);
        test_pages(w);
        web_free(w);
    }
    test_privacy_from_config();
    test_assets();
    test_local_day();
    return check_done();
}
