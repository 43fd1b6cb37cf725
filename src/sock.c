/* Socket factory and MPTCP status queries (see docs/mptcp.md for the kernel
 * facts behind each choice). */
#include "mpconv/sock.h"

#include "mpconv/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_INFO
#define MPTCP_INFO 1
#endif
#ifndef MPTCP_SUBFLOW_ADDRS
#define MPTCP_SUBFLOW_ADDRS 3
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif

/* struct mptcp_info grows with the kernel; read it as bytes and trust only
 * the fields the returned length covers. */
#define MPTCP_INFO_EXTRA_SUBFLOWS_OFF 0
#define MPTCP_INFO_SUBFLOWS_TOTAL_OFF 80 /* Linux 6.8+ */
#define MPTCP_INFO_BUF 256

#define REPROBE_INTERVAL_MS 60000

void sock_factory_init(struct sock_factory *f, enum mptcp_mode mode, uint32_t mark)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->mark = mark;
}

bool sock_is_mptcp_unavailable(int err)
{
    return err == EINVAL || err == EPROTONOSUPPORT || err == ENOPROTOOPT;
}

static int open_stream(int family, int protocol)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    return fd >= 0 ? fd : -errno;
}

static int set_mark(int fd, uint32_t mark)
{
    if (mark == 0 || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0)
        return 0;
    return -errno;
}

int sock_probe_mark(uint32_t mark)
{
    int fd = open_stream(AF_INET, IPPROTO_TCP);
    if (fd < 0)
        return fd;
    int err = set_mark(fd, mark);
    close(fd);
    return err;
}

/* Marks a new upstream socket; without the mark, firewall rules that keep
 * mpconv's own traffic out of the redirect would loop it back. */
static int finish_socket(const struct sock_factory *f, int fd)
{
    int err = set_mark(fd, f->mark);
    if (err == 0)
        return fd;
    close(fd);
    return err;
}

int sock_probe_mptcp(void)
{
    int fd = open_stream(AF_INET, IPPROTO_MPTCP);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static bool want_mptcp(const struct sock_factory *f, uint64_t now_ms)
{
    if (f->mode == MPTCP_MODE_OFF)
        return false;
    return !f->kernel_refused || now_ms >= f->reprobe_at_ms;
}

static void note_refusal(struct sock_factory *f, int err, uint64_t now_ms)
{
    if (!f->kernel_refused)
        log_warn("MPTCP unavailable (socket: %s); using plain TCP, will retry every %d s",
                 strerror(-err), REPROBE_INTERVAL_MS / 1000);
    f->kernel_refused = true;
    f->reprobe_at_ms = now_ms + REPROBE_INTERVAL_MS;
}

int sock_open_upstream(struct sock_factory *f, int family, uint64_t now_ms, bool plain_tcp,
                       bool *is_mptcp)
{
    if (!plain_tcp && want_mptcp(f, now_ms)) {
        int fd = open_stream(family, IPPROTO_MPTCP);
        if (fd >= 0) {
            if (f->kernel_refused)
                log_info("MPTCP available again");
            f->kernel_refused = false;
            *is_mptcp = true;
            return finish_socket(f, fd);
        }
        /* In "on" mode the kernel was checked at start; a refusal now is an
         * error for this connection rather than a silent downgrade. */
        if (f->mode == MPTCP_MODE_ON || !sock_is_mptcp_unavailable(-fd))
            return fd;
        note_refusal(f, fd, now_ms);
    }
    *is_mptcp = false;
    int fd = open_stream(family, IPPROTO_TCP);
    return fd < 0 ? fd : finish_socket(f, fd);
}

static int read_mptcp_info(int fd, unsigned char *buf, socklen_t *len)
{
    memset(buf, 0, MPTCP_INFO_BUF);
    *len = MPTCP_INFO_BUF;
    return getsockopt(fd, SOL_MPTCP, MPTCP_INFO, buf, len);
}

/* Subflows in an MPTCP_INFO answer of len bytes; 0 when it does not say. */
static unsigned subflows_in_info(const unsigned char *info, socklen_t len)
{
    if (len > MPTCP_INFO_SUBFLOWS_TOTAL_OFF && info[MPTCP_INFO_SUBFLOWS_TOTAL_OFF] > 0)
        return info[MPTCP_INFO_SUBFLOWS_TOTAL_OFF];
    if (len > MPTCP_INFO_EXTRA_SUBFLOWS_OFF)
        return info[MPTCP_INFO_EXTRA_SUBFLOWS_OFF] + 1u; /* extra subflows + the initial one */
    return 0;
}

unsigned sock_mptcp_subflows(int fd)
{
    unsigned char info[MPTCP_INFO_BUF];
    socklen_t len;
    return read_mptcp_info(fd, info, &len) == 0 ? subflows_in_info(info, len) : 0;
}

enum mptcp_state sock_mptcp_state(int fd, bool socket_is_mptcp, unsigned *subflows)
{
    *subflows = 0;
    if (!socket_is_mptcp)
        return MPTCP_STATE_OFF;

    int is_mptcp = 0;
    socklen_t len = sizeof(is_mptcp);
    if (getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &is_mptcp, &len) == 0) {
        /* Just connected: only the initial subflow exists yet. */
        *subflows = is_mptcp ? 1 : 0;
        return is_mptcp ? MPTCP_STATE_YES : MPTCP_STATE_FALLBACK;
    }
    /* Before 6.10: MPTCP_INFO succeeds only while MPTCP holds. */
    unsigned char info[MPTCP_INFO_BUF];
    if (read_mptcp_info(fd, info, &len) != 0)
        return MPTCP_STATE_FALLBACK;
    *subflows = subflows_in_info(info, len);
    return MPTCP_STATE_YES;
}

