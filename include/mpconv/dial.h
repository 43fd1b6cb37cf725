/* The dialer: resolve a target asynchronously, then race connection
 * attempts over the resolved addresses (Happy Eyeballs, RFC 8305: families
 * interleaved, a new attempt every 250 ms or as soon as one fails), every
 * socket made by the socket factory. One overall deadline covers DNS and
 * connect. */
#ifndef MPCONV_DIAL_H
#define MPCONV_DIAL_H

#include <stdbool.h>
#include <uv.h>

#include "mpconv/sock.h"
#include "mpconv/target.h"

struct metrics;

struct dialer {
    uv_loop_t *loop;
    struct sock_factory *sockets;
    uint32_t connect_timeout_ms;
    struct metrics *metrics; /* DNS and connect times; may be NULL */
};

/* status 0: conn is a connected handle the owner now owns (allocated with
 * malloc: free() it after its close callback). Otherwise status is a libuv error
 * (UV_ECONNREFUSED, UV_ETIMEDOUT, UV_EAI_NONAME, ...) and conn is NULL.
 * Never called from inside dial_start. */
typedef void (*dial_done_cb)(void *owner, int status, uv_tcp_t *conn, bool is_mptcp);

struct dial;

/* Returns NULL only when out of memory. */
struct dial *dial_start(const struct dialer *dialer, const struct mp_target *target,
                        dial_done_cb cb, void *owner);

/* Abandons a dial whose callback has not run yet; the callback never runs. */
void dial_cancel(struct dial *d);

#endif
