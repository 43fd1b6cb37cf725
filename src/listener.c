/* Listening sockets for the LAN side (and the concentrator's public side). */
#include "mpconv/listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpconv/log.h"
#include "mpconv/sock.h"

#define LISTEN_BACKLOG 1024

static const struct front_ops *front_for(enum listener_kind kind)
{
    switch (kind) {
    case LISTEN_SOCKS5:
        return &front_socks5;
    case LISTEN_HTTP:
        return &front_http;
    case LISTEN_MIXED:
        return &front_mixed;
    case LISTEN_REDIRECT:
        return &front_redirect;
    case LISTEN_TPROXY:
        return &front_tproxy;
    case LISTEN_FORWARD:
        break;
    }
    return &front_forward;
}

#define ACCEPT_WARN_INTERVAL_MS 1000

/* At most one warning a second of each kind per listener: true (and the
 * time noted) when one may be logged now. */
static bool warning_due(const struct listener *l, uint64_t *warned_ms)
{
    uint64_t now = uv_now(l->tcp.loop);
    if (*warned_ms != 0 && now - *warned_ms < ACCEPT_WARN_INTERVAL_MS)
        return false;
    *warned_ms = now;
    return true;
}

/* Out of descriptors, libuv sheds the pending clients with a reserved fd,
 * so the loop does not spin; one warning a second says how many. */
static void note_accept_error(struct listener *l, int status)
{
    l->accept_errors++;
    if (!warning_due(l, &l->accept_warned_ms))
        return;
    log_warn("accept on %s://%s:%u: %s (%llu clients turned away since the last warning)",
             l->cfg->url.scheme, l->cfg->url.host.host, l->cfg->url.host.port,
             uv_strerror(status), (unsigned long long)l->accept_errors);
    l->accept_errors = 0;
}

void listener_note_fd_pressure(struct listener *l, int fd, uint64_t limit)
{
    if (!warning_due(l, &l->fd_warned_ms))
        return;
    log_warn("accept on %s://%s:%u: descriptor %d of the open file limit %llu: when it is "
             "reached, libuv closes new clients at once and nothing more is logged",
             l->cfg->url.scheme, l->cfg->url.host.host, l->cfg->url.host.port, fd,
             (unsigned long long)limit);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    if (status != 0) {
        note_accept_error(l, status);
        return;
    }
    session_accept(l->worker, l, server);
}

int listener_bind_address(const struct mp_target *host, uint16_t port, struct sockaddr_storage *out)
{
    if (host->kind != TARGET_NAME) {
        memcpy(out, &host->addr, sizeof(*out));
        ((struct sockaddr_in *)out)->sin_port = htons(port);
        return 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (getaddrinfo(host->host, NULL, &hints, &res) != 0)
        return UV_EAI_NONAME;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    ((struct sockaddr_in *)out)->sin_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

/* A TCP or MPTCP stream socket; a kernel without MPTCP gets TCP unless the
 * daemon runs with mptcp = on. */
static int stream_socket(int family, bool *mptcp, enum mptcp_mode mode)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    *mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);
    if (fd < 0 && *mptcp && sock_is_mptcp_unavailable(errno) && mode != MPTCP_MODE_ON) {
        log_warn("MPTCP listener unavailable (%s): accepting plain TCP", strerror(errno));
        *mptcp = false;
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    }
    return fd;
}

static int set_flag(int fd, int level, int name)
{
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof(one));
}

/* The options every listener needs, then TPROXY's and shared ports'. */
static int set_listen_options(int fd, const struct listener_cfg *cfg, int family, bool reuseport)
{
    if (set_flag(fd, SOL_SOCKET, SO_REUSEADDR) != 0)
        return -1;
    if (family == AF_INET6 && set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) != 0)
        return -1;
    if (reuseport && set_flag(fd, SOL_SOCKET, SO_REUSEPORT) != 0)
        return -1;
    if (cfg->kind == LISTEN_TPROXY) /* needs CAP_NET_ADMIN */
        return family == AF_INET6 ? set_flag(fd, IPPROTO_IPV6, IPV6_TRANSPARENT)
                                  : set_flag(fd, IPPROTO_IP, IP_TRANSPARENT);
    return 0;
}

