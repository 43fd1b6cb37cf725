/* The metrics endpoint's HTTP server: one request per connection, parsed
 * with the proxy's own request parser, answered from a fresh snapshot. */
#include "mpconv/metrics_http.h"

#include <stdlib.h>
#include <string.h>

#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/proto_http.h"

#define REQUEST_MAX 4096
#define REQUEST_TIMEOUT_MS 5000
#define LINGER_MS 2000 /* after the answer: wait this long for the client's FIN */
#define MAX_CONNS 32
#define RENDER_START 16384

struct metrics_conn {
    struct metrics_conn *prev;
    struct metrics_conn *next;
    struct metrics_http *server;
    uv_tcp_t tcp;
    uv_timer_t timer; /* request deadline, then the linger */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    int open_handles;
    bool answered;
    bool written;   /* the answer is with the kernel */
    bool peer_done; /* the client's FIN came after its request */
    bool closing;
    char *body;      /* rendered answer, freed with the connection */
    char head[1024]; /* status line and headers (and an error's short body) */
    size_t req_len;
    char req[REQUEST_MAX];
};

typedef size_t (*renderer)(const struct metrics_snapshot *s, char *buf, size_t cap);

static void on_conn_closed(uv_handle_t *h)
{
    struct metrics_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    free(c->body);
    free(c);
}

static void unlink_conn(struct metrics_conn *c)
{
    struct metrics_http *h = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->oldest = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->newest = c->prev;
    h->n_conns--;
}

static void conn_close(struct metrics_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    unlink_conn(c);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct metrics_conn *c = req->data;
    if (status != 0 && !c->closing)
        conn_close(c);
}

/* Answer sent: close when the client has finished too; else FIN, then wait
 * (bounded) for the client's FIN, so unread request bytes cannot turn the
 * close into a reset that eats the answer. */
static void on_written(uv_write_t *req, int status)
{
    struct metrics_conn *c = req->data;
    if (c->closing)
        return;
    c->written = true;
    if (status != 0 || c->peer_done ||
        uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
}

static void send_answer(struct metrics_conn *c, size_t head_len, size_t body_len)
{
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)head_len), uv_buf_init(c->body, (unsigned)body_len)};
    c->answered = true;
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, body_len ? 2 : 1, on_written) != 0)
        conn_close(c);
}

static void answer_error(struct metrics_conn *c, int status, const char *extra_headers, const char *detail)
{
    send_answer(c, http_encode_error(status, extra_headers, detail, c->head, sizeof(c->head)), 0);
}

/* Snapshot, then render into a buffer that grows to what the text needs. */
static char *render(struct metrics *m, renderer fn, size_t *len)
{
    struct metrics_snapshot snap;
    if (metrics_snapshot(m, &snap) != 0)
        return NULL;
    char *buf = NULL;
    for (size_t cap = RENDER_START;;) {
        char *grown = realloc(buf, cap);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        *len = fn(&snap, buf, cap);
        if (*len < cap)
            break;
        cap = *len + 1;
    }
    metrics_snapshot_free(&snap);
    return buf;
}

static void answer_document(struct metrics_conn *c, renderer fn, const char *content_type, bool head_only)
{
    size_t len = 0;
    c->body = render(c->server->metrics, fn, &len);
    if (!c->body) {
        answer_error(c, 500, NULL, "out of memory");
        return;
    }
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     content_type, len);
    send_answer(c, (size_t)n, head_only ? 0 : len);
}

static void route(struct metrics_conn *c, const struct http_head *req)
{
    bool head_only = http_slice_is(req->method, "HEAD");
    struct http_slice path = http_target_path(req->target);
    if (!head_only && !http_slice_is(req->method, "GET"))
        answer_error(c, 405, "Allow: GET, HEAD\r\n", "only GET and HEAD");
    else if (http_slice_is(path, "/metrics"))
        answer_document(c, metrics_render_prometheus, "text/plain; version=0.0.4; charset=utf-8", head_only);
    else if (http_slice_is(path, "/status"))
        answer_document(c, metrics_render_json, "application/json", head_only);
    else
        answer_error(c, 404, NULL, "try /metrics or /status");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char discard[512]; /* the control loop is one thread */
    struct metrics_conn *c = h->data;
    (void)suggested;
    if (c->answered)
        *buf = uv_buf_init(discard, sizeof(discard));
    else
        *buf = uv_buf_init(c->req + c->req_len, (unsigned)(sizeof(c->req) - c->req_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct metrics_conn *c = stream->data;
    struct http_head req;
    int error = 0;
    (void)buf;
    if (nread == UV_EOF && c->answered && !c->written) {
        c->peer_done = true; /* the answer is still being written */
        uv_read_stop(stream);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->answered)
        return;
    c->req_len += (size_t)nread;
    /* The parser answers 431 once the buffer is full, so it never overflows. */
    enum http_status st = http_parse_request(c->req, c->req_len, sizeof(c->req), &req, &error);
    if (st == HTTP_ERROR)
        answer_error(c, error, NULL, NULL);
    else if (st == HTTP_DONE)
        route(c, &req);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct metrics_http *h = server->data;
    if (status != 0)
        return;
    if (h->n_conns == MAX_CONNS)
        conn_close(h->oldest); /* a slow client must not lock out the scraper */
    struct metrics_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->server = h;
    c->prev = h->newest;
    if (h->newest)
        h->newest->next = c;
    else
        h->oldest = c;
    h->newest = c;
    h->n_conns++;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c->shutdown_req.data = c;
    c->open_handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, REQUEST_TIMEOUT_MS, 0);
}

static int listen_on(struct metrics_http *h, const struct mp_target *addr)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int err = listener_bind_address(addr, addr->port, &ss);
    if (err == 0)
        err = uv_tcp_bind(&h->tcp, (const struct sockaddr *)&ss, ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&h->tcp, MAX_CONNS, on_connection);
    if (err == 0)
        err = uv_tcp_getsockname(&h->tcp, (struct sockaddr *)&ss, &len);
    if (err == 0) {
        char bound[80];
        sockaddr_format((const struct sockaddr *)&ss, bound, sizeof(bound));
        log_info("metrics endpoint: http://%s/metrics and /status", bound);
    }
    return err;
}

int metrics_http_start(struct metrics_http *h, uv_loop_t *loop, struct metrics *m, const struct mp_target *addr)
{
    memset(h, 0, sizeof(*h));
    h->metrics = m;
    uv_tcp_init(loop, &h->tcp);
    h->tcp.data = h;
    h->started = true;
    int err = listen_on(h, addr);
    if (err != 0) {
        char where[TARGET_HOST_MAX + 16];
        target_format(addr, where, sizeof(where));
        log_error("cannot serve metrics on %s: %s", where, uv_strerror(err));
        return -1;
    }
    return 0;
}

void metrics_http_close(struct metrics_http *h)
{
    if (!h->started)
        return;
    h->started = false;
    uv_close((uv_handle_t *)&h->tcp, NULL);
    while (h->oldest)
        conn_close(h->oldest);
}
