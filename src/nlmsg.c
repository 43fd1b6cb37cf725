/* Netlink message building and bounds-checked walking (see nlmsg.h). */
#include "mpconv/nlmsg.h"

#include <linux/netlink.h>
#include <string.h>

#define NLA_TYPE_BITS 0x3fffu /* NLA_TYPE_MASK */
#define NLMSGERR_HDR_LEN (4u + NL_HDR_LEN) /* struct nlmsgerr */
#define NLMSGERR_ATTR_MSG_TYPE 1u
#define ERRNO_MAX 4095 /* like the kernel's MAX_ERRNO */

static void put_bytes(struct nl_builder *b, size_t off, const void *src, size_t len)
{
    memcpy(b->buf + off, src, len);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Reserves NL_ALIGN(len) zeroed bytes; returns their offset or SIZE_MAX. */
static size_t reserve(struct nl_builder *b, size_t len)
{
    size_t padded = NL_ALIGN(len);
    if (b->overflow || padded < len || b->cap - b->len < padded) {
        b->overflow = true;
        return SIZE_MAX;
    }
    size_t off = b->len;
    memset(b->buf + off, 0, padded);
    b->len += padded;
    return off;
}

void *nlb_begin(struct nl_builder *b, void *buf, size_t cap, uint16_t type, uint16_t flags, uint32_t seq,
                size_t fam_len)
{
    *b = (struct nl_builder){.buf = buf, .cap = cap};
    if (reserve(b, NL_HDR_LEN) == SIZE_MAX)
        return NULL;
    struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq};
    put_bytes(b, 0, &h, sizeof(h));
    size_t off = reserve(b, fam_len);
    return off == SIZE_MAX ? NULL : b->buf + off;
}

void nlb_put(struct nl_builder *b, uint16_t type, const void *data, size_t len)
{
    if (len > UINT16_MAX - NL_ATTR_HDR_LEN) {
        b->overflow = true;
        return;
    }
    size_t off = reserve(b, NL_ATTR_HDR_LEN + len);
    if (off == SIZE_MAX)
        return;
    struct nlattr a = {.nla_len = (uint16_t)(NL_ATTR_HDR_LEN + len), .nla_type = type};
    put_bytes(b, off, &a, sizeof(a));
    if (len)
        put_bytes(b, off + NL_ATTR_HDR_LEN, data, len);
}

void nlb_put_u8(struct nl_builder *b, uint16_t type, uint8_t v)
{
    nlb_put(b, type, &v, sizeof(v));
}

void nlb_put_u16(struct nl_builder *b, uint16_t type, uint16_t v)
{
    nlb_put(b, type, &v, sizeof(v));
}

void nlb_put_u32(struct nl_builder *b, uint16_t type, uint32_t v)
{
    nlb_put(b, type, &v, sizeof(v));
}

void nlb_put_str(struct nl_builder *b, uint16_t type, const char *s)
{
    nlb_put(b, type, s, strlen(s) + 1);
}

size_t nlb_nest_begin(struct nl_builder *b, uint16_t type)
{
    size_t start = b->len;
    nlb_put(b, (uint16_t)(type | NLA_F_NESTED), NULL, 0);
    return start;
}

void nlb_nest_end(struct nl_builder *b, size_t start)
{
    if (b->overflow)
        return;
    size_t len = b->len - start;
    if (len > UINT16_MAX) {
        b->overflow = true;
        return;
    }
    uint16_t nla_len = (uint16_t)len;
    put_bytes(b, start, &nla_len, sizeof(nla_len));
}

size_t nlb_end(struct nl_builder *b)
{
    if (b->overflow || b->len > UINT32_MAX)
        return 0;
    uint32_t len = (uint32_t)b->len;
    put_bytes(b, 0, &len, sizeof(len));
    return b->len;
}

