/* Unit tests for src/addr.c (include/mpconv/target.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "mpconv/target.h"

static struct mp_target t;

static int set(const char *host, uint16_t port)
{
    return target_set(&t, host, strlen(host), port);
}

static int hostport(const char *s, uint16_t default_port)
{
    return target_parse_hostport(&t, s, strlen(s), default_port);
}

/* ---- target_set ---- */

static void set_name(void **state)
{
    (void)state;
    assert_int_equal(set("Example-1.com", 443), 0);
    assert_int_equal(t.kind, TARGET_NAME);
    assert_string_equal(t.host, "Example-1.com");
    assert_int_equal(t.port, 443);
}

static void set_name_with_underscore(void **state)
{
    (void)state;
    assert_int_equal(set("_srv.example", 1), 0);
    assert_int_equal(t.kind, TARGET_NAME);
}

static void set_ipv4_fills_addr(void **state)
{
    (void)state;
    assert_int_equal(set("203.0.113.5", 8080), 0);
    assert_int_equal(t.kind, TARGET_IPV4);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&t.addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 8080);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xCB007105);
}

static void set_ipv6_fills_addr(void **state)
{
    (void)state;
    assert_int_equal(set("2001:db8::5", 443), 0);
    assert_int_equal(t.kind, TARGET_IPV6);
    assert_string_equal(t.host, "2001:db8::5");
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&t.addr;
    struct in6_addr want;
    inet_pton(AF_INET6, "2001:db8::5", &want);
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 443);
    assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
}

static void set_uses_only_len_bytes(void **state)
{
    (void)state;
    assert_int_equal(target_set(&t, "10.0.0.1:99", 8, 1), 0);
    assert_int_equal(t.kind, TARGET_IPV4);
    assert_string_equal(t.host, "10.0.0.1");
}

static void set_rejects_empty(void **state)
{
    (void)state;
    assert_int_equal(target_set(&t, "", 0, 80), -1);
}

static void set_length_limits(void **state)
{
    (void)state;
    char host[TARGET_HOST_MAX + 2];
    memset(host, 'a', sizeof(host));
    assert_int_equal(target_set(&t, host, TARGET_HOST_MAX, 80), 0);
    assert_int_equal(strlen(t.host), TARGET_HOST_MAX);
    assert_int_equal(target_set(&t, host, TARGET_HOST_MAX + 1, 80), -1);
}

static void set_rejects_nul(void **state)
{
    (void)state;
    assert_int_equal(target_set(&t, "a\0b", 3, 80), -1);
}

static void set_rejects_bytes_outside_host_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"a b", "a/b", "user@host", "a:b", "fe80::1%eth0",
                                      "a\r\nb", "caf\xc3\xa9", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(set(bad[i], 80), -1);
}

/* ---- target_parse_hostport ---- */

static void hostport_name(void **state)
{
    (void)state;
    assert_int_equal(hostport("example.com:8443", 0), 0);
    assert_int_equal(t.kind, TARGET_NAME);
    assert_string_equal(t.host, "example.com");
    assert_int_equal(t.port, 8443);
}

static void hostport_ipv4(void **state)
{
    (void)state;
    assert_int_equal(hostport("192.0.2.1:443", 0), 0);
    assert_int_equal(t.kind, TARGET_IPV4);
    assert_string_equal(t.host, "192.0.2.1");
    assert_int_equal(t.port, 443);
}

static void hostport_bracketed_ipv6(void **state)
{
    (void)state;
    assert_int_equal(hostport("[2001:db8::1]:8080", 0), 0);
    assert_int_equal(t.kind, TARGET_IPV6);
    assert_string_equal(t.host, "2001:db8::1");
    assert_int_equal(t.port, 8080);
}

static void hostport_default_port(void **state)
{
    (void)state;
    assert_int_equal(hostport("example.com", 80), 0);
    assert_int_equal(t.port, 80);
    assert_int_equal(hostport("[::1]", 80), 0);
    assert_int_equal(t.kind, TARGET_IPV6);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 80);
}

static void hostport_explicit_port_beats_default(void **state)
{
    (void)state;
    assert_int_equal(hostport("example.com:81", 80), 0);
    assert_int_equal(t.port, 81);
}

static void hostport_port_required_without_default(void **state)
{
    (void)state;
    assert_int_equal(hostport("example.com", 0), -1);
    assert_int_equal(hostport("[::1]", 0), -1);
}

static void hostport_port_range(void **state)
{
    (void)state;
    assert_int_equal(hostport("h:1", 0), 0);
    assert_int_equal(t.port, 1);
    assert_int_equal(hostport("h:65535", 0), 0);
    assert_int_equal(t.port, 65535);
    assert_int_equal(hostport("h:0", 0), -1);
    assert_int_equal(hostport("h:65536", 0), -1);
    assert_int_equal(hostport("h:123456", 0), -1);
    assert_int_equal(hostport("h:99999", 0), -1);
}

