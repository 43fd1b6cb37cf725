/* Unit tests for src/proto_socks5.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "mpconv/proto_socks5.h"

/* One signature for the three parsers so prefix tests can be shared. */
typedef enum s5_status (*parse_fn)(const uint8_t *buf, size_t len, size_t *consumed);

static struct s5_greeting greeting;
static struct s5_userpass userpass;
static struct s5_request request;
static uint8_t reply;

static enum s5_status parse_greeting(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_parse_greeting(buf, len, &greeting, consumed);
}

static enum s5_status parse_userpass(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_parse_userpass(buf, len, &userpass, consumed);
}

static enum s5_status parse_request(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_parse_request(buf, len, &request, consumed, &reply);
}

/* Every strict prefix needs more; the whole message is done and consumed. */
static void assert_split_anywhere(parse_fn parse, const uint8_t *msg, size_t len)
{
    size_t consumed;
    for (size_t i = 0; i < len; i++) {
        consumed = 99;
        assert_int_equal(parse(msg, i, &consumed), S5_NEED_MORE);
        assert_int_equal(consumed, 0);
    }
    assert_int_equal(parse(msg, len, &consumed), S5_DONE);
    assert_int_equal(consumed, len);
}

/* ---- greeting ---- */

static void greeting_no_auth_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00};
    assert_split_anywhere(parse_greeting, msg, sizeof(msg));
    assert_true(greeting.offers_no_auth);
    assert_false(greeting.offers_userpass);
}

static void greeting_both_methods_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x03, 0x80, 0x02, 0x00};
    assert_split_anywhere(parse_greeting, msg, sizeof(msg));
    assert_true(greeting.offers_no_auth);
    assert_true(greeting.offers_userpass);
}

static void greeting_unknown_methods_only(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x02, 0x01, 0x80};
    size_t consumed;
    assert_int_equal(s5_parse_greeting(msg, sizeof(msg), &greeting, &consumed), S5_DONE);
    assert_false(greeting.offers_no_auth);
    assert_false(greeting.offers_userpass);
}

static void greeting_all_255_methods(void **state)
{
    (void)state;
    uint8_t msg[2 + 255];
    msg[0] = 0x05;
    msg[1] = 255;
    for (int i = 0; i < 255; i++)
        msg[2 + i] = (uint8_t)(i % 200 + 3);
    msg[2 + 254] = S5_METHOD_USERPASS;
    assert_split_anywhere(parse_greeting, msg, sizeof(msg));
    assert_false(greeting.offers_no_auth);
    assert_true(greeting.offers_userpass);
}

static void greeting_leaves_following_bytes(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x02, 0x01, 0x04, 'u'};
    size_t consumed;
    assert_int_equal(s5_parse_greeting(msg, sizeof(msg), &greeting, &consumed), S5_DONE);
    assert_int_equal(consumed, 3);
}

static void greeting_wrong_version_fails_on_first_byte(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x04, 0x01, 0x00};
    size_t consumed;
    assert_int_equal(s5_parse_greeting(msg, 1, &greeting, &consumed), S5_ERROR);
    assert_int_equal(s5_parse_greeting(msg, sizeof(msg), &greeting, &consumed), S5_ERROR);
}

static void greeting_http_request_is_rejected(void **state)
{
    (void)state;
    static const uint8_t msg[] = "GET / HTTP/1.1\r\n";
    size_t consumed;
    assert_int_equal(s5_parse_greeting(msg, sizeof(msg) - 1, &greeting, &consumed), S5_ERROR);
}

static void greeting_zero_methods_offers_nothing(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x01}; /* the third byte is the next message */
    size_t consumed;
    assert_int_equal(s5_parse_greeting(msg, sizeof(msg), &greeting, &consumed), S5_DONE);
    assert_int_equal(consumed, 2);
    assert_false(greeting.offers_no_auth);
    assert_false(greeting.offers_userpass);
}

/* ---- username/password ---- */

static void userpass_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x05, 'a', 'l', 'i', 'c', 'e', 0x03, 'p', 'w', '!'};
    assert_split_anywhere(parse_userpass, msg, sizeof(msg));
    assert_string_equal(userpass.user, "alice");
    assert_int_equal(userpass.user_len, 5);
    assert_string_equal(userpass.pass, "pw!");
    assert_int_equal(userpass.pass_len, 3);
}

