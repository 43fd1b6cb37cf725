/* Session lifecycle: accept, handshake reads, dial, tunnel, one close path
 * and one summary line. */
#include "mpconv/session.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpconv/errmap.h"
#include "mpconv/hop.h"
#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/metrics.h"
#include "mpconv/proto_socks5.h"
#include "mpconv/tls.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Unique across workers, so log lines of different loops never share an id. */
static atomic_uint_fast64_t session_ids;

#define TRIM_BURST 256 /* sessions: smaller peaks are not worth a malloc_trim */
#define SOCKS5_HANDSHAKE_MAX 1536 /* greeting + auth + request with a 255-byte name */
#define LINGER_MS 2000           /* how long to drain a client after an error answer */

struct reply_req {
    struct stream_req req;
    struct session *session;
    bool close_after;
    const char *reason;
    char data[];
};

/* glibc keeps freed heap that a burst of sessions (thousands of stalled
 * handshakes, say) left behind; give it back once most of them are gone. */
static void return_memory_after_burst(struct worker *w)
{
#ifdef __GLIBC__
    if (w->active_sessions > w->peak_sessions)
        w->peak_sessions = w->active_sessions;
    if (w->peak_sessions >= TRIM_BURST && w->active_sessions <= w->peak_sessions / 4) {
        malloc_trim(0);
        w->peak_sessions = w->active_sessions;
    }
#else
    (void)w;
#endif
}

static void unlink_session(struct session *s)
{
    struct worker *w = s->worker;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->active_sessions--;
    return_memory_after_burst(w);
    if (w->draining && w->active_sessions == 0 && w->on_drained)
        w->on_drained(w);
}

static void maybe_free(struct session *s)
{
    if (--s->open_handles > 0)
        return;
    unlink_session(s);
    listener_session_ended(s->listener);
    config_gen_unref(s->gen);
    free(s);
}

void worker_close_sessions(struct worker *w)
{
    for (struct session *s = w->sessions; s; s = s->next)
        session_close(s, "shutdown");
}

static void on_client_closed(struct stream *st)
{
    maybe_free(st->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    maybe_free(container_of(h, struct session, timer));
}

static void on_upstream_closed(struct stream *st)
{
    struct session *s = st->data;
    free(st->uv); /* the dialer's handle is ours */
    maybe_free(s);
}

static void close_upstream(struct session *s, bool reset)
{
    if (!s->upstream)
        return;
    s->upstream->data = s;
    stream_close(s->upstream, reset, on_upstream_closed);
    s->upstream = NULL;
    s->upstream_tcp = NULL;
}

static void add_relay_bytes(struct session *s)
{
    if (!s->relay_started)
        return;
    s->bytes_up += s->relay.up.bytes;
    s->bytes_down += s->relay.down.bytes;
    relay_release(&s->relay);
    s->relay_started = false;
}

/* Raises *most to the connection's current subflow count. */
static void sample_subflows(uv_tcp_t *tcp, unsigned *most)
{
    int fd;
    if (tcp && uv_fileno((uv_handle_t *)tcp, &fd) == 0) {
        unsigned now = sock_mptcp_subflows(fd);
        if (now > *most)
            *most = now;
    }
}

/* Once per upstream connection: at its first EOF, or when it closes. */
static void update_subflows(struct session *s)
{
    if (s->subflows_sampled)
        return;
    s->subflows_sampled = true;
    if (s->mptcp == MPTCP_STATE_YES)
        sample_subflows(s->upstream_tcp, &s->subflows);
    if (s->client_mptcp)
        sample_subflows(&s->client_tcp, &s->client_subflows);
}

static void log_summary(const struct session *s)
{
    const char *target = s->target_text ? s->target_text : "-";
    char subflows[12] = "?", client[48] = "";
    if (s->subflows > 0)
        snprintf(subflows, sizeof(subflows), "%u", s->subflows);
    if (s->client_mptcp)
        snprintf(client, sizeof(client), " client_mptcp=yes client_subflows=%u",
                 s->client_subflows);
    log_info("session end id=%" PRIu64 " client=%s%s via=%s target=%s up=%" PRIu64
             " down=%" PRIu64 " ms=%" PRIu64 " mptcp=%s subflows=%s requests=%" PRIu64
             " reason=%s",
             s->id, s->client_addr, client, s->front->name,
             target, s->bytes_up, s->bytes_down,
             uv_now(s->worker->loop) - s->start_ms,
             s->connected ? mptcp_state_name(s->mptcp) : "-", s->connected ? subflows : "-",
             s->requests, s->close_reason);
}

static void count_session_end(const struct session *s)
{
    struct metrics_session facts = {
        .reason = s->close_reason,
        .bytes_up = s->bytes_up,
        .bytes_down = s->bytes_down,
        .upstream_mptcp = s->connected && s->mptcp == MPTCP_STATE_YES,
        .subflows = s->subflows,
        .client_mptcp = s->client_mptcp,
        .client_subflows = s->client_subflows,
    };
    metrics_session_ended(s->worker->metrics, s->listener_metrics, &facts);
}

void session_close(struct session *s, const char *reason)
{
    if (s->state == SESSION_CLOSING)
        return;
    s->state = SESSION_CLOSING;
    s->close_reason = reason;
    if (s->dial) {
        dial_cancel(s->dial);
        s->dial = NULL;
    }
    if (s->hops) {
        hop_chain_cancel(s->hops);
        s->hops = NULL;
    }
    free(s->upstream_early);
    s->upstream_early = NULL;
    update_subflows(s);
    add_relay_bytes(s);
    count_session_end(s);
    log_summary(s);
    if (s->front->release)
        s->front->release(s);
    free(s->hs);
    s->hs = NULL;
    free(s->target);
    s->target = NULL;
    free(s->target_text);
    s->target_text = NULL;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    s->client->data = s;
    stream_close(s->client, s->reset_client, on_client_closed);
    close_upstream(s, s->reset_upstream);
}

/* --- handshake reads --- */

static void on_hs_alloc(struct stream *st, uv_buf_t *out)
{
    struct session *s = st->data;
    if (!s->hs)
        s->hs = malloc(s->hs_cap);
    if (!s->hs) {
        *out = uv_buf_init(NULL, 0);
        return;
    }
    *out = uv_buf_init(s->hs + s->hs_len, (unsigned)(s->hs_cap - s->hs_len));
}

static void on_hs_read(struct stream *st, ssize_t nread, const uv_buf_t *buf)
{
    struct session *s = st->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        bool between_requests = nread == UV_EOF && s->hs_len == 0 && s->requests > 0;
        session_close(s, between_requests ? "eof"
                         : nread == UV_EOF ? "client-eof-in-handshake"
                         : nread == UV_ENOBUFS ? "handshake-too-large"
                                               : "client-error-in-handshake");
        return;
    }
    s->hs_len += (size_t)nread;
    s->front->on_data(s);
}

