/* Host/port parsing and formatting for connection targets. */
#include "mpconv/target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int host_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

int target_set(struct mp_target *t, const char *host, size_t len, uint16_t port)
{
    memset(t, 0, sizeof(*t));
    if (len == 0 || len > TARGET_HOST_MAX)
        return -1;
    memcpy(t->host, host, len);
    t->host[len] = '\0';
    if (memchr(host, '\0', len))
        return -1;
    t->port = port;

    struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
    if (inet_pton(AF_INET, t->host, &sin->sin_addr) == 1) {
        t->kind = TARGET_IPV4;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, t->host, &sin6->sin6_addr) == 1) {
        t->kind = TARGET_IPV6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if (!host_byte_ok((unsigned char)host[i]))
            return -1;
    t->kind = TARGET_NAME;
    return 0;
}

int port_parse(const char *s, size_t len, uint16_t *port)
{
    unsigned long v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int target_parse_hostport(struct mp_target *t, const char *s, size_t len, uint16_t default_port)
{
    const char *host = s, *rest;
    size_t host_len;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        host = s + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
        if (memchr(host, ':', host_len) == NULL) /* brackets are for IPv6 only */
            return -1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            return -1; /* bare IPv6 is ambiguous: require brackets */
        host_len = colon ? (size_t)(colon - s) : len;
        rest = s + host_len;
    }
    size_t rest_len = len - (size_t)(rest - s);
    uint16_t port = default_port;
    if (rest_len > 0) {
        if (rest[0] != ':' || port_parse(rest + 1, rest_len - 1, &port) != 0 || port == 0)
            return -1;
    } else if (default_port == 0) {
        return -1;
    }
    if (target_set(t, host, host_len, port) != 0)
        return -1;
    if (s[0] == '[' && t->kind != TARGET_IPV6)
        return -1;
    return 0;
}

void target_format(const struct mp_target *t, char *out, size_t cap)
{
    if (t->kind == TARGET_IPV6)
        snprintf(out, cap, "[%s]:%u", t->host, t->port);
    else
        snprintf(out, cap, "%s:%u", t->host, t->port);
}

bool sockaddr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

bool sockaddr_is_wildcard(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

void sockaddr_format(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}
