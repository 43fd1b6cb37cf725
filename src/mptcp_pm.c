/* MPTCP path-manager netlink client (see mptcp_pm.h). Constants are the
 * Linux ABI (include/uapi/linux/mptcp_pm.h), kept here so the build does not
 * depend on the build host's kernel headers. */
#include "mpconv/mptcp_pm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define PM_NAME "mptcp_pm"
#define PM_VERSION 1
#define CTRL_VERSION 2

enum pm_cmd { PM_CMD_ADD_ADDR = 1, PM_CMD_DEL_ADDR = 2, PM_CMD_GET_ADDR = 3, PM_CMD_GET_LIMITS = 6 };
enum pm_attr { PM_ATTR_ADDR = 1, PM_ATTR_RCV_ADD_ADDRS = 2, PM_ATTR_SUBFLOWS = 3, PM_ATTR_N = 4 };
enum pm_addr_attr {
    PM_ADDR_FAMILY = 1, /* u16 */
    PM_ADDR_ID = 2,     /* u8 */
    PM_ADDR_ADDR4 = 3,  /* 4 bytes */
    PM_ADDR_ADDR6 = 4,  /* 16 bytes */
    PM_ADDR_PORT = 5,   /* u16, host order */
    PM_ADDR_FLAGS = 6,  /* u32 */
    PM_ADDR_IF_IDX = 7, /* s32 */
    PM_ADDR_N = 8,
};

#define GENL_HDR_LEN 4u /* struct genlmsghdr */