void session_read_client(struct session *s)
{
    s->client->data = s;
    int err = stream_read_start(s->client, on_hs_alloc, on_hs_read);
    if (err != 0)
        session_close(s, "client-error");
}

void session_consume(struct session *s, size_t n)
{
    memmove(s->hs, s->hs + n, s->hs_len - n);
    s->hs_len -= n;
}

/* --- replies and lingering close --- */

static void on_linger_read(struct stream *st, ssize_t nread, const uv_buf_t *buf)
{
    struct session *s = st->data;
    (void)buf;
    if (nread < 0)
        session_close(s, s->close_reason);
}

static void on_linger_timeout(uv_timer_t *t)
{
    struct session *s = t->data;
    session_close(s, s->close_reason);
}

static void on_linger_shutdown(struct stream_req *req, int status)
{
    struct session *s = req->data;
    free(req);
    if (status != 0 || s->state == SESSION_CLOSING) {
        session_close(s, s->close_reason);
        return;
    }
    s->hs_len = 0; /* discard whatever the client still sends */
    if (stream_read_start(s->client, on_hs_alloc, on_linger_read) != 0)
        session_close(s, s->close_reason);
}

/* Closing a socket with unread input sends RST, which can destroy the answer
 * in flight; so send FIN and drain for a bounded time first (as nginx does). */
void session_close_gracefully(struct session *s, const char *reason)
{
    struct stream_req *req = malloc(sizeof(*req));
    s->close_reason = reason;
    s->client->data = s;
    stream_read_stop(s->client);
    if (req)
        req->data = s;
    if (!req || stream_shutdown(s->client, req, on_linger_shutdown) != 0) {
        free(req);
        session_close(s, reason);
        return;
    }
    s->timer.data = s;
    uv_timer_start(&s->timer, on_linger_timeout, LINGER_MS, 0);
}

static void on_reply_written(struct stream_req *req, int status)
{
    struct reply_req *r = (struct reply_req *)req;
    struct session *s = r->session;
    if (s->state != SESSION_CLOSING) {
        if (status < 0)
            session_close(s, "client-error");
        else if (r->close_after)
            session_close_gracefully(s, r->reason);
    }
    free(r);
}