static void userpass_empty_password_accepted(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x01, 'u', 0x00, 0x05};
    size_t consumed;
    assert_int_equal(s5_parse_userpass(msg, sizeof(msg), &userpass, &consumed), S5_DONE);
    assert_int_equal(consumed, 4);
    assert_string_equal(userpass.user, "u");
    assert_string_equal(userpass.pass, "");
    assert_int_equal(userpass.pass_len, 0);
}

static void userpass_longest_fields(void **state)
{
    (void)state;
    uint8_t msg[3 + 255 + 255];
    msg[0] = 0x01;
    msg[1] = 255;
    memset(msg + 2, 'u', 255);
    msg[2 + 255] = 255;
    memset(msg + 3 + 255, 'p', 255);
    assert_split_anywhere(parse_userpass, msg, sizeof(msg));
    assert_int_equal(userpass.user_len, 255);
    assert_int_equal(userpass.pass_len, 255);
    assert_int_equal(strlen(userpass.user), 255);
    assert_int_equal(strlen(userpass.pass), 255);
    assert_int_equal(userpass.pass[254], 'p');
}

static void userpass_wrong_version_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 'u', 0x01, 'p'};
    size_t consumed;
    assert_int_equal(s5_parse_userpass(msg, 1, &userpass, &consumed), S5_ERROR);
    assert_int_equal(s5_parse_userpass(msg, sizeof(msg), &userpass, &consumed), S5_ERROR);
}

static void userpass_zero_ulen_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x00, 0x01, 'p'};
    size_t consumed;
    assert_int_equal(s5_parse_userpass(msg, 2, &userpass, &consumed), S5_ERROR);
    assert_int_equal(s5_parse_userpass(msg, sizeof(msg), &userpass, &consumed), S5_ERROR);
}

static void userpass_nul_in_user_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x02, 'u', 0x00, 0x01, 'p'};
    size_t consumed;
    assert_int_equal(s5_parse_userpass(msg, sizeof(msg), &userpass, &consumed), S5_ERROR);
}

static void userpass_nul_in_pass_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x01, 'u', 0x02, 0x00, 'p'};
    size_t consumed;
    assert_int_equal(s5_parse_userpass(msg, sizeof(msg), &userpass, &consumed), S5_ERROR);
}

/* ---- request ---- */

static void request_ipv4_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x01, 192, 0, 2, 7, 0x01, 0xBB};
    assert_split_anywhere(parse_request, msg, sizeof(msg));
    assert_int_equal(request.cmd, S5_CMD_CONNECT);
    assert_int_equal(request.target.kind, TARGET_IPV4);
    assert_string_equal(request.target.host, "192.0.2.7");
    assert_int_equal(request.target.port, 443);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&request.target.addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 443);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xC0000207);
}

static void request_ipv6_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0,    0,    0,    1,    0x00, 0x50};
    assert_split_anywhere(parse_request, msg, sizeof(msg));
    assert_int_equal(request.target.kind, TARGET_IPV6);
    assert_string_equal(request.target.host, "2001:db8::1");
    assert_int_equal(request.target.port, 80);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&request.target.addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 80);
    assert_memory_equal(&sin6->sin6_addr, msg + 4, 16);
}

static void request_domain_split_anywhere(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 11,  'e',  'x',
                                  'a',  'm',  'p',  'l',  'e', '.',  'c',
                                  'o',  'm',  0x1F, 0x90};
    assert_split_anywhere(parse_request, msg, sizeof(msg));
    assert_int_equal(request.target.kind, TARGET_NAME);
    assert_string_equal(request.target.host, "example.com");
    assert_int_equal(request.target.port, 8080);
    assert_int_equal(reply, S5_REP_SUCCEEDED);
}

static void request_domain_holding_ip_literal_is_ip(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 8, '1', '0', '.', '0', '.', '0',
                                  '.',  '1',  0x00, 0x16};
    size_t consumed;
    assert_int_equal(s5_parse_request(msg, sizeof(msg), &request, &consumed, &reply), S5_DONE);
    assert_int_equal(request.target.kind, TARGET_IPV4);
    assert_string_equal(request.target.host, "10.0.0.1");
    assert_int_equal(request.target.port, 22);
}

static void request_reserved_byte_ignored(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0xAB, 0x01, 10, 0, 0, 1, 0x00, 0x50};
    size_t consumed;
    assert_int_equal(s5_parse_request(msg, sizeof(msg), &request, &consumed, &reply), S5_DONE);
    assert_int_equal(consumed, sizeof(msg));
}

static void assert_request_error(const uint8_t *msg, size_t len, uint8_t want_reply)
{
    size_t consumed = 99;
    reply = 0xEE;
    assert_int_equal(s5_parse_request(msg, len, &request, &consumed, &reply), S5_ERROR);
    assert_int_equal(reply, want_reply);
    assert_int_equal(consumed, 0);
}