static size_t addr_len(int family)
{
    return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* ---- requests ---- */

static struct genlmsghdr *genl_begin(struct nl_builder *b, uint8_t *buf, size_t cap, uint16_t family_id,
                                     uint16_t flags, uint8_t cmd, uint8_t version)
{
    struct genlmsghdr *g = nlb_begin(b, buf, cap, family_id, (uint16_t)(NLM_F_REQUEST | flags), 0, GENL_HDR_LEN);
    if (g) {
        g->cmd = cmd;
        g->version = version;
    }
    return g;
}

size_t genl_encode_get_family(uint8_t *buf, size_t cap, const char *name)
{
    struct nl_builder b;
    if (!genl_begin(&b, buf, cap, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, CTRL_VERSION))
        return 0;
    nlb_put_str(&b, CTRL_ATTR_FAMILY_NAME, name);
    return nlb_end(&b);
}

size_t mptcp_pm_encode_get_limits(uint8_t *buf, size_t cap, uint16_t family_id)
{
    struct nl_builder b;
    if (!genl_begin(&b, buf, cap, family_id, NLM_F_ACK, PM_CMD_GET_LIMITS, PM_VERSION))
        return 0;
    return nlb_end(&b);
}

size_t mptcp_pm_encode_dump(uint8_t *buf, size_t cap, uint16_t family_id)
{
    struct nl_builder b;
    if (!genl_begin(&b, buf, cap, family_id, NLM_F_DUMP, PM_CMD_GET_ADDR, PM_VERSION))
        return 0;
    return nlb_end(&b);
}

size_t mptcp_pm_encode_add(uint8_t *buf, size_t cap, uint16_t family_id, const struct mptcp_endpoint *ep)
{
    struct nl_builder b;
    size_t len = addr_len(ep->family);
    if (len == 0 || !genl_begin(&b, buf, cap, family_id, NLM_F_ACK, PM_CMD_ADD_ADDR, PM_VERSION))
        return 0;
    size_t nest = nlb_nest_begin(&b, PM_ATTR_ADDR);
    nlb_put_u16(&b, PM_ADDR_FAMILY, ep->family);
    if (ep->id)
        nlb_put_u8(&b, PM_ADDR_ID, ep->id);
    nlb_put(&b, ep->family == AF_INET ? PM_ADDR_ADDR4 : PM_ADDR_ADDR6, ep->addr, len);
    if (ep->port)
        nlb_put_u16(&b, PM_ADDR_PORT, ep->port);
    nlb_put_u32(&b, PM_ADDR_FLAGS, ep->flags);
    if (ep->ifindex)
        nlb_put_u32(&b, PM_ADDR_IF_IDX, (uint32_t)ep->ifindex);
    nlb_nest_end(&b, nest);
    return nlb_end(&b);
}

size_t mptcp_pm_encode_del(uint8_t *buf, size_t cap, uint16_t family_id, uint8_t id)
{
    struct nl_builder b;
    if (!genl_begin(&b, buf, cap, family_id, NLM_F_ACK, PM_CMD_DEL_ADDR, PM_VERSION))
        return 0;
    size_t nest = nlb_nest_begin(&b, PM_ATTR_ADDR);
    nlb_put_u8(&b, PM_ADDR_ID, id);
    nlb_nest_end(&b, nest);
    return nlb_end(&b);
}

/* ---- replies ---- */

/* The attributes after the genetlink header. */
static int genl_attrs(const struct nl_msg *m, struct nl_attr *tb, size_t n)
{
    if (m->len < GENL_HDR_LEN)
        return -1;
    return nl_parse_attrs(m->data + GENL_HDR_LEN, m->len - GENL_HDR_LEN, tb, n);
}

int genl_decode_family_id(const struct nl_msg *m, uint16_t *id)
{
    struct nl_attr tb[CTRL_ATTR_FAMILY_ID + 1];
    if (genl_attrs(m, tb, CTRL_ATTR_FAMILY_ID + 1) != 0 || nl_attr_u16(&tb[CTRL_ATTR_FAMILY_ID], id) != 0)
        return -1;
    return *id >= NLMSG_MIN_TYPE ? 0 : -1;
}

int mptcp_pm_decode_limits(const struct nl_msg *m, struct mptcp_limits *out)
{
    struct nl_attr tb[PM_ATTR_N];
    if (genl_attrs(m, tb, PM_ATTR_N) != 0 || nl_attr_u32(&tb[PM_ATTR_SUBFLOWS], &out->subflows) != 0 ||
        nl_attr_u32(&tb[PM_ATTR_RCV_ADD_ADDRS], &out->add_addr_accepted) != 0)
        return -1;
    return 0;
}

/* An optional attribute: absent is fine, present must have the right size. */
static int optional(const struct nl_attr *a, int (*get)(const struct nl_attr *, void *), void *v)
{
    return a->data ? get(a, v) : 0;
}

static int get_u8(const struct nl_attr *a, void *v)
{
    return nl_attr_u8(a, v);
}

static int get_u16(const struct nl_attr *a, void *v)
{
    return nl_attr_u16(a, v);
}

static int get_u32(const struct nl_attr *a, void *v)
{
    return nl_attr_u32(a, v);
}

int mptcp_pm_decode_endpoint(const struct nl_msg *m, struct mptcp_endpoint *out)
{
    struct nl_attr top[PM_ATTR_N], tb[PM_ADDR_N];
    uint16_t family;
    memset(out, 0, sizeof(*out));
    if (genl_attrs(m, top, PM_ATTR_N) != 0 || !top[PM_ATTR_ADDR].data ||
        nl_parse_attrs(top[PM_ATTR_ADDR].data, top[PM_ATTR_ADDR].len, tb, PM_ADDR_N) != 0 ||
        nl_attr_u16(&tb[PM_ADDR_FAMILY], &family) != 0)
        return -1;
    size_t len = addr_len(family);
    const struct nl_attr *addr = &tb[family == AF_INET ? PM_ADDR_ADDR4 : PM_ADDR_ADDR6];
    if (len == 0 || !addr->data || addr->len != len)
        return -1;
    out->family = (uint8_t)family;
    memcpy(out->addr, addr->data, len);
    uint32_t ifindex = 0;
    if (optional(&tb[PM_ADDR_ID], get_u8, &out->id) != 0 || optional(&tb[PM_ADDR_PORT], get_u16, &out->port) != 0 ||
        optional(&tb[PM_ADDR_FLAGS], get_u32, &out->flags) != 0 ||
        optional(&tb[PM_ADDR_IF_IDX], get_u32, &ifindex) != 0 || ifindex > INT32_MAX)
        return -1;
    out->ifindex = (int32_t)ifindex;
    return 0;
}

bool mptcp_endpoint_same_addr(const struct mptcp_endpoint *ep, int family, const uint8_t *addr)
{
    return ep->family == family && memcmp(ep->addr, addr, addr_len(family)) == 0;
}

const struct mptcp_endpoint *mptcp_endpoint_find(const struct mptcp_endpoint *eps, size_t n, int family,
                                                 const uint8_t *addr)
{
    for (size_t i = 0; i < n; i++)
        if (mptcp_endpoint_same_addr(&eps[i], family, addr))
            return &eps[i];
    return NULL;
}

void mptcp_ep_flags_format(uint32_t flags, char *out, size_t cap)
{
    static const char *const names[] = {"signal", "subflow", "backup", "fullmesh", "implicit", "laminar"};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & (1u << i)) || len >= cap)
            continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? " " : "", names[i]);
        len += n > 0 ? (size_t)n : 0;
    }
    if (!out[0])
        snprintf(out, cap, "none");
}

