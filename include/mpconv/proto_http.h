/* HTTP/1.x proxy-side parsing and rewriting (RFC 9110/9112). Pure functions
 * over byte buffers; parsed fields are slices pointing into the input. */
#ifndef MPCONV_PROTO_HTTP_H
#define MPCONV_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mpconv/target.h"

#define HTTP_MAX_HEADERS 100

struct http_slice {
    const char *p;
    size_t n;
};

struct http_header {
    struct http_slice name;
    struct http_slice value; /* leading/trailing whitespace trimmed */
};

struct http_head {
    /* request line: method, target; or status line: code, reason */
    struct http_slice method;
    struct http_slice target;
    int status;               /* responses only */
    struct http_slice reason; /* responses only */
    int minor_version;        /* HTTP/1.<minor> */
    size_t n_headers;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t head_len; /* bytes up to and including the blank line */
};

enum http_status { HTTP_NEED_MORE, HTTP_DONE, HTTP_ERROR };

/* Parses a request head. Accepts CRLF and bare LF line ends. On HTTP_ERROR,
 * *error is the status to answer: 400 (malformed; obs-fold; a space before a
 * colon; control bytes), 431 (head longer than max_head, or more than
 * HTTP_MAX_HEADERS headers), 505 (version other than HTTP/1.0 or 1.1).
 * HTTP_NEED_MORE while the head is incomplete and len < max_head. */
enum http_status http_parse_request(const char *buf, size_t len, size_t max_head,
                                    struct http_head *out, int *error);

/* Parses a response head the same way (*error is 502 on malformed input). */
enum http_status http_parse_response(const char *buf, size_t len, size_t max_head,
                                     struct http_head *out, int *error);

/* Whether s is exactly word (case-sensitive, as methods and paths are). */
bool http_slice_is(struct http_slice s, const char *word);

/* An origin-form request target without its query string ("/a?b" -> "/a"). */
struct http_slice http_target_path(struct http_slice target);

/* Case-insensitive lookup; NULL when absent. */
const struct http_header *http_find_header(const struct http_head *h, const char *name);

/* True when a comma-separated header value contains token (case-insensitive). */
bool http_has_token(struct http_slice value, const char *token);

/* Whether the connection may stay open after this message, from the version
 * and the Connection header (1.1 default keep-alive, 1.0 default close). */
bool http_keep_alive(const struct http_head *h);

/* CONNECT target: "host:port" or "[v6]:port" (port required). 0 or -1. */
int http_parse_authority(struct http_slice s, struct mp_target *out);

/* Absolute-form "http://host[:port][/path?query]" (scheme case-insensitive,
 * no userinfo). Sets the target (port default 80) and the origin-form path
 * ("/" when empty; for "http://host?q" it is "?q", which
 * http_rewrite_request writes as "/?q"). Returns 0, or -1 (not http, malformed). */
int http_parse_absolute_uri(struct http_slice s, struct mp_target *out, struct http_slice *path);

/* Proxy-Authorization: "Basic base64(user:pass)". Writes NUL-terminated
 * user and pass. Returns 0, or -1 when absent, not Basic, bad base64, no
 * colon, or too long for the buffers. */
int http_parse_basic_auth(const struct http_head *h, char *user, size_t user_cap, char *pass,
                          size_t pass_cap);

/* Message body framing (RFC 9112 section 6). */
enum http_body_mode { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_UNTIL_EOF };

struct http_body {
    enum http_body_mode mode;
    uint64_t remaining; /* LENGTH: bytes left; CHUNKED: bytes left in this chunk */
    int chunk_state;    /* private to the chunked decoder */
    uint32_t line_len;  /* private: bytes seen of the current size/trailer line */
};

/* Request body: Transfer-Encoding chunked (must be the final coding), else
 * Content-Length, else none. Returns 0, or 400 for an invalid or repeated
 * differing Content-Length, a Transfer-Encoding other than chunked, or both
 * headers present (request smuggling guard). */
int http_body_for_request(struct http_body *b, const struct http_head *req);

