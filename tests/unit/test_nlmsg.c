/* Unit tests for src/nlmsg.c: the builder, the message and attribute
 * walkers on good, truncated and lying input, and error/extended-ack
 * messages (one recorded from Linux 6.18, x86-64). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/netlink.h>

#include "mpconv/nlmsg.h"

/* Adding 10.1.1.1 a second time: EEXIST with the kernel's explanation. */
static const uint8_t eexist_reply[] = {
    0x54, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0x05, 0x00, 0x00, 0x00, 0xaf, 0x62, 0x00, 0x00,
    0xef, 0xff, 0xff, 0xff, 0x30, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x05, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x01, 0x00, 0x74, 0x6f, 0x6f, 0x20, 0x6d, 0x61, 0x6e, 0x79,
    0x20, 0x61, 0x64, 0x64, 0x72, 0x65, 0x73, 0x73, 0x65, 0x73, 0x20, 0x6f, 0x72, 0x20, 0x64, 0x75,
    0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x65, 0x20, 0x6f, 0x6e, 0x65, 0x3a, 0x20, 0x2d, 0x31, 0x37,
    0x00, 0x00, 0x00, 0x00,
};

static bool little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void test_builder(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct nl_builder b;
    uint8_t *fam = nlb_begin(&b, buf, sizeof(buf), 0x1234, NLM_F_REQUEST, 7, 3);
    assert_non_null(fam);
    assert_ptr_equal(fam, buf + 16);
    fam[0] = 0xaa;
    nlb_put_u8(&b, 1, 0x42);
    size_t nest = nlb_nest_begin(&b, 2);
    nlb_put_str(&b, 3, "ab");
    nlb_put_u32(&b, 4, 0x01020304);
    nlb_nest_end(&b, nest);
    nlb_put_u16(&b, 5, 0xbeef);
    size_t len = nlb_end(&b);
    assert_int_equal(len, 16 + 4 + 8 + (4 + 8 + 8) + 8);

    size_t off = 0;
    struct nl_msg m;
    assert_int_equal(nl_next_msg(buf, len, &off, &m), 1);
    assert_int_equal(off, len);
    assert_int_equal(m.type, 0x1234);
    assert_int_equal(m.flags, NLM_F_REQUEST);
    assert_int_equal(m.seq, 7);
    assert_int_equal(m.data[0], 0xaa);
    assert_int_equal(nl_next_msg(buf, len, &off, &m), 0);

    struct nl_attr tb[6], inner[5];
    assert_int_equal(nl_parse_attrs(m.data + 4, m.len - 4, tb, 6), 0);
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    char s[8];
    assert_int_equal(nl_attr_u8(&tb[1], &u8), 0);
    assert_int_equal(u8, 0x42);
    assert_int_equal(nl_attr_u16(&tb[5], &u16), 0);
    assert_int_equal(u16, 0xbeef);
    assert_int_equal(tb[2].type, 2); /* the NLA_F_NESTED bit is masked off */
    assert_int_equal(nl_parse_attrs(tb[2].data, tb[2].len, inner, 5), 0);
    assert_int_equal(nl_attr_str(&inner[3], s, sizeof(s)), 0);
    assert_string_equal(s, "ab");
    assert_int_equal(nl_attr_u32(&inner[4], &u32), 0);
    assert_int_equal(u32, 0x01020304);
    /* Absent, and wrong sizes. */
    assert_null(tb[3].data);
    assert_int_equal(nl_attr_u8(&tb[3], &u8), -1);
    assert_int_equal(nl_attr_u32(&tb[1], &u32), -1);
    assert_int_equal(nl_attr_u16(&tb[1], &u16), -1);
}

static void test_builder_overflow(void **state)
{
    (void)state;
    uint8_t buf[32];
    struct nl_builder b;
    assert_null(nlb_begin(&b, buf, 15, 1, 0, 0, 0));
    assert_int_equal(nlb_end(&b), 0);
    assert_null(nlb_begin(&b, buf, 19, 1, 0, 0, 4));
    assert_non_null(nlb_begin(&b, buf, sizeof(buf), 1, 0, 0, 4));
    nlb_put_u32(&b, 1, 1);  /* 28 bytes */
    nlb_put_u32(&b, 2, 2);  /* would be 36 */
    nlb_put_u8(&b, 3, 3);   /* fits, but the message is already broken */
    assert_int_equal(nlb_end(&b), 0);
    /* An attribute longer than its 16-bit length field. */
    static uint8_t big[70000];
    assert_non_null(nlb_begin(&b, big, sizeof(big), 1, 0, 0, 0));
    nlb_put(&b, 1, big, 65532);
    assert_int_equal(nlb_end(&b), 0);
}

