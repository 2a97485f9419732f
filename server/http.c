#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "audit.h"
#include "jsonin.h"
#include "log.h"
#include "pd.h"

#define MAX_PARAMS 4
#define MAX_EXTRA_HEADERS 8
#define HTTP_DROP_LIMIT (1024 * 1024)

typedef struct proxy_addr {
    int family;
    unsigned char addr[16];
} proxy_addr;

struct http_server {
    struct MHD_Daemon *daemon;
    http_options opt;
    proxy_addr *proxies;
    int nproxies;
    char *page_csp;
    char *private_csp; /* page_csp, but framed by no one */
    int port;
    /* requests suspended until their audit entries are durable. The common path takes no lock
     * (see durable_wait); defer_lock and defer_cond serve only while stopping */
    pthread_mutex_t defer_lock;
    pthread_cond_t defer_cond;
    atomic_int nsuspended;
    atomic_int stopping; /* http_stop began: requests wait on their thread instead */
};

/* http_req.dstate: the handshake between a request's thread and the audit writer */
enum { DS_RUNNING, DS_SUSPENDED, DS_DONE };

struct http_req {
    http_server *srv;
    struct MHD_Connection *conn;
    const http_route *route;
    const char *method;
    long long start_us;
    int is_head;
    /* set by the first callback when the request cannot proceed */
    int early_status;
    const char *early_code, *early_msg;
    buf body;
    int form; /* the body of an HTTP_API_FORM route came as a form */
    cJSON *json;
    struct {
        char *name, *value;
    } params[MAX_PARAMS];
    int nparams;
    char client_ip[INET6_ADDRSTRLEN];
    size_t dropped; /* body bytes read after a refusal */
    /* the reply */
    int queued;
    struct MHD_Response *resp;
    int status;
    struct {
        char *name, *value;
    } extra[MAX_EXTRA_HEADERS];
    int nextra;
    /* audit entries made by the handler: the reply waits until they are durable */
    audit_defer defer;
    int in_flight;      /* audit entries were queued and not yet settled */
    int awaiting;       /* suspended until dstate is DS_DONE */
    atomic_int dstate;  /* DS_*: set to DS_DONE by the writer when the entries are settled */
    int durable_status; /* and their result, written before dstate becomes DS_DONE */
};

static const char api_csp[] =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/* ---- replies ---------------------------------------------------------------------------- */

void http_add_header(http_req *req, const char *name, const char *value)
{
    if (req->nextra == MAX_EXTRA_HEADERS)
        return;
    req->extra[req->nextra].name = pd_xstrdup(name);
    req->extra[req->nextra].value = pd_xstrdup(value);
    req->nextra++;
}

void http_reply_raw(http_req *req, int status, const char *content_type, const void *data,
                    size_t len)
{
    if (req->resp)
        return;
    void *copy = pd_xmalloc(len ? len : 1);
    memcpy(copy, data, len);
    req->resp = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (!req->resp) {
        free(copy);
        return;
    }
    MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    req->status = status;
}

void http_reply_json(http_req *req, int status, cJSON *body)
{
    if (req->resp) {
        cJSON_Delete(body);
        return;
    }
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        static const char fallback[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"Internal error, please retry.\"}}";
        http_reply_raw(req, 500, "application/json; charset=utf-8", fallback, sizeof fallback - 1);
        return;
    }
    req->resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!req->resp) {
        free(text);
        return;
    }
    MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    req->status = status;
}

void http_reply_json_text(http_req *req, int status, buf *text)
{
    if (req->resp) {
        buf_free(text);
        return;
    }
    size_t len = text->len;
    char *data = len ? buf_steal(text) : NULL;
    if (!data) { /* never built: a handler error */
        http_reply_error(req, 500, "internal", "Internal error, please retry.");
        return;
    }
    req->resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!req->resp) {
        free(data);
        return;
    }
    MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    req->status = status;
}

static cJSON *error_json(const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    return root;
}

void http_reply_error(http_req *req, int status, const char *code, const char *message)
{
    http_reply_json(req, status, error_json(code, message));
}

