/* dial: resolution, Happy Eyeballs racing, deadline and cancellation on a
 * real libuv loop against loopback listeners. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "mpconv/dial.h"
#include "mpconv/metrics.h"
#include "mpconv/errmap.h"

struct outcome {
    int calls;
    int status;
    bool is_mptcp;
    uv_tcp_t *conn;
};

static void on_done(void *owner, int status, uv_tcp_t *conn, bool is_mptcp)
{
    struct outcome *o = owner;
    o->calls++;
    o->status = status;
    o->conn = conn;
    o->is_mptcp = is_mptcp;
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_v4(uint16_t *port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static uint16_t closed_port(void)
{
    uint16_t port;
    close(listen_v4(&port, 1));
    return port;
}

static void run_until_called(uv_loop_t *loop, const struct outcome *o)
{
    for (int i = 0; i < 100000 && o->calls == 0; i++)
        uv_run(loop, UV_RUN_ONCE);
}

static void finish_loop(uv_loop_t *loop, struct outcome *o)
{
    if (o->conn)
        uv_close((uv_handle_t *)o->conn, (uv_close_cb)free);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static struct mp_target target_of(const char *host, uint16_t port)
{
    struct mp_target t;
    assert_int_equal(target_set(&t, host, strlen(host), port), 0);
    return t;
}

static uint32_t mark_seen; /* SO_MARK of the last connection handed over */
static struct metrics *dial_metrics; /* given to the dialers, NULL but in one test */

static void record_mark(const struct outcome *o)
{
    int fd;
    socklen_t len = sizeof(mark_seen);
    mark_seen = 0;
    if (o->conn && uv_fileno((uv_handle_t *)o->conn, &fd) == 0)
        getsockopt(fd, SOL_SOCKET, SO_MARK, &mark_seen, &len);
}

/* acl NULL: no ACL; purpose: whether the destination ACL applies. */
static void dial_with(enum mptcp_mode mode, uint32_t mark, const struct acl_config *acl,
                      enum dial_purpose purpose, struct mp_target t, uint32_t timeout_ms,
                      struct outcome *o)
{
    uv_loop_t loop;
    struct sock_factory sockets;
    uv_loop_init(&loop);
    sock_factory_init(&sockets, mode, mark);
    struct dialer dialer = {.loop = &loop, .sockets = &sockets, .connect_timeout_ms = timeout_ms,
                            .metrics = dial_metrics, .acl = acl};
    struct dial_request req = {.target = &t, .purpose = purpose, .session_id = 1};
    assert_non_null(dial_start(&dialer, &req, on_done, o));
    assert_int_equal(o->calls, 0); /* never called from inside dial_start */
    run_until_called(&loop, o);
    record_mark(o);
    finish_loop(&loop, o);
}

static void dial_marked(enum mptcp_mode mode, uint32_t mark, struct mp_target t,
                        uint32_t timeout_ms, struct outcome *o)
{
    dial_with(mode, mark, NULL, DIAL_DESTINATION, t, timeout_ms, o);
}

static void dial_once(enum mptcp_mode mode, struct mp_target t, uint32_t timeout_ms,
                      struct outcome *o)
{
    dial_marked(mode, 0, t, timeout_ms, o);
}

static void dial_acl(const struct acl_config *acl, enum dial_purpose purpose, struct mp_target t,
                     struct outcome *o)
{
    dial_with(MPTCP_MODE_AUTO, 0, acl, purpose, t, 5000, o);
}

static void connects_to_a_literal_over_mptcp(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct outcome o = {0};
    dial_once(MPTCP_MODE_AUTO, target_of("127.0.0.1", port), 5000, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, 0);
    assert_true(o.is_mptcp);
    close(lfd);
}

static void mode_off_uses_plain_tcp(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct outcome o = {0};
    dial_once(MPTCP_MODE_OFF, target_of("127.0.0.1", port), 5000, &o);
    assert_int_equal(o.status, 0);
    assert_false(o.is_mptcp);
    close(lfd);
}

/* Firewall rules tell mpconv's own traffic by this mark (all subflows). */
static void upstream_sockets_carry_the_mark(void **state)
{
    (void)state;
    int err = sock_probe_mark(0x100);
    if (err == -ENOPROTOOPT) { /* the kernel has SO_MARK: an emulator without it */
        print_message("skipped: setsockopt(SO_MARK) is ENOPROTOOPT here (qemu-user)\n");
        skip();
    }
    if (err != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            fail_msg("SO_MARK needs CAP_NET_ADMIN, and CI must run this test");
        print_message("skipped: SO_MARK needs CAP_NET_ADMIN (run as root)\n");
        skip();
    }
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    for (int mode = MPTCP_MODE_AUTO; mode <= MPTCP_MODE_OFF; mode += MPTCP_MODE_OFF) {
        struct outcome o = {0};
        dial_marked((enum mptcp_mode)mode, 0x100, target_of("127.0.0.1", port), 5000, &o);
        assert_int_equal(o.status, 0);
        assert_int_equal(mark_seen, 0x100);
    }
    close(lfd);
}

