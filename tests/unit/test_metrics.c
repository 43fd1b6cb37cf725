/* metrics: the registry (exact under concurrency), snapshots, and the pure
 * Prometheus and JSON renderers (exact text, escaping, histogram rules). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mpconv/metrics.h"

#define MS 1000000ull /* ns */

/* ---- a tiny strict JSON checker (RFC 8259 syntax, no semantics) ---- */

static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"')
            return p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            c = (unsigned char)*p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, p++)
                    if (!strchr("0123456789abcdefABCDEF", *p) || !*p)
                        return NULL;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return NULL;
            }
        }
    }
}

static const char *json_number(const char *p)
{
    const char *start = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else
        while (*p >= '0' && *p <= '9')
            p++;
    if (*p == '.') {
        const char *frac = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == frac)
            return NULL;
    }
    return p > start ? p : NULL;
}

static const char *json_members(const char *p, char close, bool keys)
{
    p = json_ws(p);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (keys) {
            p = json_string(json_ws(p));
            if (!p || *(p = json_ws(p)) != ':')
                return NULL;
            p++;
        }
        p = json_value(p);
        if (!p)
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static const char *json_value(const char *p)
{
    p = json_ws(p);
    if (*p == '{')
        return json_members(p + 1, '}', true);
    if (*p == '[')
        return json_members(p + 1, ']', false);
    if (*p == '"')
        return json_string(p);
    return json_number(p);
}

static bool json_valid(const char *text)
{
    const char *end = json_value(text);
    return end && *json_ws(end) == '\0';
}

/* ---- helpers ---- */

static char *render_all(size_t (*fn)(const struct metrics_snapshot *, char *, size_t),
                        const struct metrics_snapshot *s)
{
    size_t need = fn(s, NULL, 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(fn(s, buf, need + 1), need);
    assert_int_equal(strlen(buf), need);
    return buf;
}

static char *render_registry(struct metrics *m, size_t (*fn)(const struct metrics_snapshot *, char *, size_t))
{
    struct metrics_snapshot snap;
    assert_int_equal(metrics_snapshot(m, &snap), 0);
    char *text = render_all(fn, &snap);
    metrics_snapshot_free(&snap);
    return text;
}

/* The value of the sample line that starts with "series " (exact). */
static uint64_t sample(const char *text, const char *series)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s ", series);
    const char *at = strstr(text, want);
    if (!at)
        fail_msg("no sample %s", series);
    return strtoull(at + strlen(want), NULL, 10);
}

/* A snapshot built by hand: one listener, two reasons, known histograms. */
static struct metrics_listener_snapshot one_listener = {"socks5://127.0.0.1:1080", "socks5", 2, 7, 100, 2000};

static struct metrics_snapshot small_snapshot(void)
{
    struct metrics_snapshot s;
    memset(&s, 0, sizeof(s));
    s.version = "1.2.3";
    s.uptime_ms = 61005;
    s.workers = 2;
    s.listeners = &one_listener;
    s.n_listeners = 1;
    s.outcomes[MPTCP_STATE_YES] = 4;
    s.outcomes[MPTCP_STATE_FALLBACK] = 2;
    s.outcomes[MPTCP_STATE_OFF] = 1;
    s.subflows[SIDE_UPSTREAM][SUBFLOWS_1] = 3;
    s.subflows[SIDE_UPSTREAM][SUBFLOWS_4_PLUS] = 1;
    s.subflows[SIDE_CLIENT][SUBFLOWS_2] = 5;
    s.reasons[0] = (struct metrics_reason_snapshot){"eof", 5};
    s.reasons[1] = (struct metrics_reason_snapshot){"refused", 2};
    s.n_reasons = 2;
    s.dns.buckets[0] = 1;  /* <= 1 ms */
    s.dns.buckets[4] = 2;  /* <= 25 ms */
    s.dns.sum_ns = 41500000;
    s.connect.buckets[METRICS_BUCKETS] = 1; /* > 10 s */
    s.connect.sum_ns = 12000000001;
    return s;
}

static const char expected_prometheus[] =
    "# HELP mpconv_info Version of this mpconv process (value 1).\n"
    "# TYPE mpconv_info gauge\n"
    "mpconv_info{version=\"1.2.3\"} 1\n"
    "# HELP mpconv_uptime_seconds Seconds since mpconv started.\n"
    "# TYPE mpconv_uptime_seconds gauge\n"
    "mpconv_uptime_seconds 61.005\n"
    "# HELP mpconv_workers Event loops (threads) serving clients.\n"
    "# TYPE mpconv_workers gauge\n"
    "mpconv_workers 2\n"
    "# HELP mpconv_listener_connections_total Client connections accepted, per listener.\n"
    "# TYPE mpconv_listener_connections_total counter\n"
    "mpconv_listener_connections_total{listener=\"socks5://127.0.0.1:1080\",kind=\"socks5\"} 7\n"
    "# HELP mpconv_listener_connections_active Client connections open now, per listener.\n"
    "# TYPE mpconv_listener_connections_active gauge\n"
    "mpconv_listener_connections_active{listener=\"socks5://127.0.0.1:1080\",kind=\"socks5\"} 2\n"
    "# HELP mpconv_listener_bytes_total Bytes relayed for ended sessions, per listener; up = client to upstream.\n"
    "# TYPE mpconv_listener_bytes_total counter\n"
    "mpconv_listener_bytes_total{listener=\"socks5://127.0.0.1:1080\",kind=\"socks5\",direction=\"up\"} 100\n"
    "mpconv_listener_bytes_total{listener=\"socks5://127.0.0.1:1080\",kind=\"socks5\",direction=\"down\"} 2000\n"
    "# HELP mpconv_connections_total Client connections accepted on all listeners.\n"
    "# TYPE mpconv_connections_total counter\n"
    "mpconv_connections_total 7\n"
    "# HELP mpconv_connections_active Client connections open now on all listeners.\n"
    "# TYPE mpconv_connections_active gauge\n"
    "mpconv_connections_active 2\n"
    "# HELP mpconv_bytes_total Bytes relayed for ended sessions; up = client to upstream.\n"
    "# TYPE mpconv_bytes_total counter\n"
    "mpconv_bytes_total{direction=\"up\"} 100\n"
    "mpconv_bytes_total{direction=\"down\"} 2000\n"
    "# HELP mpconv_upstream_mptcp_total Upstream connections by MPTCP outcome: negotiated, fallback "
    "(the peer spoke TCP), off (a TCP socket: mptcp = off or no kernel MPTCP).\n"
    "# TYPE mpconv_upstream_mptcp_total counter\n"
    "mpconv_upstream_mptcp_total{outcome=\"negotiated\"} 4\n"
    "mpconv_upstream_mptcp_total{outcome=\"fallback\"} 2\n"
    "mpconv_upstream_mptcp_total{outcome=\"off\"} 1\n"
    "# HELP mpconv_sessions_subflows_total Ended MPTCP sessions by subflow count (the most seen, as in "
    "the summary line); side client: MPTCP clients of ?mptcp=1 listeners.\n"
    "# TYPE mpconv_sessions_subflows_total counter\n"
    "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"1\"} 3\n"
    "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"2\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"3\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"4+\"} 1\n"
    "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"unknown\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"client\",subflows=\"1\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"client\",subflows=\"2\"} 5\n"
    "mpconv_sessions_subflows_total{side=\"client\",subflows=\"3\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"client\",subflows=\"4+\"} 0\n"
    "mpconv_sessions_subflows_total{side=\"client\",subflows=\"unknown\"} 0\n"
    "# HELP mpconv_sessions_ended_total Ended sessions by the reason= of their summary line.\n"
    "# TYPE mpconv_sessions_ended_total counter\n"
    "mpconv_sessions_ended_total{reason=\"eof\"} 5\n"
    "mpconv_sessions_ended_total{reason=\"refused\"} 2\n"
    "# HELP mpconv_dns_resolution_seconds Time to resolve a destination name (completed lookups, found "
    "or not).\n"
    "# TYPE mpconv_dns_resolution_seconds histogram\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.001\"} 1\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.0025\"} 1\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.005\"} 1\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.01\"} 1\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.025\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.05\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.1\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.25\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"0.5\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"1\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"2.5\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"5\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"10\"} 3\n"
    "mpconv_dns_resolution_seconds_bucket{le=\"+Inf\"} 3\n"
    "mpconv_dns_resolution_seconds_sum 0.041500000\n"
    "mpconv_dns_resolution_seconds_count 3\n"
    "# HELP mpconv_upstream_connect_seconds Time from the first connection attempt to an established "
    "upstream connection.\n"
    "# TYPE mpconv_upstream_connect_seconds histogram\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.001\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.0025\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.005\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.01\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.025\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.05\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.1\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.25\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"0.5\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"1\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"2.5\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"5\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"10\"} 0\n"
    "mpconv_upstream_connect_seconds_bucket{le=\"+Inf\"} 1\n"
    "mpconv_upstream_connect_seconds_sum 12.000000001\n"
    "mpconv_upstream_connect_seconds_count 1\n";

static const char expected_json[] =
    "{\"version\":\"1.2.3\",\"uptime_seconds\":61.005,\"workers\":2,"
    "\"listeners\":[{\"url\":\"socks5://127.0.0.1:1080\",\"kind\":\"socks5\",\"active\":2,\"total\":7,"
    "\"bytes_up\":100,\"bytes_down\":2000}],"
    "\"totals\":{\"active\":2,\"total\":7,\"bytes_up\":100,\"bytes_down\":2000},"
    "\"mptcp\":{\"negotiated\":4,\"fallback\":2,\"off\":1},"
    "\"subflows\":{\"upstream\":{\"1\":3,\"2\":0,\"3\":0,\"4+\":1,\"unknown\":0},"
    "\"client\":{\"1\":0,\"2\":5,\"3\":0,\"4+\":0,\"unknown\":0}},"
    "\"reasons\":{\"eof\":5,\"refused\":2}}\n";

/* ---- rendering ---- */

static void prometheus_text_is_exact(void **state)
{
    (void)state;
    struct metrics_snapshot s = small_snapshot();
    char *text = render_all(metrics_render_prometheus, &s);
    assert_string_equal(text, expected_prometheus);
    free(text);
}

static void json_is_exact_and_valid(void **state)
{
    (void)state;
    struct metrics_snapshot s = small_snapshot();
    char *text = render_all(metrics_render_json, &s);
    assert_string_equal(text, expected_json);
    assert_true(json_valid(text));
    free(text);
}

/* A short buffer gets a NUL-terminated prefix; the return says how long
 * the whole text is. */
static void a_short_buffer_gets_a_prefix(void **state)
{
    (void)state;
    struct metrics_snapshot s = small_snapshot();
    char buf[100];
    size_t need = metrics_render_prometheus(&s, buf, sizeof(buf));
    assert_int_equal(need, strlen(expected_prometheus));
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_memory_equal(buf, expected_prometheus, sizeof(buf) - 1);
    need = metrics_render_json(&s, buf, 1);
    assert_int_equal(need, strlen(expected_json));
    assert_string_equal(buf, "");
}

static struct metrics_snapshot snapshot_with_label(struct metrics_listener_snapshot *l, const char *label)
{
    struct metrics_snapshot s = small_snapshot();
    *l = one_listener;
    l->label = label;
    s.listeners = l;
    s.reasons[1].name = "odd\"reason\\";
    return s;
}

/* Prometheus label values escape \, " and line feed, and nothing else. */
static void prometheus_escapes_label_values(void **state)
{
    (void)state;
    struct metrics_listener_snapshot l;
    struct metrics_snapshot s = snapshot_with_label(&l, "a\"b\\c\nd\te/?x=1&y");
    char *text = render_all(metrics_render_prometheus, &s);
    assert_non_null(strstr(text, "mpconv_listener_connections_total{listener=\"a\\\"b\\\\c\\nd\te/?x=1&y\","
                                 "kind=\"socks5\"} 7\n"));
    assert_non_null(strstr(text, "mpconv_sessions_ended_total{reason=\"odd\\\"reason\\\\\"} 2\n"));
    free(text);
}

/* JSON strings escape quote, backslash, control and non-ASCII bytes. */
static void json_escapes_strings(void **state)
{
    (void)state;
    struct metrics_listener_snapshot l;
    struct metrics_snapshot s = snapshot_with_label(&l, "http://u:***@[::1]:0?cert=/a\"b\\c\n\x01\xff");
    char *text = render_all(metrics_render_json, &s);
    assert_non_null(strstr(text, "\"url\":\"http://u:***@[::1]:0?cert=/a\\\"b\\\\c\\u000a\\u0001\\u00ff\""));
    assert_non_null(strstr(text, "\"odd\\\"reason\\\\\":2"));
    assert_true(json_valid(text));
    free(text);
}

static void json_checker_rejects_bad_documents(void **state)
{
    (void)state;
    assert_true(json_valid("{\"a\":[1,2.5,{\"b\":\"\\u00e9\"}],\"c\":{}}\n"));
    assert_false(json_valid("{\"a\":1,}"));
    assert_false(json_valid("{\"a\":\"x\ny\"}"));
    assert_false(json_valid("{\"a\":\"\\x\"}"));
    assert_false(json_valid("{\"a\":1}}"));
    assert_false(json_valid("{\"a\" 1}"));
}

/* ---- the registry ---- */

struct bucket_line {
    char le[16];
    uint64_t value;
};

/* Reads NAME_bucket lines in order; returns how many. */
static size_t read_buckets(const char *text, const char *name, struct bucket_line *out, size_t cap)
{
    char prefix[128];
    size_t n = 0;
    snprintf(prefix, sizeof(prefix), "\n%s_bucket{le=\"", name);
    for (const char *p = strstr(text, prefix); p && n < cap; p = strstr(p + 1, prefix)) {
        p += strlen(prefix);
        const char *quote = strchr(p, '"');
        assert_true((size_t)(quote - p) < sizeof(out[n].le));
        memcpy(out[n].le, p, (size_t)(quote - p));
        out[n].le[quote - p] = '\0';
        assert_true(strncmp(quote, "\"} ", 3) == 0);
        out[n++].value = strtoull(quote + 3, NULL, 10);
    }
    return n;
}

/* Values on a bound fall into that bucket (le = less or equal); the buckets
 * are cumulative, and +Inf equals _count. */
static void histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    static const uint64_t observed_ns[] = {0, 1 * MS, 1 * MS + 1, 7 * MS, 10 * MS, 999 * MS, 10000 * MS,
                                           10000 * MS + 1, 60000 * MS};
    struct metrics m;
    assert_int_equal(metrics_init(&m), 0);
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof(observed_ns) / sizeof(observed_ns[0]); i++) {
        metrics_upstream_connect_time(&m, observed_ns[i]);
        sum += observed_ns[i];
    }
    metrics_dns_resolved(&m, 3 * MS);
    char *text = render_registry(&m, metrics_render_prometheus);

    struct bucket_line b[METRICS_BUCKETS + 2];
    assert_int_equal(read_buckets(text, "mpconv_upstream_connect_seconds", b, METRICS_BUCKETS + 2),
                     METRICS_BUCKETS + 1);
    static const uint64_t want[] = {2, 3, 3, 5, 5, 5, 5, 5, 5, 6, 6, 6, 7, 9};
    for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
        assert_int_equal(b[i].value, want[i]);
        if (i > 0)
            assert_true(b[i].value >= b[i - 1].value);
    }
    assert_string_equal(b[0].le, "0.001");
    assert_string_equal(b[METRICS_BUCKETS - 1].le, "10");
    assert_string_equal(b[METRICS_BUCKETS].le, "+Inf");
    assert_int_equal(sample(text, "mpconv_upstream_connect_seconds_count"), 9);
    char sum_line[96];
    snprintf(sum_line, sizeof(sum_line), "\nmpconv_upstream_connect_seconds_sum %" PRIu64 ".%09" PRIu64 "\n",
             sum / 1000000000, sum % 1000000000);
    assert_non_null(strstr(text, sum_line));
    assert_int_equal(sample(text, "mpconv_dns_resolution_seconds_bucket{le=\"0.0025\"}"), 0);
    assert_int_equal(sample(text, "mpconv_dns_resolution_seconds_bucket{le=\"0.005\"}"), 1);
    assert_int_equal(sample(text, "mpconv_dns_resolution_seconds_count"), 1);
    free(text);
    metrics_free(&m);
}