static void request_wrong_version_general_failure(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x04, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x50};
    assert_request_error(msg, 1, S5_REP_GENERAL_FAILURE);
    assert_request_error(msg, sizeof(msg), S5_REP_GENERAL_FAILURE);
}

static void request_bind_unsupported_as_soon_as_seen(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x02, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x50};
    assert_request_error(msg, 2, S5_REP_CMD_UNSUPPORTED);
    assert_request_error(msg, sizeof(msg), S5_REP_CMD_UNSUPPORTED);
}

static void request_udp_associate_unsupported(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00};
    assert_request_error(msg, sizeof(msg), S5_REP_CMD_UNSUPPORTED);
}

static void request_unknown_command_unsupported(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x09};
    assert_request_error(msg, sizeof(msg), S5_REP_CMD_UNSUPPORTED);
}

static void request_unknown_atyp_unsupported(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x02, 10, 0, 0, 1, 0x00, 0x50};
    assert_request_error(msg, 4, S5_REP_ATYP_UNSUPPORTED);
    assert_request_error(msg, sizeof(msg), S5_REP_ATYP_UNSUPPORTED);
}

static void request_empty_domain_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 0, 0x00, 0x50};
    assert_request_error(msg, 5, S5_REP_GENERAL_FAILURE);
}

static void request_domain_with_nul_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 3, 'a', 0x00, 'b', 0x00, 0x50};
    assert_request_error(msg, sizeof(msg), S5_REP_GENERAL_FAILURE);
}

static void request_domain_with_space_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 3, 'a', ' ', 'b', 0x00, 0x50};
    assert_request_error(msg, sizeof(msg), S5_REP_GENERAL_FAILURE);
}

static void request_domain_with_slash_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x03, 3, 'a', '/', 'b', 0x00, 0x50};
    assert_request_error(msg, sizeof(msg), S5_REP_GENERAL_FAILURE);
}

static void request_port_zero_fails(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x00};
    assert_request_error(msg, sizeof(msg), S5_REP_GENERAL_FAILURE);
}

static void request_longest_domain(void **state)
{
    (void)state;
    uint8_t msg[5 + 255 + 2];
    memcpy(msg, "\x05\x01\x00\x03\xff", 5);
    memset(msg + 5, 'a', 255);
    msg[5 + 255] = 0x01;
    msg[5 + 256] = 0x00;
    assert_split_anywhere(parse_request, msg, sizeof(msg));
    assert_int_equal(strlen(request.target.host), 255);
    assert_int_equal(request.target.port, 256);
}

/* ---- a whole client conversation in one buffer ---- */

static void coalesced_phases_keep_early_data(void **state)
{
    (void)state;
    static const uint8_t msg[] = {
        0x05, 0x01, 0x02,                                            /* greeting */
        0x01, 0x02, 'm',  'e',  0x02, 'p', 'w',                      /* auth */
        0x05, 0x01, 0x00, 0x03, 0x04, 'h', 'o', 's', 't', 0x00, 0x50, /* request */
        'G',  'E',  'T',  ' ',  '/',                                 /* early data */
    };
    size_t off = 0, consumed;

    assert_int_equal(s5_parse_greeting(msg + off, sizeof(msg) - off, &greeting, &consumed),
                     S5_DONE);
    assert_int_equal(consumed, 3);
    assert_true(greeting.offers_userpass);
    off += consumed;

    assert_int_equal(s5_parse_userpass(msg + off, sizeof(msg) - off, &userpass, &consumed),
                     S5_DONE);
    assert_int_equal(consumed, 7);
    assert_string_equal(userpass.user, "me");
    assert_string_equal(userpass.pass, "pw");
    off += consumed;

    assert_int_equal(
        s5_parse_request(msg + off, sizeof(msg) - off, &request, &consumed, &reply), S5_DONE);
    assert_int_equal(consumed, 11);
    assert_string_equal(request.target.host, "host");
    assert_int_equal(request.target.port, 80);
    off += consumed;

    assert_int_equal(sizeof(msg) - off, 5);
    assert_memory_equal(msg + off, "GET /", 5);
}

/* ---- encoders ---- */

static void encode_method_bytes(void **state)
{
    (void)state;
    uint8_t out[2];
    assert_int_equal(s5_encode_method(out, S5_METHOD_USERPASS), 2);
    assert_memory_equal(out, "\x05\x02", 2);
    assert_int_equal(s5_encode_method(out, S5_METHOD_UNACCEPTABLE), 2);
    assert_memory_equal(out, "\x05\xff", 2);
}