static void test_message_walk(void **state)
{
    (void)state;
    uint8_t buf[64] = {0};
    struct nl_msg m;
    size_t off;
    /* Two messages, the first unpadded length 17 (next starts at 20). */
    uint32_t len1 = 17, len2 = 16;
    memcpy(buf, &len1, 4);
    memcpy(buf + 20, &len2, 4);
    off = 0;
    assert_int_equal(nl_next_msg(buf, 36, &off, &m), 1);
    assert_int_equal(m.len, 1);
    assert_int_equal(off, 20);
    assert_int_equal(nl_next_msg(buf, 36, &off, &m), 1);
    assert_int_equal(m.len, 0);
    assert_int_equal(nl_next_msg(buf, 36, &off, &m), 0);
    /* The last message's padding may be missing. */
    off = 0;
    assert_int_equal(nl_next_msg(buf, 17, &off, &m), 1);
    assert_int_equal(off, 17);
    assert_int_equal(nl_next_msg(buf, 17, &off, &m), 0);

    const uint32_t bad_lens[] = {0, 1, 15, 37, 0xffffffff};
    for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
        memcpy(buf, &bad_lens[i], 4);
        off = 0;
        assert_int_equal(nl_next_msg(buf, 36, &off, &m), -1);
    }
    /* Fewer than 16 bytes left. */
    memcpy(buf, &len2, 4);
    off = 0;
    assert_int_equal(nl_next_msg(buf, 15, &off, &m), -1);
}

static void test_attr_walk(void **state)
{
    (void)state;
    struct nl_attr tb[4];
    /* Type 1 "x\0" (len 6, unpadded at the end). */
    const uint8_t unpadded[] = {6, 0, 1, 0, 'x', 0};
    char s[4];
    assert_int_equal(nl_parse_attrs(unpadded, sizeof(unpadded), tb, 4), 0);
    assert_int_equal(nl_attr_str(&tb[1], s, sizeof(s)), 0);
    assert_string_equal(s, "x");
    /* A later attribute of the same type wins; unknown types are skipped. */
    const uint8_t twice[] = {5, 0, 1, 0, 1, 0, 0, 0, 5, 0, 1, 0, 2, 0, 0, 0, 5, 0, 9, 0, 3, 0, 0, 0};
    uint8_t v;
    assert_int_equal(nl_parse_attrs(twice, sizeof(twice), tb, 4), 0);
    assert_int_equal(nl_attr_u8(&tb[1], &v), 0);
    assert_int_equal(v, 2);
    /* Empty input is fine. */
    assert_int_equal(nl_parse_attrs(twice, 0, tb, 4), 0);
    assert_null(tb[1].data);

    const uint8_t len_below_header[] = {3, 0, 1, 0};
    const uint8_t len_past_end[] = {9, 0, 1, 0, 1, 2, 3, 4};
    const uint8_t leftover[] = {4, 0, 1, 0, 7, 7};
    const uint8_t lone_bytes[] = {1, 2, 3};
    assert_int_equal(nl_parse_attrs(len_below_header, sizeof(len_below_header), tb, 4), -1);
    assert_int_equal(nl_parse_attrs(len_past_end, sizeof(len_past_end), tb, 4), -1);
    assert_int_equal(nl_parse_attrs(leftover, sizeof(leftover), tb, 4), -1);
    assert_int_equal(nl_parse_attrs(lone_bytes, sizeof(lone_bytes), tb, 4), -1);

    /* Strings: a NUL within the payload, and room for it. */
    const uint8_t no_nul[] = {7, 0, 1, 0, 'a', 'b', 'c'};
    const uint8_t long_str[] = {9, 0, 1, 0, 'a', 'b', 'c', 'd', 0};
    assert_int_equal(nl_parse_attrs(no_nul, sizeof(no_nul), tb, 4), 0);
    assert_int_equal(nl_attr_str(&tb[1], s, sizeof(s)), -1);
    assert_int_equal(nl_parse_attrs(long_str, sizeof(long_str), tb, 4), 0);
    assert_int_equal(nl_attr_str(&tb[1], s, sizeof(s)), -1);
    assert_int_equal(nl_attr_str(&tb[2], s, sizeof(s)), -1); /* absent */
}

