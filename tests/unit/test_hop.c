/* hop: the parent-proxy steps against a scripted parent on a socketpair. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "mpconv/errmap.h"
#include "mpconv/hop.h"
#include "mpconv/proto_socks5.h"

struct fixture {
    uv_loop_t loop;
    uv_pipe_t pipe;
    struct stream plain;
    struct stream *stream;
    int parent; /* the scripted parent's end */
    struct upstream_cfg up;
    struct mp_target target;
    int calls;
    int status;
    char *early;
    size_t early_len;
};

static void on_done(void *owner, int status, char *early, size_t early_len)
{
    struct fixture *f = owner;
    f->calls++;
    f->status = status;
    f->early = early;
    f->early_len = early_len;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    uv_loop_init(&f->loop);
    uv_pipe_init(&f->loop, &f->pipe, 0);
    assert_int_equal(uv_pipe_open(&f->pipe, sv[0]), 0);
    stream_plain_init(&f->plain, (uv_stream_t *)&f->pipe);
    f->stream = &f->plain;
    f->parent = sv[1];
    assert_int_equal(target_set(&f->target, "example.com", 11, 443), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stream_close(f->stream, false, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->parent);
    free(f->early);
    free(f);
    return 0;
}

static void use_parent(struct fixture *f, enum upstream_kind kind, const char *user,
                       const char *pass)
{
    f->up.kind = kind;
    if (user) {
        f->up.url.has_userinfo = true;
        strcpy(f->up.url.user, user);
        strcpy(f->up.url.pass, pass);
    }
    assert_non_null(hop_chain_start(&f->up, NULL, &f->stream, &f->target, on_done, f));
    assert_int_equal(f->calls, 0); /* never from inside hop_chain_start */
}

/* The parent reads exactly `len` bytes (turning the loop meanwhile). */
static void parent_expects(struct fixture *f, const void *want, size_t len)
{
    char got[1024];
    size_t n = 0;
    for (int i = 0; i < 10000 && n < len; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t r = read(f->parent, got + n, len - n);
        if (r > 0)
            n += (size_t)r;
    }
    assert_int_equal(n, len);
    assert_memory_equal(got, want, len);
}

static void parent_says(struct fixture *f, const void *bytes, size_t len)
{
    assert_int_equal(write(f->parent, bytes, len), (ssize_t)len);
}

static void run_until_done(struct fixture *f)
{
    for (int i = 0; i < 10000 && f->calls == 0; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->calls, 1);
}

static const uint8_t connect_example[] = {5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l',
                                          'e', '.', 'c', 'o', 'm', 0x01, 0xbb};
static const uint8_t reply_ok[] = {5, 0, 0, 1, 10, 0, 0, 1, 0x30, 0x39};

static void socks5_with_auth_opens_and_keeps_early_bytes(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, "alice", "pw");
    parent_expects(f, "\x05\x01\x02", 3);
    parent_says(f, "\x05\x02", 2);
    parent_expects(f, "\x01\x05" "alice" "\x02" "pw", 10);
    parent_says(f, "\x01\x00", 2);
    parent_expects(f, connect_example, sizeof(connect_example));
    uint8_t answer[sizeof(reply_ok) + 5];
    memcpy(answer, reply_ok, sizeof(reply_ok));
    memcpy(answer + sizeof(reply_ok), "hello", 5); /* the target spoke first */
    parent_says(f, answer, sizeof(answer));
    run_until_done(f);
    assert_int_equal(f->status, 0);
    assert_int_equal(f->early_len, 5);
    assert_memory_equal(f->early, "hello", 5);
}

static void socks5_without_credentials_offers_only_no_auth(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, NULL, NULL);
    parent_expects(f, "\x05\x01\x00", 3);
    parent_says(f, "\x05\x00", 2);
    parent_expects(f, connect_example, sizeof(connect_example));
    parent_says(f, reply_ok, sizeof(reply_ok));
    run_until_done(f);
    assert_int_equal(f->status, 0);
    assert_int_equal(f->early_len, 0);
}

/* Answers already waiting make the chain send its next message before libuv
 * has reported the previous write: each message needs its own request. */
static void a_parent_that_answers_at_once_gets_every_message(void **state)
{
    struct fixture *f = *state;
    parent_says(f, "\x05\x02" "\x01\x00", 4);
    parent_says(f, reply_ok, sizeof(reply_ok));
    use_parent(f, UPSTREAM_SOCKS5, "alice", "pw");
    run_until_done(f);
    assert_int_equal(f->status, 0);
    parent_expects(f, "\x05\x01\x02" "\x01\x05" "alice" "\x02" "pw", 13);
    parent_expects(f, connect_example, sizeof(connect_example));
}

