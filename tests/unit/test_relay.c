/* relay: the pump state machine on a real libuv loop, with socketpairs
 * standing in for the client and upstream connections. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "mpconv/relay.h"

struct fixture {
    uv_loop_t loop;
    uv_pipe_t client; /* relay's end of the client connection */
    uv_pipe_t upstream;
    struct stream client_stream;
    struct stream upstream_stream;
    int client_peer; /* the test's ends */
    int upstream_peer;
    struct bufpool pool;
    struct pipepool pipes;
    struct relay relay;
    int finished;
    int failed;
    int message_ends;
    size_t filter_limit;
    size_t filter_seen;
};

static struct fixture *current;

static void on_finished(struct relay *r)
{
    (void)r;
    current->finished++;
}

static void on_failed(struct relay *r, int err, bool client_side)
{
    (void)r, (void)err, (void)client_side;
    current->failed++;
}

static void on_message_end(struct relay *r, struct pump *p)
{
    (void)r, (void)p;
    current->message_ends++;
}

static const struct relay_events events = {
    .finished = on_finished, .failed = on_failed, .message_end = on_message_end};

static void make_pair(uv_loop_t *loop, uv_pipe_t *handle, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    uv_pipe_init(loop, handle, 0);
    assert_int_equal(uv_pipe_open(handle, sv[0]), 0);
    *peer = sv[1];
}

static int setup_with(void **state, bool splice)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    make_pair(&f->loop, &f->client, &f->client_peer);
    make_pair(&f->loop, &f->upstream, &f->upstream_peer);
    stream_plain_init(&f->client_stream, (uv_stream_t *)&f->client);
    stream_plain_init(&f->upstream_stream, (uv_stream_t *)&f->upstream);
    relay_init(&f->relay, &f->pool, splice ? &f->pipes : NULL, &events, &f->client_stream,
               &f->upstream_stream);
    current = f;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

/* The same cases with splice(2) between the sockets. */
static int setup_splice(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    relay_release(&f->relay);
    stream_close(&f->client_stream, false, NULL);
    stream_close(&f->upstream_stream, false, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->client_peer);
    close(f->upstream_peer);
    assert_int_equal(f->pool.in_use, 0);
    bufpool_drain(&f->pool);
    pipepool_drain(&f->pipes);
    free(f);
    return 0;
}

/* Runs the loop a bounded number of turns, moving bytes between the test's
 * ends: sends from *out, collects into in. */
static size_t turn(struct fixture *f, int send_fd, const char *out, size_t out_len, size_t *sent,
                   int recv_fd, char *in, size_t in_cap, size_t *received)
{
    for (int i = 0; i < 10000; i++) {
        if (*sent < out_len) {
            ssize_t n = write(send_fd, out + *sent, out_len - *sent);
            if (n > 0)
                *sent += (size_t)n;
        }
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (recv_fd >= 0 && *received < in_cap) {
            ssize_t n = read(recv_fd, in + *received, in_cap - *received);
            if (n > 0)
                *received += (size_t)n;
        }
        if (*sent == out_len && (recv_fd < 0 || *received == in_cap))
            break;
    }
    return *received;
}

static char *pattern(size_t len)
{
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7 + i / 251);
    return p;
}