/* Response body: none for 1xx/204/304 and for answers to HEAD, a 2xx to
 * CONNECT is not expected here; chunked; Content-Length; else until EOF.
 * Returns 0, or 502 for invalid framing headers. */
int http_body_for_response(struct http_body *b, const struct http_head *resp, bool request_was_head);

/* Feeds received bytes. Returns how many of them belong to the body (the
 * rest is the next message), and sets *done when the body is complete.
 * Chunked bodies include their size lines and trailers in the count (they
 * are forwarded verbatim). Returns -1 on malformed chunked framing.
 * HTTP_BODY_UNTIL_EOF consumes everything and is done only at EOF. */
ssize_t http_body_feed(struct http_body *b, const char *buf, size_t len, bool *done);

/* Writes the request head to send to the origin for an absolute-form proxy
 * request: "METHOD path HTTP/1.1", headers copied except hop-by-hop ones
 * (Connection, Keep-Alive, Proxy-Connection, Proxy-Authorization,
 * Proxy-Authenticate, TE, Trailer, Upgrade, and every header named in
 * Connection), Host replaced by the URI's authority, then
 * "Connection: close" (mpconv uses one upstream connection per request).
 * Transfer-Encoding and Content-Length are kept.
 * Returns the length, or 0 when cap is too small. */
size_t http_rewrite_request(const struct http_head *req, const struct mp_target *host,
                            struct http_slice path, char *out, size_t cap);

/* Writes the response head for the client: status line as "HTTP/1.1 CODE
 * REASON", hop-by-hop headers removed as above, then "Connection:
 * keep-alive" or "Connection: close". Returns the length, or 0 if too small. */
size_t http_rewrite_response(const struct http_head *resp, bool keep_alive, char *out, size_t cap);

/* A complete error answer: "HTTP/1.1 CODE REASON", Content-Type text/plain,
 * Content-Length, "Connection: close", optional extra header lines (each
 * ending in CRLF, may be NULL), and a one-line body with the reason and
 * detail (may be NULL). Returns the length (truncated safely to cap-1). */
size_t http_encode_error(int status, const char *extra_headers, const char *detail, char *out,
                         size_t cap);

/* "200 Connection established" answer to CONNECT. */
size_t http_encode_connect_ok(char *out, size_t cap);

/* Standard reason phrase ("Bad Gateway"), "Unknown" for others. */
const char *http_reason(int status);

/* ---- Client side: mpconv chaining through an HTTP CONNECT parent ---- */

/* Writes "CONNECT host:port HTTP/1.1", "Host: host:port" (IPv6 in
 * brackets) and, when user is not NULL, "Proxy-Authorization: Basic
 * base64(user:pass)" (pass NULL is an empty password), then the blank line.
 * Returns the length (NUL-terminated), or 0 when cap is too small, user
 * contains ':' (RFC 7617), or "user:pass" is longer than our own server
 * accepts (1024 bytes); out then holds no credential.
 * Read the answer with http_parse_response: on a 2xx only head_len bytes
 * are the answer and what follows is tunnel data (a Content-Length or
 * Transfer-Encoding in a 2xx to CONNECT is ignored, RFC 9110 9.3.6). */
size_t http_client_connect(char *out, size_t cap, const struct mp_target *t, const char *user,
                           const char *pass);

/* What our LAN clients are answered when an HTTP parent answers CONNECT:
 *   parent status        SOCKS5 reply            HTTP status
 *   2xx                  0x00 succeeded          200
 *   403                  0x02 not allowed        403
 *   401, 407             0x02 not allowed        502  (our parent credentials
 *                                                      are wrong: a gateway
 *                                                      error the client cannot
 *                                                      fix by authenticating)
 *   404                  0x04 host unreachable   502  (Privoxy: unknown name)
 *   502, 503             0x04 host unreachable   502  (parent could not connect;
 *                                                      Squid says 503)
 *   504                  0x06 TTL expired        504
 *   400, 405, others     0x01 general failure    502
 */
int http_connect_status_to_socks5(int status);
int http_connect_status_to_http(int status);

#endif
