/* Routing netlink (NETLINK_ROUTE): interfaces, their addresses and route
 * lookups, read the way `ip link`, `ip addr` and `ip route get` do (mpconv
 * does not shell out: OpenWrt's BusyBox ip lacks most of it). Encoding and
 * decoding are pure functions over byte buffers; the client functions at the
 * end do the socket I/O through nlsock. */
#ifndef MPCONV_RTNL_H
#define MPCONV_RTNL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpconv/nlmsg.h"
#include "mpconv/nlsock.h"

#define RTNL_REQ_MAX 128 /* bytes for the largest request we build */

struct rtnl_link {
    int32_t ifindex;
    uint32_t flags; /* IFF_* */
    char name[IF_NAMESIZE];
};

struct rtnl_addr {
    int32_t ifindex;
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t prefixlen;
    uint8_t scope;  /* RT_SCOPE_* */
    uint32_t flags; /* IFA_F_* */
    uint8_t addr[16];
};

/* The answer of a route lookup (`ip route get`). */
struct rtnl_route {
    uint8_t family;
    uint8_t type;   /* RTN_* */
    uint32_t table; /* 0: no table matched (IPv4 "on-link" guess for a device-bound lookup) */
    int32_t oif;
    bool has_gateway;
    uint8_t gateway[16];
};

/* ---- pure codec ---- */

/* A dump of every link (RTM_GETLINK) or address (RTM_GETADDR) of family
 * (AF_UNSPEC: all). Returns the length, 0 when cap is too small. */
size_t rtnl_encode_dump(uint8_t *buf, size_t cap, uint16_t type, uint8_t family);
/* Route lookup for dst from src (both optional: NULL) out of oif (0: any)
 * with firewall mark (0: none). */
size_t rtnl_encode_route_get(uint8_t *buf, size_t cap, uint8_t family, const uint8_t *dst, const uint8_t *src,
                             int32_t oif, uint32_t mark);

/* RTM_NEWLINK/RTM_DELLINK, RTM_NEWADDR/RTM_DELADDR, RTM_NEWROUTE/RTM_DELROUTE
 * messages: 0, or -1 for another message type or when malformed (truncated,
 * bad attribute sizes, no name/address). */
int rtnl_decode_link(const struct nl_msg *m, struct rtnl_link *out);
int rtnl_decode_addr(const struct nl_msg *m, struct rtnl_addr *out);
int rtnl_decode_route(const struct nl_msg *m, struct rtnl_route *out);

/* Administratively up and with carrier (IFF_UP and IFF_RUNNING). */
bool rtnl_link_is_up(const struct rtnl_link *l);
/* An address subflows can use: global (or site) scope, not tentative, not
 * failed duplicate address detection, not IPv6 link-local. */
bool rtnl_addr_usable(const struct rtnl_addr *a);
size_t rtnl_addr_len(int family);

/* ---- client (socket I/O) ---- */

struct rtnl_state {
    struct rtnl_link *links;
    size_t n_links;
    struct rtnl_addr *addrs;
    size_t n_addrs;
};

/* Every interface and address. 0 or -errno (err says what failed). */
int rtnl_fetch(struct nlsock *s, struct rtnl_state *st, char *err, size_t err_cap);
void rtnl_state_free(struct rtnl_state *st);
const struct rtnl_link *rtnl_link_by_name(const struct rtnl_state *st, const char *name);
const struct rtnl_link *rtnl_link_by_index(const struct rtnl_state *st, int32_t ifindex);
/* The interface that has this address, or NULL. */
const struct rtnl_addr *rtnl_find_addr(const struct rtnl_state *st, int family, const uint8_t *addr);

int rtnl_route_get(struct nlsock *s, uint8_t family, const uint8_t *dst, const uint8_t *src, int32_t oif,
                   uint32_t mark, struct rtnl_route *out, char *err, size_t err_cap);

#endif