static void encode_auth_status_bytes(void **state)
{
    (void)state;
    uint8_t out[2];
    assert_int_equal(s5_encode_auth_status(out, true), 2);
    assert_memory_equal(out, "\x01\x00", 2);
    assert_int_equal(s5_encode_auth_status(out, false), 2);
    assert_memory_equal(out, "\x01\x01", 2);
}

static void encode_reply_ipv4(void **state)
{
    (void)state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1080)};
    inet_pton(AF_INET, "198.51.100.9", &sin.sin_addr);
    uint8_t out[S5_REPLY_MAX];
    static const uint8_t want[] = {0x05, 0x00, 0x00, 0x01, 198, 51, 100, 9, 0x04, 0x38};
    assert_int_equal(s5_encode_reply(out, S5_REP_SUCCEEDED, (struct sockaddr *)&sin),
                     sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
}

static void encode_reply_ipv6(void **state)
{
    (void)state;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "2001:db8::2", &sin6.sin6_addr);
    uint8_t out[S5_REPLY_MAX];
    static const uint8_t want[] = {0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8,
                                   0,    0,    0,    0,    0,    0,    0,    0,
                                   0,    0,    0,    2,    0x01, 0xBB};
    assert_int_equal(s5_encode_reply(out, S5_REP_SUCCEEDED, (struct sockaddr *)&sin6), 22);
    assert_memory_equal(out, want, sizeof(want));
}

