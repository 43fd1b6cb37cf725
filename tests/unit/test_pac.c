/* Unit tests for src/pac.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mpconv/pac.h"

static bool is_request(const char *target)
{
    return pac_is_request((struct http_slice){target, strlen(target)});
}

static void request_paths(void **state)
{
    (void)state;
    assert_true(is_request("/proxy.pac"));
    assert_true(is_request("/wpad.dat"));
    assert_true(is_request("/proxy.pac?v=2"));
    assert_false(is_request("/proxy.pa"));
    assert_false(is_request("/proxy.pacx"));
    assert_false(is_request("/PROXY.PAC"));
    assert_false(is_request("proxy.pac"));
    assert_false(is_request("/"));
    assert_false(is_request(""));
    assert_false(is_request("http://x/proxy.pac"));
}

/* The "return ..." line of the function. */
static const char *return_line(const char *pac, char *out, size_t cap)
{
    const char *last = NULL;
    for (const char *p = strstr(pac, "  return \""); p; p = strstr(p + 1, "  return \""))
        last = p;
    assert_non_null(last);
    size_t n = strcspn(last, "\n");
    assert_true(n < cap);
    memcpy(out, last, n);
    out[n] = '\0';
    return out;
}

static void proxies_in_order(void **state)
{
    (void)state;
    const struct pac_proxy list[] = {
        {PAC_SOCKS5, "192.168.1.1:1080"},
        {PAC_HTTP, "192.168.1.1:8080"},
        {PAC_HTTPS, "[fd00::1]:8443"},
    };
    char pac[4096], line[256];
    size_t n = pac_render(list, 3, pac, sizeof(pac));
    assert_int_equal(n, strlen(pac));
    assert_non_null(strstr(pac, "function FindProxyForURL(url, host) {\n"));
    assert_string_equal(return_line(pac, line, sizeof(line)),
                        "  return \"SOCKS5 192.168.1.1:1080; PROXY 192.168.1.1:8080; "
                        "HTTPS [fd00::1]:8443\";");
    assert_string_equal(pac + n - 2, "}\n");
}

static void local_destinations_go_direct(void **state)
{
    (void)state;
    const struct pac_proxy one = {PAC_HTTP, "10.0.0.1:8080"};
    char pac[4096];
    assert_true(pac_render(&one, 1, pac, sizeof(pac)) > 0);
    assert_non_null(strstr(pac, "isPlainHostName(host)"));
    assert_non_null(strstr(pac, "isInNet(host, \"192.168.0.0\", \"255.255.0.0\")"));
    assert_non_null(strstr(pac, "isInNet(host, \"127.0.0.0\", \"255.0.0.0\")"));
}

static void no_proxy_means_direct(void **state)
{
    (void)state;
    char pac[4096], line[256];
    assert_true(pac_render(NULL, 0, pac, sizeof(pac)) > 0);
    assert_string_equal(return_line(pac, line, sizeof(line)), "  return \"DIRECT\";");
}

static void too_small_buffer(void **state)
{
    (void)state;
    const struct pac_proxy one = {PAC_SOCKS5, "10.0.0.1:1080"};
    char pac[4096];
    size_t full = pac_render(&one, 1, pac, sizeof(pac));
    assert_true(full > 0);
    assert_int_equal(pac_render(&one, 1, pac, full), 0); /* no room for the NUL */
    assert_int_equal(pac_render(&one, 1, pac, full + 1), full);
    assert_int_equal(pac_render(&one, 1, pac, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_paths),
        cmocka_unit_test(proxies_in_order),
        cmocka_unit_test(local_destinations_go_direct),
        cmocka_unit_test(no_proxy_means_direct),
        cmocka_unit_test(too_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
