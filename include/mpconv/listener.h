/* LAN listeners: create the socket (TCP or MPTCP, transparent for TPROXY),
 * bind, listen, log the bound address, accept into sessions. */
#ifndef MPCONV_LISTENER_H
#define MPCONV_LISTENER_H

#include <openssl/ssl.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/session.h"

struct metrics_listener;

struct listener {
    uv_tcp_t tcp;
    struct worker *worker;
    const struct listener_cfg *cfg;
    const struct front_ops *front;
    SSL_CTX *tls; /* server context when the listener terminates TLS */
    bool is_mptcp;
    struct metrics_listener *metrics; /* its counters, shared by the workers; may be NULL */
    uint64_t accept_errors;      /* since the last warning */
    uint64_t accept_warned_ms;   /* when the last warning was logged */
    struct sockaddr_storage bound; /* the address actually bound */
};

/* How a listener binds: several workers share one port with SO_REUSEPORT,
 * the first choosing it (port 0 = ephemeral) and the others taking it over. */
struct listen_options {
    const struct sockaddr_storage *same_as; /* NULL: the address in the config */
    bool reuseport;
    bool announce; /* log "listening: SCHEME://ADDR:PORT" at info level */
};

/* Binds and listens. 0 or -1 (logged). */
int listener_start(struct listener *l, struct worker *w, const struct listener_cfg *cfg,
                   const struct listen_options *opt);

void listener_close(struct listener *l);

/* The address to bind for host and port: literal addresses directly, a name
 * (e.g. "localhost") resolved now to its first address. 0 or a libuv error. */
int listener_bind_address(const struct mp_target *host, uint16_t port, struct sockaddr_storage *out);

#endif
