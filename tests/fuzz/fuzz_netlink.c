/* libFuzzer harness for the netlink reply parsers: src/nlmsg.c,
 * src/mptcp_pm.c and src/rtnl.c (decoders only; no sockets).
 *
 * The input is a receive buffer as the kernel would hand it over: netlink
 * messages one after the other. Every message is decoded by every decoder
 * (endpoint, limits, family id, link, address, route, error); most fail,
 * which is the point: none may read outside the buffer. Properties:
 *  - an endpoint that decodes is encoded again as an add request, which
 *    decodes to the same endpoint; a buffer too small for it yields 0;
 *  - decoded names are NUL-terminated within their arrays, prefix lengths
 *    fit the family, errors are 0 or a negative errno;
 *  - walking stops at the end: offsets never pass the buffer. */
#include "fuzz.h"

#include <string.h>
#include <sys/socket.h>

#include "mpconv/mptcp_pm.h"
#include "mpconv/rtnl.h"

static bool same_endpoint(const struct mptcp_endpoint *a, const struct mptcp_endpoint *b)
{
    size_t len = a->family == AF_INET ? 4 : 16;
    return a->id == b->id && a->family == b->family && memcmp(a->addr, b->addr, len) == 0 &&
           a->port == b->port && a->flags == b->flags && a->ifindex == b->ifindex;
}

static void endpoint_round_trip(const struct mptcp_endpoint *ep, uint16_t family_id)
{
    uint8_t req[MPTCP_PM_REQ_MAX], small[MPTCP_PM_REQ_MAX];
    size_t len = mptcp_pm_encode_add(req, sizeof(req), family_id, ep);
    FUZZ_CHECK(len > 0 && len <= sizeof(req));
    FUZZ_CHECK(mptcp_pm_encode_add(small, len - 1, family_id, ep) == 0);

    size_t off = 0;
    struct nl_msg m;
    struct mptcp_endpoint back;
    FUZZ_CHECK(nl_next_msg(req, len, &off, &m) == 1 && off == len);
    FUZZ_CHECK(m.type == family_id && m.len + NL_HDR_LEN == len);
    FUZZ_CHECK(mptcp_pm_decode_endpoint(&m, &back) == 0);
    FUZZ_CHECK(same_endpoint(ep, &back));

    char text[200];
    mptcp_endpoint_format(ep, NULL, text, sizeof(text));
    FUZZ_CHECK(memchr(text, '\0', sizeof(text)) != NULL);
}

static void decode_all(const struct nl_msg *m)
{
    struct mptcp_endpoint ep;
    struct mptcp_limits limits;
    struct rtnl_link link;
    struct rtnl_addr addr;
    struct rtnl_route route;
    uint16_t id;
    int error;
    char msg[128];

    if (mptcp_pm_decode_endpoint(m, &ep) == 0) {
        FUZZ_CHECK(ep.family == AF_INET || ep.family == AF_INET6);
        FUZZ_CHECK(ep.ifindex >= 0);
        endpoint_round_trip(&ep, m->type >= 16 ? m->type : 16);
    }
    (void)mptcp_pm_decode_limits(m, &limits);
    if (genl_decode_family_id(m, &id) == 0)
        FUZZ_CHECK(id >= 16);
    if (rtnl_decode_link(m, &link) == 0)
        FUZZ_CHECK(link.ifindex > 0 && link.name[0] && memchr(link.name, '\0', sizeof(link.name)));
    if (rtnl_decode_addr(m, &addr) == 0)
        FUZZ_CHECK(addr.prefixlen <= rtnl_addr_len(addr.family) * 8 && addr.ifindex > 0);
    if (rtnl_decode_route(m, &route) == 0)
        FUZZ_CHECK(route.oif >= 0 && rtnl_addr_len(route.family) > 0);
    if (nl_parse_error(m, &error, msg, sizeof(msg)) == 0)
        FUZZ_CHECK(error <= 0 && error >= -4095 && memchr(msg, '\0', sizeof(msg)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, last = 0;
    struct nl_msg m;
    int more;
    while ((more = nl_next_msg(data, size, &off, &m)) == 1) {
        FUZZ_CHECK(off > last && off <= size);
        FUZZ_CHECK(m.data >= data + NL_HDR_LEN && m.data + m.len <= data + size);
        last = off;
        decode_all(&m);
    }
    FUZZ_CHECK(more == 0 || off < size);

    /* The whole input as an attribute stream, too. */
    struct nl_attr tb[32];
    if (nl_parse_attrs(data, size, tb, 32) == 0)
        for (size_t i = 0; i < 32; i++)
            if (tb[i].data)
                FUZZ_CHECK(tb[i].data >= data && tb[i].data + tb[i].len <= data + size);
    return 0;
}
