/* Routing netlink client (see rtnl.h). */
#include "mpconv/rtnl.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IFLA_N (IFLA_IFNAME + 1)
#define IFA_N (IFA_FLAGS + 1)
#define RTA_N (RTA_TABLE + 1)

size_t rtnl_addr_len(int family)
{
    return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* ---- requests ---- */

size_t rtnl_encode_dump(uint8_t *buf, size_t cap, uint16_t type, uint8_t family)
{
    struct nl_builder b;
    /* ifinfomsg and ifaddrmsg both start with the family byte. */
    size_t fam_len = type == RTM_GETLINK ? sizeof(struct ifinfomsg) : sizeof(struct ifaddrmsg);
    uint8_t *hdr = nlb_begin(&b, buf, cap, type, NLM_F_REQUEST | NLM_F_DUMP, 0, fam_len);
    if (!hdr)
        return 0;
    hdr[0] = family;
    return nlb_end(&b);
}

size_t rtnl_encode_route_get(uint8_t *buf, size_t cap, uint8_t family, const uint8_t *dst, const uint8_t *src,
                             int32_t oif, uint32_t mark)
{
    struct nl_builder b;
    size_t len = rtnl_addr_len(family);
    struct rtmsg *rt = len ? nlb_begin(&b, buf, cap, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, 0, sizeof(*rt)) : NULL;
    if (!rt)
        return 0;
    rt->rtm_family = family;
    rt->rtm_flags = RTM_F_LOOKUP_TABLE; /* report the table that matched, not "main" */
    if (dst) {
        rt->rtm_dst_len = (uint8_t)(len * 8);
        nlb_put(&b, RTA_DST, dst, len);
    }
    if (src) {
        rt->rtm_src_len = (uint8_t)(len * 8);
        nlb_put(&b, RTA_SRC, src, len);
    }
    if (oif)
        nlb_put_u32(&b, RTA_OIF, (uint32_t)oif);
    if (mark)
        nlb_put_u32(&b, RTA_MARK, mark);
    return nlb_end(&b);
}

/* ---- replies ---- */

/* The family header (fam_len bytes) into hdr, the attributes after it into tb. */
static int split(const struct nl_msg *m, void *hdr, size_t fam_len, struct nl_attr *tb, size_t n)
{
    if (m->len < fam_len)
        return -1;
    memcpy(hdr, m->data, fam_len);
    size_t off = NL_ALIGN(fam_len);
    if (off > m->len)
        return -1;
    return nl_parse_attrs(m->data + off, m->len - off, tb, n);
}

int rtnl_decode_link(const struct nl_msg *m, struct rtnl_link *out)
{
    struct ifinfomsg ifi;
    struct nl_attr tb[IFLA_N];
    memset(out, 0, sizeof(*out));
    if ((m->type != RTM_NEWLINK && m->type != RTM_DELLINK) || split(m, &ifi, sizeof(ifi), tb, IFLA_N) != 0 ||
        ifi.ifi_index <= 0 ||
        nl_attr_str(&tb[IFLA_IFNAME], out->name, sizeof(out->name)) != 0 || !out->name[0])
        return -1;
    out->ifindex = ifi.ifi_index;
    out->flags = ifi.ifi_flags;
    return 0;
}

int rtnl_decode_addr(const struct nl_msg *m, struct rtnl_addr *out)
{
    struct ifaddrmsg ifa;
    struct nl_attr tb[IFA_N];
    memset(out, 0, sizeof(*out));
    if ((m->type != RTM_NEWADDR && m->type != RTM_DELADDR) || split(m, &ifa, sizeof(ifa), tb, IFA_N) != 0 ||
        ifa.ifa_index == 0 || ifa.ifa_index > INT32_MAX)
        return -1;
    size_t len = rtnl_addr_len(ifa.ifa_family);
    /* IPv4: IFA_LOCAL is ours, IFA_ADDRESS the peer's on point-to-point links. */
    const struct nl_attr *a = tb[IFA_LOCAL].data ? &tb[IFA_LOCAL] : &tb[IFA_ADDRESS];
    if (len == 0 || !a->data || a->len != len || ifa.ifa_prefixlen > len * 8)
        return -1;
    out->ifindex = (int32_t)ifa.ifa_index;
    out->family = ifa.ifa_family;
    out->prefixlen = ifa.ifa_prefixlen;
    out->scope = ifa.ifa_scope;
    out->flags = ifa.ifa_flags;
    memcpy(out->addr, a->data, len);
    if (tb[IFA_FLAGS].data && nl_attr_u32(&tb[IFA_FLAGS], &out->flags) != 0) /* all 32 bits */
        return -1;
    return 0;
}

int rtnl_decode_route(const struct nl_msg *m, struct rtnl_route *out)
{
    struct rtmsg rt;
    struct nl_attr tb[RTA_N];
    uint32_t oif = 0;
    memset(out, 0, sizeof(*out));
    size_t len;
    if ((m->type != RTM_NEWROUTE && m->type != RTM_DELROUTE) || split(m, &rt, sizeof(rt), tb, RTA_N) != 0 ||
        (len = rtnl_addr_len(rt.rtm_family)) == 0)
        return -1;
    out->family = rt.rtm_family;
    out->type = rt.rtm_type;
    out->table = rt.rtm_table;
    if ((tb[RTA_TABLE].data && nl_attr_u32(&tb[RTA_TABLE], &out->table) != 0) ||
        (tb[RTA_OIF].data && nl_attr_u32(&tb[RTA_OIF], &oif) != 0) || oif > INT32_MAX)
        return -1;
    out->oif = (int32_t)oif;
    if (tb[RTA_GATEWAY].data) {
        if (tb[RTA_GATEWAY].len != len)
            return -1;
        out->has_gateway = true;
        memcpy(out->gateway, tb[RTA_GATEWAY].data, len);
    }
    return 0;
}

bool rtnl_link_is_up(const struct rtnl_link *l)
{
    return (l->flags & IFF_UP) && (l->flags & IFF_RUNNING);
}

bool rtnl_addr_usable(const struct rtnl_addr *a)
{
    return a->scope < RT_SCOPE_LINK && !(a->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
}

/* ---- client ---- */

static int on_link(const struct nl_msg *m, void *arg)
{
    struct rtnl_state *st = arg;
    struct rtnl_link l;
    if (m->type != RTM_NEWLINK)
        return 0;
    if (rtnl_decode_link(m, &l) != 0)
        return -EBADMSG;
    struct rtnl_link *grown = realloc(st->links, (st->n_links + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    st->links = grown;
    st->links[st->n_links++] = l;
    return 0;
}

static int on_addr(const struct nl_msg *m, void *arg)
{
    struct rtnl_state *st = arg;
    struct rtnl_addr a;
    if (m->type != RTM_NEWADDR)
        return 0;
    if (rtnl_decode_addr(m, &a) != 0)
        return -EBADMSG;
    struct rtnl_addr *grown = realloc(st->addrs, (st->n_addrs + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    st->addrs = grown;
    st->addrs[st->n_addrs++] = a;
    return 0;
}

int rtnl_fetch(struct nlsock *s, struct rtnl_state *st, char *err, size_t err_cap)
{
    uint8_t req[RTNL_REQ_MAX];
    *st = (struct rtnl_state){0};
    size_t len = rtnl_encode_dump(req, sizeof(req), RTM_GETLINK, AF_UNSPEC);
    int rc = nlsock_request(s, req, len, on_link, st, err, err_cap);
    if (rc == 0) {
        len = rtnl_encode_dump(req, sizeof(req), RTM_GETADDR, AF_UNSPEC);
        rc = nlsock_request(s, req, len, on_addr, st, err, err_cap);
    }
    if (rc != 0)
        rtnl_state_free(st);
    return rc;
}

void rtnl_state_free(struct rtnl_state *st)
{
    free(st->links);
    free(st->addrs);
    *st = (struct rtnl_state){0};
}

const struct rtnl_link *rtnl_link_by_name(const struct rtnl_state *st, const char *name)
{
    for (size_t i = 0; i < st->n_links; i++)
        if (strcmp(st->links[i].name, name) == 0)
            return &st->links[i];
    return NULL;
}

const struct rtnl_link *rtnl_link_by_index(const struct rtnl_state *st, int32_t ifindex)
{
    for (size_t i = 0; i < st->n_links; i++)
        if (st->links[i].ifindex == ifindex)
            return &st->links[i];
    return NULL;
}

const struct rtnl_addr *rtnl_find_addr(const struct rtnl_state *st, int family, const uint8_t *addr)
{
    for (size_t i = 0; i < st->n_addrs; i++)
        if (st->addrs[i].family == family && memcmp(st->addrs[i].addr, addr, rtnl_addr_len(family)) == 0)
            return &st->addrs[i];
    return NULL;
}

static int on_route(const struct nl_msg *m, void *arg)
{
    if (m->type != RTM_NEWROUTE)
        return 0;
    return rtnl_decode_route(m, arg) == 0 ? 0 : -EBADMSG;
}

int rtnl_route_get(struct nlsock *s, uint8_t family, const uint8_t *dst, const uint8_t *src, int32_t oif,
                   uint32_t mark, struct rtnl_route *out, char *err, size_t err_cap)
{
    uint8_t req[RTNL_REQ_MAX];
    size_t len = rtnl_encode_route_get(req, sizeof(req), family, dst, src, oif, mark);
    memset(out, 0, sizeof(*out));
    if (len == 0) {
        snprintf(err, err_cap, "bad address family %u", family);
        return -EINVAL;
    }
    int rc = nlsock_request(s, req, len, on_route, out, err, err_cap);
    if (rc == 0 && out->family == 0)
        rc = -EBADMSG; /* acknowledged without an answer */
    return rc;
}
