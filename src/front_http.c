/* HTTP proxy front-end.
 * CONNECT: parse, dial, "200 Connection established", tunnel.
 * Absolute-URI requests: one upstream connection per request (sent with
 * "Connection: close"); the request body and the response body are framed
 * (proto_http.c) so the client connection can stay open for the next
 * request when both the client and the response framing allow it. */
#include <stdlib.h>
#include <string.h>

#include "mpconv/errmap.h"
#include "mpconv/front_pac.h"
#include "mpconv/proto_socks5.h"
#include "mpconv/session.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum http_phase { PHASE_REQUEST_HEAD, PHASE_CONNECT, PHASE_FORWARD };

static const char auth_challenge[] = "Proxy-Authenticate: Basic realm=\"mpconv\"\r\n";

static void send_error(struct session *s, int status, const char *detail, const char *reason)
{
    char buf[1024];
    size_t n = http_encode_error(status, status == 407 ? auth_challenge : NULL, detail, buf,
                                 sizeof(buf));
    session_reply(s, buf, n, true, reason);
}

static void refuse_denied_client(struct session *s)
{
    char why[128];
    send_error(s, errmap_http_status(MPCONV_ERR_CLIENT_DENIED),
               errmap_describe(MPCONV_ERR_CLIENT_DENIED, why, sizeof(why)),
               errmap_reason(MPCONV_ERR_CLIENT_DENIED));
}

static bool authorized(struct session *s, const struct http_head *req)
{
    char user[256], pass[256];
    if (!session_needs_auth(s))
        return true;
    if (http_parse_basic_auth(req, user, sizeof(user), pass, sizeof(pass)) != 0)
        return false;
    return session_check_user(s, user, strlen(user), pass, strlen(pass));
}

static struct http_forward *forward_state(struct session *s)
{
    if (!s->http)
        s->http = calloc(1, sizeof(*s->http));
    return s->http;
}

static void forward_clear(struct http_forward *fw)
{
    free(fw->response_head);
    free(fw->upstream_head);
    free(fw->next_request);
    memset(fw, 0, sizeof(*fw));
}

/* Prepares an absolute-URI request for the origin; false when answered. */
static bool prepare_forward(struct session *s, const struct http_head *req)
{
    struct http_slice path;
    if (http_parse_absolute_uri(req->target, s->target, &path) != 0) {
        bool own = req->target.n > 0 && req->target.p[0] == '/';
        if (own && !http_slice_is(req->method, "GET") && !http_slice_is(req->method, "HEAD"))
            send_error(s, 405, "this is a proxy: send an absolute http:// URI or CONNECT",
                       "http-method-not-allowed");
        else
            send_error(s, 400, "this is a proxy: send an absolute http:// URI or CONNECT",
                       "http-bad-target");
        return false;
    }
    struct http_forward *fw = forward_state(s);
    if (!fw) {
        send_error(s, 500, NULL, "out-of-memory");
        return false;
    }
    int status = http_body_for_request(&fw->request_body, req);
    if (status != 0) {
        send_error(s, status, "invalid request body framing", "http-bad-framing");
        return false;
    }
    fw->client_keep_alive = http_keep_alive(req);
    fw->head_request = http_slice_is(req->method, "HEAD");
    size_t cap = req->head_len + TARGET_HOST_MAX + 64;
    fw->upstream_head = malloc(cap);
    if (fw->upstream_head)
        fw->upstream_head_len = http_rewrite_request(req, s->target, path, fw->upstream_head, cap);
    if (!fw->upstream_head || fw->upstream_head_len == 0) {
        send_error(s, 500, NULL, "http-rewrite-failed");
        return false;
    }
    return true;
}

static void http_on_data(struct session *s)
{
    struct http_head req;
    int status = 0;
    enum http_status st = http_parse_request(s->hs, s->hs_len, s->hs_cap, &req, &status);
    if (st == HTTP_NEED_MORE)
        return;
    if (st == HTTP_ERROR) {
        send_error(s, status, NULL, status == 431 ? "http-head-too-large" : "http-bad-request");
        return;
    }
    s->requests++;
    if (s->client_denied) { /* before the password check, which would tell a right one apart */
        refuse_denied_client(s);
        return;
    }
    if (front_pac_answer(s, &req))
        return;
    if (!authorized(s, &req)) {
        send_error(s, 407, "proxy authentication required", "auth-failed");
        return;
    }
    if (http_slice_is(req.method, "CONNECT")) {
        if (http_parse_authority(req.target, s->target) != 0) {
            send_error(s, 400, "CONNECT needs host:port", "http-bad-target");
            return;
        }
        s->phase = PHASE_CONNECT;
    } else {
        if (!prepare_forward(s, &req))
            return;
        s->phase = PHASE_FORWARD;
    }
    session_consume(s, req.head_len);
    session_dial(s);
}

