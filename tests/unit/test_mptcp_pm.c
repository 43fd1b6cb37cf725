/* Unit tests for the pure codec of src/mptcp_pm.c: requests byte by byte,
 * replies recorded from Linux 6.18 (x86-64, little-endian; netlink is in
 * host byte order), and malformed or truncated replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "mpconv/mptcp_pm.h"

#define FAMILY_ID 28 /* mptcp_pm's id on the recording host */

/* `ip mptcp endpoint show`: 10.1.1.1 id 1 subflow dev wan1 (ifindex 3),
 * 10.2.2.1 id 4 subflow dev wan2 (ifindex 4); then NLMSG_DONE. */
static const uint8_t endpoint_dump[] = {
    0x48, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0xaf, 0x62, 0x00, 0x00,
    0x03, 0x01, 0x00, 0x00, 0x34, 0x00, 0x01, 0x80, 0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x07, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x03, 0x00, 0x0a, 0x01, 0x01, 0x01, 0x48, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00,
    0x02, 0x00, 0x00, 0x00, 0xaf, 0x62, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x34, 0x00, 0x01, 0x80,
    0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x07, 0x00, 0x04, 0x00, 0x00, 0x00, 0x08, 0x00, 0x03, 0x00, 0x0a, 0x02, 0x02, 0x01,
    0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0xaf, 0x62, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};

/* `ip mptcp limits show`: subflows 2 add_addr_accepted 2. */
static const uint8_t limits_reply[] = {
    0x24, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xaf, 0x62, 0x00, 0x00,
    0x06, 0x01, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x03, 0x00,
    0x02, 0x00, 0x00, 0x00,
};

/* CTRL_CMD_GETFAMILY "mptcp_pm", the start of the reply: name, id 28, version 1. */
static const uint8_t family_reply[] = {
    0x34, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1c, 0x30, 0xfa, 0x8a,
    0x01, 0x02, 0x00, 0x00, 0x0d, 0x00, 0x02, 0x00, 0x6d, 0x70, 0x74, 0x63, 0x70, 0x5f, 0x70, 0x6d,
    0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x01, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x08, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x00,
};

static bool little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static struct nl_msg message_at(const uint8_t *buf, size_t len, size_t index)
{
    size_t off = 0;
    struct nl_msg m;
    for (size_t i = 0; i <= index; i++)
        assert_int_equal(nl_next_msg(buf, len, &off, &m), 1);
    return m;
}

static struct mptcp_endpoint endpoint(uint8_t id, int family, const char *ip, uint32_t flags, int32_t ifindex)
{
    struct mptcp_endpoint ep = {.id = id, .family = (uint8_t)family, .flags = flags, .ifindex = ifindex};
    assert_int_equal(inet_pton(family, ip, ep.addr), 1);
    return ep;
}

static void assert_same_endpoint(const struct mptcp_endpoint *a, const struct mptcp_endpoint *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->family, b->family);
    assert_memory_equal(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->ifindex, b->ifindex);
}

static void test_recorded_endpoint_dump(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    struct mptcp_endpoint ep, want;
    struct nl_msg m = message_at(endpoint_dump, sizeof(endpoint_dump), 0);
    assert_int_equal(m.type, FAMILY_ID);
    assert_true(m.flags & NLM_F_MULTI);
    assert_int_equal(mptcp_pm_decode_endpoint(&m, &ep), 0);
    want = endpoint(1, AF_INET, "10.1.1.1", MPTCP_EP_SUBFLOW, 3);
    assert_same_endpoint(&ep, &want);

    m = message_at(endpoint_dump, sizeof(endpoint_dump), 1);
    assert_int_equal(mptcp_pm_decode_endpoint(&m, &ep), 0);
    want = endpoint(4, AF_INET, "10.2.2.1", MPTCP_EP_SUBFLOW, 4);
    assert_same_endpoint(&ep, &want);

    m = message_at(endpoint_dump, sizeof(endpoint_dump), 2);
    assert_int_equal(m.type, NLMSG_DONE);
    assert_int_equal(mptcp_pm_decode_endpoint(&m, &ep), -1);
}

