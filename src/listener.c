/* Listening sockets for the LAN side (and the concentrator's public side). */
#include "mpconv/listener.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "mpconv/log.h"
#include "mpconv/sock.h"
#include "mpconv/tls.h"

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

/* Out of descriptors, libuv sheds the pending clients with a reserved fd,
 * so the loop does not spin; one warning a second says how many. */
static void note_accept_error(struct listener *l, int status)
{
    uint64_t now = uv_now(l->tcp.loop);
    l->accept_errors++;
    if (l->accept_warned_ms != 0 && now - l->accept_warned_ms < ACCEPT_WARN_INTERVAL_MS)
        return;
    log_warn("accept on %s://%s:%u: %s (%llu clients turned away since the last warning)",
             l->cfg->url.scheme, l->cfg->url.host.host, l->cfg->url.host.port,
             uv_strerror(status), (unsigned long long)l->accept_errors);
    l->accept_errors = 0;
    l->accept_warned_ms = now;
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

/* libuv would create a plain TCP socket; MPTCP, TPROXY and shared
 * (SO_REUSEPORT) listeners need theirs made here. A kernel without MPTCP
 * gets a TCP listener unless the daemon runs with mptcp = on. */
static int open_listen_socket(struct listener *l, int family, bool reuseport)
{
    bool want_mptcp = l->cfg->mptcp && l->worker->cfg->mptcp != MPTCP_MODE_OFF;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    want_mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);
    if (fd < 0 && want_mptcp && sock_is_mptcp_unavailable(errno) &&
        l->worker->cfg->mptcp != MPTCP_MODE_ON) {
        log_warn("MPTCP listener unavailable (%s): accepting plain TCP", strerror(errno));
        want_mptcp = false;
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    }
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int one = 1;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        int err = uv_translate_sys_error(errno);
        close(fd);
        return err;
    }
    if (l->cfg->kind == LISTEN_TPROXY) {
        int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
        int opt = family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT;
        if (setsockopt(fd, level, opt, &one, sizeof(one)) != 0) {
            int err = uv_translate_sys_error(errno);
            close(fd);
            return err; /* needs CAP_NET_ADMIN */
        }
    }
    int err = uv_tcp_open(&l->tcp, fd);
    if (err != 0) {
        close(fd);
        return err;
    }
    l->is_mptcp = want_mptcp;
    return 0;
}

static int start_listening(struct listener *l, const struct listen_options *opt)
{
    const struct listener_cfg *cfg = l->cfg;
    int err = 0;
    if (opt->same_as)
        l->bound = *opt->same_as;
    else
        err = listener_bind_address(&cfg->url.host, cfg->url.host.port, &l->bound);
    if (err == 0 && (cfg->mptcp || cfg->kind == LISTEN_TPROXY || opt->reuseport))
        err = open_listen_socket(l, l->bound.ss_family, opt->reuseport);
    if (err == 0)
        err = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&l->bound,
                          l->bound.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
    if (err == 0) {
        int len = sizeof(l->bound);
        err = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&l->bound, &len);
    }
    return err;
}

int listener_start(struct listener *l, struct worker *w, const struct listener_cfg *cfg,
                   const struct listen_options *opt)
{
    const char *kind = listener_kind_name(cfg->kind);
    char err_text[512];
    l->worker = w;
    l->cfg = cfg;
    l->front = front_for(cfg->kind);
    uv_tcp_init(w->loop, &l->tcp);
    l->tcp.data = l;

    if (cfg->tls && !(l->tls = tls_server_ctx_new(cfg->cert_file, cfg->key_file, err_text,
                                                   sizeof(err_text)))) {
        log_error("cannot listen on %s+tls://%s:%u: %s", kind, cfg->url.host.host,
                  cfg->url.host.port, err_text);
        return -1;
    }
    int err = start_listening(l, opt);
    if (err != 0) {
        log_error("cannot listen on %s://%s:%u: %s", kind, cfg->url.host.host,
                  cfg->url.host.port, uv_strerror(err));
        return -1;
    }
    if (!opt->announce)
        return 0; /* another worker's socket on the same address */
    char bound[80];
    sockaddr_format((struct sockaddr *)&l->bound, bound, sizeof(bound));
    log_info("listening: %s://%s%s%s%s", cfg->url.scheme, bound, l->is_mptcp ? " (mptcp)" : "",
             cfg->n_users > 0 ? " (auth required)" : "",
             cfg->kind == LISTEN_FORWARD ? " (forward)" : "");
    return 0;
}

void listener_close(struct listener *l)
{
    if (!uv_is_closing((uv_handle_t *)&l->tcp))
        uv_close((uv_handle_t *)&l->tcp, NULL);
    SSL_CTX_free(l->tls);
    l->tls = NULL;
}
