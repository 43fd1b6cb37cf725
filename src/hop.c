/* Hop steps: each writes its request, then parses answers from the bytes
 * the chain reads, until it is done or fails. */
#include "mpconv/hop.h"

#include <stdlib.h>
#include <string.h>

#include "mpconv/errmap.h"
#include "mpconv/log.h"
#include "mpconv/proto_http.h"
#include "mpconv/proto_socks5.h"
#include "mpconv/tls.h"

#define HOP_BUF 4096  /* a parent's answer head must fit */
#define HOP_MAX_STEPS 2

enum hop_result { HOP_NEED_MORE = 1, HOP_DONE = 0 }; /* or a negative error */

struct hop_chain;

struct hop_step {
    const char *name;
    /* Sends the step's first message, or starts its handshake. */
    int (*start)(struct hop_chain *c);
    /* Parses c->in; returns HOP_NEED_MORE, HOP_DONE (c->used set), or an error. */
    int (*on_data)(struct hop_chain *c);
};

struct hop_chain {
    const struct upstream_cfg *up;
    SSL_CTX *tls_ctx;
    struct stream **stream;
    struct mp_target target;
    const struct hop_step *steps[HOP_MAX_STEPS];
    int n_steps;
    int current;
    int phase; /* within a step */
    hop_done_cb cb;
    void *owner;
    bool cancelled;
    int writes_in_flight;
    uv_idle_t *kickoff; /* until the first step starts */
    char in[HOP_BUF];
    size_t in_len;
    size_t used; /* bytes of in consumed by the current message */
    char out[1100];
};

/* One per message: a step can send its next message before libuv has
 * reported the previous write, so a request is never reused. */
struct hop_write {
    struct stream_req req;
    struct hop_chain *chain;
    char data[];
};

static void next_step(struct hop_chain *c);

static void free_if_idle(struct hop_chain *c)
{
    if (c->writes_in_flight == 0)
        free(c);
}

static void finish(struct hop_chain *c, int status)
{
    char *early = NULL;
    size_t early_len = 0;
    stream_read_stop(*c->stream);
    if (status == 0 && c->in_len > 0 && (early = malloc(c->in_len))) {
        memcpy(early, c->in, c->in_len);
        early_len = c->in_len;
    } else if (status == 0 && c->in_len > 0) {
        status = UV_ENOMEM;
    }
    c->cancelled = true; /* nothing more reaches the owner */
    c->cb(c->owner, status, early, early_len);
    free_if_idle(c);
}

static void on_written(struct stream_req *req, int status)
{
    struct hop_write *w = (struct hop_write *)req;
    struct hop_chain *c = w->chain;
    free(w);
    c->writes_in_flight--;
    if (c->cancelled)
        free_if_idle(c);
    else if (status != 0)
        finish(c, status);
}

static int send_out(struct hop_chain *c, size_t len)
{
    if (len == 0)
        return MPCONV_ERR_PARENT_PROTO; /* did not fit: over-long credentials or name */
    struct hop_write *w = malloc(sizeof(*w) + len);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, c->out, len);
    w->chain = c;
    int err = stream_write(*c->stream, &w->req, w->data, len, on_written);
    if (err != 0) {
        free(w);
        return err;
    }
    c->writes_in_flight++;
    return 0;
}

static void consume(struct hop_chain *c)
{
    memmove(c->in, c->in + c->used, c->in_len - c->used);
    c->in_len -= c->used;
    c->used = 0;
}

/* --- TLS --- */

static void on_tls_done(struct stream *s, int status)
{
    struct hop_chain *c = s->data;
    if (status != 0) {
        log_warn("TLS to parent %s:%u failed: %s", c->up->url.host.host, c->up->url.host.port,
                 tls_error(s));
        finish(c, MPCONV_ERR_PARENT_TLS);
        return;
    }
    next_step(c);
}