static void encode_reply_without_address(void **state)
{
    (void)state;
    uint8_t out[S5_REPLY_MAX];
    memset(out, 0xAA, sizeof(out));
    static const uint8_t want[] = {0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    assert_int_equal(s5_encode_reply(out, S5_REP_REFUSED, NULL), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
}

static void encode_reply_unknown_family_as_zero(void **state)
{
    (void)state;
    struct sockaddr sa = {.sa_family = AF_UNIX};
    uint8_t out[S5_REPLY_MAX];
    static const uint8_t want[] = {0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    assert_int_equal(s5_encode_reply(out, S5_REP_GENERAL_FAILURE, &sa), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
}

/* ---- credentials ---- */

static void credentials_equal_match(void **state)
{
    (void)state;
    assert_true(s5_credentials_equal("secret", 6, "secret", 6));
    assert_true(s5_credentials_equal("", 0, "", 0));
    assert_true(s5_credentials_equal(NULL, 0, "", 0));
}

static void credentials_differ_in_last_byte(void **state)
{
    (void)state;
    assert_false(s5_credentials_equal("secret", 6, "secreT", 6));
}

static void credentials_prefix_is_not_equal(void **state)
{
    (void)state;
    assert_false(s5_credentials_equal("secret", 6, "secret2", 7));
    assert_false(s5_credentials_equal("secret", 6, "secret", 5));
    assert_false(s5_credentials_equal("", 0, "x", 1));
}

static void credentials_padding_does_not_match_nul(void **state)
{
    (void)state;
    /* Zero padding must not make "ab" equal "ab\0". */
    assert_false(s5_credentials_equal("ab", 2, "ab\0", 3));
}

static void credentials_longest_and_too_long(void **state)
{
    (void)state;
    char a[300], b[300];
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    assert_true(s5_credentials_equal(a, 255, b, 255));
    b[254] = 'y';
    assert_false(s5_credentials_equal(a, 255, b, 255));
    assert_false(s5_credentials_equal(a, 256, a, 256));
}

/* ---- client side: greeting and method ---- */

static uint8_t method;
static bool auth_ok;
static uint8_t parent_rep;

static enum s5_status parse_method(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_client_parse_method(buf, len, &method, consumed);
}

static enum s5_status parse_auth(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_client_parse_auth(buf, len, &auth_ok, consumed);
}

static enum s5_status parse_reply(const uint8_t *buf, size_t len, size_t *consumed)
{
    return s5_client_parse_reply(buf, len, &parent_rep, consumed);
}

/* Split anywhere, then again with tunnel bytes after the message: they are
 * neither consumed nor needed. */
static void assert_client_parse(parse_fn parse, const uint8_t *msg, size_t len)
{
    static const uint8_t tunnel[] = {0x16, 0x03, 0x01, 0x02, 0x00};
    uint8_t buf[512];
    assert_true(len + sizeof(tunnel) <= sizeof(buf));
    assert_split_anywhere(parse, msg, len);
    memcpy(buf, msg, len);
    memcpy(buf + len, tunnel, sizeof(tunnel));
    size_t consumed = 0;
    assert_int_equal(parse(buf, len + sizeof(tunnel), &consumed), S5_DONE);
    assert_int_equal(consumed, len);
    assert_memory_equal(buf + len, tunnel, sizeof(tunnel));
}

static struct mp_target make_target(const char *host, uint16_t port)
{
    struct mp_target t;
    assert_int_equal(target_set(&t, host, strlen(host), port), 0);
    return t;
}

static void client_greeting_no_auth_bytes(void **state)
{
    (void)state;
    uint8_t out[8];
    memset(out, 0xAA, sizeof(out));
    assert_int_equal(s5_client_greeting(out, sizeof(out), false), 3);
    assert_memory_equal(out, "\x05\x01\x00\xAA", 4);
}

static void client_greeting_userpass_only(void **state)
{
    (void)state;
    uint8_t out[3];
    assert_int_equal(s5_client_greeting(out, sizeof(out), true), 3);
    assert_memory_equal(out, "\x05\x01\x02", 3);
}

static void client_greeting_cap_too_small(void **state)
{
    (void)state;
    uint8_t out[3] = {0xAA, 0xAA, 0xAA};
    assert_int_equal(s5_client_greeting(out, 2, true), 0);
    assert_int_equal(s5_client_greeting(out, 0, false), 0);
    assert_memory_equal(out, "\xAA\xAA\xAA", 3);
}

static void client_greeting_is_parsed_by_our_server(void **state)
{
    (void)state;
    uint8_t out[3];
    size_t consumed;
    s5_client_greeting(out, sizeof(out), true);
    assert_int_equal(s5_parse_greeting(out, 3, &greeting, &consumed), S5_DONE);
    assert_true(greeting.offers_userpass);
    assert_false(greeting.offers_no_auth);
    s5_client_greeting(out, sizeof(out), false);
    assert_int_equal(s5_parse_greeting(out, 3, &greeting, &consumed), S5_DONE);
    assert_true(greeting.offers_no_auth);
    assert_false(greeting.offers_userpass);
}

static void client_method_split_and_tunnel(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x02};
    method = 0xEE;
    assert_client_parse(parse_method, msg, sizeof(msg));
    assert_int_equal(method, S5_METHOD_USERPASS);
}

static void client_method_unacceptable_is_reported(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0xFF};
    size_t consumed;
    assert_int_equal(s5_client_parse_method(msg, sizeof(msg), &method, &consumed), S5_DONE);
    assert_int_equal(method, S5_METHOD_UNACCEPTABLE);
    assert_int_equal(consumed, 2);
}

static void client_method_wrong_version(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x04, 0x00};
    size_t consumed = 99;
    assert_int_equal(s5_client_parse_method(msg, 1, &method, &consumed), S5_ERROR);
    assert_int_equal(consumed, 0);
    assert_int_equal(s5_client_parse_method(msg, 2, &method, &consumed), S5_ERROR);
    /* An HTTP parent answering a SOCKS greeting. */
    assert_int_equal(s5_client_parse_method((const uint8_t *)"HTTP/1.1", 8, &method, &consumed),
                     S5_ERROR);
}

/* ---- client side: username/password ---- */

static void client_userpass_bytes(void **state)
{
    (void)state;
    uint8_t out[32];
    static const uint8_t want[] = {0x01, 0x05, 'a', 'l', 'i', 'c', 'e', 0x03, 'p', 'w', '!'};
    assert_int_equal(s5_client_userpass(out, sizeof(out), "alice", "pw!"), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
}

static void client_userpass_empty_password(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(s5_client_userpass(out, sizeof(out), "u", ""), 4);
    assert_memory_equal(out, "\x01\x01u\x00", 4);
}

static void client_userpass_longest_round_trip(void **state)
{
    (void)state;
    char user[256], pass[256];
    memset(user, 'u', 255);
    memset(pass, 'p', 255);
    user[255] = pass[255] = '\0';
    uint8_t out[3 + 255 + 255];
    size_t consumed;
    assert_int_equal(s5_client_userpass(out, sizeof(out), user, pass), sizeof(out));
    assert_int_equal(out[1], 255);
    assert_int_equal(out[2 + 255], 255);
    assert_int_equal(s5_parse_userpass(out, sizeof(out), &userpass, &consumed), S5_DONE);
    assert_int_equal(consumed, sizeof(out));
    assert_string_equal(userpass.user, user);
    assert_string_equal(userpass.pass, pass);
}

static void client_userpass_unsendable(void **state)
{
    (void)state;
    char long_field[257];
    memset(long_field, 'x', 256);
    long_field[256] = '\0';
    uint8_t out[600];
    assert_int_equal(s5_client_userpass(out, sizeof(out), long_field, "p"), 0);
    assert_int_equal(s5_client_userpass(out, sizeof(out), "u", long_field), 0);
    assert_int_equal(s5_client_userpass(out, sizeof(out), "", "p"), 0);
}

static void client_userpass_cap_too_small(void **state)
{
    (void)state;
    uint8_t out[16];
    memset(out, 0xAA, sizeof(out));
    assert_int_equal(s5_client_userpass(out, 6, "ab", "cd"), 0);
    assert_int_equal(out[0], 0xAA);
    assert_int_equal(s5_client_userpass(out, 7, "ab", "cd"), 7);
    assert_memory_equal(out, "\x01\x02" "ab" "\x02" "cd", 7);
}

static void client_auth_split_and_tunnel(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x01, 0x00};
    auth_ok = false;
    assert_client_parse(parse_auth, msg, sizeof(msg));
    assert_true(auth_ok);
}

static void client_auth_failure_statuses(void **state)
{
    (void)state;
    static const uint8_t statuses[] = {0x01, 0x02, 0x80, 0xFF};
    size_t consumed;
    for (size_t i = 0; i < sizeof(statuses); i++) {
        const uint8_t msg[] = {0x01, statuses[i]};
        auth_ok = true;
        assert_int_equal(s5_client_parse_auth(msg, sizeof(msg), &auth_ok, &consumed), S5_DONE);
        assert_false(auth_ok);
        assert_int_equal(consumed, 2);
    }
}

static void client_auth_wrong_version(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00};
    size_t consumed = 99;
    assert_int_equal(s5_client_parse_auth(msg, 1, &auth_ok, &consumed), S5_ERROR);
    assert_int_equal(consumed, 0);
    assert_int_equal(s5_client_parse_auth(msg, 2, &auth_ok, &consumed), S5_ERROR);
}

