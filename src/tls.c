/* TLS stream. Ciphertext moves between the socket and OpenSSL's memory BIOs;
 * plaintext moves between OpenSSL and the owner's buffers. */
#include "mpconv/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_READ_CHUNK (16 * 1024 + 512) /* one maximal record */

struct tls_stream {
    struct stream base;
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer, for OpenSSL */
    BIO *wbio; /* ciphertext from OpenSSL, for the peer */
    uv_idle_t resume; /* delivers plaintext OpenSSL already holds */
    tls_handshake_cb handshake_cb;
    bool handshaking;
    bool owner_reading;
    bool peer_eof;
    int open_handles;
    int flushes_in_flight;
    char error[160];
};

struct flush_req {
    uv_write_t req;
    struct tls_stream *tls;
    struct stream_req *owner_req; /* NULL for internal flushes */
    char data[];
};

static const struct stream_ops tls_ops;

static struct tls_stream *tls_of(const struct stream *s)
{
    return (struct tls_stream *)s;
}

static void note_error(struct tls_stream *t, const char *what)
{
    long verify = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    if (verify != X509_V_OK)
        snprintf(t->error, sizeof(t->error), "%s: certificate: %s", what,
                 X509_verify_cert_error_string(verify));
    else if (e != 0)
        snprintf(t->error, sizeof(t->error), "%s: %s", what, ERR_reason_error_string(e));
    else
        snprintf(t->error, sizeof(t->error), "%s", what);
    ERR_clear_error();
}

/* --- ciphertext out --- */

static void on_flushed(uv_write_t *w, int status)
{
    struct flush_req *f = (struct flush_req *)w;
    struct tls_stream *t = f->tls;
    if (f->owner_req)
        f->owner_req->cb(f->owner_req, status);
    else
        t->flushes_in_flight--;
    free(f);
}

/* Sends everything OpenSSL has produced. With owner_req, its callback runs
 * once these bytes are written. Returns 0 or a libuv error. */
static int flush(struct tls_stream *t, struct stream_req *owner_req)
{
    size_t n = (size_t)BIO_ctrl_pending(t->wbio);
    if (n == 0 && !owner_req)
        return 0;
    struct flush_req *f = malloc(sizeof(*f) + n);
    if (!f)
        return UV_ENOMEM;
    f->tls = t;
    f->owner_req = owner_req;
    if (n > 0)
        BIO_read(t->wbio, f->data, (int)n);
    size_t done = 0;
    if (!owner_req && t->flushes_in_flight == 0) {
        uv_buf_t b = uv_buf_init(f->data, (unsigned)n);
        int w = uv_try_write(t->base.uv, &b, 1);
        if (w == (int)n) {
            free(f);
            return 0;
        }
        if (w < 0 && w != UV_EAGAIN) {
            free(f);
            return w;
        }
        done = w > 0 ? (size_t)w : 0;
    }
    uv_buf_t b = uv_buf_init(f->data + done, (unsigned)(n - done));
    int err = uv_write(&f->req, t->base.uv, &b, 1, on_flushed);
    if (err != 0) {
        free(f);
        return err;
    }
    if (!owner_req)
        t->flushes_in_flight++;
    return 0;
}

/* --- ciphertext in, plaintext to the owner --- */

static void finish_handshake(struct tls_stream *t, int status)
{
    t->handshaking = false;
    if (!t->owner_reading)
        uv_read_stop(t->base.uv);
    t->handshake_cb(&t->base, status);
}

static void step_handshake(struct tls_stream *t)
{
    int r = SSL_do_handshake(t->ssl);
    int ferr = flush(t, NULL);
    if (r == 1) {
        finish_handshake(t, ferr);
        return;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ && ferr == 0)
        return;
    note_error(t, "handshake failed");
    finish_handshake(t, ferr != 0 ? ferr : UV_EPROTO);
}

/* Hands the owner what OpenSSL can decrypt now, while the owner reads. */
static void deliver(struct tls_stream *t)
{
    while (t->owner_reading) {
        uv_buf_t b = uv_buf_init(NULL, 0);
        t->base.alloc_cb(&t->base, &b);
        if (b.len == 0) {
            t->base.read_cb(&t->base, UV_ENOBUFS, &b);
            return;
        }
        int n = SSL_read(t->ssl, b.base, (int)b.len);
        if (n > 0) {
            t->base.read_cb(&t->base, n, &b);
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ && !t->peer_eof) {
            t->base.read_cb(&t->base, 0, &b); /* nothing more now */
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_WANT_READ) {
            t->base.read_cb(&t->base, UV_EOF, &b); /* close_notify, or TCP EOF */
            return;
        }
        note_error(t, "read failed");
        t->base.read_cb(&t->base, UV_EPROTO, &b);
        return;
    }
    if (flush(t, NULL) != 0 && t->owner_reading)
        t->base.read_cb(&t->base, UV_EPIPE, &(uv_buf_t){0});
}

static void on_cipher_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)h, (void)suggested;
    char *buf = malloc(TLS_READ_CHUNK);
    *out = uv_buf_init(buf, buf ? TLS_READ_CHUNK : 0);
}

static void on_cipher_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    struct tls_stream *t = h->data;
    if (nread > 0)
        BIO_write(t->rbio, buf->base, (int)nread);
    free(buf->base);
    if (nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(h);
        if (t->handshaking) {
            snprintf(t->error, sizeof(t->error), "handshake failed: connection closed");
            finish_handshake(t, nread == UV_EOF ? UV_ECONNRESET : (int)nread);
            return;
        }
        if (nread != UV_EOF) {
            uv_buf_t none = uv_buf_init(NULL, 0);
            if (t->owner_reading)
                t->base.read_cb(&t->base, nread, &none);
            return;
        }
        t->peer_eof = true;
    }
    if (t->handshaking)
        step_handshake(t);
    else
        deliver(t);
}