static struct nl_msg only_message(const uint8_t *buf, size_t len)
{
    size_t off = 0;
    struct nl_msg m;
    assert_int_equal(nl_next_msg(buf, len, &off, &m), 1);
    return m;
}

static void test_recorded_error(void **state)
{
    (void)state;
    if (!little_endian())
        skip();
    int error = 1;
    char text[128];
    struct nl_msg m = only_message(eexist_reply, sizeof(eexist_reply));
    assert_int_equal(m.type, NLMSG_ERROR);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), 0);
    assert_int_equal(error, -17);
    assert_string_equal(text, "too many addresses or duplicate one: -17");
    /* A short text buffer gets no text rather than a cut one. */
    assert_int_equal(nl_parse_error(&m, &error, text, 8), 0);
    assert_string_equal(text, "");
    /* Cut anywhere inside the extended ack: malformed. */
    for (size_t len = 16; len < sizeof(eexist_reply) - 4; len++) {
        uint8_t copy[sizeof(eexist_reply)];
        memcpy(copy, eexist_reply, sizeof(copy));
        uint32_t l32 = (uint32_t)len;
        memcpy(copy, &l32, 4);
        m = only_message(copy, len);
        if (nl_parse_error(&m, &error, text, sizeof(text)) == 0 && len >= 40)
            fail_msg("error message cut to %zu bytes parsed", len);
    }
}

static size_t error_message(uint8_t *buf, size_t cap, uint16_t flags, int32_t err, size_t orig_payload,
                            const char *ext)
{
    struct nl_builder b;
    uint8_t *e = nlb_begin(&b, buf, cap, NLMSG_ERROR, flags, 0, 4 + 16 + orig_payload);
    assert_non_null(e);
    uint32_t orig_len = (uint32_t)(16 + orig_payload);
    memcpy(e, &err, 4);
    memcpy(e + 4, &orig_len, 4);
    if (ext)
        nlb_put_str(&b, 1, ext);
    return nlb_end(&b);
}

static void test_errors_and_acks(void **state)
{
    (void)state;
    uint8_t buf[128];
    int error;
    char text[64];
    struct nl_msg m;

    size_t len = error_message(buf, sizeof(buf), NLM_F_CAPPED, 0, 0, NULL);
    m = only_message(buf, len);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), 0);
    assert_int_equal(error, 0);
    assert_string_equal(text, "");

    /* Not capped: the original request (8 bytes of payload) comes before the TLVs. */
    len = error_message(buf, sizeof(buf), NLM_F_ACK_TLVS, -1, 8, "nope");
    m = only_message(buf, len);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), 0);
    assert_int_equal(error, -1);
    assert_string_equal(text, "nope");

    /* An original length that runs past the message. */
    len = error_message(buf, sizeof(buf), NLM_F_ACK_TLVS, -1, 0, NULL);
    uint32_t lie = 200;
    memcpy(buf + 20, &lie, 4);
    m = only_message(buf, len);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), -1);
    lie = 3; /* shorter than a header */
    memcpy(buf + 20, &lie, 4);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), -1);

    /* Positive or absurd error numbers, and too short a payload. */
    len = error_message(buf, sizeof(buf), NLM_F_CAPPED, 5, 0, NULL);
    m = only_message(buf, len);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), -1);
    len = error_message(buf, sizeof(buf), NLM_F_CAPPED, -100000, 0, NULL);
    m = only_message(buf, len);
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), -1);
    m.len = 19;
    assert_int_equal(nl_parse_error(&m, &error, text, sizeof(text)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder),         cmocka_unit_test(test_builder_overflow),
        cmocka_unit_test(test_message_walk),    cmocka_unit_test(test_attr_walk),
        cmocka_unit_test(test_recorded_error),  cmocka_unit_test(test_errors_and_acks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