/* ---- client side: CONNECT request ---- */

static void assert_connect_bytes(const char *host, uint16_t port, const uint8_t *want, size_t len)
{
    struct mp_target t = make_target(host, port);
    uint8_t out[S5_CONNECT_MAX + 4];
    memset(out, 0xAA, sizeof(out));
    assert_int_equal(s5_client_connect(out, sizeof(out), &t), len);
    assert_memory_equal(out, want, len);
    assert_int_equal(out[len], 0xAA);
    /* One byte short: nothing. */
    assert_int_equal(s5_client_connect(out, len - 1, &t), 0);
    assert_int_equal(s5_client_connect(out, len, &t), len);
}

static void client_connect_name(void **state)
{
    (void)state;
    static const uint8_t want[] = {0x05, 0x01, 0x00, 0x03, 11,  'e',  'x',  'a', 'm',
                                   'p',  'l',  'e',  '.',  'c', 'o',  'm',  0x01, 0xBB};
    assert_connect_bytes("example.com", 443, want, sizeof(want));
}

static void client_connect_ipv4(void **state)
{
    (void)state;
    static const uint8_t want[] = {0x05, 0x01, 0x00, 0x01, 192, 0, 2, 7, 0x1F, 0x90};
    assert_connect_bytes("192.0.2.7", 8080, want, sizeof(want));
}

static void client_connect_ipv6(void **state)
{
    (void)state;
    static const uint8_t want[] = {0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                   0,    0,    0,    0,    0,    0,    0,    1,    0x00, 0x16};
    assert_connect_bytes("2001:db8::1", 22, want, sizeof(want));
}

static void client_connect_longest_name_round_trip(void **state)
{
    (void)state;
    char host[256];
    memset(host, 'a', 255);
    host[255] = '\0';
    struct mp_target t = make_target(host, 65535);
    uint8_t out[S5_CONNECT_MAX];
    size_t consumed;
    assert_int_equal(s5_client_connect(out, sizeof(out), &t), S5_CONNECT_MAX);
    assert_int_equal(out[4], 255);
    assert_int_equal(s5_parse_request(out, sizeof(out), &request, &consumed, &reply), S5_DONE);
    assert_int_equal(consumed, S5_CONNECT_MAX);
    assert_string_equal(request.target.host, host);
    assert_int_equal(request.target.port, 65535);
}

/* ---- client side: the parent's reply ---- */

static void client_reply_ipv4_split_and_tunnel(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x04, 0x38};
    parent_rep = 0xEE;
    assert_client_parse(parse_reply, msg, sizeof(msg));
    assert_int_equal(parent_rep, S5_REP_SUCCEEDED);
}

