/* Unit tests for src/proto_http.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mpconv/proto_http.h"
#include "mpconv/proto_socks5.h"

#define MAX_HEAD 8192

static struct http_head head;
static int error;

static enum http_status parse_req(const char *s)
{
    error = -1;
    return http_parse_request(s, strlen(s), MAX_HEAD, &head, &error);
}

static enum http_status parse_resp(const char *s)
{
    error = -1;
    return http_parse_response(s, strlen(s), MAX_HEAD, &head, &error);
}

static void assert_slice(struct http_slice s, const char *want)
{
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.p, want, s.n);
}

static void assert_request_error(const char *s, int want)
{
    assert_int_equal(parse_req(s), HTTP_ERROR);
    assert_int_equal(error, want);
}

static void assert_response_error(const char *s)
{
    assert_int_equal(parse_resp(s), HTTP_ERROR);
    assert_int_equal(error, 502);
}

/* ---- request heads ---- */

static void request_simple_crlf(void **state)
{
    (void)state;
    const char *s = "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n"
                    "Accept:   */*  \r\nX-Empty:\r\n\r\n";
    assert_int_equal(parse_req(s), HTTP_DONE);
    assert_slice(head.method, "GET");
    assert_slice(head.target, "http://example.com/");
    assert_int_equal(head.minor_version, 1);
    assert_int_equal(head.n_headers, 3);
    assert_slice(head.headers[0].name, "Host");
    assert_slice(head.headers[0].value, "example.com");
    assert_slice(head.headers[1].value, "*/*");
    assert_slice(head.headers[2].name, "X-Empty");
    assert_slice(head.headers[2].value, "");
    assert_int_equal(head.head_len, strlen(s));
}

static void request_bare_lf(void **state)
{
    (void)state;
    const char *s = "CONNECT example.com:443 HTTP/1.0\nHost: example.com:443\n\n";
    assert_int_equal(parse_req(s), HTTP_DONE);
    assert_slice(head.method, "CONNECT");
    assert_slice(head.target, "example.com:443");
    assert_int_equal(head.minor_version, 0);
    assert_int_equal(head.n_headers, 1);
    assert_slice(head.headers[0].value, "example.com:443");
    assert_int_equal(head.head_len, strlen(s));
}

static void request_no_headers(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\n\r\n"), HTTP_DONE);
    assert_int_equal(head.n_headers, 0);
    assert_int_equal(head.head_len, 18);
}

static void request_byte_at_a_time(void **state)
{
    (void)state;
    const char *s = "POST http://h/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(http_parse_request(s, i, MAX_HEAD, &head, &error), HTTP_NEED_MORE);
        assert_int_equal(error, 0);
    }
    assert_int_equal(http_parse_request(s, len, MAX_HEAD, &head, &error), HTTP_DONE);
    assert_int_equal(head.head_len, len);
    assert_int_equal(head.n_headers, 2);
}

static void request_coalesced_with_body(void **state)
{
    (void)state;
    const char *s = "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_req(s), HTTP_DONE);
    assert_int_equal(head.head_len, strlen("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"));
    assert_memory_equal(s + head.head_len, "abc", 3);
}

static void request_leading_empty_lines_skipped(void **state)
{
    (void)state;
    const char *s = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_req(s), HTTP_DONE);
    assert_slice(head.method, "GET");
    assert_int_equal(head.head_len, strlen(s));
}

static void request_obs_fold_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nX-A: 1\r\n\t2\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nX-A: 1\r\n X-B: 2\r\n\r\n", 400);
}

static void request_leading_space_before_first_header_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
}

static void request_space_before_colon_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
}

static void request_empty_header_name_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\n: value\r\n\r\n", 400);
}

static void request_header_without_colon_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\nHost h\r\n\r\n", 400);
}

static void request_invalid_header_name_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\nX@Y: 1\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nX(Y): 1\r\n\r\n", 400);
}

static void request_control_bytes_in_value_rejected(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nX-A: a\rz\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n", 400);
    static const char nul[] = "GET / HTTP/1.1\r\nX-A: a\0z\r\n\r\n";
    assert_int_equal(http_parse_request(nul, sizeof(nul) - 1, MAX_HEAD, &head, &error),
                     HTTP_ERROR);
    assert_int_equal(error, 400);
}

static void request_tab_and_obs_text_in_value_accepted(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nX-A: a\tb \xc3\xa9\r\n\r\n"), HTTP_DONE);
    assert_slice(head.headers[0].value, "a\tb \xc3\xa9");
}

static void request_invalid_method_rejected(void **state)
{
    (void)state;
    assert_request_error("G(ET / HTTP/1.1\r\n\r\n", 400);
    assert_request_error("GE\"T / HTTP/1.1\r\n\r\n", 400);
}

static void request_missing_parts_rejected(void **state)
{
    (void)state;
    assert_request_error("GET\r\n\r\n", 400);
    assert_request_error("GET /\r\n\r\n", 400);
    assert_request_error("GET / \r\n\r\n", 400);
    assert_request_error(" / HTTP/1.1\r\n\r\n", 400);
    assert_request_error("GET  / HTTP/1.1\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1 \r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.1\r\r\n\r\n", 400);
}

static void request_control_bytes_in_target_rejected(void **state)
{
    (void)state;
    assert_request_error("GET /a\x01 HTTP/1.1\r\n\r\n", 400);
    assert_request_error("GET /a\tb HTTP/1.1\r\n\r\n", 400);
}

static void request_unsupported_versions_505(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/2.0\r\n\r\n", 505);
    assert_request_error("PRI * HTTP/2.0\r\n\r\n", 505);
    assert_request_error("GET / HTTP/1.2\r\n\r\n", 505);
    assert_request_error("GET / HTTP/0.9\r\n\r\n", 505);
}

static void request_malformed_versions_400(void **state)
{
    (void)state;
    assert_request_error("GET / HTTP/1\r\n\r\n", 400);
    assert_request_error("GET / http/1.1\r\n\r\n", 400);
    assert_request_error("GET / HTTP/1.10\r\n\r\n", 400);
    assert_request_error("GET / HTTP/a.1\r\n\r\n", 400);
}

