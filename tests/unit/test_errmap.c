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
    {MPCONV_ERR_ACL, S5_REP_NOT_ALLOWED, 403, "acl"},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_errors_map_as_documented),
        cmocka_unit_test(unknown_errors_are_general_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