void mptcp_endpoint_format(const struct mptcp_endpoint *ep, const char *dev, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN] = "?", flags[64], port[16] = "", id[16] = "", where[40] = "";
    inet_ntop(ep->family, ep->addr, addr, sizeof(addr));
    mptcp_ep_flags_format(ep->flags, flags, sizeof(flags));
    if (ep->port)
        snprintf(port, sizeof(port), " port %u", ep->port);
    if (ep->id)
        snprintf(id, sizeof(id), " id %u", ep->id);
    if (dev)
        snprintf(where, sizeof(where), " dev %s", dev);
    else if (ep->ifindex)
        snprintf(where, sizeof(where), " ifindex %d", (int)ep->ifindex);
    snprintf(out, cap, "%s%s%s %s%s", addr, port, id, flags, where);
}

/* ---- client ---- */

static int on_family(const struct nl_msg *m, void *arg)
{
    return genl_decode_family_id(m, arg) == 0 ? 0 : -EBADMSG;
}

int mptcp_pm_open(struct mptcp_pm *pm, char *err, size_t err_cap)
{
    uint8_t req[MPTCP_PM_REQ_MAX];
    pm->family_id = 0;
    int rc = nlsock_open(&pm->sock, NETLINK_GENERIC, 0, false);
    if (rc != 0) {
        snprintf(err, err_cap, "generic netlink socket: %s", strerror(-rc));
        return rc;
    }
    size_t len = genl_encode_get_family(req, sizeof(req), PM_NAME);
    rc = nlsock_request(&pm->sock, req, len, on_family, &pm->family_id, err, err_cap);
    if (rc == 0 && pm->family_id == 0)
        rc = -EBADMSG;
    if (rc != 0) {
        if (rc == -ENOENT)
            snprintf(err, err_cap, "no \"%s\" netlink family (kernel without MPTCP)", PM_NAME);
        mptcp_pm_close(pm);
    }
    return rc;
}

void mptcp_pm_close(struct mptcp_pm *pm)
{
    nlsock_close(&pm->sock);
}

static int on_limits(const struct nl_msg *m, void *arg)
{
    return mptcp_pm_decode_limits(m, arg) == 0 ? 0 : -EBADMSG;
}

int mptcp_pm_get_limits(struct mptcp_pm *pm, struct mptcp_limits *out, char *err, size_t err_cap)
{
    uint8_t req[MPTCP_PM_REQ_MAX];
    size_t len = mptcp_pm_encode_get_limits(req, sizeof(req), pm->family_id);
    *out = (struct mptcp_limits){0};
    return nlsock_request(&pm->sock, req, len, on_limits, out, err, err_cap);
}

struct endpoint_list {
    struct mptcp_endpoint *v;
    size_t max;
    size_t n;
};

static int on_endpoint(const struct nl_msg *m, void *arg)
{
    struct endpoint_list *l = arg;
    struct mptcp_endpoint ep;
    if (mptcp_pm_decode_endpoint(m, &ep) != 0)
        return -EBADMSG;
    if (l->n < l->max)
        l->v[l->n++] = ep;
    return 0;
}

int mptcp_pm_list(struct mptcp_pm *pm, struct mptcp_endpoint *out, size_t max, size_t *n, char *err,
                  size_t err_cap)
{
    uint8_t req[MPTCP_PM_REQ_MAX];
    struct endpoint_list l = {out, max, 0};
    size_t len = mptcp_pm_encode_dump(req, sizeof(req), pm->family_id);
    int rc = nlsock_request(&pm->sock, req, len, on_endpoint, &l, err, err_cap);
    *n = l.n;
    return rc;
}

int mptcp_pm_add(struct mptcp_pm *pm, const struct mptcp_endpoint *ep, char *err, size_t err_cap)
{
    uint8_t req[MPTCP_PM_REQ_MAX];
    size_t len = mptcp_pm_encode_add(req, sizeof(req), pm->family_id, ep);
    if (len == 0) {
        snprintf(err, err_cap, "bad address family %u", ep->family);
        return -EINVAL;
    }
    return nlsock_request(&pm->sock, req, len, NULL, NULL, err, err_cap);
}

int mptcp_pm_del(struct mptcp_pm *pm, uint8_t id, char *err, size_t err_cap)
{
    uint8_t req[MPTCP_PM_REQ_MAX];
    size_t len = mptcp_pm_encode_del(req, sizeof(req), pm->family_id, id);
    return nlsock_request(&pm->sock, req, len, NULL, NULL, err, err_cap);
}