static void test_recorded_limits_and_family(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    struct mptcp_limits l;
    struct nl_msg m = message_at(limits_reply, sizeof(limits_reply), 0);
    assert_int_equal(mptcp_pm_decode_limits(&m, &l), 0);
    assert_int_equal(l.subflows, 2);
    assert_int_equal(l.add_addr_accepted, 2);

    uint16_t id = 0;
    m = message_at(family_reply, sizeof(family_reply), 0);
    assert_int_equal(genl_decode_family_id(&m, &id), 0);
    assert_int_equal(id, FAMILY_ID);
    /* A limits reply is no endpoint, an endpoint no limits. */
    struct mptcp_endpoint ep;
    m = message_at(limits_reply, sizeof(limits_reply), 0);
    assert_int_equal(mptcp_pm_decode_endpoint(&m, &ep), -1);
    m = message_at(endpoint_dump, sizeof(endpoint_dump), 0);
    assert_int_equal(mptcp_pm_decode_limits(&m, &l), -1);
}

/* Every prefix of a recorded reply is rejected by the walker or the decoder. */
static void test_truncated_replies(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    for (size_t len = 0; len < 72; len++) {
        uint8_t copy[72];
        memcpy(copy, endpoint_dump, len);
        size_t off = 0;
        struct nl_msg m;
        assert_int_equal(nl_next_msg(copy, len, &off, &m), len == 0 ? 0 : -1);
    }
    /* The header claims less: the attributes are cut short. */
    for (uint32_t claim = 16; claim < 72; claim++) {
        uint8_t copy[72];
        memcpy(copy, endpoint_dump, sizeof(copy));
        memcpy(copy, &claim, sizeof(claim));
        struct nl_msg m = message_at(copy, claim, 0);
        struct mptcp_endpoint ep;
        assert_int_equal(mptcp_pm_decode_endpoint(&m, &ep), -1);
    }
}

/* Builds a dump-like message: genl header, then MPTCP_PM_ATTR_ADDR holding attrs. */
static size_t addr_message(uint8_t *buf, size_t cap, const uint8_t *attrs, size_t attrs_len)
{
    struct nl_builder b;
    uint8_t *genl = nlb_begin(&b, buf, cap, FAMILY_ID, NLM_F_MULTI, 0, 4);
    assert_non_null(genl);
    genl[0] = 3;
    genl[1] = 1;
    nlb_put(&b, 1 | NLA_F_NESTED, attrs, attrs_len);
    return nlb_end(&b);
}

static int decode_first(const uint8_t *buf, size_t len, struct mptcp_endpoint *ep)
{
    struct nl_msg m = message_at(buf, len, 0);
    return mptcp_pm_decode_endpoint(&m, ep);
}

static int decode_attrs(const uint8_t *attrs, size_t attrs_len, struct mptcp_endpoint *ep)
{
    uint8_t buf[256];
    size_t len = addr_message(buf, sizeof(buf), attrs, attrs_len);
    assert_true(len > 0);
    return decode_first(buf, len, ep);
}

