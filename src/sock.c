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

unsigned sock_mptcp_subflows(int fd)
{
    unsigned char info[MPTCP_INFO_BUF];
    socklen_t len;
    if (read_mptcp_info(fd, info, &len) != 0)
        return 0;
    if (len > MPTCP_INFO_SUBFLOWS_TOTAL_OFF && info[MPTCP_INFO_SUBFLOWS_TOTAL_OFF] > 0)
        return info[MPTCP_INFO_SUBFLOWS_TOTAL_OFF];
    if (len > MPTCP_INFO_EXTRA_SUBFLOWS_OFF)
        return info[MPTCP_INFO_EXTRA_SUBFLOWS_OFF] + 1u; /* extra subflows + the initial one */
    return 0;
}

enum mptcp_state sock_mptcp_state(int fd, bool socket_is_mptcp, unsigned *subflows)
{
    *subflows = 0;
    if (!socket_is_mptcp)
        return MPTCP_STATE_OFF;

    int is_mptcp = 0;
    socklen_t len = sizeof(is_mptcp);
    if (getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &is_mptcp, &len) == 0) {
        if (!is_mptcp)
            return MPTCP_STATE_FALLBACK;
    } else {
        /* Before 6.10: MPTCP_INFO succeeds only while MPTCP holds. */
        unsigned char info[MPTCP_INFO_BUF];
        if (read_mptcp_info(fd, info, &len) != 0)
            return MPTCP_STATE_FALLBACK;
    }
    *subflows = sock_mptcp_subflows(fd);
    return MPTCP_STATE_YES;
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
