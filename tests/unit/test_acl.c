/* acl: CIDR list parsing and errors, matching (IPv4, IPv6, IPv4-mapped),
 * the built-in deny set with an injected list of own addresses, and the
 * order allow > deny. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "mpconv/acl.h"

#include "acl_list_text.h"

static char why[512];

/* A socket address for an IPv4 or IPv6 literal. */
static const struct sockaddr *sa_of(const char *ip)
{
    static struct sockaddr_storage ss[4];
    static int next;
    struct sockaddr_storage *out = &ss[next++ % 4];
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(80);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(80);
    }
    return (const struct sockaddr *)out;
}

static struct acl_list list_of(const char *text)
{
    struct acl_list l = {NULL, 0};
    if (acl_list_parse(&l, text, why, sizeof(why)) != 0)
        fail_msg("'%s': %s", text, why);
    return l;
}

static void assert_parses_as(const char *text, const char *expected)
{
    struct acl_list l = list_of(text);
    assert_string_equal(acl_list_text(&l), expected);
    acl_list_clear(&l);
}

static void assert_parse_error(const char *text, const char *expected)
{
    struct acl_list l = list_of("192.0.2.0/24");
    assert_int_equal(acl_list_parse(&l, text, why, sizeof(why)), -1);
    assert_string_equal(why, expected);
    assert_string_equal(acl_list_text(&l), "192.0.2.0/24"); /* unchanged */
    acl_list_clear(&l);
}