static socklen_t sockaddr_size(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int listen_socket_open(const struct listener_cfg *cfg, enum mptcp_mode mode,
                       const struct sockaddr_storage *same_as, bool reuseport,
                       struct listen_socket *out)
{
    out->fd = -1;
    out->is_mptcp = cfg->mptcp && mode != MPTCP_MODE_OFF;
    int err = 0;
    if (same_as)
        out->bound = *same_as;
    else
        err = listener_bind_address(&cfg->url.host, cfg->url.host.port, &out->bound);
    if (err != 0)
        return err;
    int family = out->bound.ss_family;
    int fd = stream_socket(family, &out->is_mptcp, mode);
    socklen_t len = sizeof(out->bound);
    if (fd < 0 || set_listen_options(fd, cfg, family, reuseport) != 0 ||
        bind(fd, (struct sockaddr *)&out->bound, sockaddr_size(&out->bound)) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&out->bound, &len) != 0) {
        err = uv_translate_sys_error(errno);
        if (fd >= 0)
            close(fd);
        return err;
    }
    out->fd = fd;
    return 0;
}

void listen_socket_close(struct listen_socket *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

void listen_socket_announce(const struct listener_cfg *cfg, const struct listen_socket *s)
{
    char bound[80];
    sockaddr_format((const struct sockaddr *)&s->bound, bound, sizeof(bound));
    log_info("listening: %s://%s%s%s%s", cfg->url.scheme, bound, s->is_mptcp ? " (mptcp)" : "",
             cfg->n_users > 0 ? " (auth required)" : "",
             cfg->kind == LISTEN_FORWARD ? " (forward)" : "");
}

bool listener_same_socket(const struct listener_cfg *a, const struct listener_cfg *b)
{
    if (a->url.host.port != b->url.host.port || strcmp(a->url.host.host, b->url.host.host) != 0 ||
        a->mptcp != b->mptcp || (a->kind == LISTEN_TPROXY) != (b->kind == LISTEN_TPROXY))
        return false;
    /* Port 0 means "any free port": such a listener is known by its scheme. */
    return a->url.host.port != 0 || (a->kind == b->kind && a->tls == b->tls);
}

void listener_update(struct listener *l, const struct listener_cfg *cfg, SSL_CTX *tls)
{
    l->cfg = cfg;
    l->tls = tls;
    l->front = front_for(cfg->kind);
}

struct listener *listener_start(struct worker *w, const struct listener_cfg *cfg, SSL_CTX *tls,
                                struct listen_socket *sock)
{
    struct listener *l = calloc(1, sizeof(*l));
    if (!l) {
        listen_socket_close(sock);
        log_error("out of memory starting a listener");
        return NULL;
    }
    l->worker = w;
    listener_update(l, cfg, tls);
    l->is_mptcp = sock->is_mptcp;
    l->bound = sock->bound;
    uv_tcp_init(w->loop, &l->tcp);
    l->tcp.data = l;
    int err = uv_tcp_open(&l->tcp, sock->fd);
    if (err == 0) {
        sock->fd = -1; /* the handle owns it now */
        err = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
    }
    if (err != 0) {
        log_error("cannot listen on %s://%s:%u: %s", listener_kind_name(cfg->kind),
                  cfg->url.host.host, cfg->url.host.port, uv_strerror(err));
        listen_socket_close(sock);
        listener_close(l);
        return NULL;
    }
    return l;
}

static void free_if_unused(struct listener *l)
{
    if (l->closed && l->sessions == 0)
        free(l);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    l->closed = true;
    free_if_unused(l);
}

void listener_close(struct listener *l)
{
    if (!uv_is_closing((uv_handle_t *)&l->tcp))
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

void listener_session_ended(struct listener *l)
{
    l->sessions--;
    free_if_unused(l);
}