static int tls_start(struct hop_chain *c)
{
    const char *name = c->up->sni[0] ? c->up->sni : c->up->url.host.host;
    struct stream *plain = *c->stream;
    struct stream *tls = tls_stream_new(c->tls_ctx, plain->uv, name);
    if (!tls)
        return UV_ENOMEM;
    *c->stream = tls; /* the plain stream's handle now belongs to the TLS stream */
    tls->data = c;
    return tls_handshake(tls, on_tls_done);
}

/* --- SOCKS5 CONNECT through the parent --- */

enum { S5_WAIT_METHOD, S5_WAIT_AUTH, S5_WAIT_REPLY };

static bool has_credentials(const struct hop_chain *c)
{
    return c->up->url.has_userinfo;
}

static int socks5_start(struct hop_chain *c)
{
    c->phase = S5_WAIT_METHOD;
    return send_out(c, s5_client_greeting((uint8_t *)c->out, sizeof(c->out), has_credentials(c)));
}

static int socks5_send_connect(struct hop_chain *c)
{
    c->phase = S5_WAIT_REPLY;
    return send_out(c, s5_client_connect((uint8_t *)c->out, sizeof(c->out), &c->target));
}

static int socks5_on_method(struct hop_chain *c)
{
    uint8_t method;
    enum s5_status st = s5_client_parse_method((uint8_t *)c->in, c->in_len, &method, &c->used);
    if (st != S5_DONE)
        return st == S5_NEED_MORE ? HOP_NEED_MORE : MPCONV_ERR_PARENT_PROTO;
    consume(c);
    uint8_t offered = has_credentials(c) ? S5_METHOD_USERPASS : S5_METHOD_NO_AUTH;
    if (method != offered)
        return MPCONV_ERR_PARENT_AUTH;
    if (method == S5_METHOD_NO_AUTH)
        return socks5_send_connect(c);
    c->phase = S5_WAIT_AUTH;
    return send_out(c, s5_client_userpass((uint8_t *)c->out, sizeof(c->out), c->up->url.user,
                                          c->up->url.pass));
}

static int socks5_phase(struct hop_chain *c)
{
    enum s5_status st;
    int err;
    switch (c->phase) {
    case S5_WAIT_METHOD:
        err = socks5_on_method(c);
        break;
    case S5_WAIT_AUTH: {
        bool ok;
        st = s5_client_parse_auth((uint8_t *)c->in, c->in_len, &ok, &c->used);
        if (st != S5_DONE)
            return st == S5_NEED_MORE ? HOP_NEED_MORE : MPCONV_ERR_PARENT_PROTO;
        consume(c);
        err = ok ? socks5_send_connect(c) : MPCONV_ERR_PARENT_AUTH;
        break;
    }
    default: {
        uint8_t rep;
        st = s5_client_parse_reply((uint8_t *)c->in, c->in_len, &rep, &c->used);
        if (st != S5_DONE)
            return st == S5_NEED_MORE ? HOP_NEED_MORE : MPCONV_ERR_PARENT_PROTO;
        consume(c);
        return rep == S5_REP_SUCCEEDED ? HOP_DONE : MPCONV_ERR_PARENT_SOCKS5(rep);
    }
    }
    /* A step that answered with the next message waits for more. */
    return err == 0 ? HOP_NEED_MORE : err;
}

/* Answers that arrived together are handled in one go: no further socket
 * event would come for bytes already read. */
static int socks5_on_data(struct hop_chain *c)
{
    for (;;) {
        size_t before = c->in_len;
        int r = socks5_phase(c);
        if (r != HOP_NEED_MORE || c->in_len == 0 || c->in_len == before)
            return r;
    }
}

/* --- HTTP CONNECT through the parent --- */

static int http_connect_start(struct hop_chain *c)
{
    const struct proxy_url *u = &c->up->url;
    return send_out(c, http_client_connect(c->out, sizeof(c->out), &c->target,
                                           u->has_userinfo ? u->user : NULL, u->pass));
}