static void request_oversize_head_431(void **state)
{
    (void)state;
    char buf[200];
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "GET / HTTP/1.1\r\nX-Long: ", 24);
    assert_int_equal(http_parse_request(buf, 63, 64, &head, &error), HTTP_NEED_MORE);
    assert_int_equal(http_parse_request(buf, 64, 64, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 431);
    assert_int_equal(http_parse_request(buf, sizeof(buf), 64, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 431);
}

static void request_head_exactly_at_limit(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = strlen(s);
    assert_int_equal(http_parse_request(s, len, len, &head, &error), HTTP_DONE);
    assert_int_equal(http_parse_request(s, len, len - 1, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 431);
}

static void request_terminator_beyond_limit_431(void **state)
{
    (void)state;
    /* The whole head is in the buffer but ends after max_head. */
    const char *s = "GET / HTTP/1.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    assert_int_equal(http_parse_request(s, strlen(s), 40, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 431);
}

static size_t build_headers(char *buf, size_t cap, int n)
{
    size_t len = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "X-%d: %d\r\n", i, i);
    len += (size_t)snprintf(buf + len, cap - len, "\r\n");
    return len;
}

static void request_max_headers_accepted(void **state)
{
    (void)state;
    char buf[4096];
    size_t len = build_headers(buf, sizeof(buf), HTTP_MAX_HEADERS);
    assert_int_equal(http_parse_request(buf, len, MAX_HEAD, &head, &error), HTTP_DONE);
    assert_int_equal(head.n_headers, HTTP_MAX_HEADERS);
    assert_slice(head.headers[HTTP_MAX_HEADERS - 1].name, "X-99");
}

static void request_too_many_headers_431(void **state)
{
    (void)state;
    char buf[4096];
    size_t len = build_headers(buf, sizeof(buf), HTTP_MAX_HEADERS + 1);
    assert_int_equal(http_parse_request(buf, len, MAX_HEAD, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 431);
}

/* ---- response heads ---- */

static void response_simple(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_resp(s), HTTP_DONE);
    assert_int_equal(head.status, 404);
    assert_slice(head.reason, "Not Found");
    assert_int_equal(head.minor_version, 1);
    assert_int_equal(head.n_headers, 1);
    assert_int_equal(head.head_len, strlen(s));
}

static void response_without_reason(void **state)
{
    (void)state;
    assert_int_equal(parse_resp("HTTP/1.0 204\r\n\r\n"), HTTP_DONE);
    assert_int_equal(head.status, 204);
    assert_int_equal(head.reason.n, 0);
    assert_int_equal(head.minor_version, 0);
    assert_int_equal(parse_resp("HTTP/1.1 204 \r\n\r\n"), HTTP_DONE);
    assert_int_equal(head.reason.n, 0);
}

static void response_reason_with_tab_and_obs_text(void **state)
{
    (void)state;
    assert_int_equal(parse_resp("HTTP/1.1 200 Tr\xc3\xa8s\tbien\n\n"), HTTP_DONE);
    assert_slice(head.reason, "Tr\xc3\xa8s\tbien");
}

static void response_byte_at_a_time(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(http_parse_response(s, i, MAX_HEAD, &head, &error), HTTP_NEED_MORE);
    assert_int_equal(http_parse_response(s, len, MAX_HEAD, &head, &error), HTTP_DONE);
    assert_int_equal(head.head_len, len);
}

static void response_malformed_502(void **state)
{
    (void)state;
    assert_response_error("HTTP/1.1 2000 OK\r\n\r\n");
    assert_response_error("HTTP/1.1 20 OK\r\n\r\n");
    assert_response_error("HTTP/1.1 abc OK\r\n\r\n");
    assert_response_error("HTTP/1.1 099 Low\r\n\r\n");
    assert_response_error("HTTP/1.1 600 High\r\n\r\n");
    assert_response_error("HTTP/1.1\r\n\r\n");
    assert_response_error("\r\nHTTP/1.1 200 OK\r\n\r\n");
    assert_response_error("HTTP/1.1 200 O\x01K\r\n\r\n");
    assert_response_error("HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n");
    assert_response_error("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n");
    assert_response_error("SSH-2.0-OpenSSH\r\n\r\n");
}

static void response_unknown_version_502(void **state)
{
    (void)state;
    assert_response_error("HTTP/2.0 200 OK\r\n\r\n");
}

static void response_oversize_502(void **state)
{
    (void)state;
    char buf[100];
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "HTTP/1.1 200 OK\r\nX: ", 20);
    assert_int_equal(http_parse_response(buf, sizeof(buf), 64, &head, &error), HTTP_ERROR);
    assert_int_equal(error, 502);
}

/* ---- header helpers ---- */

static void find_header_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nhOsT: a\r\nHost: b\r\n\r\n"), HTTP_DONE);
    const struct http_header *h = http_find_header(&head, "HOST");
    assert_non_null(h);
    assert_slice(h->value, "a");
    assert_null(http_find_header(&head, "Hos"));
    assert_null(http_find_header(&head, "Hosts"));
}

static struct http_slice slice(const char *s)
{
    return (struct http_slice){s, strlen(s)};
}

static void has_token_in_lists(void **state)
{
    (void)state;
    assert_true(http_has_token(slice("keep-alive, Upgrade"), "upgrade"));
    assert_true(http_has_token(slice(" , ,close ,"), "close"));
    assert_true(http_has_token(slice("a,\tclose"), "close"));
    assert_false(http_has_token(slice("closed, xclose"), "close"));
    assert_false(http_has_token(slice(""), "close"));
    assert_false(http_has_token(slice("clo se"), "close"));
}

static void keep_alive_defaults_by_version(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\n\r\n"), HTTP_DONE);
    assert_true(http_keep_alive(&head));
    assert_int_equal(parse_req("GET / HTTP/1.0\r\n\r\n"), HTTP_DONE);
    assert_false(http_keep_alive(&head));
}

static void keep_alive_follows_connection_header(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"), HTTP_DONE);
    assert_false(http_keep_alive(&head));
    assert_int_equal(parse_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HTTP_DONE);
    assert_true(http_keep_alive(&head));
    assert_int_equal(parse_req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
                     HTTP_DONE);
    assert_false(http_keep_alive(&head));
    assert_int_equal(
        parse_req("GET / HTTP/1.1\r\nConnection: upgrade\r\nConnection: close\r\n\r\n"),
        HTTP_DONE);
    assert_false(http_keep_alive(&head));
}

/* ---- targets ---- */

static struct mp_target target;

static void authority_forms(void **state)
{
    (void)state;
    assert_int_equal(http_parse_authority(slice("example.com:443"), &target), 0);
    assert_string_equal(target.host, "example.com");
    assert_int_equal(target.port, 443);
    assert_int_equal(http_parse_authority(slice("[2001:db8::1]:8443"), &target), 0);
    assert_int_equal(target.kind, TARGET_IPV6);
    assert_string_equal(target.host, "2001:db8::1");
    assert_int_equal(target.port, 8443);
}

