/* Netlink sockets: one request and its replies, or queued events. The only
 * socket I/O of the netlink clients (mptcp_pm.c, rtnl.c); what the bytes
 * mean is decided by their pure codecs. */
#ifndef MPCONV_NLSOCK_H
#define MPCONV_NLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mpconv/nlmsg.h"

#define NLSOCK_TIMEOUT_MS 2000 /* longest wait for one reply */

struct nlsock {
    int fd;
    uint32_t seq;
    uint8_t *buf; /* receive buffer, NLSOCK_BUF bytes */
};

/* protocol NETLINK_ROUTE or NETLINK_GENERIC; groups: multicast groups to
 * join (RTMGRP_* bits), 0 for none; events: non-blocking, for a uv_poll.
 * Returns 0 or -errno. */
int nlsock_open(struct nlsock *s, int protocol, uint32_t groups, bool events);
void nlsock_close(struct nlsock *s);

/* Called for every reply message; returns 0, or -errno to fail the request. */
typedef int (*nl_reply_fn)(const struct nl_msg *m, void *arg);

/* Sends req (built with NLM_F_ACK or NLM_F_DUMP; its sequence number is set
 * here) and passes each reply to fn until the dump's NLMSG_DONE or the ACK.
 * Returns 0 or -errno: the kernel's error (with its explanation in err when
 * it gave one), -ETIMEDOUT, -EBADMSG for a malformed reply, or fn's. */
int nlsock_request(struct nlsock *s, uint8_t *req, size_t len, nl_reply_fn fn, void *arg, char *err,
                   size_t err_cap);

/* Event sockets: one queued datagram into s->buf. Returns its length, 0 when
 * nothing is queued, or -errno (-ENOBUFS: the kernel dropped events). */
ssize_t nlsock_recv_event(struct nlsock *s);

#endif
