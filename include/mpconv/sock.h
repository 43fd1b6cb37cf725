/* The socket factory: every upstream socket is created here, MPTCP when the
 * mode and the kernel allow, plain TCP otherwise; and the one place that
 * asks the kernel whether MPTCP really held on a connection. */
#ifndef MPCONV_SOCK_H
#define MPCONV_SOCK_H

#include <stdbool.h>
#include <netinet/in.h> /* before the fallback define: glibc declares it as an enum */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpconv/config.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* What a connection ended up as, in the words of the session summary. */
enum mptcp_state {
    MPTCP_STATE_OFF,      /* a plain TCP socket (mode off, or the kernel refused MPTCP) */
    MPTCP_STATE_FALLBACK, /* an MPTCP socket, but the peer (or a middlebox) spoke TCP */
    MPTCP_STATE_YES,      /* MPTCP negotiated end to end */
};

struct sock_factory {
    enum mptcp_mode mode;
    uint32_t mark;             /* SO_MARK for every upstream socket, 0 = none */
    bool kernel_refused;       /* auto mode: last MPTCP socket() failed */
    uint64_t reprobe_at_ms;    /* when to try MPTCP again after a refusal */
};

void sock_factory_init(struct sock_factory *f, enum mptcp_mode mode, uint32_t mark);

/* Opens a non-blocking, close-on-exec stream socket for family. Returns the
 * fd (and *is_mptcp), or -errno. now_ms drives the re-probe after refusals.
 * plain_tcp: TCP whatever the mode ([acl] tcp destinations). */
int sock_open_upstream(struct sock_factory *f, int family, uint64_t now_ms, bool plain_tcp,
                       bool *is_mptcp);

/* Can upstream sockets carry this SO_MARK (needs CAP_NET_ADMIN)? 0 or -errno. */
int sock_probe_mark(uint32_t mark);

/* Can this network namespace create MPTCP sockets? 0 or -errno. */
int sock_probe_mptcp(void);

/* Errors from socket(IPPROTO_MPTCP) that mean "no MPTCP here, use TCP". */
bool sock_is_mptcp_unavailable(int err);

/* After connect: was MPTCP negotiated, and over how many subflows (0 when
 * unknown)? socket_is_mptcp says how the socket was created. */
enum mptcp_state sock_mptcp_state(int fd, bool socket_is_mptcp, unsigned *subflows);

/* Current subflow count of an MPTCP connection, 0 when unknown. */
unsigned sock_mptcp_subflows(int fd);

/* Each subflow's local and remote address (getsockopt MPTCP_SUBFLOW_ADDRS,
 * Linux 5.16+). Returns how many were stored (at most max), or -errno. */
int sock_mptcp_subflow_addrs(int fd, struct sockaddr_storage *local, struct sockaddr_storage *remote, size_t max);

/* The pure part: parses that getsockopt's buffer (struct mptcp_subflow_data
 * and the entries after it). Returns the count, or -1 when malformed. */
int sock_parse_subflow_addrs(const uint8_t *buf, size_t len, struct sockaddr_storage *local,
                             struct sockaddr_storage *remote, size_t max);

/* Whether an accepted socket is MPTCP (SO_PROTOCOL). */
bool sock_is_mptcp(int fd);

/* Latency-friendly options for a connected socket; errors that MPTCP gives
 * for unsupported options are ignored on purpose. */
void sock_tune_connected(int fd);

const char *mptcp_state_name(enum mptcp_state s);

#endif
