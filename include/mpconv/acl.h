/* Access control lists: CIDR lists ("10.0.0.0/8, fd00::/8, 192.0.2.1") and
 * the decisions made with them. Pure functions over addresses: the host's
 * own addresses are read elsewhere (localaddr.c) and passed in.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv4 everywhere: they
 * match IPv4 entries, and "::ffff:a.b.c.d/N" (N >= 96) is stored as the IPv4
 * entry a.b.c.d/(N-96). */
#ifndef MPCONV_ACL_H
#define MPCONV_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ACL_CIDR_TEXT_MAX 64 /* "ffff:...:ffff/128" with room to spare */

struct acl_cidr {
    int family;       /* AF_INET or AF_INET6 */
    unsigned prefix;  /* 0..32 or 0..128 */
    uint8_t addr[16]; /* network byte order, host bits zero; IPv4 uses 4 bytes */
};

struct acl_list {
    struct acl_cidr *v;
    size_t n;
};

/* The [acl] section. Empty lists match nothing (clients: empty = everyone). */
struct acl_config {
    struct acl_list clients;       /* client allow-list for listeners without ?allow= */
    struct acl_list deny;          /* destinations refused besides the built-in set */
    struct acl_list allow;         /* destinations allowed even when a deny matches */
    struct acl_list tcp;           /* destinations dialled with plain TCP */
    struct acl_list require_mptcp; /* destinations that must negotiate MPTCP */
};

/* Appends the entries of a comma-separated list; blanks around entries are
 * ignored and an empty or all-blank text adds nothing. A bare address is /32
 * or /128; an entry with host bits set (10.0.0.1/8) is an error, as it is
 * usually a typo. On error the list is unchanged and why names the entry:
 * "'10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)". Returns 0 or -1. */
int acl_list_parse(struct acl_list *l, const char *text, char *why, size_t cap);

/* Appends the single address sa (/32 or /128). 0, or -1 for other families
 * or when out of memory. */
int acl_list_add_address(struct acl_list *l, const struct sockaddr *sa);

/* Empties the list and frees its memory. */
void acl_list_clear(struct acl_list *l);

/* Whether an entry contains sa's address (AF_INET or AF_INET6). */
bool acl_list_match(const struct acl_list *l, const struct sockaddr *sa);

/* "10.0.0.0/8", "fd00::/8"; full-length entries as a bare address. */
void acl_cidr_format(const struct acl_cidr *c, char *out, size_t cap);

/* Loopback (127.0.0.0/8, ::1) and unspecified (0.0.0.0/8, ::) addresses. */
bool acl_builtin_denied(const struct sockaddr *sa);

/* Destination decision: allow wins over every deny; otherwise refused when
 * built-in denied, one of own (the host's own addresses, may be NULL) or in
 * acl->deny. */
bool acl_destination_allowed(const struct acl_config *acl, const struct acl_list *own,
                             const struct sockaddr *sa);

/* Client decision: an empty allow list admits everyone. */
bool acl_client_allowed(const struct acl_list *allow, const struct sockaddr *peer);

void acl_config_free(struct acl_config *acl);

#endif