static void sessions_are_counted_per_listener(void **state)
{
    (void)state;
    struct metrics m;
    assert_int_equal(metrics_init(&m), 0);
    metrics_set_workers(&m, 3);
    struct metrics_listener *a = metrics_listener(&m, "socks5://127.0.0.1:0", "socks5");
    struct metrics_listener *b = metrics_listener(&m, "http://u:***@127.0.0.1:0", "http");
    assert_ptr_equal(metrics_listener(&m, "socks5://127.0.0.1:0", "socks5"), a); /* found by label */
    assert_ptr_not_equal(a, b);

    char eof[] = "eof"; /* another pointer with the same text */
    struct metrics_session mptcp2 = {.reason = eof, .bytes_up = 10, .bytes_down = 20, .upstream_mptcp = true,
                                     .subflows = 2, .client_mptcp = true, .client_subflows = 1};
    struct metrics_session refused = {.reason = "refused"};
    struct metrics_session many = {.reason = "eof", .bytes_up = 1, .bytes_down = 2, .upstream_mptcp = true,
                                   .subflows = 9};
    for (int i = 0; i < 3; i++)
        metrics_session_opened(a);
    metrics_session_opened(b);
    metrics_session_ended(&m, a, &mptcp2);
    metrics_session_ended(&m, a, &refused);
    metrics_session_ended(&m, b, &many);
    metrics_upstream_connected(&m, MPTCP_STATE_YES);
    metrics_upstream_connected(&m, MPTCP_STATE_YES);
    metrics_upstream_connected(&m, MPTCP_STATE_FALLBACK);

    char *text = render_registry(&m, metrics_render_prometheus);
    assert_int_equal(sample(text, "mpconv_workers"), 3);
    assert_int_equal(sample(text, "mpconv_listener_connections_total{listener=\"socks5://127.0.0.1:0\","
                                  "kind=\"socks5\"}"), 3);
    assert_int_equal(sample(text, "mpconv_listener_connections_active{listener=\"socks5://127.0.0.1:0\","
                                  "kind=\"socks5\"}"), 1);
    assert_int_equal(sample(text, "mpconv_listener_connections_active{listener=\"http://u:***@127.0.0.1:0\","
                                  "kind=\"http\"}"), 0);
    assert_int_equal(sample(text, "mpconv_listener_bytes_total{listener=\"socks5://127.0.0.1:0\","
                                  "kind=\"socks5\",direction=\"down\"}"), 20);
    assert_int_equal(sample(text, "mpconv_connections_total"), 4);
    assert_int_equal(sample(text, "mpconv_connections_active"), 1);
    assert_int_equal(sample(text, "mpconv_bytes_total{direction=\"up\"}"), 11);
    assert_int_equal(sample(text, "mpconv_bytes_total{direction=\"down\"}"), 22);
    assert_int_equal(sample(text, "mpconv_upstream_mptcp_total{outcome=\"negotiated\"}"), 2);
    assert_int_equal(sample(text, "mpconv_upstream_mptcp_total{outcome=\"fallback\"}"), 1);
    assert_int_equal(sample(text, "mpconv_upstream_mptcp_total{outcome=\"off\"}"), 0);
    assert_int_equal(sample(text, "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"2\"}"), 1);
    assert_int_equal(sample(text, "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"4+\"}"), 1);
    assert_int_equal(sample(text, "mpconv_sessions_subflows_total{side=\"client\",subflows=\"1\"}"), 1);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"eof\"}"), 2);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"refused\"}"), 1);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"idle-timeout\"}"), 0); /* listed */
    free(text);
    metrics_free(&m);
}