static void client_reply_ipv6_split_and_tunnel(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                  0,    0,    0,    0,    0,    0,    0,    9,    0x04, 0x38};
    parent_rep = 0xEE;
    assert_client_parse(parse_reply, msg, sizeof(msg));
    assert_int_equal(parent_rep, S5_REP_SUCCEEDED);
}

static void client_reply_domain_split_and_tunnel(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x00, 0x03, 6, 'p', 'a', 'r', 'e', 'n', 't',
                                  0x04, 0x38};
    parent_rep = 0xEE;
    assert_client_parse(parse_reply, msg, sizeof(msg));
    assert_int_equal(parent_rep, S5_REP_SUCCEEDED);
}

static void client_reply_empty_domain(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x00, 0x03, 0, 0x00, 0x00};
    assert_client_parse(parse_reply, msg, sizeof(msg));
}

static void client_reply_failure_code(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    parent_rep = 0xEE;
    assert_client_parse(parse_reply, msg, sizeof(msg));
    assert_int_equal(parent_rep, S5_REP_REFUSED);
}

static void client_reply_reserved_byte_ignored(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x05, 0x00, 0x7F, 0x01, 0, 0, 0, 0, 0, 0};
    size_t consumed;
    assert_int_equal(s5_client_parse_reply(msg, sizeof(msg), &parent_rep, &consumed), S5_DONE);
    assert_int_equal(consumed, sizeof(msg));
}

static void client_reply_wrong_version(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x04, 0x5A, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    size_t consumed = 99;
    assert_int_equal(s5_client_parse_reply(msg, 1, &parent_rep, &consumed), S5_ERROR);
    assert_int_equal(consumed, 0);
    assert_int_equal(s5_client_parse_reply(msg, sizeof(msg), &parent_rep, &consumed), S5_ERROR);
}

static void client_reply_bad_atyp(void **state)
{
    (void)state;
    static const uint8_t atyps[] = {0x00, 0x02, 0x05, 0xFF};
    size_t consumed;
    for (size_t i = 0; i < sizeof(atyps); i++) {
        const uint8_t msg[] = {0x05, 0x00, 0x00, atyps[i], 0, 0, 0, 0, 0, 0};
        assert_int_equal(s5_client_parse_reply(msg, 3, &parent_rep, &consumed), S5_NEED_MORE);
        consumed = 99;
        assert_int_equal(s5_client_parse_reply(msg, 4, &parent_rep, &consumed), S5_ERROR);
        assert_int_equal(consumed, 0);
        assert_int_equal(s5_client_parse_reply(msg, sizeof(msg), &parent_rep, &consumed),
                         S5_ERROR);
    }
}

static void client_whole_conversation_in_one_buffer(void **state)
{
    (void)state;
    static const uint8_t msg[] = {
        0x05, 0x02,                                      /* method */
        0x01, 0x00,                                      /* auth */
        0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x04, 0x38, /* reply */
        'H',  'T',  'T',  'P',                           /* tunnel data */
    };
    size_t off = 0, consumed;
    assert_int_equal(s5_client_parse_method(msg, sizeof(msg), &method, &consumed), S5_DONE);
    off += consumed;
    assert_int_equal(s5_client_parse_auth(msg + off, sizeof(msg) - off, &auth_ok, &consumed),
                     S5_DONE);
    off += consumed;
    assert_int_equal(
        s5_client_parse_reply(msg + off, sizeof(msg) - off, &parent_rep, &consumed), S5_DONE);
    off += consumed;
    assert_int_equal(off, 14);
    assert_memory_equal(msg + off, "HTTP", 4);
}

/* ---- parent reply -> HTTP status ---- */

