/* Unit tests for src/url.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mpconv/url.h"

static struct proxy_url parse_ok(const char *s)
{
    struct proxy_url u;
    char err[256] = "";
    int rc = url_parse(s, &u, err, sizeof(err));
    if (rc != 0)
        fail_msg("url_parse(\"%s\"): %s", s, err);
    return u;
}

static void assert_parse_error(const char *s, const char *expected)
{
    struct proxy_url u;
    char err[256] = "";
    assert_int_equal(url_parse(s, &u, err, sizeof(err)), -1);
    assert_string_equal(err, expected);
}

static void test_ipv4_listener(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("socks5://127.0.0.1:1080");
    assert_string_equal(u.scheme, "socks5");
    assert_true(u.has_host);
    assert_false(u.has_userinfo);
    assert_int_equal(u.host.kind, TARGET_IPV4);
    assert_string_equal(u.host.host, "127.0.0.1");
    assert_int_equal(u.host.port, 1080);
    assert_string_equal(u.path, "");
    assert_int_equal(u.n_params, 0);
}

static void test_scheme_is_lower_cased(void **state)
{
    (void)state;
    assert_string_equal(parse_ok("HTTP://localhost:8080").scheme, "http");
    assert_string_equal(parse_ok("Direct").scheme, "direct");
}

static void test_ipv6_and_name_hosts(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("mixed://[::1]:1081");
    assert_int_equal(u.host.kind, TARGET_IPV6);
    assert_string_equal(u.host.host, "::1");
    assert_int_equal(u.host.port, 1081);

    u = parse_ok("http://localhost:8080");
    assert_int_equal(u.host.kind, TARGET_NAME);
    assert_string_equal(u.host.host, "localhost");
}

static void test_port_bounds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("socks5://0.0.0.0:0").host.port, 0);
    assert_int_equal(parse_ok("socks5://0.0.0.0:65535").host.port, 65535);
    assert_parse_error("socks5://0.0.0.0:65536", "invalid port (expected 0..65535)");
    assert_parse_error("socks5://0.0.0.0:12a", "invalid port (expected 0..65535)");
    assert_parse_error("socks5://0.0.0.0:", "invalid port (expected 0..65535)");
    assert_parse_error("socks5://0.0.0.0", "missing port (expected HOST:PORT)");
    assert_parse_error("socks5://[::1]", "missing port (expected HOST:PORT)");
}

static void test_bad_hosts(void **state)
{
    (void)state;
    assert_parse_error("socks5://:1080", "missing host");
    assert_parse_error("socks5://::1:1080", "IPv6 addresses need brackets, e.g. [::1]:1080");
    assert_parse_error("socks5://[::1:1080", "missing ']' after IPv6 address");
    assert_parse_error("socks5://[localhost]:1080", "brackets are only for IPv6 addresses");
    assert_parse_error("socks5://exa mple:1080", "invalid host (expected IPv4, [IPv6] or a host name)");
}

static void test_userinfo_is_percent_decoded(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("socks5://al%40ice:p%3As%25s@127.0.0.1:1080");
    assert_true(u.has_userinfo);
    assert_string_equal(u.user, "al@ice");
    assert_string_equal(u.pass, "p:s%s");
    assert_string_equal(u.host.host, "127.0.0.1");
}

static void test_password_may_hold_raw_at_and_colon(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("http://bob:p@ss:w@[::1]:8080");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.pass, "p@ss:w");
    assert_string_equal(u.host.host, "::1");
}

static void test_user_without_password(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("socks5://token@h:1");
    assert_true(u.has_userinfo);
    assert_string_equal(u.user, "token");
    assert_string_equal(u.pass, "");
    assert_string_equal(parse_ok("socks5://token:@h:1").pass, "");
}

static void test_bad_userinfo(void **state)
{
    (void)state;
    assert_parse_error("socks5://:pw@h:1", "empty user name before '@'");
    assert_parse_error("socks5://@h:1", "empty user name before '@'");
    assert_parse_error("socks5://u%4:pw@h:1", "invalid percent-escape in user name");
    assert_parse_error("socks5://u:p%zzw@h:1", "invalid percent-escape in password");
    assert_parse_error("socks5://u:pw%4@h:1", "invalid percent-escape in password");
    assert_parse_error("socks5://u:p%00w@h:1", "invalid percent-escape in password");

    char url[600] = "socks5://u:";
    memset(url + strlen(url), 'x', 256);
    strcat(url, "@h:1");
    assert_parse_error(url, "password too long (max 255 bytes)");
}

static void test_errors_never_show_the_password(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "socks5://user:S3cretPw@h",          "socks5://user:S3cretPw@h:99999",
        "socks5://user:S3cretPw@::1:1",      "socks5://user:S3cretPw@[h]:1",
        "socks5://user:S3cretPw%G0@h:1",     "socks5://user:S3cret/Pw@h:1",
        "socks5://user:S3cretPw?x@h:1",      "socks5://user:S3cretPw@h:1?a=1&&b=2",
        "user:S3cretPw@h:1",                 "socks5://user:S3cretPw@h:1?a=%G",
        "socks5://user:S3cretPw@bad host:1",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct proxy_url u;
        char err[256] = "";
        assert_int_equal(url_parse(urls[i], &u, err, sizeof(err)), -1);
        assert_null(strstr(err, "S3cret"));
        assert_null(strstr(err, "Pw"));
    }
}

static void test_bare_word(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("direct");
    assert_string_equal(u.scheme, "direct");
    assert_false(u.has_host);
    assert_false(u.has_userinfo);

    const char *scheme_error = "invalid scheme (expected SCHEME://HOST:PORT or a word like 'direct')";
    assert_parse_error("", "empty URL");
    assert_parse_error("127.0.0.1:1080", scheme_error);
    assert_parse_error("1socks://h:1", scheme_error);
    assert_parse_error("://h:1", scheme_error);
    assert_parse_error("averyveryverylongscheme://h:1", scheme_error);
}

static void test_path(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("forward://0.0.0.0:2222/example.com:22?mptcp=1");
    assert_string_equal(u.path, "example.com:22");
    assert_int_equal(u.host.port, 2222);
    assert_string_equal(url_param(&u, "mptcp"), "1");
    assert_string_equal(parse_ok("socks5://h:1/").path, "");
}

static void test_params(void **state)
{
    (void)state;
    struct proxy_url u = parse_ok("https://h:443?mptcp=1&cert=%2Fetc%2Fa%20b.pem&flag");
    assert_int_equal(u.n_params, 3);
    assert_string_equal(url_param(&u, "mptcp"), "1");
    assert_string_equal(url_param(&u, "cert"), "/etc/a b.pem");
    assert_string_equal(url_param(&u, "flag"), "");
    assert_null(url_param(&u, "missing"));
    assert_int_equal(parse_ok("socks5://h:1?").n_params, 0);
}

static void test_bad_params(void **state)
{
    (void)state;
    assert_parse_error("socks5://h:1?a=1&a=2", "duplicate query parameter 'a'");
    assert_parse_error("socks5://h:1?a=1&&b=2", "empty query parameter");
    assert_parse_error("socks5://h:1?=1",
                       "invalid query parameter name (letters, digits, '_', '-', '.'; at most 31)");
    assert_parse_error("socks5://h:1?a%20b=1",
                       "invalid query parameter name (letters, digits, '_', '-', '.'; at most 31)");
    assert_parse_error("socks5://h:1?cert=%2", "invalid percent-escape in parameter 'cert'");

    char url[256] = "socks5://h:1?";
    for (int i = 0; i <= URL_PARAM_MAX; i++)
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%sp%d=1", i ? "&" : "", i);
    assert_parse_error(url, "too many query parameters (max 16)");
}

static void test_format_redacted(void **state)
{
    (void)state;
    char out[256];
    struct proxy_url u = parse_ok("socks5://alice:secret@127.0.0.1:1080");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "socks5://alice:***@127.0.0.1:1080");

    u = parse_ok("http://[::1]:8080");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "http://[::1]:8080");

    u = parse_ok("direct");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "direct");

    u = parse_ok("forward://a%40b:x@h:1/t.example:22?cert=%2Fa%20b&mptcp=1");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "forward://a%40b:***@h:1/t.example:22?cert=/a%20b&mptcp=1");

    u = parse_ok("https://u%2F%3A:p@h:1?ca=/etc/ssl/c:1.pem&sni=%3B%26%23");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "https://u%2F%3A:***@h:1?ca=/etc/ssl/c:1.pem&sni=%3B%26%23");
}

static void test_format_redacted_truncates(void **state)
{
    (void)state;
    char out[12];
    struct proxy_url u = parse_ok("socks5://alice:secret@127.0.0.1:1080");
    url_format_redacted(&u, out, sizeof(out));
    assert_string_equal(out, "socks5://al");
    url_format_redacted(&u, out, 0); /* must not write */
    assert_string_equal(out, "socks5://al");
}