/* A word nobody listed still gets its own series; when the table is full,
 * the rest count as "other". */
static void unknown_reasons_get_a_series(void **state)
{
    (void)state;
    static char words[METRICS_REASONS_MAX][16]; /* static storage, as reasons must be */
    static char other_word[] = "other";
    struct metrics m;
    assert_int_equal(metrics_init(&m), 0);
    struct metrics_session other = {.reason = other_word};
    metrics_session_ended(&m, NULL, &other); /* the word "other" is the "other" series */
    for (size_t i = 0; i < METRICS_REASONS_MAX; i++) {
        snprintf(words[i], sizeof(words[i]), "new-%zu", i);
        struct metrics_session s = {.reason = words[i]};
        metrics_session_ended(&m, NULL, &s);
        metrics_session_ended(&m, NULL, &s);
    }
    char *text = render_registry(&m, metrics_render_prometheus);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"new-0\"}"), 2);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"new-20\"}"), 2);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"eof\"}"), 0);
    uint64_t named = 0;
    for (size_t i = 0; i < METRICS_REASONS_MAX; i++) {
        char series[128];
        snprintf(series, sizeof(series), "\nmpconv_sessions_ended_total{reason=\"%.15s\"} 2\n", words[i]);
        named += strstr(text, series) != NULL;
    }
    uint64_t overflow = sample(text, "mpconv_sessions_ended_total{reason=\"other\"}") - 1;
    assert_true(overflow > 0);
    assert_int_equal(2 * named + overflow, 2 * METRICS_REASONS_MAX);
    const char *first = strstr(text, "{reason=\"other\"}");
    assert_null(strstr(first + 1, "{reason=\"other\"}")); /* one series */
    free(text);
    metrics_free(&m);
}

