/* errmap: every dial failure maps to the documented SOCKS5 reply and HTTP status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "mpconv/errmap.h"
#include "mpconv/proto_socks5.h"

struct expectation {
    int err;
    uint8_t socks5;
    int http;
    const char *reason;
};

static const struct expectation table[] = {
    {UV_ECONNREFUSED, S5_REP_REFUSED, 502, "refused"},
    {UV_ENETUNREACH, S5_REP_NET_UNREACHABLE, 502, "net-unreachable"},
    {UV_EHOSTUNREACH, S5_REP_HOST_UNREACHABLE, 502, "host-unreachable"},
    {UV_ETIMEDOUT, S5_REP_TTL_EXPIRED, 504, "timeout"},
    {UV_EAI_NONAME, S5_REP_HOST_UNREACHABLE, 502, "dns-no-name"},
    {UV_EAI_AGAIN, S5_REP_HOST_UNREACHABLE, 502, "dns-failure"},
    {UV_EAFNOSUPPORT, S5_REP_ATYP_UNSUPPORTED, 502, "family-unsupported"},
    {UV_EACCES, S5_REP_NOT_ALLOWED, 403, "not-allowed"},
    {MPCONV_ERR_ACL, S5_REP_NOT_ALLOWED, 403, "denied"},
    {MPCONV_ERR_CLIENT_DENIED, S5_REP_NOT_ALLOWED, 403, "client-denied"},
    {MPCONV_ERR_MPTCP_REQUIRED, S5_REP_GENERAL_FAILURE, 502, "mptcp-required"},
};

static void known_errors_map_as_documented(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(errmap_socks5_reply(table[i].err), table[i].socks5);
        assert_int_equal(errmap_http_status(table[i].err), table[i].http);
        assert_string_equal(errmap_reason(table[i].err), table[i].reason);
    }
}

static void unknown_errors_are_general_failures(void **state)
{
    (void)state;
    assert_int_equal(errmap_socks5_reply(UV_EIO), S5_REP_GENERAL_FAILURE);
    assert_int_equal(errmap_http_status(UV_EIO), 502);
    assert_string_equal(errmap_reason(UV_EIO), "error");
    assert_int_equal(errmap_socks5_reply(0), S5_REP_GENERAL_FAILURE);
}

static void parent_answers_map_through(void **state)
{
    char buf[128];
    (void)state;
    assert_int_equal(errmap_socks5_reply(MPCONV_ERR_PARENT_SOCKS5(S5_REP_REFUSED)), S5_REP_REFUSED);
    assert_int_equal(errmap_http_status(MPCONV_ERR_PARENT_SOCKS5(S5_REP_TTL_EXPIRED)), 504);
    assert_int_equal(errmap_socks5_reply(MPCONV_ERR_PARENT_HTTP(403)), S5_REP_NOT_ALLOWED);
    assert_int_equal(errmap_http_status(MPCONV_ERR_PARENT_HTTP(504)), 504);
    assert_string_equal(errmap_reason(MPCONV_ERR_PARENT_HTTP(502)), "parent-refused");
    assert_int_equal(errmap_socks5_reply(MPCONV_ERR_PARENT_AUTH), S5_REP_NOT_ALLOWED);
    assert_int_equal(errmap_http_status(MPCONV_ERR_PARENT_TLS), 502);
    assert_string_equal(errmap_reason(MPCONV_ERR_PARENT_TLS), "parent-tls-failed");
    assert_string_equal(errmap_describe(MPCONV_ERR_PARENT_SOCKS5(5), buf, sizeof(buf)),
                        "the parent proxy could not connect (SOCKS5 reply 5)");
    assert_string_equal(errmap_describe(UV_ECONNREFUSED, buf, sizeof(buf)), "connection refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_errors_map_as_documented),
        cmocka_unit_test(unknown_errors_are_general_failures),
        cmocka_unit_test(parent_answers_map_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