/* The errno a refused non-blocking connect leaves in SO_ERROR, where libuv
 * reads it. qemu-user passes the host's number through untranslated (111
 * on a MIPS guest, whose ECONNREFUSED is 146). */
static int refused_connect_so_error(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(closed_port()),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
    int err = 0;
    socklen_t len = sizeof(err);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        err = errno;
    } else {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    }
    close(fd);
    return err;
}

static void a_closed_port_is_refused(void **state)
{
    (void)state;
    int err = refused_connect_so_error();
    if (err != ECONNREFUSED) {
        print_message("skipped: a refused connect reports errno %d, not ECONNREFUSED (%d), "
                      "in SO_ERROR (qemu-user)\n", err, ECONNREFUSED);
        skip();
    }
    struct outcome o = {0};
    dial_once(MPTCP_MODE_AUTO, target_of("127.0.0.1", closed_port()), 5000, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, UV_ECONNREFUSED);
    assert_null(o.conn);
}

/* "localhost" has ::1 and 127.0.0.1; only the IPv4 one listens, so the
 * race must move on from a refused attempt to the other family. */
static void a_name_falls_through_to_the_address_that_answers(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct outcome o = {0};
    dial_once(MPTCP_MODE_AUTO, target_of("localhost", port), 5000, &o);
    assert_int_equal(o.status, 0);
    close(lfd);
}

static uint64_t observations(const struct metrics_histogram_snapshot *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= METRICS_BUCKETS; i++)
        n += h->buckets[i];
    return n;
}

/* A resolved name counts one DNS time; a connection made counts one
 * connect time, a refused one none. */
static void dial_times_reach_the_metrics(void **state)
{
    (void)state;
    struct metrics m;
    struct metrics_snapshot snap;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct outcome made = {0}, refused = {0};
    assert_int_equal(metrics_init(&m), 0);
    dial_metrics = &m;
    dial_once(MPTCP_MODE_AUTO, target_of("localhost", port), 5000, &made);
    dial_once(MPTCP_MODE_AUTO, target_of("127.0.0.1", closed_port()), 5000, &refused);
    dial_metrics = NULL;
    assert_int_equal(made.status, 0);
    assert_true(refused.status < 0); /* (qemu-mipsel garbles the errno) */
    assert_int_equal(metrics_snapshot(&m, &snap), 0);
    assert_int_equal(observations(&snap.dns), 1);
    assert_int_equal(observations(&snap.connect), 1);
    assert_true(snap.connect.sum_ns > 0);
    metrics_snapshot_free(&snap);
    metrics_free(&m);
    close(lfd);
}

static void an_unknown_name_reports_a_resolver_error(void **state)
{
    (void)state;
    struct outcome o = {0};
    dial_once(MPTCP_MODE_AUTO, target_of("nonexistent.invalid", 80), 5000, &o);
    assert_int_equal(o.calls, 1);
    assert_true(o.status == UV_EAI_NONAME || o.status == UV_EAI_AGAIN || o.status == UV_EAI_NODATA);
}