static void bytes_cross_both_ways_and_half_close_finishes(void **state)
{
    struct fixture *f = *state;
    size_t len = 3 * 1024 * 1024 + 17, sent = 0, got = 0;
    char *out = pattern(len), *in = malloc(len + 1);

    assert_int_equal(pump_start(&f->relay.up, "early", 5, false), 0);
    assert_int_equal(pump_start(&f->relay.down, NULL, 0, false), 0);
    char early[5];
    turn(f, f->client_peer, NULL, 0, &sent, f->upstream_peer, early, 5, &got);
    assert_memory_equal(early, "early", 5);

    sent = got = 0;
    turn(f, f->client_peer, out, len, &sent, f->upstream_peer, in, len, &got);
    assert_int_equal(got, len);
    assert_memory_equal(in, out, len);

    /* Client half-closes: the upstream sees EOF, the other way still works. */
    shutdown(f->client_peer, SHUT_WR);
    for (int i = 0; i < 100; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(read(f->upstream_peer, in, 1), 0);
    assert_int_equal(f->finished, 0);

    sent = got = 0;
    turn(f, f->upstream_peer, out, len, &sent, f->client_peer, in, len, &got);
    assert_memory_equal(in, out, len);
    shutdown(f->upstream_peer, SHUT_WR);
    for (int i = 0; i < 100 && !f->finished; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->finished, 1);
    assert_int_equal(f->failed, 0);
    assert_int_equal(f->relay.up.bytes, len + 5);
    assert_int_equal(f->relay.down.bytes, len);
    free(out);
    free(in);
}

static void a_reader_that_stalls_holds_at_most_one_buffer(void **state)
{
    struct fixture *f = *state;
    size_t len = 16 * 1024 * 1024, sent = 0, got = 0;
    char *out = pattern(len);

    assert_int_equal(pump_start(&f->relay.up, NULL, 0, false), 0);
    /* Nobody reads the upstream end: the pump must stop reading the client. */
    turn(f, f->client_peer, out, len, &sent, -1, NULL, 0, &got);
    assert_true(sent < len); /* the client got pushed back */
    assert_true(f->relay.up.writing);
    assert_int_equal(f->pool.in_use, 1);
    free(out);
}

static ssize_t limit_filter(struct pump *p, const char *buf, size_t len, bool *done)
{
    (void)p, (void)buf;
    size_t left = current->filter_limit - current->filter_seen;
    size_t take = len < left ? len : left;
    current->filter_seen += take;
    *done = current->filter_seen == current->filter_limit;
    return (ssize_t)take;
}

static void a_filter_ends_the_message_and_keeps_the_rest_unread(void **state)
{
    struct fixture *f = *state;
    size_t sent = 0, got = 0;
    char in[32];
    f->filter_limit = 10;
    f->relay.up.filter = limit_filter;
    assert_int_equal(pump_start(&f->relay.up, NULL, 0, false), 0);
    turn(f, f->client_peer, "0123456789abcde", 15, &sent, f->upstream_peer, in, 10, &got);
    for (int i = 0; i < 100 && !f->message_ends; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(got, 10);
    assert_memory_equal(in, "0123456789", 10);
    assert_int_equal(f->message_ends, 1);
    assert_false(f->relay.up.active);
    assert_int_equal(f->relay.up.bytes, 10);
}

static void whole_message_start_reports_end_without_reading(void **state)
{
    struct fixture *f = *state;
    size_t sent = 0, got = 0;
    char in[8];
    assert_int_equal(pump_start(&f->relay.down, "HTTP", 4, true), 0);
    turn(f, f->upstream_peer, NULL, 0, &sent, f->client_peer, in, 4, &got);
    for (int i = 0; i < 100 && !f->message_ends; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_memory_equal(in, "HTTP", 4);
    assert_int_equal(f->message_ends, 1);
    assert_int_equal(f->relay.down.bytes, 4);
}

static void a_closed_upstream_fails_the_relay_once(void **state)
{
    struct fixture *f = *state;
    size_t sent = 0, got = 0;
    assert_int_equal(pump_start(&f->relay.up, NULL, 0, false), 0);
    close(f->upstream_peer);
    f->upstream_peer = open("/dev/null", O_RDONLY);
    /* The pump's write to the vanished peer fails with EPIPE. */
    turn(f, f->client_peer, "xy", 2, &sent, -1, NULL, 0, &got);
    turn(f, f->client_peer, "z", 1, &sent, -1, NULL, 0, &got);
    for (int i = 0; i < 100; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->failed, 1);
    assert_int_equal(f->finished, 0);
    assert_false(f->relay.up.active);
}

/* A pipe holds more than a buffer: when the reader stalls, one buffer's
 * worth waits in a queued write and the rest in the pipe; once the reader
 * drains, the pipe empties first and every byte arrives in order. */
static void a_stalled_reader_gets_the_pipe_then_the_rest_in_order(void **state)
{
    struct fixture *f = *state;
    size_t len = 8 * 1024 * 1024, sent = 0, got = 0;
    char *out = pattern(len), *in = malloc(len);

    assert_int_equal(pump_start(&f->relay.up, NULL, 0, false), 0);
    turn(f, f->client_peer, out, len, &sent, -1, NULL, 0, &got);
    assert_true(sent < len);
    assert_true(f->relay.up.writing);
    assert_int_equal(f->pool.in_use, 1);
    assert_true(f->relay.up.has_pipe);
    if (f->relay.up.pipe.capacity > BUFPOOL_CHUNK)
        assert_true(f->relay.up.in_pipe > 0);
    assert_true(f->relay.up.in_pipe <= f->relay.up.pipe.capacity);
    /* A source that kept filling the requests gets larger ones. */
    assert_true(f->relay.up.splice_want > RELAY_SPLICE_FIRST);

    turn(f, f->client_peer, out, len, &sent, f->upstream_peer, in, len, &got);
    assert_int_equal(got, len);
    assert_memory_equal(in, out, len);
    assert_int_equal(f->relay.up.bytes, len);
    for (int i = 0; i < 100; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(f->relay.up.has_pipe);
    assert_int_equal(f->pool.in_use, 0);
    assert_int_equal(f->failed, 0);
    free(out);
    free(in);
}

static void an_idle_spliced_tunnel_holds_no_pipe(void **state)
{
    struct fixture *f = *state;
    size_t sent = 0, got = 0;
    char in[100];
    assert_int_equal(pump_start(&f->relay.up, NULL, 0, false), 0);
    turn(f, f->client_peer, "0123456789", 10, &sent, f->upstream_peer, in, 10, &got);
    assert_memory_equal(in, "0123456789", 10);
    turn(f, f->client_peer, NULL, 0, &sent, -1, NULL, 0, &got);
    assert_false(f->relay.up.has_pipe);
    assert_int_equal(f->pipes.n_spare, 1); /* back in the pool, ready for reuse */
    assert_int_equal(f->relay.up.bytes, 10);
    /* A short message keeps the next request small (see below). */
    assert_int_equal(f->relay.up.splice_want, RELAY_SPLICE_FIRST);
}

/* Requests follow what arrives: the kernel's copy fallback for MPTCP
 * allocates a page per 4 KiB asked for, whatever comes. */
static void splice_requests_double_after_full_reads_and_shrink_to_what_came(void **state)
{
    (void)state;
    const size_t cap = 1024 * 1024, first = RELAY_SPLICE_FIRST;
    assert_int_equal(relay_next_splice_request(first, first, cap), 2 * first);
    assert_int_equal(relay_next_splice_request(512 * 1024, 512 * 1024, cap), cap);
    assert_int_equal(relay_next_splice_request(cap, cap, cap), cap);
    /* Short reads: twice what came, in whole pages, never below the first. */
    assert_int_equal(relay_next_splice_request(cap, 100 * 1024, cap), 200 * 1024);
    assert_int_equal(relay_next_splice_request(cap, 10000, cap), 20480);
    assert_int_equal(relay_next_splice_request(cap, 64, cap), first);
    /* A small pipe (F_SETPIPE_SZ refused) caps every request. */
    assert_int_equal(relay_next_splice_request(4096, 4096, 4096), 4096);
    assert_int_equal(relay_next_splice_request(4096, 10, 4096), 4096);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bytes_cross_both_ways_and_half_close_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_reader_that_stalls_holds_at_most_one_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(a_filter_ends_the_message_and_keeps_the_rest_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(whole_message_start_reports_end_without_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(a_closed_upstream_fails_the_relay_once, setup, teardown),
        cmocka_unit_test_setup_teardown(bytes_cross_both_ways_and_half_close_finishes, setup_splice, teardown),
        cmocka_unit_test_setup_teardown(a_reader_that_stalls_holds_at_most_one_buffer, setup_splice, teardown),
        cmocka_unit_test_setup_teardown(a_closed_upstream_fails_the_relay_once, setup_splice, teardown),
        cmocka_unit_test_setup_teardown(an_idle_spliced_tunnel_holds_no_pipe, setup_splice, teardown),
        cmocka_unit_test(splice_requests_double_after_full_reads_and_shrink_to_what_came),
        cmocka_unit_test_setup_teardown(a_stalled_reader_gets_the_pipe_then_the_rest_in_order,
                                        setup_splice, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
