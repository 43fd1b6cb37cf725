/* LAN listeners: create the socket (TCP or MPTCP, transparent for TPROXY),
 * bind, listen, log the bound address, accept into sessions. */
#ifndef MPCONV_LISTENER_H
#define MPCONV_LISTENER_H

#include <openssl/ssl.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/session.h"

struct listener {
    uv_tcp_t tcp;
    struct worker *worker;
    const struct listener_cfg *cfg;
    const struct front_ops *front;
    SSL_CTX *tls; /* server context when the listener terminates TLS */
    bool is_mptcp;
    uint64_t accept_errors;      /* since the last warning */
    uint64_t accept_warned_ms;   /* when the last warning was logged */
    struct sockaddr_storage bound; /* the address actually bound */
};

/* Binds and listens; logs "listening: KIND://ADDR:PORT". 0 or -1 (logged). */
int listener_start(struct listener *l, struct worker *w, const struct listener_cfg *cfg);

void listener_close(struct listener *l);

#endif
