/* TLS as a stream: OpenSSL with memory BIOs over a libuv TCP handle, so the
 * relay and the front-ends use a TLS connection like any other stream. */
#ifndef MPCONV_TLS_H
#define MPCONV_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "mpconv/stream.h"

/* Server context from a PEM certificate chain and key; TLS 1.2 minimum,
 * OpenSSL's default (modern) ciphers, no renegotiation. NULL with err set. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t cap);

/* Client context that verifies the peer against ca_file (PEM), or the system
 * store when ca_file is empty. NULL with err set. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t cap);

/* Wraps handle (which must not be read or written otherwise from now on).
 * Clients pass the name to send as SNI and to verify the certificate
 * against (an IP literal is verified as an IP address, without SNI).
 * Returns NULL when out of memory. */
struct stream *tls_stream_new(SSL_CTX *ctx, uv_stream_t *handle, const char *peer_name);

typedef void (*tls_handshake_cb)(struct stream *s, int status);

/* Runs the handshake; cb gets 0, or UV_EPROTO (see tls_error) or a socket
 * error. Plaintext reads start only after this. */
int tls_handshake(struct stream *s, tls_handshake_cb cb);

/* Why the last handshake or record failed, for logs ("" when unknown). */
const char *tls_error(const struct stream *s);

bool stream_is_tls(const struct stream *s);

#endif