static void authority_requires_port(void **state)
{
    (void)state;
    assert_int_equal(http_parse_authority(slice("example.com"), &target), -1);
    assert_int_equal(http_parse_authority(slice("example.com:"), &target), -1);
    assert_int_equal(http_parse_authority(slice("example.com:0"), &target), -1);
    assert_int_equal(http_parse_authority(slice("/path"), &target), -1);
}

static void absolute_uri_with_path_and_query(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(http_parse_absolute_uri(slice("http://example.com/a/b?c=d"), &target, &path),
                     0);
    assert_string_equal(target.host, "example.com");
    assert_int_equal(target.port, 80);
    assert_slice(path, "/a/b?c=d");
}

static void absolute_uri_without_path(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(http_parse_absolute_uri(slice("HTTP://Example.com:8080"), &target, &path), 0);
    assert_string_equal(target.host, "Example.com");
    assert_int_equal(target.port, 8080);
    assert_slice(path, "/");
}

static void absolute_uri_query_without_path(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(http_parse_absolute_uri(slice("http://h?q=1"), &target, &path), 0);
    assert_string_equal(target.host, "h");
    assert_slice(path, "?q=1");
}

static void absolute_uri_ipv6(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(http_parse_absolute_uri(slice("http://[::1]:81/x"), &target, &path), 0);
    assert_int_equal(target.kind, TARGET_IPV6);
    assert_string_equal(target.host, "::1");
    assert_int_equal(target.port, 81);
    assert_slice(path, "/x");
}

static void absolute_uri_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "https://example.com/", "ftp://example.com/", "/origin/form", "http:/example.com/",
        "http://", "http:///path", "http://user@example.com/", "http://u:p@example.com/",
        "http://example.com:/", "http://example.com:99999/", "http://exa mple.com/", "http",
    };
    struct http_slice path;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(http_parse_absolute_uri(slice(bad[i]), &target, &path), -1);
}

/* ---- Proxy-Authorization ---- */

static char user[32], pass[32];

static int basic_auth(const char *value)
{
    char req[256];
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", value);
    assert_int_equal(parse_req(req), HTTP_DONE);
    return http_parse_basic_auth(&head, user, sizeof(user), pass, sizeof(pass));
}

static void basic_auth_valid(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic dXNlcjpwYXNz"), 0); /* user:pass */
    assert_string_equal(user, "user");
    assert_string_equal(pass, "pass");
}

static void basic_auth_padding(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic YWI6Y2Q="), 0); /* ab:cd */
    assert_string_equal(user, "ab");
    assert_string_equal(pass, "cd");
    assert_int_equal(basic_auth("Basic YWI6Yw=="), 0); /* ab:c */
    assert_string_equal(user, "ab");
    assert_string_equal(pass, "c");
}

static void basic_auth_scheme_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("bASIC   YTpi"), 0); /* a:b */
    assert_string_equal(user, "a");
    assert_string_equal(pass, "b");
}

static void basic_auth_password_may_contain_colon(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic YTpiOmM="), 0); /* a:b:c */
    assert_string_equal(user, "a");
    assert_string_equal(pass, "b:c");
}

static void basic_auth_empty_fields(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic Ojo="), 0); /* :: */
    assert_string_equal(user, "");
    assert_string_equal(pass, ":");
}

static void basic_auth_absent_or_other_scheme(void **state)
{
    (void)state;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_parse_basic_auth(&head, user, sizeof(user), pass, sizeof(pass)), -1);
    assert_int_equal(basic_auth("Bearer YTpi"), -1);
    assert_int_equal(basic_auth("BasicYTpi"), -1);
    assert_int_equal(basic_auth("Basic"), -1);
    assert_int_equal(basic_auth("Basic "), -1);
}

static void basic_auth_bad_base64(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic YWI6Yw"), -1);       /* padding missing */
    assert_int_equal(basic_auth("Basic YWI6Yw="), -1);      /* not a whole quantum */
    assert_int_equal(basic_auth("Basic YW=6Yw=="), -1);     /* '=' inside */
    assert_int_equal(basic_auth("Basic YWI6Y*=="), -1);     /* invalid character */
    assert_int_equal(basic_auth("Basic YWI6 Yw=="), -1);    /* space inside */
    assert_int_equal(basic_auth("Basic YWI6Y-_w"), -1);     /* base64url alphabet */
    assert_int_equal(basic_auth("Basic A==="), -1);         /* too much padding */
    assert_int_equal(basic_auth("Basic ===="), -1);
}

static void basic_auth_no_colon(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic dXNlcg=="), -1); /* user */
}

static void basic_auth_nul_rejected(void **state)
{
    (void)state;
    assert_int_equal(basic_auth("Basic YQBiOmM="), -1); /* a\0b:c */
}

static void basic_auth_too_long_for_buffers(void **state)
{
    (void)state;
    /* 31 'a' + ":x" fits a 32-byte user buffer; 32 'a' does not. */
    assert_int_equal(basic_auth("Basic YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTp4"), 0);
    assert_int_equal(strlen(user), 31);
    assert_int_equal(basic_auth("Basic YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE6eA=="), -1);
}

/* ---- body framing ---- */

static struct http_body body;

static int request_body(const char *headers)
{
    char req[512];
    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\n%s\r\n", headers);
    assert_int_equal(parse_req(req), HTTP_DONE);
    return http_body_for_request(&body, &head);
}

static int response_body(const char *status_and_headers, bool request_was_head)
{
    char resp[512];
    snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\n", status_and_headers);
    assert_int_equal(parse_resp(resp), HTTP_DONE);
    return http_body_for_response(&body, &head, request_was_head);
}