static int http_connect_on_data(struct hop_chain *c)
{
    struct http_head resp;
    int error;
    enum http_status st = http_parse_response(c->in, c->in_len, sizeof(c->in), &resp, &error);
    if (st == HTTP_NEED_MORE)
        return HOP_NEED_MORE;
    if (st == HTTP_ERROR)
        return MPCONV_ERR_PARENT_PROTO;
    c->used = resp.head_len;
    consume(c);
    if (resp.status / 100 == 2)
        return HOP_DONE;
    return resp.status == 407 ? MPCONV_ERR_PARENT_AUTH : MPCONV_ERR_PARENT_HTTP(resp.status);
}

static const struct hop_step step_tls = {"tls", tls_start, NULL};
static const struct hop_step step_socks5 = {"socks5", socks5_start, socks5_on_data};
static const struct hop_step step_http_connect = {"http-connect", http_connect_start,
                                                  http_connect_on_data};

/* --- the chain --- */

static void on_alloc(struct stream *s, uv_buf_t *out)
{
    struct hop_chain *c = s->data;
    *out = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_read(struct stream *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hop_chain *c = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        finish(c, nread == UV_EOF || nread == UV_ENOBUFS ? MPCONV_ERR_PARENT_PROTO : (int)nread);
        return;
    }
    c->in_len += (size_t)nread;
    int r = c->steps[c->current]->on_data(c);
    if (r == HOP_DONE)
        next_step(c);
    else if (r < 0)
        finish(c, r);
}

static void next_step(struct hop_chain *c)
{
    if (c->cancelled)
        return;
    if (c->current + 1 >= c->n_steps) {
        finish(c, 0);
        return;
    }
    const struct hop_step *step = c->steps[++c->current];
    int err = step->start(c);
    if (err == 0 && step->on_data) {
        (*c->stream)->data = c;
        err = stream_read_start(*c->stream, on_alloc, on_read);
        if (err == 0 && c->in_len > 0) { /* the previous step read ahead */
            int r = step->on_data(c);
            if (r == HOP_DONE)
                next_step(c);
            else if (r < 0)
                finish(c, r);
            return;
        }
    }
    if (err != 0)
        finish(c, err);
}

static void stop_kickoff(struct hop_chain *c)
{
    if (c->kickoff)
        uv_close((uv_handle_t *)c->kickoff, (uv_close_cb)free);
    c->kickoff = NULL;
}

static void on_kickoff(uv_idle_t *idle)
{
    struct hop_chain *c = idle->data;
    stop_kickoff(c);
    next_step(c);
}

struct hop_chain *hop_chain_start(const struct upstream_cfg *up, SSL_CTX *tls_ctx,
                                  struct stream **stream, const struct mp_target *target,
                                  hop_done_cb cb, void *owner)
{
    struct hop_chain *c = calloc(1, sizeof(*c));
    uv_idle_t *kickoff = malloc(sizeof(*kickoff));
    if (!c || !kickoff) {
        free(c);
        free(kickoff);
        return NULL;
    }
    *c = (struct hop_chain){.up = up, .tls_ctx = tls_ctx, .stream = stream, .target = *target,
                            .cb = cb, .owner = owner, .current = -1};
    if (up->tls)
        c->steps[c->n_steps++] = &step_tls;
    c->steps[c->n_steps++] = up->kind == UPSTREAM_SOCKS5 ? &step_socks5 : &step_http_connect;
    /* Start from the loop, so the callback never runs inside this call. */
    uv_idle_init((*stream)->uv->loop, kickoff);
    kickoff->data = c;
    c->kickoff = kickoff;
    uv_idle_start(kickoff, on_kickoff);
    return c;
}

void hop_chain_cancel(struct hop_chain *c)
{
    if (c->kickoff)
        stop_kickoff(c);
    else
        stream_read_stop(*c->stream); /* its callbacks point at c */
    c->cancelled = true;
    free_if_idle(c);
}