void session_reply(struct session *s, const void *data, size_t len, bool close_after,
                   const char *reason)
{
    if (!close_after) {
        /* Usually the socket takes it at once: no request, no poll change. */
        int n = stream_try_write(s->client, data, len);
        if (n == (int)len)
            return;
        if (n < 0 && n != UV_EAGAIN) {
            session_close(s, "client-error");
            return;
        }
        if (n > 0) {
            data = (const char *)data + n;
            len -= (size_t)n;
        }
    }
    struct reply_req *r = malloc(sizeof(*r) + len);
    if (!r) {
        session_close(s, "out-of-memory");
        return;
    }
    r->session = s;
    r->close_after = close_after;
    r->reason = reason;
    memcpy(r->data, data, len);
    if (close_after)
        stream_read_stop(s->client);
    if (stream_write(s->client, &r->req, r->data, len, on_reply_written) != 0) {
        free(r);
        session_close(s, "client-error");
    }
}

/* --- dial --- */

static void log_dial_failure(const struct session *s, int status)
{
    char why[128];
    log_debug("session %" PRIu64 ": connect to %s failed: %s", s->id,
              s->target_text ? s->target_text : "?",
              errmap_describe(status, why, sizeof(why)));
}

static void on_hops_done(void *owner, int status, char *early, size_t early_len)
{
    struct session *s = owner;
    s->hops = NULL;
    s->upstream->data = s;
    s->upstream_early = early;
    s->upstream_early_len = early_len;
    if (status != 0)
        log_dial_failure(s, status);
    s->front->on_dialed(s, status);
}

static bool via_parent(const struct session *s)
{
    return s->gen->cfg.upstream.kind != UPSTREAM_DIRECT;
}

static void on_dialed(void *owner, int status, uv_tcp_t *conn, bool is_mptcp)
{
    struct session *s = owner;
    s->dial = NULL;
    if (status == 0) {
        int fd = -1;
        s->upstream_tcp = conn;
        stream_plain_init(&s->upstream_plain, (uv_stream_t *)conn);
        s->upstream = &s->upstream_plain;
        s->upstream->data = s;
        s->open_handles++;
        s->connected = true;
        uv_fileno((uv_handle_t *)conn, &fd);
        s->mptcp = sock_mptcp_state(fd, is_mptcp, &s->subflows);
        metrics_upstream_connected(s->worker->metrics, s->mptcp);
        if (via_parent(s)) {
            s->hops = hop_chain_start(&s->gen->cfg.upstream, s->gen->upstream_tls,
                                      &s->upstream, s->target, on_hops_done, s);
            if (s->hops)
                return;
            status = UV_ENOMEM;
        }
    }
    if (status != 0)
        log_dial_failure(s, status);
    s->front->on_dialed(s, status);
}

static void remember_target(struct session *s)
{
    char text[TARGET_HOST_MAX + 16];
    target_format(s->target, text, sizeof(text));
    free(s->target_text);
    s->target_text = strdup(text);
}

/* Refusals decided before any connection. Through a parent mpconv does not
 * resolve names, so only an IP-literal target can be checked here (the
 * parent applies its own ACL); a direct dial checks every address itself. */
static int refusal_before_dial(struct session *s)
{
    if (s->client_denied)
        return MPCONV_ERR_CLIENT_DENIED;
    const struct mp_target *t = s->target;
    if (via_parent(s) && t->kind != TARGET_NAME &&
        !dial_destination_allowed(&s->worker->dialer, t, (const struct sockaddr *)&t->addr, s->id))
        return MPCONV_ERR_ACL;
    return 0;
}

void session_dial(struct session *s)
{
    s->state = SESSION_DIALING;
    remember_target(s);
    stream_read_stop(s->client);
    int refused = refusal_before_dial(s);
    if (refused) {
        s->front->on_dialed(s, refused);
        return;
    }
    const struct dial_request req = {
        .target = via_parent(s) ? &s->gen->cfg.upstream.url.host : s->target,
        .purpose = via_parent(s) ? DIAL_PARENT : DIAL_DESTINATION,
        .session_id = s->id,
    };
    s->dial = dial_start(&s->worker->dialer, &req, on_dialed, s);
    if (!s->dial)
        s->front->on_dialed(s, UV_ENOMEM);
}

/* --- tunnel --- */

