/* libFuzzer harness for src/url.c, src/addr.c and src/acl.c.
 *
 * The input, made a C string, goes to url_parse. A URL that parses is
 * formatted redacted; that text must parse back to the same URL (with
 * "***" as the password), and shorter buffers must get a NUL-terminated
 * prefix of it. The raw bytes also go to target_parse_hostport (with and
 * without a default port), whose result must survive target_format and a
 * second parse. The same text is a CIDR list for acl_list_parse: a list
 * that fails is left as it was, and every entry of one that parses formats
 * to text that parses back to the same entry and matches its own network
 * address. */
#include "fuzz.h"

#include <netinet/in.h>
#include <string.h>

#include "mpconv/acl.h"
#include "mpconv/target.h"
#include "mpconv/url.h"

/* Scheme, user, host, path and every escaped parameter value 3 times over. */
#define REDACTED_MAX (1024 + URL_PARAM_MAX * (URL_PARAM_KEY_MAX + 3 + 3 * URL_PARAM_VALUE_MAX))

static char text[8192];
static char redacted[REDACTED_MAX];
static char shorter[REDACTED_MAX];
static struct proxy_url url, back;

static bool same_target(const struct mp_target *a, const struct mp_target *b)
{
    return a->kind == b->kind && a->port == b->port && strcmp(a->host, b->host) == 0 &&
           memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static void check_url(const char *s, size_t cap_byte)
{
    char err[256];
    memset(err, 0, sizeof(err));
    if (url_parse(s, &url, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
        return;
    }
    FUZZ_CHECK(url.scheme[0] != '\0' && url.n_params <= URL_PARAM_MAX);
    FUZZ_CHECK(!url.has_userinfo || url.user[0] != '\0');
    for (size_t i = 0; i < url.n_params; i++)
        FUZZ_CHECK(url_param(&url, url.params[i].key) == url.params[i].value);

    url_format_redacted(&url, redacted, sizeof(redacted));
    size_t len = strlen(redacted);
    FUZZ_CHECK(len + 1 < sizeof(redacted)); /* never cut at full size */
    FUZZ_CHECK(!url.has_userinfo || url.pass[0] == '\0' || strstr(redacted, ":***@"));

    /* Shorter buffers get a prefix; size 0 is not written. */
    size_t cap = cap_byte % (len + 2);
    shorter[0] = 'x';
    url_format_redacted(&url, shorter, cap);
    if (cap == 0) {
        FUZZ_CHECK(shorter[0] == 'x');
    } else {
        size_t n = strlen(shorter);
        FUZZ_CHECK(n == (len < cap ? len : cap - 1) && memcmp(shorter, redacted, n) == 0);
    }

    FUZZ_CHECK(url_parse(redacted, &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(strcmp(back.scheme, url.scheme) == 0 && back.has_host == url.has_host);
    FUZZ_CHECK(back.has_userinfo == url.has_userinfo && strcmp(back.user, url.user) == 0);
    FUZZ_CHECK(!back.has_userinfo || strcmp(back.pass, "***") == 0);
    FUZZ_CHECK(!url.has_host || same_target(&back.host, &url.host));
    FUZZ_CHECK(strcmp(back.path, url.path) == 0 && back.n_params == url.n_params);
    for (size_t i = 0; i < url.n_params; i++)
        FUZZ_CHECK(strcmp(back.params[i].key, url.params[i].key) == 0 &&
                   strcmp(back.params[i].value, url.params[i].value) == 0);
}

static void check_hostport(const char *s, size_t len, uint16_t default_port)
{
    struct mp_target t, again;
    if (target_parse_hostport(&t, s, len, default_port) != 0)
        return;
    FUZZ_CHECK(t.port != 0 && t.host[0] != '\0' && strlen(t.host) <= TARGET_HOST_MAX);
    FUZZ_CHECK(default_port != 0 || memchr(s, ':', len));

    char formatted[TARGET_HOST_MAX + sizeof("[]:65535")];
    target_format(&t, formatted, sizeof(formatted));
    FUZZ_CHECK(target_parse_hostport(&again, formatted, strlen(formatted), 0) == 0);
    FUZZ_CHECK(same_target(&t, &again));
    if (t.kind != TARGET_NAME) {
        char sa[64];
        sockaddr_format((const struct sockaddr *)&t.addr, sa, sizeof(sa));
        FUZZ_CHECK(sa[0] != '?');
    }
}

static bool same_entry(const struct acl_cidr *a, const struct acl_cidr *b)
{
    return a->family == b->family && a->prefix == b->prefix && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The network address of an entry as a socket address. */
static void network_of(const struct acl_cidr *c, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = (sa_family_t)c->family;
    if (c->family == AF_INET)
        memcpy(&((struct sockaddr_in *)ss)->sin_addr, c->addr, 4);
    else
        memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, c->addr, 16);
}

static void check_cidr_list(const char *s)
{
    char why[512];
    struct acl_list l = {NULL, 0}, back = {NULL, 0};
    FUZZ_CHECK(acl_list_parse(&l, "192.0.2.0/24", why, sizeof(why)) == 0 && l.n == 1);
    memset(why, 0, sizeof(why));
    if (acl_list_parse(&l, s, why, sizeof(why)) != 0) {
        FUZZ_CHECK(l.n == 1 && why[0] != '\0' && memchr(why, '\0', sizeof(why)));
        acl_list_clear(&l);
        return;
    }
    for (size_t i = 1; i < l.n; i++) {
        const struct acl_cidr *c = &l.v[i];
        FUZZ_CHECK(c->family == AF_INET || c->family == AF_INET6);
        FUZZ_CHECK(c->prefix <= (c->family == AF_INET ? 32u : 128u));
        char text[ACL_CIDR_TEXT_MAX];
        acl_cidr_format(c, text, sizeof(text));
        FUZZ_CHECK(acl_list_parse(&back, text, why, sizeof(why)) == 0 && back.n == 1);
        FUZZ_CHECK(same_entry(&back.v[0], c));
        acl_list_clear(&back);
        struct sockaddr_storage net;
        network_of(c, &net);
        FUZZ_CHECK(acl_list_match(&l, (const struct sockaddr *)&net));
    }
    acl_list_clear(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    check_url(text, size ? data[size - 1] : 0);
    check_hostport(text, size, 0);
    check_hostport(text, size, 1080);
    check_cidr_list(text);

    uint16_t port;
    if (port_parse(text, size, &port) == 0)
        FUZZ_CHECK(size >= 1 && size <= 5);
    return 0;
}
