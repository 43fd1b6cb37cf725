/* Unit tests for the pure part of src/sock.c: the MPTCP_SUBFLOW_ADDRS reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "mpconv/sock.h"

#define HDR 16
#define ENTRY 256

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* struct mptcp_subflow_data {size_subflow_data, num_subflows, size_kernel, size_user}. */
static void header(uint8_t *buf, uint32_t count, uint32_t entry)
{
    put_u32(buf, HDR);
    put_u32(buf + 4, count);
    put_u32(buf + 8, ENTRY);
    put_u32(buf + 12, entry);
}

static void put_v4(uint8_t *p, const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &sin.sin_addr);
    memcpy(p, &sin, sizeof(sin));
}

static void put_v6(uint8_t *p, const char *ip, uint16_t port)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, ip, &sin6.sin6_addr);
    memcpy(p, &sin6, sizeof(sin6));
}

static void test_subflow_addrs(void **state)
{
    (void)state;
    uint8_t buf[HDR + 3 * ENTRY] = {0};
    struct sockaddr_storage local[4], remote[4];
    char text[64];
    header(buf, 2, ENTRY);
    put_v4(buf + HDR, "10.1.1.1", 40000);
    put_v4(buf + HDR + 128, "10.99.0.1", 443);
    put_v6(buf + HDR + ENTRY, "2001:db8::2", 40001);
    put_v6(buf + HDR + ENTRY + 128, "2001:db8::99", 443);
    assert_int_equal(sock_parse_subflow_addrs(buf, HDR + 2 * ENTRY, local, remote, 4), 2);
    sockaddr_format((struct sockaddr *)&local[0], text, sizeof(text));
    assert_string_equal(text, "10.1.1.1:40000");
    sockaddr_format((struct sockaddr *)&remote[1], text, sizeof(text));
    assert_string_equal(text, "[2001:db8::99]:443");
    /* max, and a count beyond the bytes returned. */
    assert_int_equal(sock_parse_subflow_addrs(buf, HDR + 2 * ENTRY, local, remote, 1), 1);
    header(buf, 5, ENTRY);
    assert_int_equal(sock_parse_subflow_addrs(buf, HDR + 2 * ENTRY + 100, local, remote, 4), 2);
    /* Larger entries from a newer caller layout are stepped over. */
    header(buf, 1, ENTRY + 8);
    assert_int_equal(sock_parse_subflow_addrs(buf, HDR + ENTRY + 8, local, remote, 4), 1);
}

static void test_subflow_addrs_malformed(void **state)
{
    (void)state;
    uint8_t buf[HDR + ENTRY] = {0};
    struct sockaddr_storage local[2], remote[2];
    header(buf, 1, ENTRY);
    put_v4(buf + HDR, "10.1.1.1", 1);
    /* Remote family unknown. */
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), -1);
    put_v4(buf + HDR + 128, "10.99.0.1", 443);
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), 1);
    /* Short header, header claiming more than the buffer, entries too small. */
    assert_int_equal(sock_parse_subflow_addrs(buf, HDR - 1, local, remote, 2), -1);
    put_u32(buf, sizeof(buf) + 1);
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), -1);
    put_u32(buf, 8);
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), -1);
    header(buf, 1, 255);
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), -1);
    header(buf, 0, ENTRY);
    assert_int_equal(sock_parse_subflow_addrs(buf, sizeof(buf), local, remote, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subflow_addrs),
        cmocka_unit_test(test_subflow_addrs_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
