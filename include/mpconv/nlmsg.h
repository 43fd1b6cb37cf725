/* Netlink messages as bytes: building requests and walking replies. Pure
 * functions over caller buffers (no sockets); every read is bounds-checked,
 * so a truncated or lying length field gives an error, never an overread. */
#ifndef MPCONV_NLMSG_H
#define MPCONV_NLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NL_HDR_LEN 16u  /* struct nlmsghdr */
#define NL_ATTR_HDR_LEN 4u
#define NL_ALIGN(n) (((n) + 3u) & ~(size_t)3u)

/* ---- building ---- */

struct nl_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow; /* a put did not fit; nlb_end then returns 0 */
};

/* Starts one message in buf: the netlink header, then fam_len zeroed bytes
 * of the family header (genlmsghdr, ifinfomsg, ...), which it returns (NULL
 * when buf is too small). */
void *nlb_begin(struct nl_builder *b, void *buf, size_t cap, uint16_t type, uint16_t flags, uint32_t seq,
                size_t fam_len);
void nlb_put(struct nl_builder *b, uint16_t type, const void *data, size_t len);
void nlb_put_u8(struct nl_builder *b, uint16_t type, uint8_t v);
void nlb_put_u16(struct nl_builder *b, uint16_t type, uint16_t v);
void nlb_put_u32(struct nl_builder *b, uint16_t type, uint32_t v);
void nlb_put_str(struct nl_builder *b, uint16_t type, const char *s); /* with its NUL */
/* A nested attribute: returns its offset for nlb_nest_end. */
size_t nlb_nest_begin(struct nl_builder *b, uint16_t type);
void nlb_nest_end(struct nl_builder *b, size_t start);
/* Sets the message length; returns it, or 0 when something did not fit. */
size_t nlb_end(struct nl_builder *b);

/* ---- reading ---- */

struct nl_msg {
    uint16_t type;
    uint16_t flags;
    uint32_t seq;
    uint32_t pid;
    const uint8_t *data; /* after the netlink header */
    size_t len;
};

/* The next message of a receive buffer at *off. Returns 1 (and advances
 * *off), 0 at the end, -1 when the header is short or its length runs past
 * the buffer. */
int nl_next_msg(const uint8_t *buf, size_t len, size_t *off, struct nl_msg *m);

struct nl_attr {
    uint16_t type; /* without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits */
    const uint8_t *data;
    size_t len;
};

/* Attributes of p[0..len) by type into tb[0..n_types) (later ones win;
 * types >= n_types are skipped). Entries not present have data == NULL.
 * Returns 0, or -1 when an attribute's length is short or runs past len,
 * or 1..3 bytes are left over. */
int nl_parse_attrs(const uint8_t *p, size_t len, struct nl_attr *tb, size_t n_types);

/* Fixed-size payloads: -1 when the attribute is absent or its length is not
 * exactly the type's size. */
int nl_attr_u8(const struct nl_attr *a, uint8_t *v);
int nl_attr_u16(const struct nl_attr *a, uint16_t *v);
int nl_attr_u32(const struct nl_attr *a, uint32_t *v);
/* A NUL-terminated string that fits out[cap]; -1 otherwise. */
int nl_attr_str(const struct nl_attr *a, char *out, size_t cap);

/* An NLMSG_ERROR message: *error is 0 for an ACK, else a negative errno;
 * msg gets the kernel's extended-ack text when there is one ("" otherwise).
 * Returns -1 when the message is malformed. */
int nl_parse_error(const struct nl_msg *m, int *error, char *msg, size_t cap);

#endif
