/* Unit tests for src/config.c. Data files live in $MPCONV_TEST_DATA; cases
 * that need one small file each write it to a temporary file instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mpconv/config.h"

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
    assert_int_equal(c.upstream, UPSTREAM_DIRECT);
    assert_string_equal(c.upstream_url.scheme, "direct");
    assert_int_equal(c.mptcp, MPTCP_MODE_AUTO);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.connect_timeout_ms, 10000);
    assert_int_equal(c.handshake_timeout_ms, 10000);
    assert_int_equal(c.idle_timeout_ms, 300000);
    assert_int_equal(c.max_header_bytes, 16384);
    assert_string_equal(c.users_file, "");
    assert_string_equal(c.source, "");
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
    assert_int_equal(c.n_listeners, 3);
    assert_int_equal(c.listeners[0].kind, LISTEN_SOCKS5);
    assert_int_equal(c.listeners[0].url.host.port, 0);
    assert_int_equal(c.listeners[1].kind, LISTEN_HTTP);
    assert_int_equal(c.listeners[1].url.host.kind, TARGET_IPV6);
    assert_string_equal(c.listeners[1].url.host.host, "::1");
    assert_int_equal(c.listeners[2].kind, LISTEN_MIXED);
    assert_string_equal(c.listeners[2].url.host.host, "localhost");
    assert_string_equal(c.listeners[2].url.user, "bob");
    assert_string_equal(c.listeners[2].url.pass, "pa;ss:w");
    assert_int_equal(c.upstream, UPSTREAM_DIRECT);
    assert_int_equal(c.mptcp, MPTCP_MODE_OFF);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(c.connect_timeout_ms, 500);
    assert_int_equal(c.handshake_timeout_ms, 2250);
    assert_int_equal(c.idle_timeout_ms, 86400000);
    assert_int_equal(c.max_header_bytes, 1024);
    assert_string_equal(c.users_file, data_path("users.txt")); /* relative to good.conf */
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
    char *path = write_temp("[timeouts]\n  connect = 5\n\tidle = 60\r\n  [http]\n  max_header_bytes = 2048");
    struct config c;
    config_init(&c);
    load_ok(&c, path);
    assert_int_equal(c.connect_timeout_ms, 5000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.max_header_bytes, 2048);
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
    assert_load_error("[mpconv]\nupstream = socks5://user:pw@10.0.0.1:1080\n",
                      "2: upstream: unsupported upstream 'socks5' (only 'direct' for now)");
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
                      "2: listen: unknown scheme 'ftp' (expected socks5, http or mixed)");
    assert_load_error("[mpconv]\nlisten = socks5://127.0.0.1:1080?mptcp=1\n", "2: listen: unknown parameter 'mptcp'");
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
    assert_int_equal(c.n_listeners, 3);

    assert_int_equal(config_add_listener_url(&c, "mixed://0.0.0.0:0", err, sizeof(err)), 0);
    assert_int_equal(c.n_listeners, 1);
    assert_int_equal(c.listeners[0].kind, LISTEN_MIXED);
    assert_int_equal(config_add_listener_url(&c, "http://[::]:0", err, sizeof(err)), 0);
    assert_int_equal(c.n_listeners, 2);

    load_ok(&c, data_path("good.conf")); /* a file read afterwards does not bring its listeners back */
    assert_int_equal(c.n_listeners, 2);

    assert_int_equal(config_add_listener_url(&c, "ftp://h:1", err, sizeof(err)), -1);
    assert_string_equal(err, "mpconv.listen: unknown scheme 'ftp' (expected socks5, http or mixed)");
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
        cmocka_unit_test(test_dump_reads_back),
        cmocka_unit_test(test_example_config_loads),
        cmocka_unit_test(test_example_lists_every_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