static void test_format_parses_back(void **state)
{
    (void)state;
    char out[512];
    struct proxy_url u = parse_ok("mixed://w%20e%3Ai%2Frd@localhost:0?k=%26%3D%3F&cert=%2Fa%3Ab%2Fc");
    url_format_redacted(&u, out, sizeof(out));
    struct proxy_url back = parse_ok(out);
    assert_string_equal(back.user, "w e:i/rd");
    assert_string_equal(back.pass, "***");
    assert_string_equal(url_param(&back, "k"), "&=?");
    assert_string_equal(url_param(&back, "cert"), "/a:b/c");
    assert_int_equal(back.host.port, 0);

    u = parse_ok("forward://h:1/[::1]:22?cert=/x/y");
    url_format_redacted(&u, out, sizeof(out));
    back = parse_ok(out);
    assert_string_equal(back.path, "[::1]:22");
    assert_string_equal(url_param(&back, "cert"), "/x/y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_listener),
        cmocka_unit_test(test_scheme_is_lower_cased),
        cmocka_unit_test(test_ipv6_and_name_hosts),
        cmocka_unit_test(test_port_bounds),
        cmocka_unit_test(test_bad_hosts),
        cmocka_unit_test(test_userinfo_is_percent_decoded),
        cmocka_unit_test(test_password_may_hold_raw_at_and_colon),
        cmocka_unit_test(test_user_without_password),
        cmocka_unit_test(test_bad_userinfo),
        cmocka_unit_test(test_errors_never_show_the_password),
        cmocka_unit_test(test_bare_word),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_format_redacted),
        cmocka_unit_test(test_format_redacted_truncates),
        cmocka_unit_test(test_format_parses_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
