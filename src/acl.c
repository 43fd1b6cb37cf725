/* CIDR lists and the access decisions made with them (see acl.h). */
#include "mpconv/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpconv/ascii.h"
#include "mpconv/errbuf.h"

#define ENTRY_HINT "expected an address or CIDR, e.g. 192.0.2.1, 10.0.0.0/8 or fd00::/8"
#define V4_MAPPED_PREFIX 96 /* ::ffff:0:0/96 */

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Loopback and unspecified ("this network") addresses: connecting to them
 * reaches this host, whatever a resolver says they are. */
static const struct acl_cidr builtin_deny[] = {
    {AF_INET, 8, {127}},
    {AF_INET, 8, {0}},
    {AF_INET6, 128, {[15] = 1}},
    {AF_INET6, 128, {0}},
};

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return rest == 0 || ((a[full] ^ b[full]) & mask) == 0;
}

static void clear_host_bits(struct acl_cidr *c)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (rest) {
        c->addr[full] &= (uint8_t)(0xff << (8 - rest));
        full++;
    }
    memset(c->addr + full, 0, sizeof(c->addr) - full);
}

/* ::ffff:a.b.c.d/N becomes a.b.c.d/(N-96), so it matches like IPv4. */
static void unmap_v4(struct acl_cidr *c)
{
    if (c->family != AF_INET6 || c->prefix < V4_MAPPED_PREFIX ||
        memcmp(c->addr, v4_mapped, sizeof(v4_mapped)) != 0)
        return;
    c->family = AF_INET;
    c->prefix -= V4_MAPPED_PREFIX;
    memmove(c->addr, c->addr + sizeof(v4_mapped), 4);
    memset(c->addr + 4, 0, sizeof(c->addr) - 4);
}

/* The address of sa as a full-length entry, IPv4-mapped IPv6 as IPv4. */
static bool entry_of(const struct sockaddr *sa, struct acl_cidr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return false;
    }
    out->prefix = family_bits(out->family);
    unmap_v4(out);
    return true;
}

static bool entry_contains(const struct acl_cidr *net, const struct acl_cidr *addr)
{
    return net->family == addr->family && prefix_equal(net->addr, addr->addr, net->prefix);
}

/* "0".."128" without sign, blanks or leading zeros beyond one digit. */
static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!ascii_is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* One entry, already trimmed: ADDRESS or ADDRESS/PREFIX. */
static int parse_entry(const char *s, size_t len, struct acl_cidr *out, char *why, size_t cap)
{
    char text[ACL_CIDR_TEXT_MAX];
    if (len >= sizeof(text))
        return errbuf_fail(why, cap, "'%.*s': too long (%s)", (int)len, s, ENTRY_HINT);
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->addr) == 1)
        out->family = AF_INET6;
    else
        return errbuf_fail(why, cap, "'%.*s': not an IP address (%s)", (int)len, s, ENTRY_HINT);

    unsigned max = family_bits(out->family);
    out->prefix = max;
    if (slash && parse_prefix(slash + 1, max, &out->prefix) != 0)
        return errbuf_fail(why, cap, "'%.*s': prefix length must be 0..%u", (int)len, s, max);

    struct acl_cidr network = *out;
    clear_host_bits(&network);
    if (memcmp(network.addr, out->addr, sizeof(out->addr)) != 0) {
        unmap_v4(&network);
        char suggestion[ACL_CIDR_TEXT_MAX];
        acl_cidr_format(&network, suggestion, sizeof(suggestion));
        return errbuf_fail(why, cap, "'%.*s': host bits set (did you mean %s?)", (int)len, s, suggestion);
    }
    unmap_v4(out);
    return 0;
}

static int append(struct acl_list *l, const struct acl_cidr *c)
{
    struct acl_cidr *grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    l->v = grown;
    l->v[l->n++] = *c;
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int acl_list_parse(struct acl_list *l, const char *text, char *why, size_t cap)
{
    size_t kept = l->n;
    const char *p = text;
    while (is_blank(*p))
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *next = p + len;
        while (len > 0 && is_blank(p[len - 1]))
            len--;
        while (len > 0 && is_blank(*p)) {
            p++;
            len--;
        }
        struct acl_cidr c;
        int rc = len == 0 ? errbuf_fail(why, cap, "empty entry in '%s' (%s)", text, ENTRY_HINT)
                          : parse_entry(p, len, &c, why, cap);
        if (rc == 0 && append(l, &c) != 0)
            rc = errbuf_fail(why, cap, "out of memory");
        if (rc != 0) {
            l->n = kept;
            return -1;
        }
        if (*next == '\0')
            return 0;
        p = next + 1;
    }
}

int acl_list_add_address(struct acl_list *l, const struct sockaddr *sa)
{
    struct acl_cidr c;
    if (!entry_of(sa, &c))
        return -1;
    return append(l, &c);
}

void acl_list_clear(struct acl_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool contains(const struct acl_cidr *v, size_t n, const struct acl_cidr *addr)
{
    for (size_t i = 0; i < n; i++)
        if (entry_contains(&v[i], addr))
            return true;
    return false;
}

bool acl_list_match(const struct acl_list *l, const struct sockaddr *sa)
{
    struct acl_cidr addr;
    return entry_of(sa, &addr) && contains(l->v, l->n, &addr);
}

void acl_cidr_format(const struct acl_cidr *c, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family, c->addr, ip, sizeof(ip)))
        snprintf(ip, sizeof(ip), "?");
    if (c->prefix == family_bits(c->family))
        snprintf(out, cap, "%s", ip);
    else
        snprintf(out, cap, "%s/%u", ip, c->prefix);
}

bool acl_builtin_denied(const struct sockaddr *sa)
{
    struct acl_cidr addr;
    return entry_of(sa, &addr) &&
           contains(builtin_deny, sizeof(builtin_deny) / sizeof(builtin_deny[0]), &addr);
}

bool acl_destination_allowed(const struct acl_config *acl, const struct acl_list *own,
                             const struct sockaddr *sa)
{
    if (acl_list_match(&acl->allow, sa))
        return true;
    return !acl_builtin_denied(sa) && !(own && acl_list_match(own, sa)) && !acl_list_match(&acl->deny, sa);
}

bool acl_client_allowed(const struct acl_list *allow, const struct sockaddr *peer)
{
    return allow->n == 0 || acl_list_match(allow, peer);
}

void acl_config_free(struct acl_config *acl)
{
    acl_list_clear(&acl->clients);
    acl_list_clear(&acl->deny);
    acl_list_clear(&acl->allow);
    acl_list_clear(&acl->tcp);
    acl_list_clear(&acl->require_mptcp);
}