/* --- forwarding: request body --- */

static struct session *session_of(struct pump *p)
{
    return container_of(p->relay, struct session, relay);
}

/* Keeps bytes that follow the request body (a pipelined request). */
static void keep_next_request(struct session *s, const char *buf, size_t len)
{
    struct http_forward *fw = s->http;
    if (len == 0)
        return;
    char *grown = fw->next_len + len <= s->hs_cap ? realloc(fw->next_request, fw->next_len + len)
                                                  : NULL;
    if (!grown) {
        fw->client_keep_alive = false; /* cannot hold it: end after this response */
        return;
    }
    memcpy(grown + fw->next_len, buf, len);
    fw->next_request = grown;
    fw->next_len += len;
}

/* A body that ends at EOF is complete then; a framed one is cut short. */
static ssize_t body_filter(struct http_body *body, const char *buf, size_t len, bool *done)
{
    if (!buf) {
        *done = body->mode == HTTP_BODY_UNTIL_EOF;
        return *done ? 0 : -1;
    }
    return http_body_feed(body, buf, len, done);
}

static ssize_t request_filter(struct pump *p, const char *buf, size_t len, bool *done)
{
    struct session *s = session_of(p);
    ssize_t n = body_filter(&s->http->request_body, buf, len, done);
    if (n >= 0 && *done && buf)
        keep_next_request(s, buf + n, len - (size_t)n);
    return n;
}

static ssize_t response_filter(struct pump *p, const char *buf, size_t len, bool *done)
{
    return body_filter(&session_of(p)->http->response_body, buf, len, done);
}

/* --- forwarding: response head --- */

static void start_response_body(struct session *s, const struct http_head *resp)
{
    struct http_forward *fw = s->http;
    if (http_body_for_response(&fw->response_body, resp, fw->head_request) != 0) {
        send_error(s, 502, "invalid response framing from the origin", "upstream-bad-framing");
        return;
    }
    bool keep = fw->client_keep_alive && fw->response_body.mode != HTTP_BODY_UNTIL_EOF;
    fw->response_keep_alive = keep;

    size_t cap = resp->head_len + 64;
    char *head = malloc(cap + fw->response_len - resp->head_len);
    size_t n = head ? http_rewrite_response(resp, keep, head, cap) : 0;
    if (n == 0) {
        free(head);
        send_error(s, 502, NULL, "http-rewrite-failed");
        return;
    }
    bool done = false;
    const char *rest = fw->response_head + resp->head_len;
    ssize_t body = http_body_feed(&fw->response_body, rest, fw->response_len - resp->head_len,
                                  &done);
    if (body < 0) {
        free(head);
        send_error(s, 502, "invalid response body from the origin", "upstream-bad-framing");
        return;
    }
    memcpy(head + n, rest, (size_t)body);
    stream_read_stop(s->upstream);
    s->relay.down.filter = response_filter;
    int err = pump_start(&s->relay.down, head, n + (size_t)body, done);
    free(head);
    free(fw->response_head);
    fw->response_head = NULL;
    if (err != 0)
        session_close(s, "relay-error");
}

static void on_response_alloc(struct stream *st, uv_buf_t *out)
{
    struct session *s = st->data;
    struct http_forward *fw = s->http;
    if (!fw->response_head)
        fw->response_head = malloc(s->hs_cap);
    *out = uv_buf_init(fw->response_head ? fw->response_head + fw->response_len : NULL,
                       fw->response_head ? (unsigned)(s->hs_cap - fw->response_len) : 0);
}

static void on_response_read(struct stream *st, ssize_t nread, const uv_buf_t *buf)
{
    struct session *s = st->data;
    struct http_forward *fw = s->http;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        send_error(s, 502, "the origin closed without a response", "upstream-no-response");
        return;
    }
    fw->response_len += (size_t)nread;
    for (;;) {
        struct http_head resp;
        int status;
        enum http_status st =
            http_parse_response(fw->response_head, fw->response_len, s->hs_cap, &resp, &status);
        if (st == HTTP_NEED_MORE)
            return;
        if (st == HTTP_ERROR || resp.status == 101) {
            send_error(s, 502, "invalid response from the origin", "upstream-bad-response");
            return;
        }
        if (resp.status >= 200) {
            start_response_body(s, &resp);
            return;
        }
        /* 1xx: pass it on and read the next head. */
        session_reply(s, fw->response_head, resp.head_len, false, NULL);
        memmove(fw->response_head, fw->response_head + resp.head_len,
                fw->response_len - resp.head_len);
        fw->response_len -= resp.head_len;
    }
}