static void test_malformed_endpoints(void **state)
{
    (void)state;
    struct mptcp_endpoint ep;
    /* family AF_INET, ADDR4 */
    const uint8_t good[] = {6, 0, 1, 0, 2, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1};
    assert_int_equal(decode_attrs(good, sizeof(good), &ep), 0);
    assert_int_equal(ep.id, 0);
    assert_int_equal(ep.ifindex, 0);

    const uint8_t no_family[] = {8, 0, 3, 0, 10, 1, 1, 1};
    const uint8_t unknown_family[] = {6, 0, 1, 0, 99, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1};
    const uint8_t short_addr4[] = {6, 0, 1, 0, 2, 0, 0, 0, 7, 0, 3, 0, 10, 1, 1, 0};
    const uint8_t v6_without_addr6[] = {6, 0, 1, 0, 10, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1};
    const uint8_t wide_id[] = {6, 0, 1, 0, 2, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1, 6, 0, 2, 0, 1, 0, 0, 0};
    const uint8_t short_flags[] = {6, 0, 1, 0, 2, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1, 6, 0, 6, 0, 2, 0, 0, 0};
    const uint8_t negative_ifindex[] = {6, 0, 1, 0, 2, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1,
                                        8, 0, 7, 0, 0xff, 0xff, 0xff, 0xff};
    const uint8_t attr_past_end[] = {6, 0, 1, 0, 2, 0, 0, 0, 12, 0, 3, 0, 10, 1, 1, 1};
    const uint8_t attr_too_short[] = {6, 0, 1, 0, 2, 0, 0, 0, 2, 0, 3, 0, 10, 1, 1, 1};
    const uint8_t leftover[] = {6, 0, 1, 0, 2, 0, 0, 0, 8, 0, 3, 0, 10, 1, 1, 1, 1, 2};
    const struct {
        const uint8_t *attrs;
        size_t len;
    } bad[] = {
        {no_family, sizeof(no_family)},     {unknown_family, sizeof(unknown_family)},
        {short_addr4, sizeof(short_addr4)}, {v6_without_addr6, sizeof(v6_without_addr6)},
        {wide_id, sizeof(wide_id)},         {short_flags, sizeof(short_flags)},
        {negative_ifindex, sizeof(negative_ifindex)}, {attr_past_end, sizeof(attr_past_end)},
        {attr_too_short, sizeof(attr_too_short)}, {leftover, sizeof(leftover)},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (decode_attrs(bad[i].attrs, bad[i].len, &ep) != -1)
            fail_msg("malformed case %zu decoded", i);

    /* No genl header at all, and no ADDR attribute. */
    uint8_t buf[64];
    struct nl_builder b;
    assert_non_null(nlb_begin(&b, buf, sizeof(buf), FAMILY_ID, 0, 0, 0));
    size_t len = nlb_end(&b);
    assert_int_equal(decode_first(buf, len, &ep), -1);
    assert_non_null(nlb_begin(&b, buf, sizeof(buf), FAMILY_ID, 0, 0, 4));
    len = nlb_end(&b);
    assert_int_equal(decode_first(buf, len, &ep), -1);
}

static void test_encode_add(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    uint8_t buf[MPTCP_PM_REQ_MAX];
    struct mptcp_endpoint ep = endpoint(0, AF_INET, "10.2.2.1", MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP, 4);
    size_t len = mptcp_pm_encode_add(buf, sizeof(buf), FAMILY_ID, &ep);
    const uint8_t want[] = {
        0x38, 0, 0, 0, FAMILY_ID, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* REQUEST|ACK, seq 0 */
        1, 1, 0, 0,                                                     /* ADD_ADDR, version 1 */
        0x24, 0, 0x01, 0x80,                                            /* ADDR, nested */
        6, 0, 1, 0, 2, 0, 0, 0,                                         /* family AF_INET */
        8, 0, 3, 0, 10, 2, 2, 1,                                        /* addr4 */
        8, 0, 6, 0, 6, 0, 0, 0,                                         /* flags subflow|backup */
        8, 0, 7, 0, 4, 0, 0, 0,                                         /* ifindex 4 */
    };
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    struct mptcp_endpoint back;
    assert_int_equal(decode_first(buf, len, &back), 0);
    assert_same_endpoint(&ep, &back);

    /* IPv6 with an id and a port survives the round trip. */
    ep = endpoint(7, AF_INET6, "2001:db8::7", MPTCP_EP_SIGNAL, 0);
    ep.port = 8443;
    len = mptcp_pm_encode_add(buf, sizeof(buf), FAMILY_ID, &ep);
    assert_true(len > 0);
    assert_int_equal(decode_first(buf, len, &back), 0);
    assert_same_endpoint(&ep, &back);

    /* Too small a buffer, and an unknown family, give 0. */
    for (size_t cap = 0; cap < len; cap++)
        assert_int_equal(mptcp_pm_encode_add(buf, cap, FAMILY_ID, &ep), 0);
    ep.family = 99;
    assert_int_equal(mptcp_pm_encode_add(buf, sizeof(buf), FAMILY_ID, &ep), 0);
}

static void test_encode_other_requests(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    uint8_t buf[MPTCP_PM_REQ_MAX];
    const uint8_t del[] = {0x20, 0, 0, 0, FAMILY_ID, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           2,    1, 0, 0, 0x0c, 0, 0x01, 0x80, 5, 0, 2, 0, 9, 0, 0, 0};
    assert_int_equal(mptcp_pm_encode_del(buf, sizeof(buf), FAMILY_ID, 9), sizeof(del));
    assert_memory_equal(buf, del, sizeof(del));

    const uint8_t dump[] = {0x14, 0, 0, 0, FAMILY_ID, 0, 0x01, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0};
    assert_int_equal(mptcp_pm_encode_dump(buf, sizeof(buf), FAMILY_ID), sizeof(dump));
    assert_memory_equal(buf, dump, sizeof(dump));

    const uint8_t limits[] = {0x14, 0, 0, 0, FAMILY_ID, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 1, 0, 0};
    assert_int_equal(mptcp_pm_encode_get_limits(buf, sizeof(buf), FAMILY_ID), sizeof(limits));
    assert_memory_equal(buf, limits, sizeof(limits));

    const uint8_t family[] = {0x24, 0, 0, 0, 0x10, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0,
                              0x0d, 0, 2, 0, 'm', 'p', 't', 'c', 'p', '_', 'p', 'm', 0, 0, 0, 0};
    assert_int_equal(genl_encode_get_family(buf, sizeof(buf), "mptcp_pm"), sizeof(family));
    assert_memory_equal(buf, family, sizeof(family));
    assert_int_equal(genl_encode_get_family(buf, sizeof(family) - 1, "mptcp_pm"), 0);
}

static void test_format(void **state)
{
    (void)state;
    char text[128];
    mptcp_ep_flags_format(0, text, sizeof(text));
    assert_string_equal(text, "none");
    mptcp_ep_flags_format(MPTCP_EP_SIGNAL | MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP | MPTCP_EP_FULLMESH, text,
                          sizeof(text));
    assert_string_equal(text, "signal subflow backup fullmesh");
    mptcp_ep_flags_format(MPTCP_EP_IMPLICIT | MPTCP_EP_LAMINAR | 0x40, text, sizeof(text));
    assert_string_equal(text, "implicit laminar");

    struct mptcp_endpoint ep = endpoint(2, AF_INET, "10.2.2.1", MPTCP_EP_SUBFLOW, 4);
    mptcp_endpoint_format(&ep, "wan2", text, sizeof(text));
    assert_string_equal(text, "10.2.2.1 id 2 subflow dev wan2");
    mptcp_endpoint_format(&ep, NULL, text, sizeof(text));
    assert_string_equal(text, "10.2.2.1 id 2 subflow ifindex 4");
    ep = endpoint(0, AF_INET6, "2001:db8::1", MPTCP_EP_SIGNAL, 0);
    ep.port = 443;
    mptcp_endpoint_format(&ep, NULL, text, sizeof(text));
    assert_string_equal(text, "2001:db8::1 port 443 signal");
    mptcp_endpoint_format(&ep, NULL, text, 8); /* truncated, terminated */
    assert_int_equal(strlen(text), 7);

    assert_true(mptcp_endpoint_same_addr(&ep, AF_INET6, ep.addr));
    assert_false(mptcp_endpoint_same_addr(&ep, AF_INET, ep.addr));

    struct mptcp_endpoint eps[] = {endpoint(1, AF_INET, "10.1.1.1", MPTCP_EP_SUBFLOW, 3),
                                   endpoint(2, AF_INET6, "2001:db8::2", MPTCP_EP_SUBFLOW, 4)};
    assert_ptr_equal(mptcp_endpoint_find(eps, 2, AF_INET6, eps[1].addr), &eps[1]);
    assert_ptr_equal(mptcp_endpoint_find(eps, 2, AF_INET, eps[0].addr), &eps[0]);
    assert_null(mptcp_endpoint_find(eps, 2, AF_INET, eps[1].addr));
    assert_null(mptcp_endpoint_find(eps, 1, AF_INET6, eps[1].addr));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_endpoint_dump),
        cmocka_unit_test(test_recorded_limits_and_family),
        cmocka_unit_test(test_truncated_replies),
        cmocka_unit_test(test_malformed_endpoints),
        cmocka_unit_test(test_encode_add),
        cmocka_unit_test(test_encode_other_requests),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