void http_reply_store_error(http_req *req, int err)
{
    if (err == PD_EFULL) {
        http_add_header(req, "Retry-After", "60");
        http_reply_error(req, 503, "storage_full",
                         "We cannot store your request right now; please try again later or "
                         "call us.");
    } else if (err == PD_EBUSY) {
        http_add_header(req, "Retry-After", "2");
        http_reply_error(req, 503, "busy", "The service is busy; please retry in a moment.");
    } else {
        http_add_header(req, "Retry-After", "5");
        http_reply_error(req, 503, "unavailable",
                         "The service cannot answer right now; please try again or call us.");
    }
}

void http_reply_store_failure(http_req *req, int err)
{
    if (err == PD_EFULL || err == PD_EBUSY)
        http_reply_store_error(req, err);
    else
        http_reply_error(req, 500, "internal", "Internal error, please retry.");
}

/* ---- streamed responses (server-sent events) ---------------------------------------------- */

struct http_stream {
    pthread_mutex_t lock;
    struct MHD_Connection *conn;
    unsigned long wakes; /* raised by every wake: a fill that raced a wake runs again */
    int suspended;
    http_stream_fill fill;
    http_stream_done done;
    void *cls;
};

/* MHD's content reader: never blocks; with nothing to send the connection is suspended (no
 * busy loop in MHD's polling threads) until http_stream_wake resumes it */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    http_stream *st = cls;
    (void)pos;
    for (;;) {
        pthread_mutex_lock(&st->lock);
        unsigned long seen = st->wakes;
        pthread_mutex_unlock(&st->lock);
        long n = st->fill(st->cls, st, out, max);
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (n > 0)
            return (ssize_t)n;
        pthread_mutex_lock(&st->lock);
        if (st->wakes != seen) {
            pthread_mutex_unlock(&st->lock);
            continue;
        }
        st->suspended = 1;
        MHD_suspend_connection(st->conn);
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
}

static void stream_free(void *cls)
{
    http_stream *st = cls;
    st->done(st->cls);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

void http_stream_wake(http_stream *st)
{
    pthread_mutex_lock(&st->lock);
    st->wakes++;
    if (st->suspended) {
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
}

int http_reply_stream(http_req *req, int status, const char *content_type, http_stream_fill fill,
                      http_stream_done done, void *cls)
{
    if (req->resp) {
        MHD_destroy_response(req->resp);
        req->resp = NULL;
    }
    http_stream *st = pd_xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->conn = req->conn;
    st->fill = fill;
    st->done = done;
    st->cls = cls;
    req->resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    if (!req->resp) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return PD_ENOMEM;
    }
    MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(req->resp, "X-Accel-Buffering", "no");
    req->status = status;
    return PD_OK;
}

/* ---- request accessors ------------------------------------------------------------------ */

const char *http_param(http_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

const char *http_query(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_body(http_req *req, size_t *len)
{
    *len = req->body.len;
    return buf_cstr(&req->body);
}

int http_body_is_form(http_req *req)
{
    return req->form;
}
const char *http_cookie(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const cJSON *http_json(http_req *req)
{
    return req->json;
}

const char *http_client_ip(http_req *req)
{
    return req->client_ip;
}

const char *http_lang(http_req *req)
{
    const char *q = http_query(req, "lang");
    if (q)
        return strcmp(q, "en") == 0 ? "en" : "de";
    const char *al = http_header(req, "Accept-Language");
    /* the first listed language decides; anything but English gets German */
    if (al && strncasecmp(al, "en", 2) == 0)
        return "en";
    return "de";
}

/* ---- routing ------------------------------------------------------------------------------ */

/* matches path against pattern; fills params on success */
static int route_match(http_req *req, const char *pattern, const char *path)
{
    const char *p = pattern, *u = path;
    int np = 0;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchr(u, '/');
            if (!pe)
                return 0;
            if (!ue)
                ue = u + strlen(u);
            if (ue == u || np == MAX_PARAMS)
                return 0;
            np++;
            p = pe + 1;
            u = ue;
            continue;
        }
        if (*p != *u)
            return 0;
        p++;
        u++;
    }
    if (*p || *u)
        return 0;
    /* second pass: copy the values now that the whole path matched */
    p = pattern;
    u = path;
    np = 0;
    while (*p) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchr(u, '/');
            if (!ue)
                ue = u + strlen(u);
            req->params[np].name = pd_xstrndup(p + 1, (size_t)(pe - p - 1));
            req->params[np].value = pd_xstrndup(u, (size_t)(ue - u));
            np++;
            p = pe + 1;
            u = ue;
            continue;
        }
        p++;
        u++;
    }
    req->nparams = np;
    return 1;
}

