/* tls: the TLS stream over a socketpair, both ends ours, with a certificate
 * made in memory for "localhost". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "mpconv/tls.h"

static char cert_path[] = "/tmp/mpconv-test-cert-XXXXXX";
static char key_path[] = "/tmp/mpconv-test-key-XXXXXX";

static void write_pem_files(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);

    FILE *f = fdopen(mkstemp(cert_path), "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fdopen(mkstemp(key_path), "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

struct end {
    uv_pipe_t pipe;
    struct stream *tls;
    int handshakes;
    int handshake_status;
    char in[1 << 21];
    size_t in_len;
    ssize_t last_error;
    size_t stop_after; /* read_stop once this much arrived (0: never) */
};

struct fixture {
    uv_loop_t loop;
    SSL_CTX *server_ctx;
    SSL_CTX *client_ctx;
    struct end server;
    struct end client;
};

static void on_handshake(struct stream *s, int status)
{
    struct end *e = s->data;
    e->handshakes++;
    e->handshake_status = status;
}

static void on_alloc(struct stream *s, uv_buf_t *out)
{
    struct end *e = s->data;
    size_t room = sizeof(e->in) - e->in_len;
    *out = uv_buf_init(e->in + e->in_len, (unsigned)(room < 1000 ? room : 1000));
}

static void on_read(struct stream *s, ssize_t nread, const uv_buf_t *buf)
{
    struct end *e = s->data;
    (void)buf;
    if (nread < 0) {
        e->last_error = nread;
        return;
    }
    e->in_len += (size_t)nread;
    if (e->stop_after && e->in_len >= e->stop_after)
        stream_read_stop(s);
}

static void make_end(struct fixture *f, struct end *e, int fd, SSL_CTX *ctx, const char *peer)
{
    uv_pipe_init(&f->loop, &e->pipe, 0);
    assert_int_equal(uv_pipe_open(&e->pipe, fd), 0);
    e->tls = tls_stream_new(ctx, (uv_stream_t *)&e->pipe, peer);
    assert_non_null(e->tls);
    e->tls->data = e;
}

static void turn(struct fixture *f, int times)
{
    for (int i = 0; i < times; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void connect_ends(struct fixture *f, const char *peer_name)
{
    int sv[2];
    char err[256];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f->server_ctx = tls_server_ctx_new(cert_path, key_path, err, sizeof(err));
    f->client_ctx = tls_client_ctx_new(cert_path, err, sizeof(err));
    assert_non_null(f->server_ctx);
    assert_non_null(f->client_ctx);
    make_end(f, &f->server, sv[0], f->server_ctx, NULL);
    make_end(f, &f->client, sv[1], f->client_ctx, peer_name);
    assert_int_equal(tls_handshake(f->server.tls, on_handshake), 0);
    assert_int_equal(tls_handshake(f->client.tls, on_handshake), 0);
    for (int i = 0; i < 1000 && (f->server.handshakes == 0 || f->client.handshakes == 0); i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stream_close(f->server.tls, false, NULL);
    stream_close(f->client.tls, false, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    SSL_CTX_free(f->server_ctx);
    SSL_CTX_free(f->client_ctx);
    free(f);
    return 0;
}

static void on_written(struct stream_req *req, int status)
{
    *(int *)req->data = status;
}

static void data_crosses_both_ways(void **state)
{
    struct fixture *f = *state;
    connect_ends(f, "localhost");
    assert_int_equal(f->server.handshake_status, 0);
    assert_int_equal(f->client.handshake_status, 0);

    size_t len = 1 << 20;
    char *out = malloc(len);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(i * 31 + 7);
    struct stream_req req;
    int written = 1;
    req.data = &written;
    assert_int_equal(stream_read_start(f->server.tls, on_alloc, on_read), 0);
    assert_int_equal(stream_write(f->client.tls, &req, out, len, on_written), 0);
    for (int i = 0; i < 100000 && f->server.in_len < len; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(written, 0);
    assert_int_equal(f->server.in_len, len);
    assert_memory_equal(f->server.in, out, len);

    assert_int_equal(stream_try_write(f->server.tls, "pong", 4), 4);
    assert_int_equal(stream_read_start(f->client.tls, on_alloc, on_read), 0);
    for (int i = 0; i < 1000 && f->client.in_len < 4; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_memory_equal(f->client.in, "pong", 4);
    free(out);
}

/* Records that arrived while the reader was stopped sit inside OpenSSL; a
 * resumed reader must get them without any new socket event. */
static void a_resumed_reader_gets_what_was_already_decrypted(void **state)
{
    struct fixture *f = *state;
    connect_ends(f, "localhost");
    char msg[3000];
    memset(msg, 'x', sizeof(msg));
    f->server.stop_after = 1;
    assert_int_equal(stream_read_start(f->server.tls, on_alloc, on_read), 0);
    assert_int_equal(stream_try_write(f->client.tls, msg, sizeof(msg)), (int)sizeof(msg));
    turn(f, 200);
    assert_true(f->server.in_len < sizeof(msg)); /* stopped early, the rest waits */
    f->server.stop_after = 0;
    assert_int_equal(stream_read_start(f->server.tls, on_alloc, on_read), 0);
    turn(f, 200);
    assert_int_equal(f->server.in_len, sizeof(msg));
}

static void a_name_the_certificate_does_not_cover_fails(void **state)
{
    struct fixture *f = *state;
    connect_ends(f, "other.example");
    assert_int_equal(f->client.handshakes, 1);
    assert_int_equal(f->client.handshake_status, UV_EPROTO);
    assert_non_null(strstr(tls_error(f->client.tls), "certificate"));
}

static void shutdown_reaches_the_peer_as_eof(void **state)
{
    struct fixture *f = *state;
    struct stream_req req;
    int done = 1;
    connect_ends(f, "localhost");
    req.data = &done;
    assert_int_equal(stream_read_start(f->server.tls, on_alloc, on_read), 0);
    assert_int_equal(stream_shutdown(f->client.tls, &req, on_written), 0);
    for (int i = 0; i < 1000 && f->server.last_error == 0; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(done, 0);
    assert_int_equal(f->server.last_error, UV_EOF);
}

static void bad_files_are_reported_by_name(void **state)
{
    char err[256];
    (void)state;
    assert_null(tls_server_ctx_new("/nonexistent/cert.pem", key_path, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    assert_null(tls_server_ctx_new(cert_path, "/nonexistent/key.pem", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/key.pem"));
    assert_null(tls_client_ctx_new("/nonexistent/ca.pem", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    write_pem_files();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(data_crosses_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(a_resumed_reader_gets_what_was_already_decrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(a_name_the_certificate_does_not_cover_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_reaches_the_peer_as_eof, setup, teardown),
        cmocka_unit_test(bad_files_are_reported_by_name),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(cert_path);
    unlink(key_path);
    return failed;
}