static void on_timer(uv_timer_t *t)
{
    struct session *s = t->data;
    if (s->state != SESSION_RELAYING) {
        session_close(s, "handshake-timeout");
        return;
    }
    uint64_t idle_ms = s->gen->cfg.idle_timeout_ms;
    uint64_t quiet = uv_now(t->loop) - s->relay.last_active_ms;
    if (quiet >= idle_ms)
        session_close(s, "idle-timeout");
    else
        uv_timer_start(t, on_timer, idle_ms - quiet, 0);
}

static void on_relay_finished(struct relay *r)
{
    session_close(container_of(r, struct session, relay), "eof");
}

static void on_relay_failed(struct relay *r, int err, bool client_side)
{
    struct session *s = container_of(r, struct session, relay);
    /* Pass an abort on as an abort, so neither end mistakes a cut-off
     * transfer for a complete one. */
    s->reset_client = !client_side;
    s->reset_upstream = client_side;
    if (err == UV_EPROTO)
        session_close(s, client_side ? "client-protocol-error" : "upstream-protocol-error");
    else
        session_close(s, client_side ? "client-reset" : "upstream-reset");
}

static void on_relay_message_end(struct relay *r, struct pump *p)
{
    struct session *s = container_of(r, struct session, relay);
    s->front->on_message_end(s, p);
}

/* Subflows join after the first data and can leave once the connection is
 * shut down: count them while both directions are still open. */
static void on_relay_eof(struct relay *r, struct pump *p)
{
    (void)p;
    update_subflows(container_of(r, struct session, relay));
}

static const struct relay_events relay_events = {
    .finished = on_relay_finished,
    .failed = on_relay_failed,
    .message_end = on_relay_message_end,
    .eof = on_relay_eof,
};

void session_begin_relay(struct session *s)
{
    s->state = SESSION_RELAYING;
    free(s->target); /* the tunnel needs only the text */
    s->target = NULL;
    relay_init(&s->relay, &s->worker->pool, &s->worker->pipes, &relay_events, s->client,
               s->upstream);
    s->relay_started = true;
    s->timer.data = s;
    uv_timer_start(&s->timer, on_timer, s->gen->cfg.idle_timeout_ms, 0);
}

void session_start_tunnel(struct session *s, const char *early, size_t early_len)
{
    session_begin_relay(s);
    int err = pump_start(&s->relay.up, early, early_len, false);
    if (err == 0 && s->state == SESSION_RELAYING)
        err = pump_start(&s->relay.down, s->upstream_early, s->upstream_early_len, false);
    free(s->upstream_early);
    s->upstream_early = NULL;
    if (err != 0 && s->state == SESSION_RELAYING)
        session_close(s, "relay-error");
}

void session_reset_for_next_request(struct session *s)
{
    add_relay_bytes(s);
    update_subflows(s);
    close_upstream(s, false);
    s->subflows_sampled = false; /* the next request gets a new upstream */
    free(s->upstream_early);
    s->upstream_early = NULL;
    if (!s->target && !(s->target = calloc(1, sizeof(*s->target)))) {
        session_close(s, "out-of-memory");
        return;
    }
    s->state = SESSION_HANDSHAKE;
    s->timer.data = s;
    uv_timer_start(&s->timer, on_timer, s->gen->cfg.handshake_timeout_ms, 0);
    session_read_client(s);
    if (s->hs_len > 0 && s->state == SESSION_HANDSHAKE)
        s->front->on_data(s);
}

/* --- auth --- */

bool session_needs_auth(const struct session *s)
{
    return s->lcfg->n_users > 0;
}

bool session_check_user(const struct session *s, const char *user, size_t user_len,
                        const char *pass, size_t pass_len)
{
    bool ok = false;
    /* Check every entry, so timing does not reveal which user exists. */
    const struct listener_cfg *cfg = s->lcfg;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct user_cred *u = &cfg->users[i];
        bool match = s5_credentials_equal(user, user_len, u->name, strlen(u->name));
        match &= s5_credentials_equal(pass, pass_len, u->pass, strlen(u->pass));
        ok |= match;
    }
    return ok;
}

/* --- accept --- */

static void describe_peer(struct session *s, struct sockaddr_storage *peer)
{
    int len = sizeof(*peer);
    memset(peer, 0, sizeof(*peer));
    if (uv_tcp_getpeername(&s->client_tcp, (struct sockaddr *)peer, &len) == 0)
        sockaddr_format((struct sockaddr *)peer, s->client_addr, sizeof(s->client_addr));
    else
        snprintf(s->client_addr, sizeof(s->client_addr), "?");
}

