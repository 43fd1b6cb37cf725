/* A connection target: a host (IP literal or DNS name) and a port.
 * Shared by the SOCKS5 and HTTP parsers, the URL parser and the dialer. */
#ifndef MPCONV_TARGET_H
#define MPCONV_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TARGET_HOST_MAX 255 /* longest DNS name, as SOCKS5 allows */

enum target_kind { TARGET_NAME, TARGET_IPV4, TARGET_IPV6 };

struct mp_target {
    enum target_kind kind;
    char host[TARGET_HOST_MAX + 1]; /* NUL-terminated; IPv6 without brackets */
    uint16_t port;                  /* host byte order */
    struct sockaddr_storage addr;   /* valid for IPv4/IPv6 literals, port set */
};

/* Sets *t from host (len bytes, brackets already removed) and port: IP literals
 * are recognised and filled into t->addr. Returns 0, or -1 when the host is
 * empty, too long, or contains bytes that cannot be part of a host name. */
int target_set(struct mp_target *t, const char *host, size_t len, uint16_t port);

/* Parses "host:port", "[v6]:port", or, when default_port is non-zero, a bare
 * "host" / "[v6]" (the port then defaults). The port must be 1..65535.
 * Returns 0 or -1. */
int target_parse_hostport(struct mp_target *t, const char *s, size_t len, uint16_t default_port);

/* Parses 1-5 decimal digits into 0..65535 (callers decide whether 0 is
 * allowed). Returns 0 or -1. */
int port_parse(const char *s, size_t len, uint16_t *port);

/* Writes "host:port" or "[v6]:port" into out (always NUL-terminated). */
void target_format(const struct mp_target *t, char *out, size_t cap);

/* Formats a socket address the same way; "?" for unknown families. */
void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap);

/* IPv4/IPv6 socket addresses: the same family and IP address (ports are
 * not compared); the unspecified address (0.0.0.0 or ::). */
bool sockaddr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool sockaddr_is_wildcard(const struct sockaddr_storage *a);

#endif