int nl_next_msg(const uint8_t *buf, size_t len, size_t *off, struct nl_msg *m)
{
    if (*off >= len)
        return 0;
    size_t left = len - *off;
    const uint8_t *p = buf + *off;
    if (left < NL_HDR_LEN)
        return -1;
    struct nlmsghdr h;
    memcpy(&h, p, sizeof(h));
    if (h.nlmsg_len < NL_HDR_LEN || h.nlmsg_len > left)
        return -1;
    *m = (struct nl_msg){.type = h.nlmsg_type, .flags = h.nlmsg_flags, .seq = h.nlmsg_seq,
                         .pid = h.nlmsg_pid, .data = p + NL_HDR_LEN, .len = h.nlmsg_len - NL_HDR_LEN};
    size_t step = NL_ALIGN(h.nlmsg_len);
    *off += step < left ? step : left;
    return 1;
}

int nl_parse_attrs(const uint8_t *p, size_t len, struct nl_attr *tb, size_t n_types)
{
    memset(tb, 0, n_types * sizeof(*tb));
    size_t off = 0;
    while (len - off >= NL_ATTR_HDR_LEN) {
        uint16_t a_len = get_u16(p + off), a_type = get_u16(p + off + 2) & NLA_TYPE_BITS;
        if (a_len < NL_ATTR_HDR_LEN || a_len > len - off)
            return -1;
        if (a_type < n_types)
            tb[a_type] = (struct nl_attr){a_type, p + off + NL_ATTR_HDR_LEN, a_len - NL_ATTR_HDR_LEN};
        size_t step = NL_ALIGN(a_len);
        off += step < len - off ? step : len - off;
    }
    return off == len ? 0 : -1;
}

static int attr_fixed(const struct nl_attr *a, void *v, size_t size)
{
    if (!a->data || a->len != size)
        return -1;
    memcpy(v, a->data, size);
    return 0;
}

int nl_attr_u8(const struct nl_attr *a, uint8_t *v)
{
    return attr_fixed(a, v, sizeof(*v));
}

int nl_attr_u16(const struct nl_attr *a, uint16_t *v)
{
    return attr_fixed(a, v, sizeof(*v));
}

int nl_attr_u32(const struct nl_attr *a, uint32_t *v)
{
    return attr_fixed(a, v, sizeof(*v));
}

int nl_attr_str(const struct nl_attr *a, char *out, size_t cap)
{
    const uint8_t *nul = a->data ? memchr(a->data, '\0', a->len) : NULL;
    if (!nul || (size_t)(nul - a->data) >= cap)
        return -1;
    memcpy(out, a->data, (size_t)(nul - a->data) + 1);
    return 0;
}

/* Where the extended-ack attributes start in an NLMSG_ERROR payload. */
static size_t ack_tlv_offset(const struct nl_msg *m)
{
    if (m->flags & NLM_F_CAPPED)
        return NLMSGERR_HDR_LEN;
    uint32_t orig_len = get_u32(m->data + 4);
    if (orig_len < NL_HDR_LEN)
        return SIZE_MAX;
    size_t off = NLMSGERR_HDR_LEN + NL_ALIGN((size_t)orig_len - NL_HDR_LEN);
    return off <= m->len ? off : SIZE_MAX;
}

int nl_parse_error(const struct nl_msg *m, int *error, char *msg, size_t cap)
{
    if (cap)
        msg[0] = '\0';
    if (m->len < NLMSGERR_HDR_LEN)
        return -1;
    int32_t e = (int32_t)get_u32(m->data);
    if (e > 0 || e < -ERRNO_MAX)
        return -1;
    *error = e;
    if (!(m->flags & NLM_F_ACK_TLVS))
        return 0;
    size_t off = ack_tlv_offset(m);
    struct nl_attr tb[NLMSGERR_ATTR_MSG_TYPE + 1];
    if (off == SIZE_MAX || nl_parse_attrs(m->data + off, m->len - off, tb, NLMSGERR_ATTR_MSG_TYPE + 1) != 0)
        return -1;
    if (tb[NLMSGERR_ATTR_MSG_TYPE].data && nl_attr_str(&tb[NLMSGERR_ATTR_MSG_TYPE], msg, cap) != 0 && cap)
        msg[0] = '\0'; /* an odd message text is not worth failing over */
    return 0;
}