static void free_params(http_req *req)
{
    for (int i = 0; i < req->nparams; i++) {
        free(req->params[i].name);
        free(req->params[i].value);
    }
    req->nparams = 0;
}

/* finds the route; allow collects the methods of routes whose path matched */
static const http_route *find_route(http_req *req, const char *method, const char *path,
                                    int *path_known, buf *allow)
{
    const http_options *o = &req->srv->opt;
    int want = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? HTTP_GET
               : strcmp(method, "POST") == 0                             ? HTTP_POST
                                                                         : 0;
    *path_known = 0;
    for (size_t i = 0; i < o->nroutes; i++) {
        const http_route *r = &o->routes[i];
        if (!route_match(req, r->pattern, path))
            continue;
        *path_known = 1;
        if ((int)r->method == want)
            return r;
        free_params(req);
        buf_puts(allow, allow->len ? ", " : "");
        buf_puts(allow, r->method == HTTP_GET ? "GET, HEAD" : "POST");
    }
    return NULL;
}

/* ---- client address ---------------------------------------------------------------------- */

static int parse_ip(const char *s, proxy_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->addr) == 1) {
        a->family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, a->addr) == 1) {
        a->family = AF_INET6;
        return 1;
    }
    return 0;
}

static int is_trusted(const http_server *srv, const proxy_addr *a)
{
    for (int i = 0; i < srv->nproxies; i++)
        if (srv->proxies[i].family == a->family &&
            memcmp(srv->proxies[i].addr, a->addr, a->family == AF_INET ? 4 : 16) == 0)
            return 1;
    return 0;
}

static void client_address(http_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    proxy_addr peer = {0};
    snprintf(req->client_ip, sizeof req->client_ip, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        peer.family = AF_INET;
        memcpy(peer.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        peer.family = AF_INET6;
        memcpy(peer.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return;
    }
    inet_ntop(peer.family, peer.addr, req->client_ip, sizeof req->client_ip);
    if (!is_trusted(req->srv, &peer))
        return;
    /* walk X-Forwarded-For from the right: the first address not of our own proxies */
    const char *xff = http_header(req, "X-Forwarded-For");
    if (!xff)
        return;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", xff);
    for (;;) {
        char *comma = strrchr(tmp, ',');
        char *item = comma ? comma + 1 : tmp;
        while (*item == ' ' || *item == '\t')
            item++;
        char *end = item + strlen(item);
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        proxy_addr a;
        if (!parse_ip(item, &a))
            return; /* garbage: keep the last trustworthy address */
        inet_ntop(a.family, a.addr, req->client_ip, sizeof req->client_ip);
        if (!is_trusted(req->srv, &a) || !comma)
            return;
        *comma = '\0';
    }
}

/* ---- headers on every response ----------------------------------------------------------- */

static const char *origin_allowed(http_req *req)
{
    const char *origin = http_header(req, "Origin");
    if (!origin)
        return NULL;
    const config_list *l = &req->srv->opt.cfg->allowed_origins;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i], origin) == 0)
            return origin;
    return NULL;
}

static void add_common_headers(http_req *req, struct MHD_Response *r)
{
    int page = req->route && req->route->kind == HTTP_PAGE;
    int private_page = req->route && req->route->kind == HTTP_PAGE_PRIVATE;
    MHD_add_response_header(r, "Content-Security-Policy",
                            private_page ? req->srv->private_csp
                            : page       ? req->srv->page_csp
                                         : api_csp);
    page |= private_page;
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Permissions-Policy",
                            "camera=(), microphone=(), geolocation=(), payment=()");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    if (!page) {
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Cache-Control", "no-store");
    }
    if (private_page)
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    const char *origin = origin_allowed(req);
    if (origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "Retry-After");
    }
    MHD_add_response_header(r, "Vary", "Origin, Accept-Language");
    for (int i = 0; i < req->nextra; i++)
        MHD_add_response_header(r, req->extra[i].name, req->extra[i].value);
}