/* ---- exact under concurrency ---- */

#define THREADS 4
#define ROUNDS 50000

struct hammer {
    struct metrics *m;
    struct metrics_listener *l;
};

static void hammer(void *arg)
{
    struct hammer *h = arg;
    struct metrics_session end = {.reason = "raced-word", .bytes_up = 3, .bytes_down = 5,
                                  .upstream_mptcp = true, .subflows = 1};
    for (int i = 0; i < ROUNDS; i++) {
        metrics_session_opened(h->l);
        metrics_upstream_connected(h->m, MPTCP_STATE_YES);
        metrics_dns_resolved(h->m, (uint64_t)(i % 7) * MS);
        metrics_session_ended(h->m, h->l, &end);
    }
}

static void counts_are_exact_across_threads(void **state)
{
    (void)state;
    struct metrics m;
    assert_int_equal(metrics_init(&m), 0);
    struct hammer h = {&m, metrics_listener(&m, "mixed://[::1]:0", "mixed")};
    uv_thread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(uv_thread_create(&threads[i], hammer, &h), 0);
    for (int i = 0; i < THREADS; i++)
        uv_thread_join(&threads[i]);

    const uint64_t n = (uint64_t)THREADS * ROUNDS;
    char *text = render_registry(&m, metrics_render_prometheus);
    assert_int_equal(sample(text, "mpconv_connections_total"), n);
    assert_int_equal(sample(text, "mpconv_connections_active"), 0);
    assert_int_equal(sample(text, "mpconv_bytes_total{direction=\"up\"}"), 3 * n);
    assert_int_equal(sample(text, "mpconv_bytes_total{direction=\"down\"}"), 5 * n);
    assert_int_equal(sample(text, "mpconv_upstream_mptcp_total{outcome=\"negotiated\"}"), n);
    assert_int_equal(sample(text, "mpconv_sessions_subflows_total{side=\"upstream\",subflows=\"1\"}"), n);
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"raced-word\"}"), n); /* one series */
    assert_int_equal(sample(text, "mpconv_sessions_ended_total{reason=\"other\"}"), 0);
    assert_int_equal(sample(text, "mpconv_dns_resolution_seconds_count"), n);
    free(text);
    char *json = render_registry(&m, metrics_render_json);
    assert_true(json_valid(json));
    free(json);
    metrics_free(&m);
}

