/* The dialer: resolve a target asynchronously, then race connection
 * attempts over the resolved addresses (Happy Eyeballs, RFC 8305: families
 * interleaved, a new attempt every 250 ms or as soon as one fails), every
 * socket made by the socket factory. One overall deadline covers DNS and
 * connect. */
#ifndef MPCONV_DIAL_H
#define MPCONV_DIAL_H

#include <stdbool.h>
#include <uv.h>

#include "mpconv/acl.h"
#include "mpconv/localaddr.h"
#include "mpconv/sock.h"
#include "mpconv/target.h"

struct metrics;

struct dialer {
    uv_loop_t *loop;
    struct sock_factory *sockets;
    uint32_t connect_timeout_ms;
    struct metrics *metrics; /* DNS and connect times; may be NULL */
    const struct acl_config *acl; /* NULL: no ACL at all */
    struct local_addrs *local;    /* the host's own addresses (built-in deny set); NULL: none */
};

/* Whom a dial is for. [acl] tcp and require_mptcp apply to every dial, by
 * the address actually dialled; the destination ACL only to destinations. */
enum dial_purpose {
    DIAL_DESTINATION, /* a client's destination: every resolved address is checked */
    DIAL_PARENT,      /* the configured parent proxy: not checked */
};

struct dial_request {
    const struct mp_target *target;
    enum dial_purpose purpose;
    uint64_t session_id; /* names the dial in log lines */
};

/* status 0: conn is a connected handle the owner now owns (allocated with
 * malloc: free() it after its close callback). Otherwise status is a libuv error
 * (UV_ECONNREFUSED, UV_ETIMEDOUT, UV_EAI_NONAME, ...), MPCONV_ERR_ACL (every
 * address denied) or MPCONV_ERR_MPTCP_REQUIRED, and conn is NULL.
 * Never called from inside dial_start. */
typedef void (*dial_done_cb)(void *owner, int status, uv_tcp_t *conn, bool is_mptcp);

struct dial;

/* Returns NULL only when out of memory. */
struct dial *dial_start(const struct dialer *dialer, const struct dial_request *req,
                        dial_done_cb cb, void *owner);

/* Whether the destination ACL lets addr (an address of target) be dialled;
 * a refusal is logged at info. */
bool dial_destination_allowed(const struct dialer *dialer, const struct mp_target *target,
                              const struct sockaddr *addr, uint64_t session_id);

/* Abandons a dial whose callback has not run yet; the callback never runs. */
void dial_cancel(struct dial *d);

#endif