static void on_resume(uv_idle_t *idle)
{
    struct tls_stream *t = idle->data;
    uv_idle_stop(idle);
    deliver(t);
}

static int tls_read_start(struct stream *s)
{
    struct tls_stream *t = tls_of(s);
    t->owner_reading = true;
    /* Decrypted or buffered records produce no socket event: deliver them
     * from the loop. */
    if (SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->rbio) > 0 || t->peer_eof)
        uv_idle_start(&t->resume, on_resume);
    return t->peer_eof ? 0 : uv_read_start(s->uv, on_cipher_alloc, on_cipher_read);
}

static void tls_read_stop(struct stream *s)
{
    struct tls_stream *t = tls_of(s);
    t->owner_reading = false;
    uv_idle_stop(&t->resume);
    uv_read_stop(s->uv);
}

/* --- plaintext out --- */

static int encrypt(struct tls_stream *t, const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    int n = SSL_write(t->ssl, buf, (int)len);
    if (n == (int)len)
        return 0;
    note_error(t, "write failed");
    return UV_EPROTO;
}

static int tls_try_write(struct stream *s, const char *buf, size_t len)
{
    struct tls_stream *t = tls_of(s);
    if (t->flushes_in_flight > 0 || t->handshaking)
        return UV_EAGAIN; /* keeps at most one record batch queued */
    int err = encrypt(t, buf, len);
    if (err == 0)
        err = flush(t, NULL);
    return err == 0 ? (int)len : err;
}

static int tls_write(struct stream *s, struct stream_req *req, const char *buf, size_t len)
{
    struct tls_stream *t = tls_of(s);
    int err = encrypt(t, buf, len);
    return err == 0 ? flush(t, req) : err;
}

static void on_tcp_shutdown(uv_shutdown_t *sh, int status)
{
    struct stream_req *req = sh->data;
    req->cb(req, status);
}

static int tls_shutdown(struct stream *s, struct stream_req *req)
{
    struct tls_stream *t = tls_of(s);
    SSL_shutdown(t->ssl); /* queues close_notify */
    int err = flush(t, NULL);
    if (err != 0)
        return err;
    req->uv.shutdown.data = req;
    return uv_shutdown(&req->uv.shutdown, s->uv, on_tcp_shutdown);
}

/* --- lifetime --- */

static void on_handle_closed(uv_handle_t *h)
{
    struct tls_stream *t = h->data;
    if (--t->open_handles > 0)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    if (t->base.close_cb)
        t->base.close_cb(&t->base);
    free(t);
}

static void tls_close(struct stream *s, bool reset)
{
    struct tls_stream *t = tls_of(s);
    if (uv_is_closing((uv_handle_t *)s->uv))
        return;
    t->owner_reading = false;
    uv_close((uv_handle_t *)&t->resume, on_handle_closed);
    stream_close_handle(s->uv, reset, on_handle_closed);
}

static const struct stream_ops tls_ops = {
    .name = "tls",
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .try_write = tls_try_write,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .close = tls_close,
};

bool stream_is_tls(const struct stream *s)
{
    return s->ops == &tls_ops;
}

const char *tls_error(const struct stream *s)
{
    return stream_is_tls(s) ? tls_of(s)->error : "";
}

static bool set_peer_name(SSL *ssl, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
    return SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
}

struct stream *tls_stream_new(SSL_CTX *ctx, uv_stream_t *handle, const char *peer_name)
{
    struct tls_stream *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    if (peer_name) {
        SSL_set_connect_state(t->ssl);
        if (!set_peer_name(t->ssl, peer_name)) {
            SSL_free(t->ssl);
            free(t);
            return NULL;
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
    t->base = (struct stream){.ops = &tls_ops, .uv = handle};
    handle->data = t;
    uv_idle_init(handle->loop, &t->resume);
    t->resume.data = t;
    t->open_handles = 2;
    return &t->base;
}

int tls_handshake(struct stream *s, tls_handshake_cb cb)
{
    struct tls_stream *t = tls_of(s);
    t->handshake_cb = cb;
    t->handshaking = true;
    int err = uv_read_start(s->uv, on_cipher_alloc, on_cipher_read);
    if (err != 0)
        return err;
    step_handshake(t);
    return 0;
}

/* --- contexts --- */

static SSL_CTX *ctx_fail(SSL_CTX *ctx, char *err, size_t cap, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    snprintf(err, cap, "%s%s%s: %s", what, file ? " " : "", file ? file : "",
             e ? ERR_reason_error_string(e) : "failed");
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

static SSL_CTX *ctx_common(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* Idle connections give their 16 KiB record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t cap)
{
    SSL_CTX *ctx = ctx_common(TLS_server_method());
    if (!ctx)
        return ctx_fail(ctx, err, cap, "TLS context", NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        return ctx_fail(ctx, err, cap, "certificate", cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, err, cap, "private key", key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, err, cap, "key does not match the certificate", key_file);
    return ctx;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t cap)
{
    SSL_CTX *ctx = ctx_common(TLS_client_method());
    if (!ctx)
        return ctx_fail(ctx, err, cap, "TLS context", NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file && ca_file[0] ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                   : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1)
        return ctx_fail(ctx, err, cap, "CA file", ca_file && ca_file[0] ? ca_file : "(system)");
    return ctx;
}
