/* Netlink socket I/O (see nlsock.h). */
#include "mpconv/nlsock.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Dump replies come in datagrams of up to 32 KiB (one page on most systems). */
#define NLSOCK_BUF (64u * 1024u)
#define SEQ_OFFSET 8u /* nlmsg_seq in struct nlmsghdr */

static void set_flag(int fd, int opt)
{
    int one = 1;
    /* Extended acks (error text) and capped acks are niceties of newer kernels. */
    (void)setsockopt(fd, SOL_NETLINK, opt, &one, sizeof(one));
}

int nlsock_open(struct nlsock *s, int protocol, uint32_t groups, bool events)
{
    *s = (struct nlsock){.fd = -1};
    int type = SOCK_RAW | SOCK_CLOEXEC | (events ? SOCK_NONBLOCK : 0);
    int fd = socket(AF_NETLINK, type, protocol);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl local = {.nl_family = AF_NETLINK, .nl_groups = groups};
    struct timeval tv = {.tv_sec = NLSOCK_TIMEOUT_MS / 1000, .tv_usec = (NLSOCK_TIMEOUT_MS % 1000) * 1000};
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    set_flag(fd, NETLINK_EXT_ACK);
    set_flag(fd, NETLINK_CAP_ACK);
    s->buf = malloc(NLSOCK_BUF);
    if (!s->buf) {
        close(fd);
        return -ENOMEM;
    }
    s->fd = fd;
    return 0;
}

void nlsock_close(struct nlsock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    *s = (struct nlsock){.fd = -1};
}

/* One datagram from the kernel (others are ignored). Returns its length or -errno. */
static ssize_t recv_from_kernel(struct nlsock *s, int flags)
{
    for (;;) {
        struct sockaddr_nl from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(s->fd, s->buf, NLSOCK_BUF, flags | MSG_TRUNC, (struct sockaddr *)&from, &from_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if ((size_t)n > NLSOCK_BUF)
            return -EMSGSIZE;
        if (from_len == sizeof(from) && from.nl_pid == 0)
            return n;
    }
}

ssize_t nlsock_recv_event(struct nlsock *s)
{
    ssize_t n = recv_from_kernel(s, MSG_DONTWAIT);
    return n == -EAGAIN || n == -EWOULDBLOCK ? 0 : n;
}

static int send_request(struct nlsock *s, uint8_t *req, size_t len)
{
    uint32_t seq = ++s->seq;
    memcpy(req + SEQ_OFFSET, &seq, sizeof(seq));
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n;
    do
        n = sendto(s->fd, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EMSGSIZE;
}

struct request_state {
    nl_reply_fn fn;
    void *arg;
    int first_err; /* fn's first error; later replies are drained, not passed on */
    bool finished;
    int result;
};

/* One reply message of our request. */
static int take_reply(struct request_state *st, const struct nl_msg *m, char *err, size_t err_cap)
{
    if (m->type == NLMSG_ERROR) {
        int kernel_err;
        if (nl_parse_error(m, &kernel_err, err, err_cap) != 0)
            return -EBADMSG;
        st->finished = true;
        st->result = kernel_err;
    } else if (m->type == NLMSG_DONE) {
        int32_t dump_err = 0;
        if (m->len >= sizeof(dump_err))
            memcpy(&dump_err, m->data, sizeof(dump_err));
        st->finished = true;
        st->result = dump_err < 0 ? dump_err : 0;
    } else if (m->type != NLMSG_NOOP && st->first_err == 0) {
        st->first_err = st->fn ? st->fn(m, st->arg) : 0;
    }
    return 0;
}

int nlsock_request(struct nlsock *s, uint8_t *req, size_t len, nl_reply_fn fn, void *arg, char *err,
                   size_t err_cap)
{
    if (err_cap)
        err[0] = '\0';
    int rc = send_request(s, req, len);
    struct request_state st = {.fn = fn, .arg = arg};
    while (rc == 0 && !st.finished) {
        ssize_t n = recv_from_kernel(s, 0);
        if (n < 0) {
            rc = n == -EAGAIN || n == -EWOULDBLOCK ? -ETIMEDOUT : (int)n;
            break;
        }
        size_t off = 0;
        struct nl_msg m;
        int more;
        while (rc == 0 && !st.finished && (more = nl_next_msg(s->buf, (size_t)n, &off, &m)) != 0) {
            if (more < 0)
                rc = -EBADMSG;
            else if (m.seq == s->seq) /* older seqs: replies to a request that timed out */
                rc = take_reply(&st, &m, err, err_cap);
        }
    }
    if (rc == 0)
        rc = st.result != 0 ? st.result : st.first_err;
    if (rc != 0 && err_cap && !err[0])
        snprintf(err, err_cap, "%s", strerror(-rc));
    return rc;
}