static void socks5_wrong_password_is_an_auth_failure(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, "alice", "bad");
    parent_expects(f, "\x05\x01\x02", 3);
    parent_says(f, "\x05\x02", 2);
    parent_expects(f, "\x01\x05" "alice" "\x03" "bad", 11);
    parent_says(f, "\x01\x01", 2);
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_AUTH);
}

static void socks5_method_downgrade_is_refused(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, "alice", "pw");
    parent_expects(f, "\x05\x01\x02", 3);
    parent_says(f, "\x05\x00", 2); /* "no auth", which we did not offer */
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_AUTH);
}

static void socks5_refusal_carries_the_parent_reply(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, NULL, NULL);
    parent_expects(f, "\x05\x01\x00", 3);
    parent_says(f, "\x05\x00", 2);
    parent_expects(f, connect_example, sizeof(connect_example));
    parent_says(f, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_SOCKS5(S5_REP_REFUSED));
    assert_int_equal(errmap_socks5_reply(f->status), S5_REP_REFUSED);
}

static const char http_connect[] = "CONNECT example.com:443 HTTP/1.1\r\n"
                                   "Host: example.com:443\r\n\r\n";

static void http_connect_opens_and_keeps_early_bytes(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_HTTP, NULL, NULL);
    parent_expects(f, http_connect, strlen(http_connect));
    const char answer[] = "HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0";
    parent_says(f, answer, strlen(answer));
    run_until_done(f);
    assert_int_equal(f->status, 0);
    assert_int_equal(f->early_len, 7);
    assert_memory_equal(f->early, "SSH-2.0", 7);
}

static void http_407_is_an_auth_failure(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_HTTP, NULL, NULL);
    parent_expects(f, http_connect, strlen(http_connect));
    const char answer[] = "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
    parent_says(f, answer, strlen(answer));
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_AUTH);
}

static void http_parent_refusal_maps_back(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_HTTP, NULL, NULL);
    parent_expects(f, http_connect, strlen(http_connect));
    const char answer[] = "HTTP/1.1 504 Gateway Timeout\r\n\r\n";
    parent_says(f, answer, strlen(answer));
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_HTTP(504));
    assert_int_equal(errmap_http_status(f->status), 504);
}

static void garbage_or_a_closed_parent_is_a_protocol_error(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_SOCKS5, NULL, NULL);
    parent_expects(f, "\x05\x01\x00", 3);
    parent_says(f, "\x04\x5a", 2);
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_PROTO);
}

static void a_parent_that_hangs_up_is_a_protocol_error(void **state)
{
    struct fixture *f = *state;
    use_parent(f, UPSTREAM_HTTP, NULL, NULL);
    parent_expects(f, http_connect, strlen(http_connect));
    shutdown(f->parent, SHUT_WR);
    run_until_done(f);
    assert_int_equal(f->status, MPCONV_ERR_PARENT_PROTO);
}

static void a_cancelled_chain_never_calls_back(void **state)
{
    struct fixture *f = *state;
    f->up.kind = UPSTREAM_SOCKS5;
    struct hop_chain *c = hop_chain_start(&f->up, NULL, &f->stream, &f->target, on_done, f);
    hop_chain_cancel(c); /* before its first step */
    for (int i = 0; i < 100; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    c = hop_chain_start(&f->up, NULL, &f->stream, &f->target, on_done, f);
    parent_expects(f, "\x05\x01\x00", 3);
    hop_chain_cancel(c); /* while waiting for the parent */
    parent_says(f, "\x05\x00", 2);
    for (int i = 0; i < 100; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->calls, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(socks5_with_auth_opens_and_keeps_early_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(socks5_without_credentials_offers_only_no_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(a_parent_that_answers_at_once_gets_every_message, setup, teardown),
        cmocka_unit_test_setup_teardown(socks5_wrong_password_is_an_auth_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(socks5_method_downgrade_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(socks5_refusal_carries_the_parent_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(http_connect_opens_and_keeps_early_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(http_407_is_an_auth_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(http_parent_refusal_maps_back, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_or_a_closed_parent_is_a_protocol_error, setup, teardown),
        cmocka_unit_test_setup_teardown(a_parent_that_hangs_up_is_a_protocol_error, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cancelled_chain_never_calls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
