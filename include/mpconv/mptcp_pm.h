/* The kernel's MPTCP path manager over generic netlink (family "mptcp_pm",
 * the interface behind `ip mptcp`): limits, and the endpoints that tell the
 * in-kernel path manager which local addresses may carry extra subflows.
 * Encoding and decoding are pure functions over byte buffers; the client
 * functions at the end do the socket I/O through nlsock. */
#ifndef MPCONV_MPTCP_PM_H
#define MPCONV_MPTCP_PM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpconv/nlmsg.h"
#include "mpconv/nlsock.h"

/* Endpoint flags (MPTCP_PM_ADDR_FLAG_*, Linux ABI). */
#define MPTCP_EP_SIGNAL 0x01u   /* announce the address to the peer */
#define MPTCP_EP_SUBFLOW 0x02u  /* open extra subflows from it */
#define MPTCP_EP_BACKUP 0x04u   /* subflows on it carry data only when others fail */
#define MPTCP_EP_FULLMESH 0x08u /* one subflow per peer address */
#define MPTCP_EP_IMPLICIT 0x10u /* made by the kernel for a peer-created subflow */
#define MPTCP_EP_LAMINAR 0x20u  /* 6.18 */

#define MPTCP_ENDPOINTS_MAX 255 /* endpoint ids are 1..255 */
#define MPTCP_PM_REQ_MAX 128    /* bytes for the largest request we build */

struct mptcp_endpoint {
    uint8_t id;       /* 1..255; 0 in an add request: the kernel picks one */
    uint8_t family;   /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 bytes used for AF_INET */
    uint16_t port;    /* 0 = none */
    uint32_t flags;   /* MPTCP_EP_* */
    int32_t ifindex;  /* the endpoint's `dev`, 0 = none */
};

struct mptcp_limits {
    uint32_t subflows;          /* extra subflows per connection */
    uint32_t add_addr_accepted; /* peer-announced addresses used per connection */
};

/* ---- pure codec ---- */

/* Requests: return the length written into buf, or 0 when cap is too small.
 * Sequence numbers are left 0 (nlsock_request sets them). */
size_t genl_encode_get_family(uint8_t *buf, size_t cap, const char *name);
size_t mptcp_pm_encode_get_limits(uint8_t *buf, size_t cap, uint16_t family_id);
size_t mptcp_pm_encode_dump(uint8_t *buf, size_t cap, uint16_t family_id);
size_t mptcp_pm_encode_add(uint8_t *buf, size_t cap, uint16_t family_id, const struct mptcp_endpoint *ep);
size_t mptcp_pm_encode_del(uint8_t *buf, size_t cap, uint16_t family_id, uint8_t id);

/* Replies (one message each): 0, or -1 when malformed (truncated, wrong
 * attribute sizes, missing or unknown address family, ...). */
int genl_decode_family_id(const struct nl_msg *m, uint16_t *id);
int mptcp_pm_decode_limits(const struct nl_msg *m, struct mptcp_limits *out);
int mptcp_pm_decode_endpoint(const struct nl_msg *m, struct mptcp_endpoint *out);

bool mptcp_endpoint_same_addr(const struct mptcp_endpoint *ep, int family, const uint8_t *addr);
/* The endpoint of eps[0..n) for this address, or NULL. */
const struct mptcp_endpoint *mptcp_endpoint_find(const struct mptcp_endpoint *eps, size_t n, int family,
                                                 const uint8_t *addr);
/* "signal subflow backup" ("none" for 0). */
void mptcp_ep_flags_format(uint32_t flags, char *out, size_t cap);
/* Like `ip mptcp endpoint show`: "10.2.2.1 id 2 subflow dev wan2" (no id
 * when 0; dev: the interface name, NULL when unknown: "ifindex N"). */
void mptcp_endpoint_format(const struct mptcp_endpoint *ep, const char *dev, char *out, size_t cap);

/* ---- client (socket I/O) ---- */

struct mptcp_pm {
    struct nlsock sock;
    uint16_t family_id;
};

/* Opens a generic netlink socket and resolves the "mptcp_pm" family.
 * Returns 0 or -errno (-ENOENT: no MPTCP path manager in this kernel). */
int mptcp_pm_open(struct mptcp_pm *pm, char *err, size_t err_cap);
void mptcp_pm_close(struct mptcp_pm *pm);

int mptcp_pm_get_limits(struct mptcp_pm *pm, struct mptcp_limits *out, char *err, size_t err_cap);
/* All endpoints into out[0..max); *n is how many there are (at most max). */
int mptcp_pm_list(struct mptcp_pm *pm, struct mptcp_endpoint *out, size_t max, size_t *n, char *err,
                  size_t err_cap);
/* Needs CAP_NET_ADMIN. */
int mptcp_pm_add(struct mptcp_pm *pm, const struct mptcp_endpoint *ep, char *err, size_t err_cap);
int mptcp_pm_del(struct mptcp_pm *pm, uint8_t id, char *err, size_t err_cap);

#endif
