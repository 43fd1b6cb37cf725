/* Unit tests for src/config.c. Data files live in $MPCONV_TEST_DATA; cases
 * that need one small file each write it to a temporary file instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mpconv/config.h"

#include "acl_list_text.h"

static char err[1024];

static const char *data_path(const char *name)
{
    static char path[1024];
    const char *dir = getenv("MPCONV_TEST_DATA");
    if (!dir)
        fail_msg("MPCONV_TEST_DATA is not set");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* Writes content to a new temporary file; the caller unlinks and frees it. */
static char *write_temp(const char *content)
{
    char *path = strdup("/tmp/mpconv-test-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0;
    assert_true(getdelim(&text, &cap, '\0', f) >= 0);
    fclose(f);
    return text;
}

/* The dump without its first line, which names the source file. */
static char *dump_body(const struct config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_dump(c, f);
    fclose(f);
    char *body = strdup(strchr(text, '\n') + 1);
    free(text);
    return body;
}

static void load_ok(struct config *c, const char *path)
{
    if (config_load_file(c, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

static void finalize_ok(struct config *c)
{
    if (config_finalize(c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

/* Loads content from a temporary file; expects "PATH:" + expected. */
static void assert_load_error(const char *content, const char *expected)
{
    char *path = write_temp(content);
    struct config c;
    char want[2048];
    snprintf(want, sizeof(want), "%s:%s", path, expected);
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    config_free(&c);
    remove_temp(path);
}

/* Expects config_set(key, value) to fail with "KEY: " + expected. */
static void assert_set_error(const char *key, const char *value, const char *expected)
{
    struct config c;
    char want[2048];
    snprintf(want, sizeof(want), "%s: %s", key, expected);
    config_init(&c);
    assert_int_equal(config_set(&c, key, value, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    config_free(&c);
}

/* Expects config_finalize to fail with expected, after url was added. */
static void assert_finalize_error(const char *key, const char *url, const char *expected)
{
    struct config c;
    config_init(&c);
    if (config_set(&c, key, url, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    assert_string_equal(err, expected);
    config_free(&c);
}

/* Writes users to a temporary file and finalizes a config that points at it
 * (plus extra_config); expects "USERS_PATH:" + expected. */
static void assert_users_error(const char *users, const char *extra_config, const char *expected)
{
    char *users_path = write_temp(users);
    struct config c;
    char want[2048];
    snprintf(want, sizeof(want), "%s:%s", users_path, expected);
    config_init(&c);
    assert_int_equal(config_set(&c, "auth.users_file", users_path, err, sizeof(err)), 0);
    if (extra_config)
        assert_int_equal(config_add_listener_url(&c, extra_config, err, sizeof(err)), 0);
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    config_free(&c);
    remove_temp(users_path);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(c.n_listeners, 0);
    assert_null(c.listeners);
    assert_int_equal(c.upstream.kind, UPSTREAM_DIRECT);
    assert_false(c.upstream.tls);
    assert_string_equal(c.upstream.url.scheme, "direct");
    assert_int_equal(c.mptcp, MPTCP_MODE_AUTO);
    assert_int_equal(c.mark, 0);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.connect_timeout_ms, 10000);
    assert_int_equal(c.handshake_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.max_header_bytes, 16384);
    assert_int_equal(c.pac, SWITCH_ON);
    assert_string_equal(c.users_file, "");
    assert_string_equal(c.source, "");
    assert_int_equal(c.acl.clients.n + c.acl.deny.n + c.acl.allow.n + c.acl.tcp.n + c.acl.require_mptcp.n, 0);
    config_free(&c);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mptcp_mode_name(MPTCP_MODE_AUTO), "auto");
    assert_string_equal(mptcp_mode_name(MPTCP_MODE_ON), "on");
    assert_string_equal(mptcp_mode_name(MPTCP_MODE_OFF), "off");
    assert_string_equal(listener_kind_name(LISTEN_SOCKS5), "socks5");
    assert_string_equal(listener_kind_name(LISTEN_HTTP), "http");
    assert_string_equal(listener_kind_name(LISTEN_MIXED), "mixed");
    assert_string_equal(listener_kind_name(LISTEN_REDIRECT), "redirect");
    assert_string_equal(listener_kind_name(LISTEN_TPROXY), "tproxy");
    assert_string_equal(listener_kind_name(LISTEN_FORWARD), "forward");
}

static void test_default_listeners(void **state)
{
    (void)state;
    struct config c;
    char addr[64];
    config_init(&c);
    finalize_ok(&c);
    assert_int_equal(c.n_listeners, 2);
    assert_int_equal(c.listeners[0].kind, LISTEN_SOCKS5);
    target_format(&c.listeners[0].url.host, addr, sizeof(addr));
    assert_string_equal(addr, "127.0.0.1:1080");
    assert_int_equal(c.listeners[1].kind, LISTEN_HTTP);
    target_format(&c.listeners[1].url.host, addr, sizeof(addr));
    assert_string_equal(addr, "127.0.0.1:8080");
    assert_int_equal(c.listeners[0].n_users, 0);
    assert_int_equal(c.listeners[1].n_users, 0);
    config_free(&c);
}

static void test_good_file(void **state)
{
    (void)state;
    struct config c;
    char path[1024];
    snprintf(path, sizeof(path), "%s", data_path("good.conf"));
    config_init(&c);
    load_ok(&c, path);

    assert_string_equal(c.source, path);
    assert_int_equal(c.n_listeners, 7);
    assert_int_equal(c.listeners[0].kind, LISTEN_SOCKS5);
    assert_int_equal(c.listeners[0].url.host.port, 0);
    assert_false(c.listeners[0].mptcp);
    assert_false(c.listeners[0].tls);
    assert_int_equal(c.listeners[1].kind, LISTEN_HTTP);
    assert_int_equal(c.listeners[1].url.host.kind, TARGET_IPV6);
    assert_string_equal(c.listeners[1].url.host.host, "::1");
    assert_int_equal(c.listeners[2].kind, LISTEN_MIXED);
    assert_string_equal(c.listeners[2].url.host.host, "localhost");
    assert_string_equal(c.listeners[2].url.user, "bob");
    assert_string_equal(c.listeners[2].url.pass, "pa;ss:w");

    const struct listener_cfg *https = &c.listeners[3], *forward = &c.listeners[4];
    char tls_pem[1024];
    snprintf(tls_pem, sizeof(tls_pem), "%s", data_path("tls.pem")); /* relative to good.conf */
    assert_int_equal(https->kind, LISTEN_HTTP);
    assert_true(https->tls);
    assert_true(https->mptcp);
    assert_string_equal(https->cert_file, tls_pem);
    assert_string_equal(https->key_file, tls_pem);
    assert_int_equal(forward->kind, LISTEN_FORWARD);
    assert_false(forward->mptcp);
    assert_int_equal(forward->forward_to.kind, TARGET_IPV6);
    assert_string_equal(forward->forward_to.host, "2001:db8::1");
    assert_int_equal(forward->forward_to.port, 22);
    assert_int_equal(c.listeners[5].kind, LISTEN_REDIRECT);
    assert_false(c.listeners[5].mptcp);
    assert_int_equal(c.listeners[6].kind, LISTEN_TPROXY);
    assert_true(c.listeners[6].mptcp);
    assert_string_equal(acl_list_text(&c.listeners[6].allow), "192.168.1.0/24, fd00::/8");
    assert_int_equal(c.listeners[0].allow.n, 0);

    assert_int_equal(c.upstream.kind, UPSTREAM_HTTP);
    assert_true(c.upstream.tls);
    assert_string_equal(c.upstream.url.host.host, "concentrator.example");
    assert_int_equal(c.upstream.url.host.port, 443);
    assert_string_equal(c.upstream.url.user, "router");
    assert_string_equal(c.upstream.url.pass, "pw");
    assert_string_equal(c.upstream.ca_file, tls_pem);
    assert_string_equal(c.upstream.sni, "c.example");
    assert_int_equal(c.mptcp, MPTCP_MODE_OFF);
    assert_int_equal(c.mark, 0x100);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(c.connect_timeout_ms, 500);
    assert_int_equal(c.handshake_timeout_ms, 2250);
    assert_int_equal(c.idle_timeout_ms, 86400000);
    assert_int_equal(c.max_header_bytes, 1024);
    assert_string_equal(c.users_file, data_path("users.txt")); /* relative to good.conf */
    assert_string_equal(acl_list_text(&c.acl.clients), "192.168.1.0/24, 192.168.2.0/24, fd00::/8");
    assert_string_equal(acl_list_text(&c.acl.deny), "10.0.0.0/8");
    assert_string_equal(acl_list_text(&c.acl.allow), "10.1.0.0/16, 127.0.0.1");
    assert_string_equal(acl_list_text(&c.acl.tcp), "192.168.0.0/16");
    assert_string_equal(acl_list_text(&c.acl.require_mptcp), "203.0.113.1, 2001:db8::/32");
    config_free(&c);
}

static void test_users_are_attached(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    load_ok(&c, data_path("good.conf"));
    finalize_ok(&c);

    const struct listener_cfg *plain = &c.listeners[0], *with_user = &c.listeners[2];
    assert_int_equal(plain->n_users, 2);
    assert_string_equal(plain->users[0].name, "alice");
    assert_string_equal(plain->users[0].pass, "secret");
    assert_string_equal(plain->users[1].name, "carol");
    assert_string_equal(plain->users[1].pass, "pass:with:colons");
    assert_int_equal(with_user->n_users, 3);
    assert_string_equal(with_user->users[0].name, "bob");
    assert_string_equal(with_user->users[0].pass, "pa;ss:w");
    assert_string_equal(with_user->users[2].name, "carol");

    assert_int_equal(c.listeners[3].n_users, 2); /* https */
    for (size_t i = 4; i < c.n_listeners; i++) { /* forward, redirect, tproxy: clients cannot authenticate */
        assert_int_equal(c.listeners[i].n_users, 0);
        assert_null(c.listeners[i].users);
    }

    finalize_ok(&c); /* again: users are rebuilt, not appended */
    assert_int_equal(with_user->n_users, 3);
    config_free(&c);
}

static void test_url_user_without_users_file(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_add_listener_url(&c, "socks5://u:p@127.0.0.1:0", err, sizeof(err)), 0);
    assert_int_equal(config_add_listener_url(&c, "http://127.0.0.1:0", err, sizeof(err)), 0);
    finalize_ok(&c);
    assert_int_equal(c.listeners[0].n_users, 1);
    assert_string_equal(c.listeners[0].users[0].name, "u");
    assert_string_equal(c.listeners[0].users[0].pass, "p");
    assert_int_equal(c.listeners[1].n_users, 0);
    assert_null(c.listeners[1].users);
    config_free(&c);
}

static void test_indented_lines(void **state)
{
    (void)state;
    char *path = write_temp("[timeouts]\n  connect = 5\n\tidle = 60\r\n  [http]\n  max_header_bytes = 2048\n"
                            "  pac = off");
    struct config c;
    config_init(&c);
    load_ok(&c, path);
    assert_int_equal(c.connect_timeout_ms, 5000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.max_header_bytes, 2048);
    assert_int_equal(c.pac, SWITCH_OFF);
    config_free(&c);
    remove_temp(path);
}

static void test_bad_keys_and_sections(void **state)
{
    (void)state;
    assert_load_error("[mpconv]\ncolour = red\n", "2: colour: unknown key in [mpconv]");
    assert_load_error("[mpconv]\nconnect = 5\n", "2: connect: unknown key in [mpconv] (it belongs in [timeouts])");
    assert_load_error("mptcp = on\n", "1: mptcp: key outside any section (it belongs in [mpconv])");
    assert_load_error("colour = red\n", "1: colour: key outside any section");
    assert_load_error("[mpconv]\n\n[proxy]\n", "3: unknown section [proxy]");
    assert_load_error("[mpconv]\nmptcp = on\nmptcp = off\n", "3: mptcp: duplicate key (first set on line 2)");
}

static void test_bad_syntax(void **state)
{
    (void)state;
    const char *syntax = "syntax error (expected [section] or key = value)";
    char want[128];
    snprintf(want, sizeof(want), "2: %s", syntax);
    assert_load_error("[mpconv]\nno equals sign here\n", want);
    assert_load_error("[mpconv]\nno equals sign here\nmptcp = yes\n", want); /* the first error wins */
    snprintf(want, sizeof(want), "1: %s", syntax);
    assert_load_error("[mpconv\nmptcp = on\n", want);
    assert_load_error("= value\n", want);
    /* stops at the first error */
    assert_load_error("[mpconv]\nmptcp = yes\nno equals sign here\n", "2: mptcp: expected auto, on or off, got 'yes'");
}

static void test_line_too_long(void **state)
{
    (void)state;
    char content[512] = "[mpconv]\nupstream = ";
    size_t len = strlen(content);
    memset(content + len, 'd', 300);
    content[len + 300] = '\0';
    assert_load_error(content, "2: line too long (max 198 bytes)");
}

static void test_bad_choices(void **state)
{
    (void)state;
    assert_load_error("[mpconv]\nmptcp = yes\n", "2: mptcp: expected auto, on or off, got 'yes'");
    assert_load_error("[mpconv]\nlog_level = verbose\n",
                      "2: log_level: expected error, warn, info or debug, got 'verbose'");
    assert_load_error("[mpconv]\nupstream = ftp://user:pw@10.0.0.1:21\n",
                      "2: upstream: unknown scheme 'ftp' (expected direct, socks5, socks5+tls, http or https)");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    static const char *const bad_seconds[] = {"abc", "0.05", "0", "86400.001", "1.2345", "1.", ".5",
                                              "-1", "1e3", "", "99999999999", "10 s"};
    for (size_t i = 0; i < sizeof(bad_seconds) / sizeof(bad_seconds[0]); i++) {
        char content[128], want[256];
        snprintf(content, sizeof(content), "[timeouts]\nidle = %s\n", bad_seconds[i]);
        snprintf(want, sizeof(want), "2: idle: expected seconds from 0.1 to 86400 (at most 3 decimals), got '%s'",
                 bad_seconds[i]);
        assert_load_error(content, want);
    }
    assert_load_error("[http]\nmax_header_bytes = 1023\n",
                      "2: max_header_bytes: expected an integer from 1024 to 65536, got '1023'");
    assert_load_error("[http]\nmax_header_bytes = 65537\n",
                      "2: max_header_bytes: expected an integer from 1024 to 65536, got '65537'");
    assert_load_error("[http]\nmax_header_bytes = 99999999999\n",
                      "2: max_header_bytes: expected an integer from 1024 to 65536, got '99999999999'");
}

static void test_seconds_precision(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "timeouts.connect", "0.1", err, sizeof(err)), 0);
    assert_int_equal(c.connect_timeout_ms, 100);
    assert_int_equal(config_set(&c, "timeouts.connect", "86400.000", err, sizeof(err)), 0);
    assert_int_equal(c.connect_timeout_ms, 86400000);
    assert_int_equal(config_set(&c, "timeouts.connect", "1.05", err, sizeof(err)), 0);
    assert_int_equal(c.connect_timeout_ms, 1050);
    config_free(&c);
}

static void test_bad_listeners(void **state)
{
    (void)state;
    assert_load_error("[mpconv]\nlisten = ftp://127.0.0.1:21\n",
                      "2: listen: unknown scheme 'ftp' (expected socks5, socks5+tls, http, https, mixed, mixed+tls, "
                      "redirect, tproxy or forward)");
    assert_load_error("[mpconv]\nlisten = socks5://127.0.0.1:1080?mtcp=1\n", "2: listen: unknown parameter 'mtcp'");
    assert_load_error("[mpconv]\nlisten = redirect://0.0.0.0:1?mptcp=1\n",
                      "2: listen: parameter 'mptcp' is not allowed on redirect listeners (SO_ORIGINAL_DST does not "
                      "work on MPTCP sockets; use tproxy)");
    assert_load_error("[mpconv]\nlisten = https://0.0.0.0:443?cert=c.pem\n",
                      "2: listen: missing parameter 'key' (a TLS listener needs cert=FILE and key=FILE)");
    assert_load_error("[mpconv]\nlisten = socks5://127.0.0.1\n", "2: listen: missing port (expected HOST:PORT)");
    assert_load_error("[mpconv]\nlisten = socks5://127.0.0.1:1080/x\n", "2: listen: a socks5 listener takes no path");
    assert_load_error("[mpconv]\nlisten = socks5\n", "2: listen: expected socks5://[USER:PASS@]HOST:PORT");
    assert_load_error("[mpconv]\nlisten =\n", "2: listen: empty URL");
    assert_load_error("[mpconv]\nlisten = socks5://u:se%ZZcret@127.0.0.1:1\n",
                      "2: listen: invalid percent-escape in password");
}

static void test_unreadable_files(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/mpconv.conf", err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/mpconv.conf: cannot open: No such file or directory");
    assert_int_equal(config_load_file(&c, "/", err, sizeof(err)), -1);
    assert_string_equal(err, "/: cannot read: Is a directory");

    assert_int_equal(config_set(&c, "auth.users_file", "/nonexistent/users", err, sizeof(err)), 0);
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/users: cannot open users file: No such file or directory");
    config_free(&c);
}

static void test_bad_users_file(void **state)
{
    (void)state;
    struct config c;
    char want[2048];
    config_init(&c);
    load_ok(&c, data_path("bad_users.conf"));
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3: bad entry (expected user:password)", data_path("bad_users.txt"));
    assert_string_equal(err, want);
    config_free(&c);

    assert_users_error("# c\n\n:pw\n", NULL, "3: bad entry (expected user:password)");
    assert_users_error("alice:a\nbob:b\nalice:c\n", NULL, "3: duplicate user 'alice' (first on line 1)");
    assert_users_error("alice:secret\n", "socks5://alice:other@127.0.0.1:0",
                       "1: user 'alice' is also set in listen URL socks5://alice:***@127.0.0.1:0");

    char users[600];
    memset(users, 'u', 256);
    strcpy(users + 256, ":pw\n");
    assert_users_error(users, NULL, "1: bad entry (user and password are at most 255 bytes)");
}

static void test_empty_users_file(void **state)
{
    (void)state;
    char *path = write_temp("# nobody yet\n\n");
    char want[2048];
    struct config c;
    snprintf(want, sizeof(want), "%s: no users (expected user:password lines)", path);
    config_init(&c);
    assert_int_equal(config_set(&c, "auth.users_file", path, err, sizeof(err)), 0);
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    assert_string_equal(err, want);
    config_free(&c);
    remove_temp(path);
}

static void test_config_set(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(config_set(&c, "timeouts.idle", "1.5", err, sizeof(err)), 0);
    assert_int_equal(c.idle_timeout_ms, 1500);
    assert_int_equal(config_set(&c, "mpconv.mptcp", "on", err, sizeof(err)), 0);
    assert_int_equal(c.mptcp, MPTCP_MODE_ON);
    assert_int_equal(config_set(&c, "mpconv.log_level", "error", err, sizeof(err)), 0);
    assert_int_equal(c.log_level, LOG_ERROR);
    assert_int_equal(config_set(&c, "mpconv.upstream", "direct", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "auth.users_file", "users.txt", err, sizeof(err)), 0);
    assert_string_equal(c.users_file, "users.txt"); /* the command line's paths stay as given */

    assert_int_equal(config_set(&c, "timeouts.idle", "0", err, sizeof(err)), -1);
    assert_string_equal(err, "timeouts.idle: expected seconds from 0.1 to 86400 (at most 3 decimals), got '0'");
    assert_int_equal(c.idle_timeout_ms, 1500);
    assert_int_equal(config_set(&c, "mpconv.mptcp", "maybe", err, sizeof(err)), -1);
    assert_string_equal(err, "mpconv.mptcp: expected auto, on or off, got 'maybe'");
    assert_int_equal(config_set(&c, "foo.bar", "1", err, sizeof(err)), -1);
    assert_string_equal(err, "foo.bar: unknown key (expected SECTION.KEY, e.g. timeouts.idle)");
    assert_int_equal(config_set(&c, "idle", "1", err, sizeof(err)), -1);
    assert_string_equal(err, "idle: unknown key (expected SECTION.KEY, e.g. timeouts.idle)");
    assert_int_equal(config_set(&c, "mpconv.connect", "1", err, sizeof(err)), -1);
    assert_string_equal(err, "mpconv.connect: unknown key (expected SECTION.KEY, e.g. timeouts.idle)");
    config_free(&c);
}

static void test_cli_listeners_replace_the_files(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    load_ok(&c, data_path("good.conf"));
    assert_int_equal(c.n_listeners, 7);

    assert_int_equal(config_add_listener_url(&c, "mixed://0.0.0.0:0", err, sizeof(err)), 0);
    assert_int_equal(c.n_listeners, 1);
    assert_int_equal(c.listeners[0].kind, LISTEN_MIXED);
    assert_int_equal(config_add_listener_url(&c, "http://[::]:0", err, sizeof(err)), 0);
    assert_int_equal(c.n_listeners, 2);

    load_ok(&c, data_path("good.conf")); /* a file read afterwards does not bring its listeners back */
    assert_int_equal(c.n_listeners, 2);

    assert_int_equal(config_add_listener_url(&c, "ftp://h:1", err, sizeof(err)), -1);
    assert_string_equal(err, "mpconv.listen: unknown scheme 'ftp' (expected socks5, socks5+tls, http, https, mixed, "
                             "mixed+tls, redirect, tproxy or forward)");
    assert_int_equal(c.n_listeners, 2);
    config_free(&c);
}

static void test_dump_reads_back(void **state)
{
    (void)state;
    struct config c, back;
    config_init(&c);
    load_ok(&c, data_path("good.conf"));
    finalize_ok(&c);
    char *dump = dump_body(&c);
    assert_null(strstr(dump, "pa%3Bss"));
    assert_null(strstr(dump, "pa;ss"));
    assert_non_null(strstr(dump, "listen = mixed://bob:***@localhost:1081\n"));
    assert_non_null(strstr(dump, "connect = 0.5\n"));
    assert_non_null(strstr(dump, "handshake = 2.25\n"));
    assert_non_null(strstr(dump, "listen = forward://[::1]:2222/[2001:db8::1]:22?mptcp=0\n"));
    assert_non_null(strstr(dump, "listen = redirect://0.0.0.0:12345\n"));
    assert_non_null(strstr(dump, "listen = tproxy://0.0.0.0:12346?mptcp=1&allow=192.168.1.0/24,fd00::/8\n"));
    assert_non_null(strstr(dump, "\n[acl]\nclients = 192.168.1.0/24\nclients = 192.168.2.0/24\nclients = fd00::/8\n"
                                 "deny = 10.0.0.0/8\nallow = 10.1.0.0/16\nallow = 127.0.0.1\ntcp = 192.168.0.0/16\n"
                                 "require_mptcp = 203.0.113.1\nrequire_mptcp = 2001:db8::/32\n"));
    assert_non_null(strstr(dump, "mark = 256\n"));
    assert_non_null(strstr(dump, "metrics = [::1]:0\n"));
    char want[4096], tls_pem[1024];
    snprintf(tls_pem, sizeof(tls_pem), "%s", data_path("tls.pem"));
    snprintf(want, sizeof(want), "listen = https://127.0.0.1:8443?cert=%s&key=%s&mptcp=1\n", tls_pem, tls_pem);
    assert_non_null(strstr(dump, want));
    snprintf(want, sizeof(want), "upstream = https://router:***@concentrator.example:443?ca=%s&sni=c.example\n",
             tls_pem);
    assert_non_null(strstr(dump, want));
    assert_null(strstr(dump, ":pw@"));

    char *path = write_temp(dump);
    config_init(&back);
    load_ok(&back, path);
    finalize_ok(&back);
    char *dump_again = dump_body(&back);
    assert_string_equal(dump_again, dump);

    free(dump_again);
    free(dump);
    config_free(&back);
    config_free(&c);
    remove_temp(path);
}

static void test_acl_keys(void **state)
{
    (void)state;
    struct config c;
    char *path = write_temp("[acl]\ndeny = 10.0.0.0/8\ndeny = ::ffff:192.0.2.0/120 , fd00::/8\nallow =\n"
                            "[mpconv]\nlisten = socks5://127.0.0.1:0?allow=::1\n");
    config_init(&c);
    load_ok(&c, path);
    assert_string_equal(acl_list_text(&c.acl.deny), "10.0.0.0/8, 192.0.2.0/24, fd00::/8");
    assert_int_equal(c.acl.allow.n, 0);
    assert_string_equal(acl_list_text(&c.listeners[0].allow), "::1");
    char *dump = dump_body(&c);
    assert_non_null(strstr(dump, "\n[acl]\nclients =\ndeny = 10.0.0.0/8\ndeny = 192.0.2.0/24\ndeny = fd00::/8\n"
                                 "allow =\ntcp =\nrequire_mptcp =\n"));
    assert_non_null(strstr(dump, "listen = socks5://127.0.0.1:0?allow=::1\n"));
    free(dump);
    config_free(&c);
    remove_temp(path);
}

static void test_acl_errors(void **state)
{
    (void)state;
    const char *hint = "(expected an address or CIDR, e.g. 192.0.2.1, 10.0.0.0/8 or fd00::/8)";
    char want[512];
    snprintf(want, sizeof(want), "3: deny: '10.0.0.300': not an IP address %s", hint);
    assert_load_error("[acl]\ndeny = 10.0.0.0/8\ndeny = fd00::/8, 10.0.0.300\n", want);
    assert_load_error("[acl]\n\nclients = 192.168.1.1/24\n",
                      "3: clients: '192.168.1.1/24': host bits set (did you mean 192.168.1.0/24?)");
    assert_load_error("[acl]\ntcp = 10.0.0.0/33\n", "2: tcp: '10.0.0.0/33': prefix length must be 0..32");
    snprintf(want, sizeof(want), "2: require_mptcp: empty entry in '203.0.113.1,' %s", hint);
    assert_load_error("[acl]\nrequire_mptcp = 203.0.113.1,\n", want);
    assert_load_error("[acl]\nallowed = 10.0.0.0/8\n", "2: allowed: unknown key in [acl]");
    assert_load_error("[mpconv]\nallow = 10.0.0.0/8\n", "2: allow: unknown key in [mpconv] (it belongs in [acl])");
    snprintf(want, sizeof(want), "2: listen: parameter 'allow': 'lan': not an IP address %s", hint);
    assert_load_error("[mpconv]\nlisten = http://0.0.0.0:8080?allow=lan\n", want);
    assert_load_error("[mpconv]\nlisten = http://0.0.0.0:8080?allow=\n",
                      "2: listen: parameter 'allow': expected CIDR[,CIDR...], e.g. 192.168.1.0/24");
    assert_set_error("acl.allow", "127.0.0.1/8", "'127.0.0.1/8': host bits set (did you mean 127.0.0.0/8?)");
    assert_set_error("mpconv.listen", "forward://h:1/t:2?allow=10.0.0.0/8,10.0.0.0/40",
                     "parameter 'allow': '10.0.0.0/40': prefix length must be 0..32");
}

/* -o acl.KEY replaces the file's list, as -l replaces its listeners. */
static void test_acl_cli_replaces_the_files(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    load_ok(&c, data_path("good.conf"));
    assert_int_equal(config_set(&c, "acl.allow", "127.0.0.0/8", err, sizeof(err)), 0);
    assert_string_equal(acl_list_text(&c.acl.allow), "127.0.0.0/8");
    assert_int_equal(config_set(&c, "acl.allow", "::1, 192.0.2.1", err, sizeof(err)), 0);
    assert_string_equal(acl_list_text(&c.acl.allow), "127.0.0.0/8, ::1, 192.0.2.1");
    assert_int_equal(config_set(&c, "acl.allow", "bad", err, sizeof(err)), -1);
    assert_string_equal(acl_list_text(&c.acl.allow), "127.0.0.0/8, ::1, 192.0.2.1");
    assert_string_equal(acl_list_text(&c.acl.deny), "10.0.0.0/8"); /* other lists keep the file's */

    load_ok(&c, data_path("good.conf")); /* a file read afterwards does not bring its entries back */
    assert_string_equal(acl_list_text(&c.acl.allow), "127.0.0.0/8, ::1, 192.0.2.1");
    config_free(&c);

    config_init(&c); /* a bad first value from the command line leaves the file's list */
    load_ok(&c, data_path("good.conf"));
    assert_int_equal(config_set(&c, "acl.tcp", "10.0.0.0/8,x", err, sizeof(err)), -1);
    assert_string_equal(acl_list_text(&c.acl.tcp), "192.168.0.0/16");
    assert_int_equal(config_set(&c, "acl.tcp", "", err, sizeof(err)), 0); /* an empty value empties it */
    assert_int_equal(c.acl.tcp.n, 0);
    config_free(&c);
}

/* Adds one listener from the command line; returns it. */
static const struct listener_cfg *listen_ok(struct config *c, const char *url)
{
    if (config_add_listener_url(c, url, err, sizeof(err)) != 0)
        fail_msg("%s: %s", url, err);
    return &c->listeners[c->n_listeners - 1];
}

static void test_listener_schemes(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        enum listener_kind kind;
        bool tls;
    } cases[] = {
        {"socks5://h:1", LISTEN_SOCKS5, false},
        {"socks5+tls://h:1?cert=%s&key=%s", LISTEN_SOCKS5, true},
        {"http://h:1", LISTEN_HTTP, false},
        {"https://h:1?cert=%s&key=%s", LISTEN_HTTP, true},
        {"mixed://h:1", LISTEN_MIXED, false},
        {"mixed+tls://h:1?key=%s&cert=%s", LISTEN_MIXED, true},
        {"redirect://h:1", LISTEN_REDIRECT, false},
        {"tproxy://h:1", LISTEN_TPROXY, false},
        {"forward://h:1/t:2", LISTEN_FORWARD, false},
    };
    char pem[1024];
    snprintf(pem, sizeof(pem), "%s", data_path("tls.pem"));
    struct config c;
    config_init(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[4096];
        snprintf(url, sizeof(url), cases[i].url, pem, pem);
        const struct listener_cfg *l = listen_ok(&c, url);
        assert_int_equal(l->kind, cases[i].kind);
        assert_int_equal(l->tls, cases[i].tls);
        assert_false(l->mptcp);
        assert_string_equal(l->cert_file, cases[i].tls ? pem : "");
        assert_string_equal(l->key_file, cases[i].tls ? pem : "");
    }
    finalize_ok(&c);
    config_free(&c);
}

static void test_listener_mptcp_param(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_true(listen_ok(&c, "socks5://h:1?mptcp=1")->mptcp);
    assert_false(listen_ok(&c, "socks5://h:1?mptcp=0")->mptcp);
    assert_true(listen_ok(&c, "mixed://h:1?mptcp=1")->mptcp);
    assert_true(listen_ok(&c, "tproxy://h:1?mptcp=1")->mptcp);
    assert_true(listen_ok(&c, "forward://h:1/t:2?mptcp=1")->mptcp);
    assert_false(listen_ok(&c, "redirect://h:1")->mptcp);
    config_free(&c);

    const char *why = "parameter 'mptcp' is not allowed on redirect listeners (SO_ORIGINAL_DST does not work on "
                      "MPTCP sockets; use tproxy)";
    assert_set_error("mpconv.listen", "redirect://h:1?mptcp=1", why);
    assert_set_error("mpconv.listen", "redirect://h:1?mptcp=0", why);
    assert_set_error("mpconv.listen", "socks5://h:1?mptcp=yes", "parameter 'mptcp': expected 0 or 1, got 'yes'");
    assert_set_error("mpconv.listen", "socks5://h:1?mptcp", "parameter 'mptcp': expected 0 or 1, got ''");
}

static void test_forward_target(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    const struct listener_cfg *l = listen_ok(&c, "forward://0.0.0.0:2222/example.com:22");
    assert_int_equal(l->url.host.port, 2222);
    assert_int_equal(l->forward_to.kind, TARGET_NAME);
    assert_string_equal(l->forward_to.host, "example.com");
    assert_int_equal(l->forward_to.port, 22);
    l = listen_ok(&c, "forward://[::]:53/10.0.0.53:65535");
    assert_int_equal(l->forward_to.kind, TARGET_IPV4);
    assert_int_equal(l->forward_to.port, 65535);
    l = listen_ok(&c, "forward://127.0.0.1:1/[fe80::1]:1");
    assert_int_equal(l->forward_to.kind, TARGET_IPV6);
    assert_string_equal(l->forward_to.host, "fe80::1");
    assert_int_equal(l->forward_to.port, 1);
    config_free(&c);

    const char *missing = "missing target (expected forward://HOST:PORT/TARGET:PORT)";
    assert_set_error("mpconv.listen", "forward://h:1", missing);
    assert_set_error("mpconv.listen", "forward://h:1/", missing);
    assert_set_error("mpconv.listen", "forward://h:1?mptcp=1", missing);
    assert_set_error("mpconv.listen", "forward", "expected forward://HOST:PORT/TARGET:PORT");
    static const char *const bad[] = {"t", "t:0", "t:65536", "t:", "::1:22", "[t]:22", "[::1]", "t:2/x", "t:2x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char url[128], want[256];
        snprintf(url, sizeof(url), "forward://h:1/%s", bad[i]);
        snprintf(want, sizeof(want), "invalid target '%s' (expected HOST:PORT or [IPv6]:PORT, port 1..65535)",
                 bad[i]);
        assert_set_error("mpconv.listen", url, want);
    }
    assert_set_error("mpconv.listen", "forward+tls://h:1/t:2",
                     "unknown scheme 'forward+tls' (expected socks5, socks5+tls, http, https, mixed, mixed+tls, "
                     "redirect, tproxy or forward)");
}

static void test_listeners_without_auth(void **state)
{
    (void)state;
    assert_set_error("mpconv.listen", "redirect://u:p@h:1",
                     "a redirect listener takes no USER:PASS (its clients do not authenticate)");
    assert_set_error("mpconv.listen", "tproxy://u@h:1",
                     "a tproxy listener takes no USER:PASS (its clients do not authenticate)");
    assert_set_error("mpconv.listen", "forward://u:p@h:1/t:2",
                     "a forward listener takes no USER:PASS (its clients do not authenticate)");
    assert_set_error("mpconv.listen", "redirect://h:1/t:2", "a redirect listener takes no path");
    assert_set_error("mpconv.listen", "tproxy://h:1/x", "a tproxy listener takes no path");
    assert_set_error("mpconv.listen", "https://h:1/x?cert=c&key=k", "a https listener takes no path");
    assert_set_error("mpconv.listen", "redirect", "expected redirect://HOST:PORT");
    assert_set_error("mpconv.listen", "mixed+tls", "expected mixed+tls://[USER:PASS@]HOST:PORT");
}

static void test_listener_tls_params(void **state)
{
    (void)state;
    const char *tls_only = "needs a TLS listener (socks5+tls, https or mixed+tls)";
    char want[256];
    snprintf(want, sizeof(want), "parameter 'cert' %s", tls_only);
    assert_set_error("mpconv.listen", "socks5://h:1?cert=c.pem", want);
    assert_set_error("mpconv.listen", "tproxy://h:1?cert=c.pem", want);
    snprintf(want, sizeof(want), "parameter 'key' %s", tls_only);
    assert_set_error("mpconv.listen", "forward://h:1/t:2?key=k.pem", want);

    const char *need_cert = "missing parameter 'cert' (a TLS listener needs cert=FILE and key=FILE)";
    const char *need_key = "missing parameter 'key' (a TLS listener needs cert=FILE and key=FILE)";
    assert_set_error("mpconv.listen", "https://h:1", need_cert);
    assert_set_error("mpconv.listen", "socks5+tls://h:1?key=k.pem", need_cert);
    assert_set_error("mpconv.listen", "mixed+tls://h:1?cert=c.pem&mptcp=1", need_key);
    assert_set_error("mpconv.listen", "https://h:1?cert=&key=k.pem", "parameter 'cert': expected a file name");
    assert_set_error("mpconv.listen", "https://h:1?cert=c.pem&key", "parameter 'key': expected a file name");
    assert_set_error("mpconv.listen", "https://h:1?cert=c&key=k&ca=x", "unknown parameter 'ca'");
}

static void test_tls_files_must_be_readable(void **state)
{
    (void)state;
    char url[4096];
    const char *pem = data_path("tls.pem");

    snprintf(url, sizeof(url), "https://h:1?cert=/nonexistent/cert.pem&key=%s", pem);
    assert_finalize_error("mpconv.listen", url,
                          "/nonexistent/cert.pem: cannot open cert file: No such file or directory");
    snprintf(url, sizeof(url), "socks5+tls://h:1?cert=%s&key=/nonexistent/key.pem", pem);
    assert_finalize_error("mpconv.listen", url,
                          "/nonexistent/key.pem: cannot open key file: No such file or directory");
    snprintf(url, sizeof(url), "mixed+tls://h:1?cert=/&key=%s", pem);
    assert_finalize_error("mpconv.listen", url, "/: cannot read cert file: Is a directory");
    assert_finalize_error("mpconv.upstream", "https://p:1?ca=/nonexistent/ca.pem",
                          "/nonexistent/ca.pem: cannot open CA file: No such file or directory");
    assert_finalize_error("mpconv.upstream", "socks5+tls://p:1?ca=/", "/: cannot read CA file: Is a directory");

    /* from a file: relative to it */
    char *path = write_temp("[mpconv]\nupstream = https://p:1?ca=no-such-ca.pem\n");
    struct config c;
    config_init(&c);
    load_ok(&c, path);
    assert_string_equal(c.upstream.ca_file, "/tmp/no-such-ca.pem");
    assert_int_equal(config_finalize(&c, err, sizeof(err)), -1);
    assert_string_equal(err, "/tmp/no-such-ca.pem: cannot open CA file: No such file or directory");
    config_free(&c);
    remove_temp(path);
}

static const struct upstream_cfg *upstream_ok(struct config *c, const char *url)
{
    if (config_set(c, "mpconv.upstream", url, err, sizeof(err)) != 0)
        fail_msg("%s: %s", url, err);
    return &c->upstream;
}

static void test_upstreams(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    const struct upstream_cfg *up = upstream_ok(&c, "socks5://router:s%40cret@10.0.0.1:1080");
    assert_int_equal(up->kind, UPSTREAM_SOCKS5);
    assert_false(up->tls);
    assert_string_equal(up->url.host.host, "10.0.0.1");
    assert_int_equal(up->url.host.port, 1080);
    assert_string_equal(up->url.user, "router");
    assert_string_equal(up->url.pass, "s@cret");

    up = upstream_ok(&c, "http://[2001:db8::1]:3128");
    assert_int_equal(up->kind, UPSTREAM_HTTP);
    assert_false(up->tls);
    assert_false(up->url.has_userinfo);
    assert_int_equal(up->url.host.kind, TARGET_IPV6);

    up = upstream_ok(&c, "socks5+tls://192.0.2.1:1443?ca=ca.pem&sni=concentrator.example");
    assert_int_equal(up->kind, UPSTREAM_SOCKS5);
    assert_true(up->tls);
    assert_string_equal(up->ca_file, "ca.pem"); /* the command line's paths stay as given */
    assert_string_equal(up->sni, "concentrator.example");

    up = upstream_ok(&c, "https://u:p@c.example:443");
    assert_int_equal(up->kind, UPSTREAM_HTTP);
    assert_true(up->tls);
    assert_string_equal(up->ca_file, "");
    assert_string_equal(up->sni, "");

    up = upstream_ok(&c, "DIRECT");
    assert_int_equal(up->kind, UPSTREAM_DIRECT);
    assert_false(up->tls);
    assert_false(up->url.has_host);
    config_free(&c);
}

static void test_bad_upstreams(void **state)
{
    (void)state;
    static const struct {
        const char *url, *why;
    } cases[] = {
        {"ftp://h:1", "unknown scheme 'ftp' (expected direct, socks5, socks5+tls, http or https)"},
        {"mixed://h:1", "unknown scheme 'mixed' (expected direct, socks5, socks5+tls, http or https)"},
        {"direct://h:1", "direct takes no host (expected just 'direct')"},
        {"socks5", "expected socks5://[USER:PASS@]HOST:PORT"},
        {"https", "expected https://[USER:PASS@]HOST:PORT"},
        {"socks5://h", "missing port (expected HOST:PORT)"},
        {"socks5://h:0", "invalid port (expected 1..65535)"},
        {"http://h:65536", "invalid port (expected 0..65535)"},
        {"http://h:1/x", "an upstream takes no path"},
        {"https://h:1?mptcp=1", "unknown parameter 'mptcp'"},
        {"socks5://h:1?ca=ca.pem", "parameter 'ca' needs a TLS upstream (socks5+tls or https)"},
        {"http://h:1?sni=h.example", "parameter 'sni' needs a TLS upstream (socks5+tls or https)"},
        {"https://h:1?ca=", "parameter 'ca': expected a file name"},
        {"https://h:1?sni=", "parameter 'sni': expected a host name, got ''"},
        {"https://h:1?sni=192.0.2.1", "parameter 'sni': expected a host name, got '192.0.2.1'"},
        {"https://h:1?sni=a%20b", "parameter 'sni': expected a host name, got 'a b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_set_error("mpconv.upstream", cases[i].url, cases[i].why);

    assert_load_error("[mpconv]\nupstream = socks5://h:0\n", "2: upstream: invalid port (expected 1..65535)");

    struct config c; /* a rejected value leaves the previous one */
    config_init(&c);
    upstream_ok(&c, "socks5://h:1");
    assert_int_equal(config_set(&c, "mpconv.upstream", "socks5://h:0", err, sizeof(err)), -1);
    assert_int_equal(c.upstream.kind, UPSTREAM_SOCKS5);
    assert_int_equal(c.upstream.url.host.port, 1);
    config_free(&c);
}

static void test_workers(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(c.workers, 1); /* one loop unless asked: one-core routers */
    assert_int_equal(config_set(&c, "mpconv.workers", "auto", err, sizeof(err)), 0);
    assert_int_equal(c.workers, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    config_dump(&c, out);
    fclose(out);
    assert_non_null(strstr(text, "workers = auto\n"));
    free(text);
    assert_int_equal(config_set(&c, "mpconv.workers", "4", err, sizeof(err)), 0);
    assert_int_equal(c.workers, 4);
    config_free(&c);
}

static void metrics_ok(struct config *c, const char *value, const char *dumped)
{
    char want[512];
    if (config_set(c, "mpconv.metrics", value, err, sizeof(err)) != 0)
        fail_msg("%s: %s", value, err);
    char *dump = dump_body(c);
    snprintf(want, sizeof(want), "\nmetrics =%s%s\n", dumped[0] ? " " : "", dumped);
    if (!strstr(dump, want))
        fail_msg("dump lacks '%s':\n%s", want + 1, dump);
    free(dump);
}

static void test_metrics_address(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_string_equal(c.metrics.host, ""); /* off unless asked */
    metrics_ok(&c, "127.0.0.1:9100", "127.0.0.1:9100");
    assert_int_equal(c.metrics.kind, TARGET_IPV4);
    assert_int_equal(c.metrics.port, 9100);
    metrics_ok(&c, "[::1]:0", "[::1]:0");
    assert_int_equal(c.metrics.kind, TARGET_IPV6);
    metrics_ok(&c, "localhost:9100", "localhost:9100");
    metrics_ok(&c, "", "");
    assert_string_equal(c.metrics.host, "");

    assert_set_error("mpconv.metrics", "127.0.0.1",
                     "invalid address '127.0.0.1': missing port (expected HOST:PORT)");
    assert_set_error("mpconv.metrics", "::1:9100",
                     "invalid address '::1:9100': IPv6 addresses need brackets, e.g. [::1]:1080");
    assert_set_error("mpconv.metrics", "127.0.0.1:65536",
                     "invalid address '127.0.0.1:65536': invalid port (expected 0..65535)");
    assert_set_error("mpconv.metrics", "http://127.0.0.1:1",
                     "invalid address 'http://127.0.0.1:1': IPv6 addresses need brackets, e.g. [::1]:1080");
    assert_load_error("[mpconv]\n\nmetrics = :9100\n", "3: metrics: invalid address ':9100': missing host");
    assert_load_error("[mpconv]\nmetrics = 127.0.0.1:1\nmetrics = 127.0.0.1:2\n",
                      "3: metrics: duplicate key (first set on line 2)");
    assert_load_error("[http]\nmetrics = 127.0.0.1:1\n",
                      "2: metrics: unknown key in [http] (it belongs in [mpconv])");
    config_free(&c);
}

static void test_mark(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint32_t value;
    } good[] = {{"0", 0}, {"1", 1}, {"4294967295", UINT32_MAX}, {"0xffffffff", UINT32_MAX},
                {"0X10", 16}, {"0x00000100", 256}, {"007", 7}};
    struct config c;
    config_init(&c);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (config_set(&c, "mpconv.mark", good[i].text, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_int_equal(c.mark, good[i].value);
    }
    config_free(&c);

    static const char *const bad[] = {"4294967296", "0x100000000", "-1", "0x", "", "1.5", "0xg", " 1", "1 ", "x1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];
        snprintf(want, sizeof(want), "expected an integer from 0 to 4294967295, got '%s'", bad[i]);
        assert_set_error("mpconv.mark", bad[i], want);
    }
    assert_load_error("[mpconv]\nmark = 0x1zz\n", "2: mark: expected an integer from 0 to 4294967295, got '0x1zz'");
    assert_load_error("[mpconv]\nworkers = 0\n", "2: workers: expected 'auto' or an integer from 1 to 64, got '0'");
    assert_load_error("[mpconv]\nworkers = 65\n", "2: workers: expected 'auto' or an integer from 1 to 64, got '65'");
    assert_load_error("[timeouts]\ndrain = 0\n", "2: drain: expected seconds from 0.1 to 86400 (at most 3 decimals), got '0'");
    assert_load_error("[mpconv]\nmark = 1\nmark = 2\n", "3: mark: duplicate key (first set on line 2)");
}

/* [mpconv] wan: repeatable, comma-separated interface names; the command
 * line's replace the file's; the dump loads back. */
static void test_wan(void **state)
{
    (void)state;
    struct config c, back;
    char *path = write_temp("[mpconv]\nwan = wan1 , wan2\nwan = pppoe-wan3\nwan =\n");
    config_init(&c);
    assert_int_equal(c.n_wan, 0);
    load_ok(&c, path);
    remove_temp(path);
    assert_int_equal(c.n_wan, 3);
    assert_string_equal(c.wan[0], "wan1");
    assert_string_equal(c.wan[1], "wan2");
    assert_string_equal(c.wan[2], "pppoe-wan3");
    finalize_ok(&c);
    char *dump = dump_body(&c);
    assert_non_null(strstr(dump, "\nwan = wan1, wan2, pppoe-wan3\n"));
    path = write_temp(dump);
    config_init(&back);
    load_ok(&back, path);
    finalize_ok(&back);
    char *again = dump_body(&back);
    assert_string_equal(again, dump);
    free(again);
    free(dump);
    remove_temp(path);
    config_free(&back);

    /* The command line replaces the file's list, then adds to its own. */
    if (config_set(&c, "mpconv.wan", "eth1", err, sizeof(err)) != 0 ||
        config_set(&c, "mpconv.wan", "eth2,eth3", err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.n_wan, 3);
    assert_string_equal(c.wan[0], "eth1");
    assert_string_equal(c.wan[2], "eth3");
    config_free(&c);

    /* None: "wan =" in the dump. */
    config_init(&c);
    finalize_ok(&c);
    dump = dump_body(&c);
    assert_non_null(strstr(dump, "\nwan =\n"));
    free(dump);
    config_free(&c);

    assert_load_error("[mpconv]\nwan = wan1, wan1\n", "2: wan: interface 'wan1' given twice");
    assert_load_error("[mpconv]\nwan = wan1\nwan = wan1\n", "3: wan: interface 'wan1' given twice");
    assert_load_error("[mpconv]\nwan = wan1,\n", "2: wan: empty interface name after ','");
    assert_load_error("[mpconv]\nwan = ,wan1\n", "2: wan: invalid interface name '' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "a_name_of_16_chr", "invalid interface name 'a_name_of_16_chr' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "wan 1", "invalid interface name 'wan 1' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "eth0:1", "invalid interface name 'eth0:1' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "a/b", "invalid interface name 'a/b' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "..", "invalid interface name '..' (1 to 15 characters, no '/', ':' or blanks)");
    assert_set_error("mpconv.wan", "w1,w2,w3,w4,w5,w6,w7,w8,w9,w10,w11,w12,w13,w14,w15,w16,w17",
                     "more than 16 interfaces");
}

static const char *example_path(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s", data_path("../../../etc/mpconv.conf"));
    return path;
}

static void test_example_config_loads(void **state)
{
    (void)state;
    struct config example, defaults;
    config_init(&example);
    load_ok(&example, example_path());
    finalize_ok(&example);
    config_init(&defaults);
    finalize_ok(&defaults);

    char *a = dump_body(&example), *b = dump_body(&defaults);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(&example);
    config_free(&defaults);
}

/* Every "key = default" line of the dump appears in the example as "; key = default". */
static void test_example_lists_every_default(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    finalize_ok(&c);
    char *dump = dump_body(&c);
    char *example = read_all(example_path());

    for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
        char want[1100];
        snprintf(want, sizeof(want), line[0] == '[' ? "\n%s\n" : "\n; %s\n", line);
        if (!strstr(example, want))
            fail_msg("etc/mpconv.conf lacks the line \"%s\"", want + 1);
    }
    free(example);
    free(dump);
    config_free(&c);
}

/* The commented-out listen and upstream examples parse. */
static void test_example_urls_parse(void **state)
{
    (void)state;
    char *example = read_all(example_path());
    size_t n = 0;
    struct config c;
    config_init(&c);
    for (char *line = strtok(example, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != ';')
            continue;
        line += 1 + strspn(line + 1, " ");
        const char *key = strncmp(line, "listen = ", 9) == 0     ? "mpconv.listen"
                          : strncmp(line, "upstream = ", 11) == 0 ? "mpconv.upstream"
                                                                  : NULL;
        if (!key)
            continue;
        if (config_set(&c, key, strchr(line, '=') + 2, err, sizeof(err)) != 0)
            fail_msg("etc/mpconv.conf: %s: %s", line, err);
        n++;
    }
    assert_true(n >= 8);
    config_free(&c);
    free(example);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_default_listeners),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_users_are_attached),
        cmocka_unit_test(test_url_user_without_users_file),
        cmocka_unit_test(test_indented_lines),
        cmocka_unit_test(test_bad_keys_and_sections),
        cmocka_unit_test(test_bad_syntax),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_bad_choices),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_seconds_precision),
        cmocka_unit_test(test_bad_listeners),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_bad_users_file),
        cmocka_unit_test(test_empty_users_file),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_cli_listeners_replace_the_files),
        cmocka_unit_test(test_listener_schemes),
        cmocka_unit_test(test_listener_mptcp_param),
        cmocka_unit_test(test_forward_target),
        cmocka_unit_test(test_listeners_without_auth),
        cmocka_unit_test(test_listener_tls_params),
        cmocka_unit_test(test_tls_files_must_be_readable),
        cmocka_unit_test(test_upstreams),
        cmocka_unit_test(test_bad_upstreams),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_mark),
        cmocka_unit_test(test_metrics_address),
        cmocka_unit_test(test_dump_reads_back),
        cmocka_unit_test(test_wan),
        cmocka_unit_test(test_acl_keys),
        cmocka_unit_test(test_acl_errors),
        cmocka_unit_test(test_acl_cli_replaces_the_files),
        cmocka_unit_test(test_example_config_loads),
        cmocka_unit_test(test_example_lists_every_default),
        cmocka_unit_test(test_example_urls_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