static enum MHD_Result queue(http_req *req)
{
    if (!req->resp) {
        log_error("event=handler_without_reply route=%s", req->route ? req->route->pattern : "-");
        http_reply_error(req, 500, "internal", "Internal error, please retry.");
    }
    if (!req->resp)
        return MHD_NO;
    add_common_headers(req, req->resp);
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    req->queued = 1;
    return rc;
}

/* ---- the MHD callbacks ------------------------------------------------------------------- */

static int content_type_json(const char *ct)
{
    if (!ct)
        return 0;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return 0;
    const char *rest = ct + sizeof want - 1;
    while (*rest == ' ')
        rest++;
    if (*rest == '\0')
        return 1;
    if (*rest != ';')
        return 0;
    rest++;
    while (*rest == ' ')
        rest++;
    return strcasecmp(rest, "charset=utf-8") == 0;
}

static int content_type_form(const char *ct)
{
    static const char *const forms[] = {"application/x-www-form-urlencoded", "multipart/form-data"};
    for (size_t i = 0; ct && i < PD_ARRAY_LEN(forms); i++) {
        size_t n = strlen(forms[i]);
        if (strncasecmp(ct, forms[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

static void set_early(http_req *req, int status, const char *code, const char *msg)
{
    if (req->early_status)
        return;
    req->early_status = status;
    req->early_code = code;
    req->early_msg = msg;
}

typedef struct framing {
    int content_length, transfer_encoding;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    framing *f = cls;
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        f->transfer_encoding++;
    return MHD_YES;
}

/* a body framed two ways (two Content-Lengths, or one with Transfer-Encoding) could be read
 * differently by a proxy in front of us: request smuggling. Such a request is refused. */
static int framing_ambiguous(http_req *req)
{
    framing f = {0, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    return f.content_length > 1 || f.transfer_encoding > 1 ||
           (f.content_length && f.transfer_encoding);
}

static void first_call(http_req *req, const char *url, const char *method)
{
    buf allow = BUF_INIT;
    int known = 0;
    client_address(req);
    req->is_head = strcmp(method, "HEAD") == 0;
    if (framing_ambiguous(req)) {
        set_early(req, 400, "bad_framing",
                  "Send one Content-Length or Transfer-Encoding: chunked, not both.");
        goto out;
    }
    if (strcmp(method, "OPTIONS") == 0) {
        /* CORS preflight: answered from the table without a handler; no method matches
         * OPTIONS, so find_route collects every method of the path into allow */
        find_route(req, method, url, &known, &allow);
        if (!known) {
            set_early(req, 404, "not_found", "No such resource.");
        } else if (!origin_allowed(req)) {
            set_early(req, 403, "origin_not_allowed", "This origin may not call the API.");
        } else {
            set_early(req, 204, NULL, NULL);
            http_add_header(req, "Access-Control-Allow-Methods", buf_cstr(&allow));
            http_add_header(req, "Access-Control-Allow-Headers", "Content-Type");
            http_add_header(req, "Access-Control-Max-Age", "600");
        }
        goto out;
    }
    req->route = find_route(req, method, url, &known, &allow);
    if (!req->route) {
        if (known) {
            set_early(req, 405, "method_not_allowed", "This method is not allowed here.");
            http_add_header(req, "Allow", buf_cstr(&allow));
        } else {
            set_early(req, 404, "not_found", "No such resource.");
        }
        goto out;
    }
    if (req->route->body_limit) {
        const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > req->route->body_limit) {
            set_early(req, 413, "too_large", "The request body is too large.");
            goto out;
        }
        const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (req->route->kind == HTTP_API_FORM && content_type_form(ct)) {
            req->form = 1;
        } else if (!content_type_json(ct)) {
            set_early(req, 415, "unsupported_media_type",
                      "Send the body as application/json (UTF-8).");
            goto out;
        }
    }
    if (req->route->limiter >= 0 && (size_t)req->route->limiter < req->srv->opt.nlimiters) {
        int wait = ratelimit_hit(req->srv->opt.limiters[req->route->limiter], req->client_ip);
        if (wait) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", wait);
            http_add_header(req, "Retry-After", ra);
            set_early(req, 429, "rate_limited", "Too many requests; please wait and retry.");
        }
    }
out:
    buf_free(&allow);
}

static int has_body(http_req *req)
{
    const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) || http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    buf_printf(cls, "%s: %s\r\n", key, value);
    return MHD_YES;
}

/*
 * MHD 0.9.75 queues no response while a request body is still arriving, and a client may
 * stream a chunked body for as long as it likes. So a refusal that happens mid-body (a chunked
 * body over the limit) is written to the socket here, with the usual headers and
 * "Connection: close", the sending side is shut down, and MHD is told to drop the connection.
 */
static enum MHD_Result reply_and_close(http_req *req)
{
    buf out = BUF_INIT;
    cJSON *err = error_json(req->early_code, req->early_msg);
    char *body = cJSON_PrintUnformatted(err);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (body)
        http_reply_raw(req, req->early_status, "application/json; charset=utf-8", body,
                       strlen(body));
    if (req->resp && ci && body) {
        add_common_headers(req, req->resp);
        buf_printf(&out, "HTTP/1.1 %d %s\r\n", req->status,
                   MHD_get_reason_phrase_for((unsigned)req->status));
        MHD_get_response_headers(req->resp, collect_header, &out);
        buf_printf(&out, "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        /* a few hundred bytes into an idle socket's send buffer: this does not block */
        ssize_t n = send(ci->connect_fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n; /* a client that is gone gets nothing; the connection closes either way */
        shutdown(ci->connect_fd, SHUT_WR);
    }
    req->queued = 1;
    cJSON_Delete(err);
    cJSON_free(body);
    buf_free(&out);
    return MHD_NO;
}

static enum MHD_Result reply_early(http_req *req)
{
    if (req->early_status == 204)
        http_reply_raw(req, 204, "text/plain", "", 0);
    else
        http_reply_error(req, req->early_status, req->early_code, req->early_msg);
    return queue(req);
}

/* one suspended request fewer; while stopping, http_stop and waiting requests hear of it */
static void unsuspended(http_server *srv)
{
    atomic_fetch_sub(&srv->nsuspended, 1);
    if (atomic_load(&srv->stopping)) {
        pthread_mutex_lock(&srv->defer_lock);
        pthread_cond_broadcast(&srv->defer_cond);
        pthread_mutex_unlock(&srv->defer_lock);
    }
}

/*
 * The audit writer: a request's entries are settled. Whichever side comes second acts: if the
 * request is suspended already the writer resumes it, else the request's thread sees DS_DONE
 * and does not suspend (or resumes itself). No lock on this path: a lock shared by every
 * request and the writer, held across MHD_resume_connection, was measurably contended.
 */
static void on_durable(void *arg, int status)
{
    http_req *req = arg;
    http_server *srv = req->srv;
    struct MHD_Connection *conn = req->conn;
    req->durable_status = status;
    /* from here req may be answered and freed by an MHD thread: only conn and srv are used */
    int was = atomic_exchange(&req->dstate, DS_DONE);
    if (was == DS_SUSPENDED) {
        MHD_resume_connection(conn);
        unsuspended(srv);
    } else if (atomic_load(&srv->stopping)) {
        pthread_mutex_lock(&srv->defer_lock); /* a request waiting on its thread (durable_wait) */
        pthread_cond_broadcast(&srv->defer_cond);
        pthread_mutex_unlock(&srv->defer_lock);
    }
}

/* waits on this thread until the writer settled req (used while stopping) */
static void wait_settled(http_req *req)
{
    http_server *srv = req->srv;
    pthread_mutex_lock(&srv->defer_lock);
    while (atomic_load(&req->dstate) != DS_DONE)
        pthread_cond_wait(&srv->defer_cond, &srv->defer_lock);
    pthread_mutex_unlock(&srv->defer_lock);
}

/*
 * After the handler, with its audit entries in flight: suspends the connection until
 * on_durable resumes it, so the pool's threads serve others meanwhile and hundreds of answers
 * share one sync. Returns 1 when suspended, 0 when the entries are settled and the reply can
 * go now. MHD must not stop with suspended connections: while stopping, waits here instead.
 */
static int durable_wait(http_req *req)
{
    http_server *srv = req->srv;
    req->in_flight = 1;
    if (atomic_load(&req->dstate) == DS_DONE)
        return 0;
    /* counted before stopping is read, and http_stop sets stopping before it reads the count:
     * one of the two sees the other */
    atomic_fetch_add(&srv->nsuspended, 1);
    if (atomic_load(&srv->stopping)) {
        unsuspended(srv);
        wait_settled(req);
        return 0;
    }
    MHD_suspend_connection(req->conn);
    req->awaiting = 1;
    int expect = DS_RUNNING;
    if (!atomic_compare_exchange_strong(&req->dstate, &expect, DS_SUSPENDED)) {
        /* settled meanwhile: the writer will not resume us, so we do */
        MHD_resume_connection(req->conn);
        unsuspended(srv);
    }
    return 1;
}

/* queues the handler's reply once its audit entries are durable; when they could not be
 * written the reply never leaves: the client gets a 503 and may retry */
static enum MHD_Result queue_durable(http_req *req)
{
    if (req->durable_status != PD_OK) {
        if (req->resp) {
            MHD_destroy_response(req->resp);
            req->resp = NULL;
        }
        http_reply_store_error(req, req->durable_status);
    }
    return queue(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    http_server *srv = cls;
    http_req *req = *con_cls;
    (void)version;

    if (!req) {
        req = pd_xcalloc(1, sizeof *req);
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->start_us = pd_now_us();
        *con_cls = req;
        first_call(req, url, method);
        /* answering only on a later call keeps the connection alive (MHD 0.9.75); but a
         * refused request with a body is answered now, before its body is read */
        if (req->early_status && has_body(req))
            return reply_early(req);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t limit = req->route ? req->route->body_limit : 0, n = *upload_data_size;
        *upload_data_size = 0;
        if (req->queued)
            return MHD_YES; /* answered already; MHD closes the connection after the reply */
        if (!req->early_status) {
            if (limit == 0)
                set_early(req, 413, "too_large", "This resource takes no request body.");
            else if (req->body.len + n > limit)
                set_early(req, 413, "too_large", "The request body is too large.");
            else
                buf_append(&req->body, upload_data, n);
            if (req->early_status)
                return reply_and_close(req); /* a chunked body over the limit */
        }
        if (req->early_status && (req->dropped += n) > HTTP_DROP_LIMIT)
            return MHD_NO; /* a client streaming on after a refusal is cut off */
        return MHD_YES;    /* a refused body is read and dropped; the reply comes at the end */
    }
    if (req->queued)
        return MHD_YES;
    if (req->awaiting) { /* resumed: the handler's audit entries are settled */
        req->awaiting = 0;
        return queue_durable(req);
    }
    if (req->early_status)
        return reply_early(req);
    if (req->route->body_limit && !req->form) {
        const char *why = NULL;
        if (jsonin_parse_object(buf_cstr(&req->body), req->body.len, &req->json, &why) != PD_OK) {
            char msg[160];
            snprintf(msg, sizeof msg, "The body is not valid JSON: %s.", why ? why : "malformed");
            http_reply_error(req, 400, "bad_json", msg);
            return queue(req);
        }
    }
    /* the handler's audit entries are queued, not waited for; the reply waits instead */
    audit_defer_begin(&req->defer, on_durable, req);
    req->route->handler(req, srv->opt.app);
    if (audit_defer_end(&req->defer, &req->durable_status) && durable_wait(req))
        return MHD_YES;
    return queue_durable(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_req *req = *con_cls;
    (void)cls;
    (void)conn;
    if (!req)
        return;
    /* the audit writer holds req until it is settled; a suspended connection is not completed
     * before its resume, so this waits only if MHD stopped with suspended ones (http_stop) */
    if (req->in_flight && atomic_load(&req->dstate) != DS_DONE)
        wait_settled(req);
    log_info("event=request method=%s route=%s status=%d us=%lld%s", req->method,
             req->route ? req->route->pattern : "-", req->status ? req->status : 0,
             pd_now_us() - req->start_us,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    if (req->resp)
        MHD_destroy_response(req->resp);
    for (int i = 0; i < req->nextra; i++) {
        free(req->extra[i].name);
        free(req->extra[i].value);
    }
    free_params(req);
    cJSON_Delete(req->json);
    buf_free(&req->body);
    free(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn("event=mhd msg=\"%s\"", line);
}

int http_start(const http_options *opt, http_server **out, buf *err)
{
    const config *cfg = opt->cfg;
    http_server *srv = pd_xcalloc(1, sizeof *srv);
    struct sockaddr_storage ss;
    int ret = PD_OK;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME; /* audit waits and event streams */

    srv->opt = *opt;
    pthread_mutex_init(&srv->defer_lock, NULL);
    pthread_cond_init(&srv->defer_cond, NULL);
    srv->nproxies = cfg->trusted_proxies.n;
    srv->proxies = pd_xcalloc((size_t)srv->nproxies + 1, sizeof *srv->proxies);
    for (int i = 0; i < srv->nproxies; i++)
        parse_ip(cfg->trusted_proxies.items[i], &srv->proxies[i]);

    buf csp = BUF_INIT;
    buf_puts(&csp, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors");
    srv->private_csp = pd_xmalloc(csp.len + sizeof " 'none'");
    snprintf(srv->private_csp, csp.len + sizeof " 'none'", "%s 'none'", buf_cstr(&csp));
    buf_puts(&csp, " 'self'");
    for (int i = 0; i < cfg->allowed_origins.n; i++)
        buf_printf(&csp, " %s", cfg->allowed_origins.items[i]);
    srv->page_csp = buf_steal(&csp);

    memset(&ss, 0, sizeof ss);
    if (strchr(cfg->listen_host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET6, cfg->listen_host, &a6->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->listen_port);
        inet_pton(AF_INET, cfg->listen_host, &a4->sin_addr);
    }
    /* MHD_USE_EPOLL is an enum value, not a macro: ask the library (select() otherwise, with
     * its FD_SETSIZE limit and a scan of every connection per event) */
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        /* first, so that MHD's own messages go to our log too */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->http.connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->http.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->http.per_ip_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(32 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        buf_printf(err, "cannot listen on %s (in use, or not an address of this machine?)",
                   cfg->listen);
        ret = PD_EIO;
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->listen_port;
    *out = srv;
    srv = NULL;
out:
    if (srv) {
        pthread_mutex_destroy(&srv->defer_lock);
        pthread_cond_destroy(&srv->defer_cond);
        free(srv->proxies);
        free(srv->page_csp);
        free(srv->private_csp);
        free(srv);
    }
    return ret;
}

int http_port(const http_server *srv)
{
    return srv->port;
}

void http_stop(http_server *srv)
{
    if (!srv)
        return;
    MHD_quiesce_daemon(srv->daemon);
    /* requests waiting for the audit writer are resumed by it (it stops after us); MHD must
     * not be stopped with suspended connections */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&srv->defer_lock);
    atomic_store(&srv->stopping, 1);
    while (atomic_load(&srv->nsuspended) > 0 &&
           pthread_cond_timedwait(&srv->defer_cond, &srv->defer_lock, &until) != ETIMEDOUT)
        ;
    if (atomic_load(&srv->nsuspended) > 0)
        log_error("event=stop_with_suspended requests=%d", atomic_load(&srv->nsuspended));
    pthread_mutex_unlock(&srv->defer_lock);
    MHD_stop_daemon(srv->daemon);
    pthread_mutex_destroy(&srv->defer_lock);
    pthread_cond_destroy(&srv->defer_cond);
    free(srv->proxies);
    free(srv->page_csp);
    free(srv->private_csp);
    free(srv);
}