/* ---- labels ---- */

static void listener_labels_hide_passwords_and_stay_unique(void **state)
{
    (void)state;
    static const char *const urls[] = {"socks5://alice:s3cret@127.0.0.1:0", "http://127.0.0.1:0",
                                       "socks5://alice:other@127.0.0.1:0", "socks5://alice:x@127.0.0.1:0"};
    struct config c;
    char err[256], label[METRICS_LABEL_MAX];
    config_init(&c);
    for (size_t i = 0; i < 4; i++)
        if (config_add_listener_url(&c, urls[i], err, sizeof(err)) != 0)
            fail_msg("%s", err);
    metrics_listener_label(&c, 0, label);
    assert_string_equal(label, "socks5://alice:***@127.0.0.1:0");
    metrics_listener_label(&c, 1, label);
    assert_string_equal(label, "http://127.0.0.1:0");
    metrics_listener_label(&c, 2, label);
    assert_string_equal(label, "socks5://alice:***@127.0.0.1:0#2");
    metrics_listener_label(&c, 3, label);
    assert_string_equal(label, "socks5://alice:***@127.0.0.1:0#3");
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prometheus_text_is_exact),
        cmocka_unit_test(json_is_exact_and_valid),
        cmocka_unit_test(a_short_buffer_gets_a_prefix),
        cmocka_unit_test(prometheus_escapes_label_values),
        cmocka_unit_test(json_escapes_strings),
        cmocka_unit_test(json_checker_rejects_bad_documents),
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(sessions_are_counted_per_listener),
        cmocka_unit_test(unknown_reasons_get_a_series),
        cmocka_unit_test(counts_are_exact_across_threads),
        cmocka_unit_test(listener_labels_hide_passwords_and_stay_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
