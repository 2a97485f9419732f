/*
 * echo_server: the baseline of bench/inquiry_bench.sh. A minimal libmicrohttpd JSON echo
 * server with pharmdesk's daemon options (internal polling thread, a thread pool, epoll, the
 * same connection limits and memory limit): it reads a POST body of up to 16 KiB, parses it
 * with cJSON and answers {"echo": BODY} as JSON, answering on the call after the headers so
 * that keep-alive holds (as server/http.c does). What it costs is what any service on this
 * HTTP stack pays per request; pharmdesk's inquiry figure is quoted as a ratio of it.
 *
 * Usage: echo_server PORT [THREADS]   (prints "listening PORT" once ready; stops on SIGTERM)
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT (16 * 1024)

typedef struct echo_req {
    char *body;
    size_t len;
    int too_large;
} echo_req;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static char *error_text(const char *code)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "error"), "code", code);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    echo_req *req = *con_cls;
    (void)cls;
    (void)url;
    (void)version;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->len + *upload_size > BODY_LIMIT) {
            req->too_large = 1;
        } else {
            char *grown = realloc(req->body, req->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            req->body = grown;
            memcpy(req->body + req->len, upload, *upload_size);
            req->len += *upload_size;
            req->body[req->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0)
        return reply(conn, 405, error_text("method_not_allowed"));
    if (req->too_large)
        return reply(conn, 413, error_text("too_large"));
    cJSON *in = req->body ? cJSON_ParseWithOpts(req->body, NULL, 1) : NULL;
    if (!in)
        return reply(conn, 400, error_text("bad_json"));
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "echo", in);
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return text ? reply(conn, 200, text) : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    echo_req *req = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_server PORT [THREADS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    /* MHD_USE_EPOLL is an enum value, not a macro: ask the library (select() otherwise, with
     * its FD_SETSIZE limit and a scan of every connection per event) */
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a4,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening %u\n", di ? (unsigned)di->port : (unsigned)port);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    return 0;
}