/* A listener whose accept queue is full leaves new SYNs unanswered. */
static void the_deadline_ends_a_hanging_connect(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 0);
    int fillers[4];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof(a)); /* loopback: completes at once */
    }
    struct outcome o = {0};
    dial_once(MPTCP_MODE_OFF, target_of("127.0.0.1", port), 200, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, UV_ETIMEDOUT);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void a_cancelled_dial_never_calls_back(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct sock_factory sockets;
    struct outcome o = {0};
    uv_loop_init(&loop);
    sock_factory_init(&sockets, MPTCP_MODE_AUTO, 0);
    struct dialer dialer = {.loop = &loop, .sockets = &sockets, .connect_timeout_ms = 5000};
    struct mp_target by_name = target_of("localhost", closed_port());
    struct mp_target literal = target_of("127.0.0.1", closed_port());
    struct dial_request name_req = {.target = &by_name}, literal_req = {.target = &literal};
    dial_cancel(dial_start(&dialer, &name_req, on_done, &o));    /* while resolving */
    dial_cancel(dial_start(&dialer, &literal_req, on_done, &o)); /* before the first attempt */
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once everything is closed and freed */
    assert_int_equal(o.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- ACL ---- */

static struct acl_config acl_of(const char *allow, const char *tcp, const char *require_mptcp)
{
    struct acl_config acl = {0};
    char why[256];
    assert_int_equal(acl_list_parse(&acl.allow, allow, why, sizeof(why)), 0);
    assert_int_equal(acl_list_parse(&acl.tcp, tcp, why, sizeof(why)), 0);
    assert_int_equal(acl_list_parse(&acl.require_mptcp, require_mptcp, why, sizeof(why)), 0);
    return acl;
}

/* Nothing waits in the listener's accept queue. */
static bool nothing_accepted(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

static int listen_mptcp_v4(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void loopback_destinations_are_denied_without_a_connection(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct acl_config acl = acl_of("", "", "");
    struct outcome o = {0};
    dial_acl(&acl, DIAL_DESTINATION, target_of("127.0.0.1", port), &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.status, MPCONV_ERR_ACL);
    assert_null(o.conn);
    o = (struct outcome){0};
    dial_acl(&acl, DIAL_DESTINATION, target_of("localhost", port), &o);
    assert_int_equal(o.status, MPCONV_ERR_ACL);
    assert_true(nothing_accepted(lfd));

    o = (struct outcome){0}; /* a configured parent is not a destination */
    dial_acl(&acl, DIAL_PARENT, target_of("127.0.0.1", port), &o);
    assert_int_equal(o.status, 0);
    acl_config_free(&acl);
    close(lfd);
}

static void the_allow_list_lets_a_destination_through(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct acl_config acl = acl_of("127.0.0.0/8", "", "");
    struct outcome o = {0};
    dial_acl(&acl, DIAL_DESTINATION, target_of("localhost", port), &o);
    assert_int_equal(o.status, 0);
    assert_non_null(o.conn);
    acl_config_free(&acl);
    close(lfd);
}

static void tcp_destinations_get_plain_tcp(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = listen_v4(&port, 8);
    struct acl_config acl = acl_of("127.0.0.1", "127.0.0.0/24", "");
    struct outcome o = {0};
    dial_acl(&acl, DIAL_DESTINATION, target_of("127.0.0.1", port), &o);
    assert_int_equal(o.status, 0);
    assert_false(o.is_mptcp);
    acl_config_free(&acl);
    close(lfd);
}

static void require_mptcp_refuses_a_tcp_fallback(void **state)
{
    (void)state;
    uint16_t tcp_port, mptcp_port = 0;
    int mptcp_fd = listen_mptcp_v4(&mptcp_port);
    if (mptcp_fd < 0) {
        print_message("skipped: no MPTCP in this kernel\n");
        skip();
    }
    int tcp_fd = listen_v4(&tcp_port, 8);
    /* require_mptcp wins over tcp for the same address */
    struct acl_config acl = acl_of("127.0.0.1", "127.0.0.1", "127.0.0.1");
    struct outcome o = {0};
    dial_acl(&acl, DIAL_PARENT, target_of("127.0.0.1", tcp_port), &o);
    assert_int_equal(o.status, MPCONV_ERR_MPTCP_REQUIRED);
    assert_null(o.conn);
    o = (struct outcome){0};
    dial_acl(&acl, DIAL_PARENT, target_of("127.0.0.1", mptcp_port), &o);
    assert_int_equal(o.status, 0);
    assert_true(o.is_mptcp);
    acl_config_free(&acl);
    close(tcp_fd);
    close(mptcp_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connects_to_a_literal_over_mptcp),
        cmocka_unit_test(mode_off_uses_plain_tcp),
        cmocka_unit_test(upstream_sockets_carry_the_mark),
        cmocka_unit_test(a_closed_port_is_refused),
        cmocka_unit_test(a_name_falls_through_to_the_address_that_answers),
        cmocka_unit_test(dial_times_reach_the_metrics),
        cmocka_unit_test(an_unknown_name_reports_a_resolver_error),
        cmocka_unit_test(the_deadline_ends_a_hanging_connect),
        cmocka_unit_test(a_cancelled_dial_never_calls_back),
        cmocka_unit_test(loopback_destinations_are_denied_without_a_connection),
        cmocka_unit_test(the_allow_list_lets_a_destination_through),
        cmocka_unit_test(tcp_destinations_get_plain_tcp),
        cmocka_unit_test(require_mptcp_refuses_a_tcp_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