/* Origin bytes that came with the parent's answer start the response. */
static int take_parent_early_bytes(struct session *s)
{
    struct http_forward *fw = s->http;
    size_t n = s->upstream_early_len;
    fw->response_head = malloc(s->hs_cap);
    if (!fw->response_head || n > s->hs_cap) {
        send_error(s, 502, "response head too large", "upstream-bad-response");
        return -1;
    }
    memcpy(fw->response_head, s->upstream_early, n);
    fw->response_len = n;
    free(s->upstream_early);
    s->upstream_early = NULL;
    s->upstream_early_len = 0;
    return 0;
}

static void start_forwarding(struct session *s)
{
    struct http_forward *fw = s->http;
    bool done = false;
    ssize_t body = http_body_feed(&fw->request_body, s->hs, s->hs_len, &done);
    if (body < 0) {
        send_error(s, 400, "invalid request body", "http-bad-body");
        return;
    }
    if (done)
        keep_next_request(s, s->hs + body, s->hs_len - (size_t)body);
    char *first = realloc(fw->upstream_head, fw->upstream_head_len + (size_t)body);
    if (!first) {
        session_close(s, "out-of-memory");
        return;
    }
    memcpy(first + fw->upstream_head_len, s->hs, (size_t)body);
    fw->upstream_head = first;
    fw->request_done = false;
    s->hs_len = 0;

    session_begin_relay(s);
    s->relay.up.filter = request_filter;
    int err = pump_start(&s->relay.up, first, fw->upstream_head_len + (size_t)body, done);
    free(fw->upstream_head);
    fw->upstream_head = NULL;
    if (err != 0 || s->state != SESSION_RELAYING) {
        session_close(s, "relay-error");
        return;
    }
    s->upstream->data = s;
    if (s->upstream_early_len > 0 && take_parent_early_bytes(s) != 0)
        return;
    if (stream_read_start(s->upstream, on_response_alloc, on_response_read) != 0)
        session_close(s, "upstream-error");
}

static void next_request(struct session *s)
{
    struct http_forward *fw = s->http;
    if (fw->next_len > 0) {
        memcpy(s->hs, fw->next_request, fw->next_len);
        s->hs_len = fw->next_len;
    }
    forward_clear(fw);
    s->phase = PHASE_REQUEST_HEAD;
    session_reset_for_next_request(s);
}

static void http_on_message_end(struct session *s, struct pump *p)
{
    struct http_forward *fw = s->http;
    if (p == &s->relay.up) {
        fw->request_done = true;
        if (!fw->response_done)
            return;
    } else {
        fw->response_done = true;
    }
    if (!fw->request_done) {
        /* The origin answered before the request body ended: that body has
         * no reader any more, so the connection cannot be reused. */
        session_close_gracefully(s, "done");
        return;
    }
    if (fw->response_keep_alive && s->hs)
        next_request(s);
    else
        session_close_gracefully(s, "done");
}

static void http_on_dialed(struct session *s, int status)
{
    char ok[64], why[128];
    if (status != 0) {
        send_error(s, errmap_http_status(status), errmap_describe(status, why, sizeof(why)),
                   errmap_reason(status));
        return;
    }
    if (s->phase == PHASE_FORWARD) {
        start_forwarding(s);
        return;
    }
    session_reply(s, ok, http_encode_connect_ok(ok, sizeof(ok)), false, NULL);
    session_start_tunnel(s, s->hs, s->hs_len);
    free(s->hs);
    s->hs = NULL;
    s->hs_len = 0;
}

static void http_release(struct session *s)
{
    if (s->http) {
        forward_clear(s->http);
        free(s->http);
        s->http = NULL;
    }
}

const struct front_ops front_http = {
    .name = "http",
    .on_data = http_on_data,
    .on_dialed = http_on_dialed,
    .on_message_end = http_on_message_end,
    .release = http_release,
};

/* mixed:// tells the protocols apart by the first byte: SOCKS5 starts with
 * version 5, an HTTP request with a method name. */
static void mixed_on_data(struct session *s)
{
    s->front = s->hs[0] == S5_VERSION ? &front_socks5 : &front_http;
    s->front->on_data(s);
}

const struct front_ops front_mixed = {
    .name = "mixed",
    .on_data = mixed_on_data,
};