static void hostport_rejects_bad_ports(void **state)
{
    (void)state;
    static const char *const bad[] = {"h:", "h:8a", "h:+80", "h:-1", "h: 80", "h:80 ", "[::1]:",
                                      "[::1]x", "[::1]:8x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hostport(bad[i], 80), -1);
}

static void hostport_rejects_bad_hosts(void **state)
{
    (void)state;
    static const char *const bad[] = {"",        ":80",       "[]:80",        "[::1:80",
                                      "::1:80",  "2001:db8::1", "[1.2.3.4]:80", "[host]:80",
                                      "a b:80",  "u@h:80",    "[fe80::1%lo]:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hostport(bad[i], 80), -1);
}

static void hostport_uses_only_len_bytes(void **state)
{
    (void)state;
    static const char s[] = "host:80/path";
    assert_int_equal(target_parse_hostport(&t, s, 7, 0), 0);
    assert_string_equal(t.host, "host");
    assert_int_equal(t.port, 80);
}

/* ---- formatting ---- */

static void format_targets(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(hostport("example.com:443", 0), 0);
    target_format(&t, out, sizeof(out));
    assert_string_equal(out, "example.com:443");
    assert_int_equal(hostport("10.1.2.3:80", 0), 0);
    target_format(&t, out, sizeof(out));
    assert_string_equal(out, "10.1.2.3:80");
    assert_int_equal(hostport("[2001:db8::1]:8080", 0), 0);
    target_format(&t, out, sizeof(out));
    assert_string_equal(out, "[2001:db8::1]:8080");
}

static void format_truncates_safely(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'Z', sizeof(out));
    assert_int_equal(hostport("example.com:443", 0), 0);
    target_format(&t, out, sizeof(out));
    assert_string_equal(out, "example");
}

static void format_sockaddrs(void **state)
{
    (void)state;
    char out[64];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1080)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    sockaddr_format((struct sockaddr *)&sin, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1:1080");

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    sockaddr_format((struct sockaddr *)&sin6, out, sizeof(out));
    assert_string_equal(out, "[::1]:443");

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    sockaddr_format((struct sockaddr *)&sun, out, sizeof(out));
    assert_string_equal(out, "?");
}

/* An IPv4 or IPv6 socket address from a literal and a port. */
static struct sockaddr_storage ss(const char *ip, uint16_t port)
{
    struct sockaddr_storage out = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &v6->sin6_addr), 1);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
    }
    return out;
}

static void compare_sockaddrs(void **state)
{
    (void)state;
    struct sockaddr_storage a = ss("192.0.2.1", 1), b = ss("192.0.2.1", 2), c = ss("192.0.2.2", 1);
    assert_true(sockaddr_same_ip(&a, &b)); /* ports do not count */
    assert_false(sockaddr_same_ip(&a, &c));
    struct sockaddr_storage x = ss("2001:db8::1", 1), y = ss("2001:db8::1", 9);
    assert_true(sockaddr_same_ip(&x, &y));
    struct sockaddr_storage mapped = ss("::ffff:192.0.2.1", 1);
    assert_false(sockaddr_same_ip(&a, &mapped)); /* different families */
    struct sockaddr_storage any4 = ss("0.0.0.0", 1), any6 = ss("::", 1);
    assert_true(sockaddr_is_wildcard(&any4));
    assert_true(sockaddr_is_wildcard(&any6));
    assert_false(sockaddr_is_wildcard(&a));
    assert_false(sockaddr_is_wildcard(&x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_name),
        cmocka_unit_test(set_name_with_underscore),
        cmocka_unit_test(set_ipv4_fills_addr),
        cmocka_unit_test(set_ipv6_fills_addr),
        cmocka_unit_test(set_uses_only_len_bytes),
        cmocka_unit_test(set_rejects_empty),
        cmocka_unit_test(set_length_limits),
        cmocka_unit_test(set_rejects_nul),
        cmocka_unit_test(set_rejects_bytes_outside_host_names),
        cmocka_unit_test(hostport_name),
        cmocka_unit_test(hostport_ipv4),
        cmocka_unit_test(hostport_bracketed_ipv6),
        cmocka_unit_test(hostport_default_port),
        cmocka_unit_test(hostport_explicit_port_beats_default),
        cmocka_unit_test(hostport_port_required_without_default),
        cmocka_unit_test(hostport_port_range),
        cmocka_unit_test(hostport_rejects_bad_ports),
        cmocka_unit_test(hostport_rejects_bad_hosts),
        cmocka_unit_test(hostport_uses_only_len_bytes),
        cmocka_unit_test(format_targets),
        cmocka_unit_test(format_truncates_safely),
        cmocka_unit_test(format_sockaddrs),
        cmocka_unit_test(compare_sockaddrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
