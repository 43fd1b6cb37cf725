/* Front-ends without a handshake: the destination is known at accept time.
 *   redirect  nftables/iptables REDIRECT: SO_ORIGINAL_DST (IPv4) or
 *             IP6T_SO_ORIGINAL_DST (IPv6) on the accepted TCP socket
 *   tproxy    TPROXY: the accepted socket's local address is the destination
 *   forward   a fixed target from the listener URL
 * A client gets no protocol answer: a failed dial closes it with RST, the
 * closest thing to what the real destination would have done. */
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpconv/errmap.h"
#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/session.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static void refuse(struct session *s, const char *reason)
{
    s->reset_client = true;
    session_close(s, reason);
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
                                   : ((const struct sockaddr_in6 *)a)->sin6_port;
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return sockaddr_same_ip(a, b) && port_of(a) == port_of(b);
}

/* Whether this host owns the address: only local addresses can be bound
 * without IP_TRANSPARENT. */
static bool is_local_address(const struct sockaddr_storage *a)
{
    struct sockaddr_storage probe = *a;
    socklen_t len = a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)&probe)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&probe)->sin6_port = 0;
    bool local = bind(fd, (struct sockaddr *)&probe, len) == 0;
    close(fd);
    return local;
}

/* A listener bound to a wildcard address is reachable on every local
 * address of its port. */
static bool is_own_listener(const struct sockaddr_storage *dst, const struct sockaddr_storage *bound)
{
    if (same_address(dst, bound))
        return true;
    return dst->ss_family == bound->ss_family && port_of(dst) == port_of(bound) &&
           sockaddr_is_wildcard(bound) && is_local_address(dst);
}

static int target_from_sockaddr(struct mp_target *t, const struct sockaddr_storage *ss)
{
    char host[80];
    sockaddr_format((const struct sockaddr *)ss, host, sizeof(host));
    size_t len = strlen(host);
    return target_parse_hostport(t, host, len, 0);
}

/* Dials the client's original destination, unless that is mpconv's own
 * address: nothing redirected the connection, and dialing would loop. */
static void dial_destination(struct session *s, const struct sockaddr_storage *dst,
                             const struct sockaddr_storage *local)
{
    if (same_address(dst, local) || is_own_listener(dst, &s->listener->bound)) {
        refuse(s, "loop-to-own-listener");
        return;
    }
    if (target_from_sockaddr(s->target, dst) != 0) {
        refuse(s, "bad-original-destination");
        return;
    }
    session_dial(s);
}

static int local_address(struct session *s, struct sockaddr_storage *out)
{
    int len = sizeof(*out);
    return uv_tcp_getsockname(&s->client_tcp, (struct sockaddr *)out, &len);
}

static void redirect_start(struct session *s)
{
    struct sockaddr_storage dst, local;
    socklen_t len = sizeof(dst);
    int fd;
    if (local_address(s, &local) != 0 || uv_fileno((uv_handle_t *)&s->client_tcp, &fd) != 0) {
        refuse(s, "client-error");
        return;
    }
    int rc = local.ss_family == AF_INET6
                 ? getsockopt(fd, IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len)
                 : getsockopt(fd, IPPROTO_IP, SO_ORIGINAL_DST, &dst, &len);
    if (rc != 0) {
        log_debug("session %" PRIu64 ": no original destination (not redirected?)", s->id);
        refuse(s, "no-original-destination");
        return;
    }
    dial_destination(s, &dst, &local);
}

static void tproxy_start(struct session *s)
{
    struct sockaddr_storage local;
    if (local_address(s, &local) != 0) {
        refuse(s, "client-error");
        return;
    }
    dial_destination(s, &local, &s->listener->bound);
}

static void forward_start(struct session *s)
{
    *s->target = s->lcfg->forward_to;
    session_dial(s);
}

static void transparent_on_dialed(struct session *s, int status)
{
    if (status != 0) {
        refuse(s, errmap_reason(status));
        return;
    }
    session_start_tunnel(s, NULL, 0);
}

const struct front_ops front_redirect = {
    .name = "redirect",
    .on_start = redirect_start,
    .on_dialed = transparent_on_dialed,
};

const struct front_ops front_tproxy = {
    .name = "tproxy",
    .on_start = tproxy_start,
    .on_dialed = transparent_on_dialed,
};

const struct front_ops front_forward = {
    .name = "forward",
    .on_start = forward_start,
    .on_dialed = transparent_on_dialed,
};
