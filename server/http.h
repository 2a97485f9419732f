/*
 * http: the HTTP core on libmicrohttpd. It owns the daemon, one request context per request
 * (allocated on MHD's first callback, freed in its completion callback), the route table
 * dispatch (method, path pattern, body limit, content type, rate limit, CORS, JSON decoding:
 * all checked once, before a handler runs), the error format, the security headers on every
 * response and one log line per request (method, route, status, duration; never a body).
 */
#ifndef PD_HTTP_H
#define PD_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "ratelimit.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

enum http_method { HTTP_GET = 1, HTTP_POST = 2 };
/* HTTP_API_FORM: an API route whose body may also be a form (application/x-www-form-urlencoded
 * or multipart/form-data, as RFC 8058 one-click unsubscribe POSTs); http_json is then NULL and
 * the handler reads http_body. HTTP_PAGE may be framed by the configured allowed_origins;
 * HTTP_PAGE_PRIVATE (the staff dashboard) by no one. */
enum http_kind { HTTP_API, HTTP_PAGE, HTTP_API_FORM, HTTP_PAGE_PRIVATE };

typedef void (*http_handler)(http_req *req, void *app);

typedef struct http_route {
    enum http_method method;
    const char *pattern; /* "/api/v1/products/{pzn}": a {name} matches one path segment */
    http_handler handler;
    size_t body_limit; /* bytes; 0 for routes without a body */
    enum http_kind kind;
    int limiter; /* index into the limiters given to http_start, -1 for none */
} http_route;

#define HTTP_PUBLIC_BODY_LIMIT (16 * 1024)

typedef struct http_options {
    const config *cfg;
    const http_route *routes;
    size_t nroutes;
    ratelimit *const *limiters;
    size_t nlimiters;
    void *app;
    const char *version;
} http_options;

int http_start(const http_options *opt, http_server **out, buf *err);
/* stops accepting, lets running requests finish, frees the server; NULL is fine */
void http_stop(http_server *srv);
/* the port actually bound (useful with port 0) */
int http_port(const http_server *srv);

/* path parameter by name ("pzn"), query argument, request header; NULL when absent */
const char *http_param(http_req *req, const char *name);
const char *http_query(http_req *req, const char *name);
const char *http_header(http_req *req, const char *name);
/* the decoded JSON body of a route with a body limit (an object, checked strictly) */
const cJSON *http_json(http_req *req);
/* the raw body, and whether it came as a form (HTTP_API_FORM routes only) */
const char *http_body(http_req *req, size_t *len);
int http_body_is_form(http_req *req);
/* the client's address: the socket peer, or X-Forwarded-For behind a trusted proxy */
const char *http_client_ip(http_req *req);
/* "de" (default) or "en": ?lang=, then Accept-Language */
const char *http_lang(http_req *req);

/* replies; the first reply of a request wins. Takes ownership of body. */
void http_reply_json(http_req *req, int status, cJSON *body);
/* a JSON text built already (server/jsonw.h); takes the buffer's data and leaves it empty */
void http_reply_json_text(http_req *req, int status, buf *text);
void http_reply_error(http_req *req, int status, const char *code, const char *message);
/* 503 with Retry-After for a store or audit error: "storage_full" for PD_EFULL (the disk or
 * the database is full), "busy" for PD_EBUSY, "unavailable" otherwise */
void http_reply_store_error(http_req *req, int err);
/* a failed store call as its answer: PD_EFULL and PD_EBUSY as http_reply_store_error (503 with
 * Retry-After, which a client may retry), any other error 500 "internal" */
void http_reply_store_failure(http_req *req, int err);
void http_reply_raw(http_req *req, int status, const char *content_type, const void *data,
                    size_t len);
void http_add_header(http_req *req, const char *name, const char *value);

/* a cookie sent by the client (Cookie header), NULL when absent */
const char *http_cookie(http_req *req, const char *name);

/*
 * Streamed responses (server-sent events). fill is called on an MHD worker thread whenever the
 * connection can take more bytes: it writes at most max bytes to out and returns how many, 0
 * when it has nothing now (the connection is then suspended, without a thread, until
 * http_stream_wake) or -1 to end the response. fill must not block. done is called once when
 * the response is gone (client left or stream ended); after it, st must not be used. A stream
 * that is suspended when the server stops must be woken and ended first.
 */
typedef struct http_stream http_stream;
typedef long (*http_stream_fill)(void *cls, http_stream *st, char *out, size_t max);
typedef void (*http_stream_done)(void *cls);
/* replaces the reply of req; PD_ENOMEM (then done was not called and the caller still owns cls) */
int http_reply_stream(http_req *req, int status, const char *content_type, http_stream_fill fill,
                      http_stream_done done, void *cls);
/* thread-safe: makes fill run again soon */
void http_stream_wake(http_stream *st);

#endif