static void parses_lists(void **state)
{
    (void)state;
    assert_parses_as("10.0.0.0/8, fd00::/8, 192.0.2.1", "10.0.0.0/8, fd00::/8, 192.0.2.1");
    assert_parses_as("192.0.2.1/32,2001:DB8::1/128", "192.0.2.1, 2001:db8::1");
    assert_parses_as(" \t10.0.0.0/8\t ,\t::1 ", "10.0.0.0/8, ::1");
    assert_parses_as("0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    assert_parses_as("192.0.2.128/25,2001:db8::/127", "192.0.2.128/25, 2001:db8::/127");
    assert_parses_as("", "");
    assert_parses_as(" \t ", "");
}

static void ipv4_mapped_entries_become_ipv4(void **state)
{
    (void)state;
    assert_parses_as("::ffff:10.0.0.0/104", "10.0.0.0/8");
    assert_parses_as("::ffff:192.0.2.1", "192.0.2.1");
    assert_parses_as("::ffff:0:0/96", "0.0.0.0/0");
    assert_parses_as("::/80", "::/80"); /* shorter than the mapped prefix: stays IPv6 */
}

static void lists_accumulate(void **state)
{
    (void)state;
    struct acl_list l = list_of("10.0.0.0/8");
    assert_int_equal(acl_list_parse(&l, "fd00::/8, 192.0.2.1", why, sizeof(why)), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(acl_list_text(&l), "10.0.0.0/8, fd00::/8, 192.0.2.1");
    acl_list_clear(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
}

static void bad_entries_are_named(void **state)
{
    (void)state;
    const char *hint = "(expected an address or CIDR, e.g. 192.0.2.1, 10.0.0.0/8 or fd00::/8)";
    char want[512];
    static const char *const not_addresses[] = {"10.0.0.300", "example.com", "10.1", "fe80::1%eth0",
                                                "10.0.0.0 /8", "1.2.3.4.5", "::g", "/8"};
    for (size_t i = 0; i < sizeof(not_addresses) / sizeof(not_addresses[0]); i++) {
        snprintf(want, sizeof(want), "'%s': not an IP address %s", not_addresses[i], hint);
        assert_parse_error(not_addresses[i], want);
    }
    snprintf(want, sizeof(want), "'10.0.0.300': not an IP address %s", hint);
    assert_parse_error("10.0.0.0/8, 10.0.0.300, ::1", want); /* the bad one, not the list */

    assert_parse_error("10.0.0.1/8", "'10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)");
    assert_parse_error("fd00::1/8", "'fd00::1/8': host bits set (did you mean fd00::/8?)");
    assert_parse_error("192.0.2.200/25", "'192.0.2.200/25': host bits set (did you mean 192.0.2.128/25?)");
    assert_parse_error("::ffff:10.0.0.1/104", "'::ffff:10.0.0.1/104': host bits set (did you mean 10.0.0.0/8?)");

    static const char *const bad_v4_prefixes[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08",
                                                  "10.0.0.0/ 8", "10.0.0.0/8/8", "10.0.0.0/1000", "10.0.0.0/x"};
    for (size_t i = 0; i < sizeof(bad_v4_prefixes) / sizeof(bad_v4_prefixes[0]); i++) {
        snprintf(want, sizeof(want), "'%s': prefix length must be 0..32", bad_v4_prefixes[i]);
        assert_parse_error(bad_v4_prefixes[i], want);
    }
    assert_parse_error("::/129", "'::/129': prefix length must be 0..128");

    snprintf(want, sizeof(want), "empty entry in '10.0.0.0/8,,::1' %s", hint);
    assert_parse_error("10.0.0.0/8,,::1", want);
    snprintf(want, sizeof(want), "empty entry in '10.0.0.0/8, ' %s", hint);
    assert_parse_error("10.0.0.0/8, ", want);
    snprintf(want, sizeof(want), "empty entry in ',' %s", hint);
    assert_parse_error(",", want);

    char long_entry[128];
    memset(long_entry, '1', 100);
    long_entry[100] = '\0';
    snprintf(want, sizeof(want), "'%s': too long %s", long_entry, hint);
    assert_parse_error(long_entry, want);
}

static void matches_ipv4_ipv6_and_mapped(void **state)
{
    (void)state;
    struct acl_list l = list_of("10.0.0.0/8, 192.0.2.128/25, fd00::/8, 2001:db8::1");
    assert_true(acl_list_match(&l, sa_of("10.0.0.0")));
    assert_true(acl_list_match(&l, sa_of("10.255.255.255")));
    assert_false(acl_list_match(&l, sa_of("11.0.0.0")));
    assert_false(acl_list_match(&l, sa_of("9.255.255.255")));
    assert_true(acl_list_match(&l, sa_of("192.0.2.128")));
    assert_true(acl_list_match(&l, sa_of("192.0.2.255")));
    assert_false(acl_list_match(&l, sa_of("192.0.2.127")));
    assert_true(acl_list_match(&l, sa_of("fdff:1::2")));
    assert_false(acl_list_match(&l, sa_of("fe00::1")));
    assert_true(acl_list_match(&l, sa_of("2001:db8::1")));
    assert_false(acl_list_match(&l, sa_of("2001:db8::2")));
    /* IPv4-mapped IPv6 addresses match IPv4 entries, and only those */
    assert_true(acl_list_match(&l, sa_of("::ffff:10.1.2.3")));
    assert_false(acl_list_match(&l, sa_of("::ffff:11.1.2.3")));
    acl_list_clear(&l);

    struct acl_list all_v6 = list_of("::/0"), all_v4 = list_of("0.0.0.0/0");
    assert_false(acl_list_match(&all_v6, sa_of("::ffff:10.1.2.3")));
    assert_true(acl_list_match(&all_v6, sa_of("::2")));
    assert_false(acl_list_match(&all_v6, sa_of("10.1.2.3")));
    assert_true(acl_list_match(&all_v4, sa_of("::ffff:10.1.2.3")));
    assert_false(acl_list_match(&all_v4, sa_of("::2")));
    acl_list_clear(&all_v6);
    acl_list_clear(&all_v4);

    struct acl_list empty = {NULL, 0};
    assert_false(acl_list_match(&empty, sa_of("10.0.0.1")));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    l = list_of("0.0.0.0/0, ::/0");
    assert_false(acl_list_match(&l, (const struct sockaddr *)&un));
    assert_int_equal(acl_list_add_address(&l, (const struct sockaddr *)&un), -1);
    acl_list_clear(&l);
}

static void builtin_set_is_loopback_and_unspecified(void **state)
{
    (void)state;
    static const char *const denied[] = {"127.0.0.1", "127.255.255.254", "127.0.0.2", "0.0.0.0", "0.1.2.3",
                                         "::1", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0"};
    static const char *const allowed[] = {"128.0.0.1", "126.255.255.255", "1.0.0.0", "10.0.0.1", "::2",
                                          "fe80::1", "::ffff:10.0.0.1", "2001:db8::1"};
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if (!acl_builtin_denied(sa_of(denied[i])))
            fail_msg("%s is not in the built-in deny set", denied[i]);
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (acl_builtin_denied(sa_of(allowed[i])))
            fail_msg("%s is in the built-in deny set", allowed[i]);
}

static void destinations_allow_wins_over_deny(void **state)
{
    (void)state;
    struct acl_config acl = {0};
    struct acl_list own = {NULL, 0};
    assert_int_equal(acl_list_add_address(&own, sa_of("192.0.2.10")), 0);
    assert_int_equal(acl_list_add_address(&own, sa_of("2001:db8::10")), 0);
    assert_int_equal(acl_list_add_address(&own, sa_of("::ffff:198.51.100.7")), 0); /* stored as IPv4 */

    /* defaults: built-in and own addresses denied, the rest allowed */
    assert_false(acl_destination_allowed(&acl, &own, sa_of("127.0.0.1")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("::ffff:127.0.0.1")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("192.0.2.10")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("::ffff:192.0.2.10")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("2001:db8::10")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("198.51.100.7")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("192.0.2.11")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("10.1.1.1")));
    assert_true(acl_destination_allowed(&acl, NULL, sa_of("192.0.2.10"))); /* no list of own addresses */
    assert_false(acl_destination_allowed(&acl, NULL, sa_of("::")));

    acl.deny = list_of("10.0.0.0/8, fd00::/8");
    acl.allow = list_of("10.1.0.0/16, 127.0.0.1, 192.0.2.10");
    assert_false(acl_destination_allowed(&acl, &own, sa_of("10.2.0.1")));
    assert_false(acl_destination_allowed(&acl, &own, sa_of("fd00::1")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("10.1.1.1")));     /* allow > deny */
    assert_true(acl_destination_allowed(&acl, &own, sa_of("127.0.0.1")));    /* allow > built-in */
    assert_false(acl_destination_allowed(&acl, &own, sa_of("127.0.0.2")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("::ffff:127.0.0.1")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("192.0.2.10")));   /* allow > own */
    assert_false(acl_destination_allowed(&acl, &own, sa_of("2001:db8::10")));
    assert_true(acl_destination_allowed(&acl, &own, sa_of("2001:db8::11")));
    acl_config_free(&acl);
    acl_list_clear(&own);
}

static void clients_empty_list_admits_everyone(void **state)
{
    (void)state;
    struct acl_list none = {NULL, 0};
    assert_true(acl_client_allowed(&none, sa_of("203.0.113.9")));
    assert_true(acl_client_allowed(&none, sa_of("::1")));
    struct acl_list lan = list_of("192.168.1.0/24, fd00::/8");
    assert_true(acl_client_allowed(&lan, sa_of("192.168.1.77")));
    assert_true(acl_client_allowed(&lan, sa_of("::ffff:192.168.1.77")));
    assert_true(acl_client_allowed(&lan, sa_of("fd12::3")));
    assert_false(acl_client_allowed(&lan, sa_of("192.168.2.1")));
    assert_false(acl_client_allowed(&lan, sa_of("127.0.0.1")));
    acl_list_clear(&lan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_lists),
        cmocka_unit_test(ipv4_mapped_entries_become_ipv4),
        cmocka_unit_test(lists_accumulate),
        cmocka_unit_test(bad_entries_are_named),
        cmocka_unit_test(matches_ipv4_ipv6_and_mapped),
        cmocka_unit_test(builtin_set_is_loopback_and_unspecified),
        cmocka_unit_test(destinations_allow_wins_over_deny),
        cmocka_unit_test(clients_empty_list_admits_everyone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