static void reply_to_http_status_table(void **state)
{
    (void)state;
    static const struct {
        uint8_t rep;
        int http;
    } rows[] = {
        {S5_REP_SUCCEEDED, 200},        {S5_REP_GENERAL_FAILURE, 502},
        {S5_REP_NOT_ALLOWED, 403},      {S5_REP_NET_UNREACHABLE, 502},
        {S5_REP_HOST_UNREACHABLE, 502}, {S5_REP_REFUSED, 502},
        {S5_REP_TTL_EXPIRED, 504},      {S5_REP_CMD_UNSUPPORTED, 502},
        {S5_REP_ATYP_UNSUPPORTED, 502}, {0x09, 502},
        {0xFF, 502},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(s5_reply_to_http_status(rows[i].rep), rows[i].http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greeting_no_auth_split_anywhere),
        cmocka_unit_test(greeting_both_methods_split_anywhere),
        cmocka_unit_test(greeting_unknown_methods_only),
        cmocka_unit_test(greeting_all_255_methods),
        cmocka_unit_test(greeting_leaves_following_bytes),
        cmocka_unit_test(greeting_wrong_version_fails_on_first_byte),
        cmocka_unit_test(greeting_http_request_is_rejected),
        cmocka_unit_test(greeting_zero_methods_offers_nothing),
        cmocka_unit_test(userpass_split_anywhere),
        cmocka_unit_test(userpass_empty_password_accepted),
        cmocka_unit_test(userpass_longest_fields),
        cmocka_unit_test(userpass_wrong_version_fails),
        cmocka_unit_test(userpass_zero_ulen_fails),
        cmocka_unit_test(userpass_nul_in_user_fails),
        cmocka_unit_test(userpass_nul_in_pass_fails),
        cmocka_unit_test(request_ipv4_split_anywhere),
        cmocka_unit_test(request_ipv6_split_anywhere),
        cmocka_unit_test(request_domain_split_anywhere),
        cmocka_unit_test(request_domain_holding_ip_literal_is_ip),
        cmocka_unit_test(request_reserved_byte_ignored),
        cmocka_unit_test(request_wrong_version_general_failure),
        cmocka_unit_test(request_bind_unsupported_as_soon_as_seen),
        cmocka_unit_test(request_udp_associate_unsupported),
        cmocka_unit_test(request_unknown_command_unsupported),
        cmocka_unit_test(request_unknown_atyp_unsupported),
        cmocka_unit_test(request_empty_domain_fails),
        cmocka_unit_test(request_domain_with_nul_fails),
        cmocka_unit_test(request_domain_with_space_fails),
        cmocka_unit_test(request_domain_with_slash_fails),
        cmocka_unit_test(request_port_zero_fails),
        cmocka_unit_test(request_longest_domain),
        cmocka_unit_test(coalesced_phases_keep_early_data),
        cmocka_unit_test(encode_method_bytes),
        cmocka_unit_test(encode_auth_status_bytes),
        cmocka_unit_test(encode_reply_ipv4),
        cmocka_unit_test(encode_reply_ipv6),
        cmocka_unit_test(encode_reply_without_address),
        cmocka_unit_test(encode_reply_unknown_family_as_zero),
        cmocka_unit_test(credentials_equal_match),
        cmocka_unit_test(credentials_differ_in_last_byte),
        cmocka_unit_test(credentials_prefix_is_not_equal),
        cmocka_unit_test(credentials_padding_does_not_match_nul),
        cmocka_unit_test(credentials_longest_and_too_long),
        cmocka_unit_test(client_greeting_no_auth_bytes),
        cmocka_unit_test(client_greeting_userpass_only),
        cmocka_unit_test(client_greeting_cap_too_small),
        cmocka_unit_test(client_greeting_is_parsed_by_our_server),
        cmocka_unit_test(client_method_split_and_tunnel),
        cmocka_unit_test(client_method_unacceptable_is_reported),
        cmocka_unit_test(client_method_wrong_version),
        cmocka_unit_test(client_userpass_bytes),
        cmocka_unit_test(client_userpass_empty_password),
        cmocka_unit_test(client_userpass_longest_round_trip),
        cmocka_unit_test(client_userpass_unsendable),
        cmocka_unit_test(client_userpass_cap_too_small),
        cmocka_unit_test(client_auth_split_and_tunnel),
        cmocka_unit_test(client_auth_failure_statuses),
        cmocka_unit_test(client_auth_wrong_version),
        cmocka_unit_test(client_connect_name),
        cmocka_unit_test(client_connect_ipv4),
        cmocka_unit_test(client_connect_ipv6),
        cmocka_unit_test(client_connect_longest_name_round_trip),
        cmocka_unit_test(client_reply_ipv4_split_and_tunnel),
        cmocka_unit_test(client_reply_ipv6_split_and_tunnel),
        cmocka_unit_test(client_reply_domain_split_and_tunnel),
        cmocka_unit_test(client_reply_empty_domain),
        cmocka_unit_test(client_reply_failure_code),
        cmocka_unit_test(client_reply_reserved_byte_ignored),
        cmocka_unit_test(client_reply_wrong_version),
        cmocka_unit_test(client_reply_bad_atyp),
        cmocka_unit_test(client_whole_conversation_in_one_buffer),
        cmocka_unit_test(reply_to_http_status_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