static void request_body_none(void **state)
{
    (void)state;
    assert_int_equal(request_body("Host: h\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_NONE);
}

static void request_body_content_length(void **state)
{
    (void)state;
    assert_int_equal(request_body("Content-Length: 10\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_LENGTH);
    assert_int_equal(body.remaining, 10);
    assert_int_equal(request_body("Content-Length: 18446744073709551615\r\n"), 0);
    assert_true(body.remaining == UINT64_MAX);
}

static void request_body_repeated_equal_lengths(void **state)
{
    (void)state;
    assert_int_equal(request_body("Content-Length: 5, 5\r\n"), 0);
    assert_int_equal(body.remaining, 5);
    assert_int_equal(request_body("Content-Length: 5\r\ncontent-length: 5\r\n"), 0);
    assert_int_equal(body.remaining, 5);
}

static void request_body_differing_lengths_400(void **state)
{
    (void)state;
    assert_int_equal(request_body("Content-Length: 5\r\nContent-Length: 6\r\n"), 400);
    assert_int_equal(request_body("Content-Length: 5, 6\r\n"), 400);
}

static void request_body_invalid_length_400(void **state)
{
    (void)state;
    assert_int_equal(request_body("Content-Length: abc\r\n"), 400);
    assert_int_equal(request_body("Content-Length: -1\r\n"), 400);
    assert_int_equal(request_body("Content-Length: +1\r\n"), 400);
    assert_int_equal(request_body("Content-Length:\r\n"), 400);
    assert_int_equal(request_body("Content-Length: 1 2\r\n"), 400);
    assert_int_equal(request_body("Content-Length: 0x10\r\n"), 400);
    assert_int_equal(request_body("Content-Length: 18446744073709551616\r\n"), 400);
}

static void request_body_chunked(void **state)
{
    (void)state;
    assert_int_equal(request_body("Transfer-Encoding: chunked\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_CHUNKED);
    assert_int_equal(request_body("Transfer-Encoding: gzip, Chunked\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_CHUNKED);
    assert_int_equal(request_body("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_CHUNKED);
}

static void request_body_both_framings_400(void **state)
{
    (void)state;
    assert_int_equal(request_body("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400);
    assert_int_equal(request_body("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"), 400);
}

static void request_body_chunked_not_final_400(void **state)
{
    (void)state;
    assert_int_equal(request_body("Transfer-Encoding: gzip\r\n"), 400);
    assert_int_equal(request_body("Transfer-Encoding: chunked, gzip\r\n"), 400);
    assert_int_equal(request_body("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
                     400);
    assert_int_equal(request_body("Transfer-Encoding:\r\n"), 400);
    assert_int_equal(request_body("Transfer-Encoding: xchunked\r\n"), 400);
}

static void request_body_chunked_twice_400(void **state)
{
    (void)state;
    assert_int_equal(request_body("Transfer-Encoding: chunked, chunked\r\n"), 400);
}

static void request_body_chunked_in_http10_400(void **state)
{
    (void)state;
    assert_int_equal(parse_req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_body_for_request(&body, &head), 400);
}

static void response_body_none_cases(void **state)
{
    (void)state;
    assert_int_equal(response_body("200 OK\r\nContent-Length: 10\r\n", true), 0);
    assert_int_equal(body.mode, HTTP_BODY_NONE);
    assert_int_equal(response_body("204 No Content\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_NONE);
    assert_int_equal(response_body("304 Not Modified\r\nTransfer-Encoding: chunked\r\n", false),
                     0);
    assert_int_equal(body.mode, HTTP_BODY_NONE);
    assert_int_equal(response_body("100 Continue\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_NONE);
}

static void response_body_framings(void **state)
{
    (void)state;
    assert_int_equal(response_body("200 OK\r\nContent-Length: 7\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_LENGTH);
    assert_int_equal(body.remaining, 7);
    assert_int_equal(response_body("200 OK\r\nTransfer-Encoding: chunked\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_CHUNKED);
    assert_int_equal(response_body("200 OK\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_UNTIL_EOF);
    assert_int_equal(response_body("200 OK\r\nTransfer-Encoding: gzip\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_UNTIL_EOF);
    assert_int_equal(response_body("404 Not Found\r\nContent-Length: 0\r\n", false), 0);
    assert_int_equal(body.mode, HTTP_BODY_LENGTH);
    assert_int_equal(body.remaining, 0);
}

static void response_body_invalid_framing_502(void **state)
{
    (void)state;
    assert_int_equal(response_body("200 OK\r\nContent-Length: x\r\n", false), 502);
    assert_int_equal(response_body("200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n", false),
                     502);
    assert_int_equal(
        response_body("200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n", false),
        502);
    assert_int_equal(response_body("200 OK\r\nTransfer-Encoding: chunked, chunked\r\n", false),
                     502);
}

static void feed_length_stops_at_end(void **state)
{
    (void)state;
    bool done = true;
    assert_int_equal(request_body("Content-Length: 5\r\n"), 0);
    assert_int_equal(http_body_feed(&body, "abc", 3, &done), 3);
    assert_false(done);
    assert_int_equal(http_body_feed(&body, "deGET", 5, &done), 2);
    assert_true(done);
    assert_int_equal(http_body_feed(&body, "GET", 3, &done), 0);
    assert_true(done);
}

static void feed_none_and_until_eof(void **state)
{
    (void)state;
    bool done = false;
    assert_int_equal(request_body(""), 0);
    assert_int_equal(http_body_feed(&body, "GET", 3, &done), 0);
    assert_true(done);
    assert_int_equal(response_body("200 OK\r\n", false), 0);
    assert_int_equal(http_body_feed(&body, "abcdef", 6, &done), 6);
    assert_false(done);
}

static const char chunked_msg[] = "4\r\nWiki\r\n5;name=\"v\"\r\npedia\r\nE\r\n in\r\n\r\nchunks."
                                  "\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n";

static void start_chunked(void)
{
    assert_int_equal(request_body("Transfer-Encoding: chunked\r\n"), 0);
    assert_int_equal(body.mode, HTTP_BODY_CHUNKED);
}

static void chunked_whole_then_next_message(void **state)
{
    (void)state;
    char buf[256];
    size_t n = sizeof(chunked_msg) - 1;
    memcpy(buf, chunked_msg, n);
    memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
    bool done = false;
    start_chunked();
    assert_int_equal(http_body_feed(&body, buf, n + 16, &done), n);
    assert_true(done);
    assert_int_equal(http_body_feed(&body, buf + n, 16, &done), 0);
    assert_true(done);
}

static void chunked_byte_at_a_time(void **state)
{
    (void)state;
    size_t n = sizeof(chunked_msg) - 1;
    bool done = false;
    start_chunked();
    for (size_t i = 0; i < n; i++) {
        assert_false(done);
        assert_int_equal(http_body_feed(&body, chunked_msg + i, 1, &done), 1);
    }
    assert_true(done);
}

static void chunked_every_two_part_split(void **state)
{
    (void)state;
    size_t n = sizeof(chunked_msg) - 1;
    for (size_t i = 0; i <= n; i++) {
        bool done = false;
        start_chunked();
        assert_int_equal(http_body_feed(&body, chunked_msg, i, &done), i);
        assert_int_equal(done, i == n);
        assert_int_equal(http_body_feed(&body, chunked_msg + i, n - i, &done), n - i);
        assert_true(done);
    }
}

static ssize_t feed_chunked_str(const char *s, bool *done)
{
    start_chunked();
    *done = false;
    return http_body_feed(&body, s, strlen(s), done);
}

static void chunked_hex_forms(void **state)
{
    (void)state;
    bool done;
    const char *s = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n000000000000000000001\r\n!\r\n0\r\n\r\n";
    assert_int_equal(feed_chunked_str(s, &done), strlen(s));
    assert_true(done);
    assert_int_equal(feed_chunked_str("1A \t;ext\r\n", &done), 10);
    assert_false(done);
    assert_int_equal(body.remaining, 26);
}

static void chunked_no_trailers(void **state)
{
    (void)state;
    bool done;
    assert_int_equal(feed_chunked_str("0\r\n\r\nX", &done), 5);
    assert_true(done);
}

static void chunked_malformed_size_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x\r\n",        /* not hex */
        "\r\n",         /* empty size */
        ";ext\r\n",     /* extension without size */
        " 4\r\n",       /* leading whitespace */
        "4 5\r\n",      /* whitespace then more digits */
        "4\n",          /* bare LF */
        "4\rX",         /* CR not followed by LF */
        "4;a\x01\r\n",  /* control byte in extension */
        "-1\r\n",
        "0x4\r\n",
    };
    bool done;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(feed_chunked_str(bad[i], &done), -1);
}

static void chunked_malformed_data_end(void **state)
{
    (void)state;
    bool done;
    assert_int_equal(feed_chunked_str("4\r\nWikiX\r\n", &done), -1);
    assert_int_equal(feed_chunked_str("4\r\nWiki\n0\r\n\r\n", &done), -1);
    assert_int_equal(feed_chunked_str("4\r\nWiki\rX", &done), -1);
}

static void chunked_malformed_trailers(void **state)
{
    (void)state;
    bool done;
    assert_int_equal(feed_chunked_str("0\r\nX: 1\n\r\n", &done), -1);
    assert_int_equal(feed_chunked_str("0\r\nX: \x01\r\n\r\n", &done), -1);
    assert_int_equal(feed_chunked_str("0\r\n\n", &done), -1);
    assert_int_equal(feed_chunked_str("0\r\n\rX", &done), -1);
}

static void chunked_size_overflow_rejected(void **state)
{
    (void)state;
    bool done;
    assert_int_equal(feed_chunked_str("FFFFFFFFFFFFFFFF\r\n", &done), 18);
    assert_true(body.remaining == UINT64_MAX);
    assert_int_equal(feed_chunked_str("10000000000000000\r\n", &done), -1);
    assert_int_equal(feed_chunked_str("FFFFFFFFFFFFFFFFF\r\n", &done), -1);
}

/* A size line of exactly `len` bytes including its CRLF, for a 1-byte chunk. */
static size_t long_size_line(char *buf, size_t len)
{
    memcpy(buf, "1;", 2);
    memset(buf + 2, 'e', len - 4);
    memcpy(buf + len - 2, "\r\n", 2);
    memcpy(buf + len, "a\r\n0\r\n\r\n", 8);
    return len + 8;
}

static void chunked_size_line_limit(void **state)
{
    (void)state;
    static char buf[5000];
    bool done = false;
    size_t n = long_size_line(buf, 4096);
    start_chunked();
    assert_int_equal(http_body_feed(&body, buf, n, &done), n);
    assert_true(done);
    n = long_size_line(buf, 4097);
    start_chunked();
    assert_int_equal(http_body_feed(&body, buf, n, &done), -1);
}

static void chunked_size_line_limit_byte_at_a_time(void **state)
{
    (void)state;
    static char buf[5000];
    size_t n = long_size_line(buf, 4097);
    bool done = false;
    ssize_t rc = 1;
    size_t i;
    start_chunked();
    for (i = 0; i < n && rc == 1; i++)
        rc = http_body_feed(&body, buf + i, 1, &done);
    assert_int_equal(rc, -1);
    assert_int_equal(i, 4097);
}

static void chunked_trailer_line_limit(void **state)
{
    (void)state;
    static char buf[5000];
    bool done = false;
    memcpy(buf, "0\r\nX: ", 6);
    memset(buf + 6, 'v', 4200);
    memcpy(buf + 4206, "\r\n\r\n", 4);
    start_chunked();
    assert_int_equal(http_body_feed(&body, buf, 4210, &done), -1);
}

static void chunked_many_small_chunks(void **state)
{
    (void)state;
    static char buf[8192];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1\r\n%c\r\n", 'a' + i % 26);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "0\r\n\r\n");
    bool done = false;
    start_chunked();
    assert_int_equal(http_body_feed(&body, buf, n, &done), n);
    assert_true(done);
}

/* ---- rewriting ---- */

static char out[1024];

static void rewrite_request_drops_hop_by_hop(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(parse_req("GET http://example.com/p?q=1 HTTP/1.0\r\n"
                               "Host: wrong.example\r\n"
                               "User-Agent: t/1\r\n"
                               "Proxy-Connection: keep-alive\r\n"
                               "Proxy-Authorization: Basic YTpi\r\n"
                               "Connection: keep-alive, X-Drop\r\n"
                               "X-Drop: 1\r\n"
                               "x-drop: 2\r\n"
                               "Keep-Alive: 300\r\n"
                               "TE: trailers\r\n"
                               "Trailer: X-T\r\n"
                               "Upgrade: h2c\r\n"
                               "Proxy-Authenticate: Basic\r\n"
                               "Accept:   */*  \r\n"
                               "\r\n"),
                     HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    const char *want = "GET /p?q=1 HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "User-Agent: t/1\r\n"
                       "Accept: */*\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(http_rewrite_request(&head, &target, path, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void rewrite_request_keeps_framing_headers(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(parse_req("POST http://h:8080 HTTP/1.1\r\n"
                               "Connection: Content-Length, Transfer-Encoding\r\n"
                               "Content-Length: 3\r\n\r\n"),
                     HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    const char *want = "POST / HTTP/1.1\r\n"
                       "Host: h:8080\r\n"
                       "Content-Length: 3\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(http_rewrite_request(&head, &target, path, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void rewrite_request_host_forms(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(parse_req("GET http://[2001:db8::1]:8080?x HTTP/1.1\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    const char *want = "GET /?x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n\r\n";
    assert_int_equal(http_rewrite_request(&head, &target, path, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);

    assert_int_equal(parse_req("GET http://[::1]:80/ HTTP/1.1\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    want = "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
    assert_int_equal(http_rewrite_request(&head, &target, path, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);

    assert_int_equal(parse_req("GET http://10.0.0.1:80/a HTTP/1.1\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    want = "GET /a HTTP/1.1\r\nHost: 10.0.0.1\r\nConnection: close\r\n\r\n";
    assert_int_equal(http_rewrite_request(&head, &target, path, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void rewrite_request_too_small(void **state)
{
    (void)state;
    struct http_slice path;
    assert_int_equal(parse_req("GET http://h/ HTTP/1.1\r\nA: b\r\n\r\n"), HTTP_DONE);
    assert_int_equal(http_parse_absolute_uri(head.target, &target, &path), 0);
    size_t len = http_rewrite_request(&head, &target, path, out, sizeof(out));
    assert_int_equal(len, strlen("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\nConnection: close\r\n\r\n"));
    assert_int_equal(http_rewrite_request(&head, &target, path, out, len + 1), len);
    assert_int_equal(http_rewrite_request(&head, &target, path, out, len), 0);
    assert_int_equal(http_rewrite_request(&head, &target, path, out, 10), 0);
}

static void rewrite_response_keep_alive(void **state)
{
    (void)state;
    assert_int_equal(parse_resp("HTTP/1.0 200 Fine\r\n"
                                "Content-Length: 5\r\n"
                                "Connection: close, X-Hop\r\n"
                                "X-Hop: 1\r\n"
                                "Keep-Alive: timeout=5\r\n"
                                "Proxy-Authenticate: Basic\r\n"
                                "Upgrade: h2c\r\n"
                                "Server: s\r\n\r\n"),
                     HTTP_DONE);
    const char *want = "HTTP/1.1 200 Fine\r\n"
                       "Content-Length: 5\r\n"
                       "Server: s\r\n"
                       "Connection: keep-alive\r\n\r\n";
    assert_int_equal(http_rewrite_response(&head, true, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void rewrite_response_close_and_default_reason(void **state)
{
    (void)state;
    assert_int_equal(parse_resp("HTTP/1.1 502\r\nTransfer-Encoding: chunked\r\n\r\n"), HTTP_DONE);
    const char *want = "HTTP/1.1 502 Bad Gateway\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(http_rewrite_response(&head, false, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
    assert_int_equal(http_rewrite_response(&head, false, out, strlen(want)), 0);
}

static void encode_error_with_detail_and_extra(void **state)
{
    (void)state;
    const char *want = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 48\r\n"
                       "Connection: close\r\n"
                       "Proxy-Authenticate: Basic realm=\"mpconv\"\r\n"
                       "\r\n"
                       "407 Proxy Authentication Required: login needed\n";
    size_t len = http_encode_error(407, "Proxy-Authenticate: Basic realm=\"mpconv\"\r\n",
                                   "login needed", out, sizeof(out));
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
}

static void encode_error_plain(void **state)
{
    (void)state;
    const char *want = "HTTP/1.1 502 Bad Gateway\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 16\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "502 Bad Gateway\n";
    assert_int_equal(http_encode_error(502, NULL, NULL, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void encode_error_detail_kept_on_one_line(void **state)
{
    (void)state;
    const char *want = "HTTP/1.1 400 Bad Request\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 22\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "400 Bad Request: a  b\n";
    assert_int_equal(http_encode_error(400, NULL, "a\r\nb", out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void encode_error_truncates_safely(void **state)
{
    (void)state;
    char small[20];
    assert_int_equal(http_encode_error(504, NULL, "slow", small, sizeof(small)), 19);
    assert_string_equal(small, "HTTP/1.1 504 Gatewa");
    assert_int_equal(http_encode_error(504, NULL, "slow", small, 0), 0);
}

static void encode_connect_ok_exact(void **state)
{
    (void)state;
    const char *want = "HTTP/1.1 200 Connection established\r\n\r\n";
    assert_int_equal(http_encode_connect_ok(out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
    assert_int_equal(http_encode_connect_ok(out, strlen(want)), 0);
}

static void reason_table(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } want[] = {
        {200, "OK"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {405, "Method Not Allowed"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
        {0, "Unknown"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(http_reason(want[i].status), want[i].reason);
}

/* ---- client side: CONNECT to a parent ---- */

static struct mp_target make_target(const char *host, uint16_t port)
{
    struct mp_target t;
    assert_int_equal(target_set(&t, host, strlen(host), port), 0);
    return t;
}

static void assert_client_connect(const char *host, uint16_t port, const char *user,
                                  const char *pass, const char *want)
{
    struct mp_target t = make_target(host, port);
    char buf[2048];
    assert_int_equal(http_client_connect(buf, sizeof(buf), &t, user, pass), strlen(want));
    assert_string_equal(buf, want);
}

static void client_connect_name_no_auth(void **state)
{
    (void)state;
    assert_client_connect("example.com", 443, NULL, NULL,
                          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
}

static void client_connect_ipv4(void **state)
{
    (void)state;
    assert_client_connect("192.0.2.7", 8080, NULL, NULL,
                          "CONNECT 192.0.2.7:8080 HTTP/1.1\r\nHost: 192.0.2.7:8080\r\n\r\n");
}

static void client_connect_ipv6_in_brackets(void **state)
{
    (void)state;
    assert_client_connect("2001:db8::1", 80, NULL, NULL,
                          "CONNECT [2001:db8::1]:80 HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n");
}

static void client_connect_with_auth(void **state)
{
    (void)state;
    /* The RFC 7617 example credentials. */
    assert_client_connect("example.com", 443, "Aladdin", "open sesame",
                          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
                          "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

static void client_connect_base64_forms(void **state)
{
    (void)state;
    static const struct {
        const char *user, *pass, *basic;
    } rows[] = {
        {"a", "b", "YTpi"},               /* whole quantum */
        {"ab", "cd", "YWI6Y2Q="},         /* one pad */
        {"ab", "c", "YWI6Yw=="},          /* two pads */
        {"u", "", "dTo="},                /* empty password */
        {"u", NULL, "dTo="},              /* NULL password is empty */
        {"", "p", "OnA="},                /* empty user */
        {"\xff\xfe", "\xfd", "//46/Q=="}, /* the alphabet's last symbols */
    };
    char want[256];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(want, sizeof(want),
                 "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic %s\r\n\r\n",
                 rows[i].basic);
        assert_client_connect("h", 1, rows[i].user, rows[i].pass, want);
    }
}

/* Our own server reads back what the client wrote. */
static void assert_server_reads(const char *user, const char *pass)
{
    struct mp_target t = make_target("example.com", 443);
    static char buf[2048];
    char got_user[1100], got_pass[1100];
    size_t n = http_client_connect(buf, sizeof(buf), &t, user, pass);
    assert_true(n > 0);
    assert_int_equal(http_parse_request(buf, n, sizeof(buf), &head, &error), HTTP_DONE);
    assert_int_equal(head.head_len, n);
    assert_slice(head.method, "CONNECT");
    assert_slice(head.target, "example.com:443");
    assert_int_equal(http_parse_basic_auth(&head, got_user, sizeof(got_user), got_pass,
                                           sizeof(got_pass)),
                     0);
    assert_string_equal(got_user, user);
    assert_string_equal(got_pass, pass);
}

static void client_connect_auth_round_trip(void **state)
{
    (void)state;
    assert_server_reads("alice", "s3cr3t:with:colons");

    char user[512], pass[513]; /* "user:pass" of exactly 1024 bytes */
    memset(user, 'u', sizeof(user) - 1);
    memset(pass, 'p', sizeof(pass) - 1);
    user[sizeof(user) - 1] = pass[sizeof(pass) - 1] = '\0';
    assert_server_reads(user, pass);
}

static void client_connect_unsendable_credentials(void **state)
{
    (void)state;
    struct mp_target t = make_target("example.com", 443);
    char buf[4096], user[512], pass[514]; /* "user:pass" of 1025 bytes */
    memset(user, 'u', sizeof(user) - 1);
    memset(pass, 'p', sizeof(pass) - 1);
    user[sizeof(user) - 1] = pass[sizeof(pass) - 1] = '\0';
    assert_int_equal(http_client_connect(buf, sizeof(buf), &t, user, pass), 0);
    assert_int_equal(http_client_connect(buf, sizeof(buf), &t, "us:er", "pass"), 0);
}

static void client_connect_cap_too_small(void **state)
{
    (void)state;
    struct mp_target t = make_target("example.com", 443);
    char buf[256];
    size_t plain = http_client_connect(buf, sizeof(buf), &t, NULL, NULL);
    size_t with_auth = http_client_connect(buf, sizeof(buf), &t, "Aladdin", "open sesame");
    assert_int_equal(plain, 59);
    assert_int_equal(with_auth, 59 + 57);

    for (size_t cap = 0; cap <= with_auth; cap++) {
        memset(buf, 0, sizeof(buf));
        assert_int_equal(http_client_connect(buf, cap, &t, "Aladdin", "open sesame"), 0);
        for (size_t i = 0; i < sizeof(buf); i++)
            assert_int_equal(buf[i], 0); /* no partial credential left behind */
    }
    assert_int_equal(http_client_connect(buf, plain, &t, NULL, NULL), 0);
    assert_int_equal(http_client_connect(buf, plain + 1, &t, NULL, NULL), plain);
    assert_int_equal(http_client_connect(buf, with_auth + 1, &t, "Aladdin", "open sesame"),
                     with_auth);
}

/* ---- client side: the parent's answer ---- */

static void parent_connect_ok_byte_at_a_time(void **state)
{
    (void)state;
    static const char answer[] = "HTTP/1.1 200 Connection established\r\n"
                                 "Proxy-Agent: parent\r\n\r\n"
                                 "\x16\x03\x01"; /* the origin's first tunnel bytes */
    size_t head_len = sizeof(answer) - 1 - 3;
    for (size_t i = 0; i < head_len; i++)
        assert_int_equal(http_parse_response(answer, i, MAX_HEAD, &head, &error), HTTP_NEED_MORE);
    assert_int_equal(http_parse_response(answer, head_len, MAX_HEAD, &head, &error), HTTP_DONE);
    assert_int_equal(head.head_len, head_len);
    assert_int_equal(http_parse_response(answer, sizeof(answer) - 1, MAX_HEAD, &head, &error),
                     HTTP_DONE);
    assert_int_equal(head.status, 200);
    assert_int_equal(head.head_len, head_len);
    assert_memory_equal(answer + head.head_len, "\x16\x03\x01", 3);
}

static void parent_connect_ok_framing_headers_ignored(void **state)
{
    (void)state;
    const char *s = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nTUNNEL";
    assert_int_equal(parse_resp(s), HTTP_DONE);
    assert_int_equal(head.status, 200);
    assert_int_equal(head.head_len, strlen(s) - strlen("TUNNEL"));
}

static void parent_refusal_parsed_and_mapped(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                    "Proxy-Authenticate: Basic realm=\"parent\"\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_resp(s), HTTP_DONE);
    assert_int_equal(head.status, 407);
    assert_int_equal(http_connect_status_to_socks5(head.status), S5_REP_NOT_ALLOWED);
    assert_int_equal(http_connect_status_to_http(head.status), 502);
}

static void parent_status_mapping_table(void **state)
{
    (void)state;
    static const struct {
        int status, socks5, http;
    } rows[] = {
        {200, S5_REP_SUCCEEDED, 200},
        {204, S5_REP_SUCCEEDED, 200},
        {299, S5_REP_SUCCEEDED, 200},
        {100, S5_REP_GENERAL_FAILURE, 502},
        {199, S5_REP_GENERAL_FAILURE, 502},
        {300, S5_REP_GENERAL_FAILURE, 502},
        {302, S5_REP_GENERAL_FAILURE, 502},
        {400, S5_REP_GENERAL_FAILURE, 502},
        {401, S5_REP_NOT_ALLOWED, 502},
        {403, S5_REP_NOT_ALLOWED, 403},
        {404, S5_REP_HOST_UNREACHABLE, 502},
        {405, S5_REP_GENERAL_FAILURE, 502},
        {407, S5_REP_NOT_ALLOWED, 502},
        {408, S5_REP_GENERAL_FAILURE, 502},
        {429, S5_REP_GENERAL_FAILURE, 502},
        {500, S5_REP_GENERAL_FAILURE, 502},
        {501, S5_REP_GENERAL_FAILURE, 502},
        {502, S5_REP_HOST_UNREACHABLE, 502},
        {503, S5_REP_HOST_UNREACHABLE, 502},
        {504, S5_REP_TTL_EXPIRED, 504},
        {505, S5_REP_GENERAL_FAILURE, 502},
        {0, S5_REP_GENERAL_FAILURE, 502},
        {-1, S5_REP_GENERAL_FAILURE, 502},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(http_connect_status_to_socks5(rows[i].status), rows[i].socks5);
        assert_int_equal(http_connect_status_to_http(rows[i].status), rows[i].http);
    }
}

static struct http_slice sl(const char *s)
{
    return (struct http_slice){s, strlen(s)};
}

static void slice_is_and_target_path(void **state)
{
    (void)state;
    assert_true(http_slice_is(sl("GET"), "GET"));
    assert_false(http_slice_is(sl("get"), "GET"));
    assert_false(http_slice_is(sl("GETS"), "GET"));
    assert_false(http_slice_is(sl(""), "GET"));
    assert_true(http_slice_is(http_target_path(sl("/metrics?x=1")), "/metrics"));
    assert_true(http_slice_is(http_target_path(sl("/metrics")), "/metrics"));
    assert_true(http_slice_is(http_target_path(sl("?q")), ""));
    assert_true(http_slice_is(http_target_path(sl("")), ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_simple_crlf),
        cmocka_unit_test(request_bare_lf),
        cmocka_unit_test(request_no_headers),
        cmocka_unit_test(request_byte_at_a_time),
        cmocka_unit_test(request_coalesced_with_body),
        cmocka_unit_test(request_leading_empty_lines_skipped),
        cmocka_unit_test(request_obs_fold_rejected),
        cmocka_unit_test(request_leading_space_before_first_header_rejected),
        cmocka_unit_test(request_space_before_colon_rejected),
        cmocka_unit_test(request_empty_header_name_rejected),
        cmocka_unit_test(request_header_without_colon_rejected),
        cmocka_unit_test(request_invalid_header_name_rejected),
        cmocka_unit_test(request_control_bytes_in_value_rejected),
        cmocka_unit_test(request_tab_and_obs_text_in_value_accepted),
        cmocka_unit_test(request_invalid_method_rejected),
        cmocka_unit_test(request_missing_parts_rejected),
        cmocka_unit_test(request_control_bytes_in_target_rejected),
        cmocka_unit_test(request_unsupported_versions_505),
        cmocka_unit_test(request_malformed_versions_400),
        cmocka_unit_test(request_oversize_head_431),
        cmocka_unit_test(request_head_exactly_at_limit),
        cmocka_unit_test(request_terminator_beyond_limit_431),
        cmocka_unit_test(request_max_headers_accepted),
        cmocka_unit_test(request_too_many_headers_431),
        cmocka_unit_test(response_simple),
        cmocka_unit_test(response_without_reason),
        cmocka_unit_test(response_reason_with_tab_and_obs_text),
        cmocka_unit_test(response_byte_at_a_time),
        cmocka_unit_test(response_malformed_502),
        cmocka_unit_test(response_unknown_version_502),
        cmocka_unit_test(response_oversize_502),
        cmocka_unit_test(find_header_case_insensitive),
        cmocka_unit_test(has_token_in_lists),
        cmocka_unit_test(keep_alive_defaults_by_version),
        cmocka_unit_test(keep_alive_follows_connection_header),
        cmocka_unit_test(authority_forms),
        cmocka_unit_test(authority_requires_port),
        cmocka_unit_test(absolute_uri_with_path_and_query),
        cmocka_unit_test(absolute_uri_without_path),
        cmocka_unit_test(absolute_uri_query_without_path),
        cmocka_unit_test(absolute_uri_ipv6),
        cmocka_unit_test(absolute_uri_rejects),
        cmocka_unit_test(basic_auth_valid),
        cmocka_unit_test(basic_auth_padding),
        cmocka_unit_test(basic_auth_scheme_case_insensitive),
        cmocka_unit_test(basic_auth_password_may_contain_colon),
        cmocka_unit_test(basic_auth_empty_fields),
        cmocka_unit_test(basic_auth_absent_or_other_scheme),
        cmocka_unit_test(basic_auth_bad_base64),
        cmocka_unit_test(basic_auth_no_colon),
        cmocka_unit_test(basic_auth_nul_rejected),
        cmocka_unit_test(basic_auth_too_long_for_buffers),
        cmocka_unit_test(request_body_none),
        cmocka_unit_test(request_body_content_length),
        cmocka_unit_test(request_body_repeated_equal_lengths),
        cmocka_unit_test(request_body_differing_lengths_400),
        cmocka_unit_test(request_body_invalid_length_400),
        cmocka_unit_test(request_body_chunked),
        cmocka_unit_test(request_body_both_framings_400),
        cmocka_unit_test(request_body_chunked_not_final_400),
        cmocka_unit_test(request_body_chunked_twice_400),
        cmocka_unit_test(request_body_chunked_in_http10_400),
        cmocka_unit_test(response_body_none_cases),
        cmocka_unit_test(response_body_framings),
        cmocka_unit_test(response_body_invalid_framing_502),
        cmocka_unit_test(feed_length_stops_at_end),
        cmocka_unit_test(feed_none_and_until_eof),
        cmocka_unit_test(chunked_whole_then_next_message),
        cmocka_unit_test(chunked_byte_at_a_time),
        cmocka_unit_test(chunked_every_two_part_split),
        cmocka_unit_test(chunked_hex_forms),
        cmocka_unit_test(chunked_no_trailers),
        cmocka_unit_test(chunked_malformed_size_lines),
        cmocka_unit_test(chunked_malformed_data_end),
        cmocka_unit_test(chunked_malformed_trailers),
        cmocka_unit_test(chunked_size_overflow_rejected),
        cmocka_unit_test(chunked_size_line_limit),
        cmocka_unit_test(chunked_size_line_limit_byte_at_a_time),
        cmocka_unit_test(chunked_trailer_line_limit),
        cmocka_unit_test(chunked_many_small_chunks),
        cmocka_unit_test(rewrite_request_drops_hop_by_hop),
        cmocka_unit_test(rewrite_request_keeps_framing_headers),
        cmocka_unit_test(rewrite_request_host_forms),
        cmocka_unit_test(rewrite_request_too_small),
        cmocka_unit_test(rewrite_response_keep_alive),
        cmocka_unit_test(rewrite_response_close_and_default_reason),
        cmocka_unit_test(encode_error_with_detail_and_extra),
        cmocka_unit_test(encode_error_plain),
        cmocka_unit_test(encode_error_detail_kept_on_one_line),
        cmocka_unit_test(encode_error_truncates_safely),
        cmocka_unit_test(encode_connect_ok_exact),
        cmocka_unit_test(reason_table),
        cmocka_unit_test(client_connect_name_no_auth),
        cmocka_unit_test(client_connect_ipv4),
        cmocka_unit_test(client_connect_ipv6_in_brackets),
        cmocka_unit_test(client_connect_with_auth),
        cmocka_unit_test(client_connect_base64_forms),
        cmocka_unit_test(client_connect_auth_round_trip),
        cmocka_unit_test(client_connect_unsendable_credentials),
        cmocka_unit_test(client_connect_cap_too_small),
        cmocka_unit_test(parent_connect_ok_byte_at_a_time),
        cmocka_unit_test(parent_connect_ok_framing_headers_ignored),
        cmocka_unit_test(parent_refusal_parsed_and_mapped),
        cmocka_unit_test(parent_status_mapping_table),
        cmocka_unit_test(slice_is_and_target_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
