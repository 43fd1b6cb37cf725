/* Listening sockets for the LAN side. */
#include "mpconv/listener.h"

#include <netdb.h>
#include <string.h>

#include "mpconv/log.h"

#define LISTEN_BACKLOG 1024

static const struct front_ops *front_for(enum listener_kind kind)
{
    switch (kind) {
    case LISTEN_SOCKS5:
        return &front_socks5;
    case LISTEN_HTTP:
        return &front_http;
    case LISTEN_MIXED:
        break;
    }
    return &front_mixed;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    if (status != 0) {
        log_warn("accept on %s://%s: %s", listener_kind_name(l->cfg->kind), l->cfg->url.host.host,
                 uv_strerror(status));
        return;
    }
    session_accept(l->worker, l->cfg, l->front, server);
}

/* Literal addresses bind directly; a name (e.g. "localhost") is resolved
 * once, at start, to its first address. */
static int bind_address(const struct mp_target *host, uint16_t port, struct sockaddr_storage *out)
{
    if (host->kind != TARGET_NAME) {
        memcpy(out, &host->addr, sizeof(*out));
        ((struct sockaddr_in *)out)->sin_port = htons(port);
        return 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int err = getaddrinfo(host->host, NULL, &hints, &res);
    if (err != 0)
        return UV_EAI_NONAME;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    ((struct sockaddr_in *)out)->sin_port = htons(port);
    freeaddrinfo(res);
    return 0;
}

int listener_start(struct listener *l, struct worker *w, const struct listener_cfg *cfg)
{
    struct sockaddr_storage addr;
    const char *kind = listener_kind_name(cfg->kind);
    l->worker = w;
    l->cfg = cfg;
    l->front = front_for(cfg->kind);
    uv_tcp_init(w->loop, &l->tcp);
    l->tcp.data = l;

    int err = bind_address(&cfg->url.host, cfg->url.host.port, &addr);
    if (err == 0)
        err = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addr,
                          addr.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
    if (err != 0) {
        log_error("cannot listen on %s://%s:%u: %s", kind, cfg->url.host.host,
                  cfg->url.host.port, uv_strerror(err));
        return err;
    }
    int len = sizeof(addr);
    char bound[80];
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&addr, &len);
    sockaddr_format((struct sockaddr *)&addr, bound, sizeof(bound));
    log_info("listening: %s://%s%s", kind, bound, cfg->n_users > 0 ? " (auth required)" : "");
    return 0;
}

void listener_close(struct listener *l)
{
    if (!uv_is_closing((uv_handle_t *)&l->tcp))
        uv_close((uv_handle_t *)&l->tcp, NULL);
}
