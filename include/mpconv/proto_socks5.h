/* SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929).
 * Pure functions over byte buffers: no sockets, no allocation. The caller
 * accumulates received bytes and calls the parser for the current phase on
 * everything received so far; bytes after *consumed belong to the next
 * phase (or are early data after the request). */
#ifndef MPCONV_PROTO_SOCKS5_H
#define MPCONV_PROTO_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpconv/target.h"

#define S5_VERSION 0x05
#define S5_AUTH_VERSION 0x01

enum s5_method {
    S5_METHOD_NO_AUTH = 0x00,
    S5_METHOD_USERPASS = 0x02,
    S5_METHOD_UNACCEPTABLE = 0xFF,
};

enum s5_cmd { S5_CMD_CONNECT = 0x01, S5_CMD_BIND = 0x02, S5_CMD_UDP_ASSOCIATE = 0x03 };
enum s5_atyp { S5_ATYP_IPV4 = 0x01, S5_ATYP_DOMAIN = 0x03, S5_ATYP_IPV6 = 0x04 };

enum s5_reply {
    S5_REP_SUCCEEDED = 0x00,
    S5_REP_GENERAL_FAILURE = 0x01,
    S5_REP_NOT_ALLOWED = 0x02,
    S5_REP_NET_UNREACHABLE = 0x03,
    S5_REP_HOST_UNREACHABLE = 0x04,
    S5_REP_REFUSED = 0x05,
    S5_REP_TTL_EXPIRED = 0x06,
    S5_REP_CMD_UNSUPPORTED = 0x07,
    S5_REP_ATYP_UNSUPPORTED = 0x08,
};

enum s5_status { S5_NEED_MORE, S5_DONE, S5_ERROR };

/* Method selection message: VER NMETHODS METHODS... */
struct s5_greeting {
    bool offers_no_auth;
    bool offers_userpass;
};

/* S5_ERROR: version is not 5 (close without reply). NMETHODS 0 is a valid
 * greeting that offers nothing: the answer is "no acceptable methods". */
enum s5_status s5_parse_greeting(const uint8_t *buf, size_t len, struct s5_greeting *out,
                                 size_t *consumed);

/* RFC 1929: VER(1) ULEN UNAME PLEN PASSWD. Lengths 1..255 (ULEN 0 is an error). */
struct s5_userpass {
    char user[256]; /* NUL-terminated; may contain no NUL bytes */
    char pass[256];
    uint8_t user_len;
    uint8_t pass_len;
};

/* S5_ERROR: sub-negotiation version is not 1, ULEN is 0, or a NUL byte in a field. */
enum s5_status s5_parse_userpass(const uint8_t *buf, size_t len, struct s5_userpass *out,
                                 size_t *consumed);

/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT */
struct s5_request {
    uint8_t cmd;
    struct mp_target target; /* valid when the parse is S5_DONE */
};

/* S5_ERROR with *reply set to the SOCKS reply to send before closing:
 *  - version not 5:               S5_REP_GENERAL_FAILURE
 *  - CMD not CONNECT (BIND, UDP ASSOCIATE, unknown): S5_REP_CMD_UNSUPPORTED
 *    (reported as soon as the CMD byte is seen)
 *  - ATYP unknown:                S5_REP_ATYP_UNSUPPORTED
 *  - domain of length 0, containing bytes not allowed in host names, port 0:
 *                                 S5_REP_GENERAL_FAILURE (0x01)
 * The reserved byte is ignored. */
enum s5_status s5_parse_request(const uint8_t *buf, size_t len, struct s5_request *out,
                                size_t *consumed, uint8_t *reply);

/* Encoders return the number of bytes written. */
size_t s5_encode_method(uint8_t out[2], uint8_t method);
size_t s5_encode_auth_status(uint8_t out[2], bool ok);
/* Reply with BND.ADDR/BND.PORT from bound (IPv4 or IPv6), or 0.0.0.0:0 when
 * bound is NULL. out must hold S5_REPLY_MAX bytes. */
#define S5_REPLY_MAX 22
size_t s5_encode_reply(uint8_t *out, uint8_t reply, const struct sockaddr *bound);

/* Constant-time comparison of credentials (uses CRYPTO_memcmp; lengths are
 * compared too without leaking which byte differs). */
bool s5_credentials_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ---- Client side: mpconv chaining through a SOCKS5 parent ----
 * Order: greeting -> parse_method -> [userpass -> parse_auth] -> connect ->
 * parse_reply. Encoders return the bytes written, or 0 when the message
 * does not fit in cap (nothing useful is written then). */

/* VER NMETHODS METHODS. Offers only S5_METHOD_USERPASS when credentials are
 * configured, else only S5_METHOD_NO_AUTH: a parent cannot downgrade us to
 * no-auth, and a parent that wants credentials we lack refuses (0xFF)
 * instead of failing later. Writes 3 bytes. */
size_t s5_client_greeting(uint8_t *out, size_t cap, bool with_userpass);

/* The parent's method choice: VER METHOD. S5_ERROR when VER is not 5. The
 * caller must reject any method it did not offer, 0xFF included. */
enum s5_status s5_client_parse_method(const uint8_t *buf, size_t len, uint8_t *method,
                                      size_t *consumed);

/* RFC 1929 request: VER ULEN UNAME PLEN PASSWD. user must be 1..255 bytes,
 * pass 0..255 (an empty password is sent as PLEN 0, as our own server
 * accepts); 0 otherwise. out holds a credential: the caller wipes it. */
size_t s5_client_userpass(uint8_t *out, size_t cap, const char *user, const char *pass);

/* The parent's sub-negotiation status: VER STATUS. *ok when STATUS is 0.
 * S5_ERROR when VER is not 1. */
enum s5_status s5_client_parse_auth(const uint8_t *buf, size_t len, bool *ok, size_t *consumed);

/* CONNECT request: ATYP 0x03 (length-prefixed name), 0x01 or 0x04 by
 * t->kind, so the parent resolves names. At most S5_CONNECT_MAX bytes. */
#define S5_CONNECT_MAX (4 + 1 + TARGET_HOST_MAX + 2)
size_t s5_client_connect(uint8_t *out, size_t cap, const struct mp_target *t);

/* The parent's reply: VER REP RSV ATYP BND.ADDR BND.PORT, BND.ADDR of any
 * ATYP (skipped). *rep is valid on S5_DONE, whatever its value. S5_ERROR
 * when VER is not 5 or ATYP is unknown, as soon as that byte is seen.
 * After a success, bytes past *consumed are tunnel data. */
enum s5_status s5_client_parse_reply(const uint8_t *buf, size_t len, uint8_t *rep,
                                     size_t *consumed);

/* What our HTTP client is answered when a SOCKS5 parent refuses:
 *   parent REP                          HTTP status
 *   0x00 succeeded                      200
 *   0x02 not allowed by ruleset         403
 *   0x03 / 0x04 / 0x05 unreachable,
 *        refused                        502
 *   0x06 TTL expired (timeout)          504
 *   anything else                       502
 * A parent refusing our method or credentials is a gateway misconfiguration the LAN client cannot
 * fix: answer it S5_REP_NOT_ALLOWED / 502, as for an HTTP parent's 407. */
int s5_reply_to_http_status(uint8_t rep);

#endif