/* The listener's ?allow=, else [acl] clients (empty: everyone). */
static bool client_allowed(const struct session *s, const struct sockaddr *peer)
{
    const struct listener_cfg *l = s->lcfg;
    return acl_client_allowed(l->allow.n > 0 ? &l->allow : &s->gen->cfg.acl.clients, peer);
}

/* Where the protocol has an answer for "not allowed" (SOCKS5 0x02, HTTP 403)
 * the client gets it in reply to its request. TLS and transparent listeners
 * close at once: no TLS handshake is spent on a denied client, and a
 * transparent client has nobody to hear an answer. */
static bool answer_denied_client(const struct session *s)
{
    enum listener_kind kind = s->lcfg->kind;
    return !s->listener->tls && (kind == LISTEN_SOCKS5 || kind == LISTEN_HTTP || kind == LISTEN_MIXED);
}

/* Names the client and applies the client allow-list; false when the
 * client was closed at once. */
static bool admit_client(struct session *s)
{
    struct sockaddr_storage peer;
    describe_peer(s, &peer);
    if (client_allowed(s, (const struct sockaddr *)&peer))
        return true;
    if (answer_denied_client(s)) {
        s->client_denied = true;
        return true;
    }
    s->reset_client = true;
    session_close(s, errmap_reason(MPCONV_ERR_CLIENT_DENIED));
    return false;
}

static void start_front(struct session *s)
{
    if (s->front->on_start)
        s->front->on_start(s);
    else
        session_read_client(s);
}

static void on_client_tls(struct stream *st, int status)
{
    struct session *s = st->data;
    if (status != 0) {
        log_debug("session %" PRIu64 ": TLS from %s: %s", s->id, s->client_addr, tls_error(st));
        session_close(s, "client-tls-failed");
        return;
    }
    start_front(s);
}

static void start_client_tls(struct session *s)
{
    struct stream *tls = tls_stream_new(s->listener->tls, (uv_stream_t *)&s->client_tcp, NULL);
    if (!tls) {
        session_close(s, "out-of-memory");
        return;
    }
    s->client = tls;
    tls->data = s;
    if (tls_handshake(tls, on_client_tls) != 0)
        session_close(s, "client-tls-failed");
}

void session_accept(struct worker *w, struct listener *l, uv_stream_t *server)
{
    const struct front_ops *front = l->front;
    struct session *s = calloc(1, sizeof(*s));
    if (!s) {
        log_error("out of memory accepting a client");
        return;
    }
    s->worker = w;
    s->listener = l;
    l->sessions++;
    s->gen = config_gen_ref(w->gen);
    s->lcfg = l->cfg;
    s->front = front;
    s->id = atomic_fetch_add(&session_ids, 1) + 1;
    s->start_ms = uv_now(w->loop);
    s->state = SESSION_HANDSHAKE;
    s->hs_cap = front == &front_socks5 ? SOCKS5_HANDSHAKE_MAX : s->gen->cfg.max_header_bytes;
    s->close_reason = "?";
    s->next = w->sessions;
    if (s->next)
        s->next->prev = s;
    w->sessions = s;
    if (++w->active_sessions > w->peak_sessions)
        w->peak_sessions = w->active_sessions;

    s->target = calloc(1, sizeof(*s->target));
    uv_tcp_init(w->loop, &s->client_tcp);
    stream_plain_init(&s->client_plain, (uv_stream_t *)&s->client_tcp);
    s->client = &s->client_plain;
    uv_timer_init(w->loop, &s->timer);
    s->open_handles = 2;
    s->client->data = s->timer.data = s;
    if (!s->target || uv_accept(server, (uv_stream_t *)&s->client_tcp) != 0) {
        s->state = SESSION_CLOSING;
        free(s->target);
        s->target = NULL;
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
        stream_close(s->client, false, on_client_closed);
        return;
    }
    s->listener_metrics = l->metrics;
    metrics_session_opened(s->listener_metrics);
    uv_tcp_nodelay(&s->client_tcp, 1);
    if (!admit_client(s))
        return;
    int fd = -1;
    uv_fileno((uv_handle_t *)&s->client_tcp, &fd);
    if (fd >= 0 && (uint64_t)fd >= w->fd_limit - w->fd_limit / 16)
        listener_note_fd_pressure(l, fd, w->fd_limit);
    if (l->is_mptcp && fd >= 0)
        s->client_mptcp = sock_is_mptcp(fd);
    uv_timer_start(&s->timer, on_timer, s->gen->cfg.handshake_timeout_ms, 0);
    if (l->tls)
        start_client_tls(s);
    else
        start_front(s);
}
