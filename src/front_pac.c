/* Serving the PAC file (see front_pac.h). */
#include "mpconv/front_pac.h"

#include <stdio.h>
#include <string.h>

#include "mpconv/listener.h"
#include "mpconv/pac.h"

#define PAC_MAX_PROXIES 16
#define PAC_BODY_MAX 4096

/* Can a client that reached local use listener l (same address, or l
 * listens on every address of the family)? */
static bool reachable(const struct listener *l, const struct sockaddr_storage *local)
{
    return l->bound.ss_family == local->ss_family &&
           (sockaddr_is_wildcard(&l->bound) || sockaddr_same_ip(&l->bound, local));
}

static void add(struct pac_proxy *list, size_t *n, enum pac_kind kind,
                const struct sockaddr_storage *local, const struct listener *l)
{
    struct sockaddr_storage at = *local;
    if (*n == PAC_MAX_PROXIES)
        return;
    ((struct sockaddr_in *)&at)->sin_port = ((const struct sockaddr_in *)&l->bound)->sin_port;
    list[*n].kind = kind;
    sockaddr_format((const struct sockaddr *)&at, list[*n].hostport, sizeof(list[*n].hostport));
    (*n)++;
}

/* SOCKS5 first (any TCP, no per-request overhead), then HTTP proxies.
 * Browsers cannot authenticate to SOCKS5 or speak SOCKS5 over TLS. */
static size_t collect(const struct worker *w, const struct sockaddr_storage *local,
                      struct pac_proxy *list)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < w->n_listeners; i++) {
            const struct listener *l = w->listeners[i];
            const struct listener_cfg *c = l->cfg;
            bool socks = c->kind == LISTEN_SOCKS5 || c->kind == LISTEN_MIXED;
            bool http = c->kind == LISTEN_HTTP || c->kind == LISTEN_MIXED;
            if (!reachable(l, local))
                continue;
            if (pass == 0 && socks && !c->tls && c->n_users == 0)
                add(list, &n, PAC_SOCKS5, local, l);
            if (pass == 1 && http)
                add(list, &n, c->tls ? PAC_HTTPS : PAC_HTTP, local, l);
        }
    return n;
}

bool front_pac_answer(struct session *s, const struct http_head *req)
{
    bool head = http_slice_is(req->method, "HEAD");
    if (s->gen->cfg.pac != SWITCH_ON || !(head || http_slice_is(req->method, "GET")) ||
        !pac_is_request(req->target))
        return false;
    struct sockaddr_storage local;
    int len = sizeof(local);
    struct pac_proxy list[PAC_MAX_PROXIES];
    size_t n = 0;
    if (uv_tcp_getsockname(&s->client_tcp, (struct sockaddr *)&local, &len) == 0)
        n = collect(s->worker, &local, list);
    char body[PAC_BODY_MAX], reply[PAC_BODY_MAX + 256];
    size_t body_len = pac_render(list, n, body, sizeof(body));
    int reply_len = snprintf(reply, sizeof(reply),
                             "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n"
                             "Content-Length: %zu\r\nCache-Control: max-age=300\r\n"
                             "Connection: close\r\n\r\n%.*s",
                             body_len, head ? 0 : (int)body_len, body);
    session_reply(s, reply, (size_t)reply_len, true, "pac");
    return true;
}
