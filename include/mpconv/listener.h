/* LAN listeners. The control thread opens the listening sockets (TCP or
 * MPTCP, transparent for TPROXY, SO_REUSEPORT when several workers share a
 * port) so that bind errors stop a start or a reload before anything
 * changes; each worker then serves its own socket on its own loop. */
#ifndef MPCONV_LISTENER_H
#define MPCONV_LISTENER_H

#include <openssl/ssl.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/session.h"

struct metrics_listener;

/* The address to bind for host and port: literal addresses directly, a name
 * (e.g. "localhost") resolved now to its first address. 0 or a libuv error. */
int listener_bind_address(const struct mp_target *host, uint16_t port, struct sockaddr_storage *out);

/* A bound, listening socket not yet served by a loop. */
struct listen_socket {
    int fd; /* -1 when none */
    bool is_mptcp;
    struct sockaddr_storage bound; /* the address actually bound */
};

/* Opens cfg's socket. same_as: the address another worker's socket got (its
 * ephemeral port included), or NULL for the configured one. 0 or a libuv
 * error; nothing is logged. */
int listen_socket_open(const struct listener_cfg *cfg, enum mptcp_mode mode,
                       const struct sockaddr_storage *same_as, bool reuseport,
                       struct listen_socket *out);
void listen_socket_close(struct listen_socket *s);
/* Logs "listening: SCHEME://ADDR:PORT ..." once per configured listener. */
void listen_socket_announce(const struct listener_cfg *cfg, const struct listen_socket *s);

/* Whether two listener configurations need the same socket (address, port,
 * MPTCP, transparent; for port 0 also the scheme). Everything else, the
 * scheme included, can change on a live listener. */
bool listener_same_socket(const struct listener_cfg *a, const struct listener_cfg *b);

struct listener {
    uv_tcp_t tcp;
    struct worker *worker;
    const struct listener_cfg *cfg; /* in the worker's current generation */
    const struct front_ops *front;
    SSL_CTX *tls;       /* the generation's server context when terminating TLS */
    bool is_mptcp;
    struct metrics_listener *metrics; /* its counters, shared by the workers; may be NULL */
    bool closed;        /* the handle is closed: free once no session points here */
    unsigned sessions;  /* sessions accepted here that have not ended */
    uint64_t accept_errors;      /* since the last warning */
    uint64_t accept_warned_ms;   /* when the last warning was logged */
    uint64_t fd_warned_ms;       /* when the last "near the fd limit" warning was logged */
    struct sockaddr_storage bound;
};

/* Serves sock (taken over) on w's loop. NULL when out of memory or libuv
 * refuses (logged; sock is closed). */
struct listener *listener_start(struct worker *w, const struct listener_cfg *cfg, SSL_CTX *tls,
                                struct listen_socket *sock);

/* A reload: new settings (and front-end) for the sessions accepted from now. */
void listener_update(struct listener *l, const struct listener_cfg *cfg, SSL_CTX *tls);

/* Stops accepting; the listener frees itself once its sessions are gone. */
void listener_close(struct listener *l);

/* An accepted client got descriptor fd, close to the limit: warns (at most
 * once a second). libuv turns clients away silently once no descriptor is
 * left, so this is the operator's only sign. */
void listener_note_fd_pressure(struct listener *l, int fd, uint64_t limit);

/* A session accepted on l ended. */
void listener_session_ended(struct listener *l);

#endif