/* struct mptcp_subflow_data, then one entry per subflow: the local and the
 * remote address, each in a 128-byte __kernel_sockaddr_storage. */
#define SUBFLOW_DATA_LEN 16u
#define SUBFLOW_ADDR_LEN 128u
#define SUBFLOW_ENTRY_LEN (2 * SUBFLOW_ADDR_LEN)
#define SUBFLOW_ADDRS_MAX 8

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int copy_sockaddr(const uint8_t *p, struct sockaddr_storage *out)
{
    sa_family_t family;
    memcpy(&family, p, sizeof(family));
    size_t len = family == AF_INET ? sizeof(struct sockaddr_in) : family == AF_INET6 ? sizeof(struct sockaddr_in6) : 0;
    if (len == 0)
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(out, p, len);
    return 0;
}

int sock_parse_subflow_addrs(const uint8_t *buf, size_t len, struct sockaddr_storage *local,
                             struct sockaddr_storage *remote, size_t max)
{
    if (len < SUBFLOW_DATA_LEN)
        return -1;
    uint32_t hdr_len = u32_at(buf), count = u32_at(buf + 4), entry_len = u32_at(buf + 12);
    if (hdr_len < SUBFLOW_DATA_LEN || hdr_len > len || entry_len < SUBFLOW_ENTRY_LEN)
        return -1;
    size_t room = (len - hdr_len) / entry_len, n = 0;
    for (size_t i = 0; i < count && i < room && n < max; i++) {
        const uint8_t *e = buf + hdr_len + i * entry_len;
        if (copy_sockaddr(e, &local[n]) != 0 || copy_sockaddr(e + SUBFLOW_ADDR_LEN, &remote[n]) != 0)
            return -1;
        n++;
    }
    return (int)n;
}

int sock_mptcp_subflow_addrs(int fd, struct sockaddr_storage *local, struct sockaddr_storage *remote, size_t max)
{
    uint8_t buf[SUBFLOW_DATA_LEN + SUBFLOW_ADDRS_MAX * SUBFLOW_ENTRY_LEN];
    const uint32_t request[4] = {SUBFLOW_DATA_LEN, 0, 0, SUBFLOW_ENTRY_LEN}; /* header size, -, -, entry size */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, request, sizeof(request));
    socklen_t len = sizeof(buf);
    if (getsockopt(fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, buf, &len) != 0)
        return -errno;
    int n = sock_parse_subflow_addrs(buf, len, local, remote, max);
    return n < 0 ? -EBADMSG : n;
}

bool sock_is_mptcp(int fd)
{
    int proto = 0;
    socklen_t len = sizeof(proto);
    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == IPPROTO_MPTCP;
}

void sock_tune_connected(int fd)
{
    int one = 1;
    /* TCP_NODELAY fails with EOPNOTSUPP on MPTCP before 5.17: harmless. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

const char *mptcp_state_name(enum mptcp_state s)
{
    switch (s) {
    case MPTCP_STATE_YES:
        return "yes";
    case MPTCP_STATE_FALLBACK:
        return "fallback";
    case MPTCP_STATE_OFF:
        break;
    }
    return "off";
}
