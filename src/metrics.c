/* The metrics registry: counters updated with relaxed atomics from every
 * worker, a snapshot under the registry lock, and pure renderers. */
#include "mpconv/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NS_PER_MS 1000000u
#define NS_PER_S 1000000000u
#define RELAXED memory_order_relaxed
#define OTHER_REASON (METRICS_REASONS_MAX - 1)
#define OTHER_NAME "other"

/* Upper bounds of the histogram buckets, and how they are written in "le". */
static const uint64_t bucket_bounds_ns[METRICS_BUCKETS] = {
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,   100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bucket_labels[METRICS_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

/* Every reason= word of the session summary (session.c, the front-ends and
 * errmap.c), so each series exists with 0 from the start. A word that is
 * not listed is still counted under its own name from its first use. */
static const char *const known_reasons[] = {
    /* ends without an error */
    "eof", "done", "shutdown",
    /* client side and handshakes */
    "client-eof-in-handshake", "client-error-in-handshake", "client-error", "client-reset",
    "client-protocol-error", "client-tls-failed", "handshake-timeout", "handshake-too-large",
    "idle-timeout", "auth-failed",
    "socks5-bad-greeting", "socks5-no-acceptable-method", "socks5-bad-auth", "socks5-bad-request",
    "socks5-command-unsupported", "socks5-bad-address-type",
    "http-bad-request", "http-head-too-large", "http-bad-target", "http-method-not-allowed",
    "http-bad-framing", "http-bad-body", "http-rewrite-failed",
    "loop-to-own-listener", "no-original-destination", "bad-original-destination",
    /* dial (errmap.c) */
    "refused", "reset", "net-unreachable", "host-unreachable", "timeout", "dns-no-name",
    "dns-failure", "family-unsupported", "not-allowed", "acl", "error",
    "parent-refused", "parent-auth-failed", "parent-protocol-error", "parent-tls-failed",
    /* upstream and relay */
    "upstream-error", "upstream-reset", "upstream-protocol-error", "upstream-no-response",
    "upstream-bad-response", "upstream-bad-framing", "relay-error", "out-of-memory",
};
_Static_assert(ARRAY_LEN(known_reasons) < OTHER_REASON, "room for reasons met at run time");

static const char *const outcome_names[METRICS_OUTCOMES] = {
    [MPTCP_STATE_YES] = "negotiated",
    [MPTCP_STATE_FALLBACK] = "fallback",
    [MPTCP_STATE_OFF] = "off",
};
/* Rendering order: the good news first. */
static const enum mptcp_state outcome_order[METRICS_OUTCOMES] = {MPTCP_STATE_YES, MPTCP_STATE_FALLBACK,
                                                                 MPTCP_STATE_OFF};
static const char *const subflow_names[SUBFLOWS_N] = {"1", "2", "3", "4+", "unknown"};
static const char *const side_names[SIDE_N] = {"upstream", "client"};

int metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->start_ns = uv_hrtime();
    atomic_init(&m->workers, 1);
    if (uv_mutex_init(&m->lock) != 0)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(known_reasons); i++)
        atomic_init(&m->reasons[i].name, known_reasons[i]);
    atomic_init(&m->reasons[OTHER_REASON].name, OTHER_NAME);
    return 0;
}

void metrics_free(struct metrics *m)
{
    for (size_t i = 0; i < m->n_listeners; i++) {
        free(m->listeners[i]->label);
        free(m->listeners[i]);
    }
    free(m->listeners);
    uv_mutex_destroy(&m->lock);
}

void metrics_set_workers(struct metrics *m, unsigned workers)
{
    atomic_store_explicit(&m->workers, workers, RELAXED);
}

/* ---- listeners ---- */

void metrics_listener_label(const struct config *cfg, size_t index, char out[METRICS_LABEL_MAX])
{
    char other[METRICS_LABEL_MAX];
    unsigned same = 0;
    url_format_redacted(&cfg->listeners[index].url, out, METRICS_LABEL_MAX);
    for (size_t i = 0; i < index; i++) {
        url_format_redacted(&cfg->listeners[i].url, other, sizeof(other));
        same += strcmp(other, out) == 0;
    }
    size_t len = strlen(out);
    if (same > 0)
        snprintf(out + len, METRICS_LABEL_MAX - len, "#%u", same + 1);
}

static struct metrics_listener *find_listener(struct metrics *m, const char *label)
{
    for (size_t i = 0; i < m->n_listeners; i++)
        if (strcmp(m->listeners[i]->label, label) == 0)
            return m->listeners[i];
    return NULL;
}

static struct metrics_listener *add_listener(struct metrics *m, const char *label, const char *kind)
{
    if (m->n_listeners == m->cap_listeners) {
        size_t cap = m->cap_listeners ? 2 * m->cap_listeners : 8;
        struct metrics_listener **grown = realloc(m->listeners, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        m->listeners = grown;
        m->cap_listeners = cap;
    }
    struct metrics_listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->label = strdup(label))) {
        free(l);
        return NULL;
    }
    l->kind = kind;
    m->listeners[m->n_listeners++] = l;
    return l;
}

struct metrics_listener *metrics_listener(struct metrics *m, const char *label, const char *kind)
{
    uv_mutex_lock(&m->lock);
    struct metrics_listener *l = find_listener(m, label);
    if (!l)
        l = add_listener(m, label, kind);
    uv_mutex_unlock(&m->lock);
    return l;
}

/* ---- the hot path ---- */

static void add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, RELAXED);
}

void metrics_session_opened(struct metrics_listener *l)
{
    if (!l)
        return;
    add(&l->total, 1);
    add(&l->active, 1);
}

/* The slot counting this reason: the same literal is usually the same
 * pointer; otherwise compare, and take a free slot for a new word (two
 * threads adding the same word meet in one slot through the CAS). Slots
 * fill in order, up to the last one: "other", for words beyond them. */
static struct metrics_reason *reason_slot(struct metrics *m, const char *name)
{
    if (strcmp(name, OTHER_NAME) == 0)
        return &m->reasons[OTHER_REASON];
    for (size_t i = 0; i < OTHER_REASON; i++) {
        const char *have = atomic_load_explicit(&m->reasons[i].name, memory_order_acquire);
        if (have == name)
            return &m->reasons[i];
        if (!have)
            break;
    }
    for (size_t i = 0; i < OTHER_REASON; i++) {
        struct metrics_reason *r = &m->reasons[i];
        const char *have = atomic_load_explicit(&r->name, memory_order_acquire);
        if (!have && atomic_compare_exchange_strong_explicit(&r->name, &have, name, memory_order_acq_rel,
                                                             memory_order_acquire))
            return r;
        if (strcmp(have, name) == 0)
            return r;
    }
    return &m->reasons[OTHER_REASON];
}

static enum metrics_subflows subflow_bucket(unsigned subflows)
{
    switch (subflows) {
    case 0:
        return SUBFLOWS_UNKNOWN;
    case 1:
        return SUBFLOWS_1;
    case 2:
        return SUBFLOWS_2;
    case 3:
        return SUBFLOWS_3;
    default:
        return SUBFLOWS_4_PLUS;
    }
}

void metrics_session_ended(struct metrics *m, struct metrics_listener *l, const struct metrics_session *s)
{
    if (l) {
        atomic_fetch_sub_explicit(&l->active, 1, RELAXED);
        add(&l->bytes_up, s->bytes_up);
        add(&l->bytes_down, s->bytes_down);
    }
    if (!m)
        return;
    add(&reason_slot(m, s->reason)->count, 1);
    if (s->upstream_mptcp)
        add(&m->subflows[SIDE_UPSTREAM][subflow_bucket(s->subflows)], 1);
    if (s->client_mptcp)
        add(&m->subflows[SIDE_CLIENT][subflow_bucket(s->client_subflows)], 1);
}

void metrics_upstream_connected(struct metrics *m, enum mptcp_state state)
{
    if (m && (size_t)state < METRICS_OUTCOMES)
        add(&m->outcomes[state], 1);
}

static void observe(struct metrics_histogram *h, uint64_t ns)
{
    size_t i = 0;
    while (i < METRICS_BUCKETS && ns > bucket_bounds_ns[i])
        i++;
    add(&h->buckets[i], 1);
    add(&h->sum_ns, ns);
}

void metrics_dns_resolved(struct metrics *m, uint64_t ns)
{
    if (m)
        observe(&m->dns, ns);
}

void metrics_upstream_connect_time(struct metrics *m, uint64_t ns)
{
    if (m)
        observe(&m->connect, ns);
}

/* ---- snapshot ---- */

static uint64_t load(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, RELAXED);
}

static void copy_histogram(struct metrics_histogram *h, struct metrics_histogram_snapshot *out)
{
    for (size_t i = 0; i <= METRICS_BUCKETS; i++)
        out->buckets[i] = load(&h->buckets[i]);
    out->sum_ns = load(&h->sum_ns);
}

static int copy_listeners(struct metrics *m, struct metrics_snapshot *out)
{
    uv_mutex_lock(&m->lock);
    out->listeners = m->n_listeners ? calloc(m->n_listeners, sizeof(*out->listeners)) : NULL;
    if (m->n_listeners && !out->listeners) {
        uv_mutex_unlock(&m->lock);
        return -1;
    }
    for (size_t i = 0; i < m->n_listeners; i++) {
        struct metrics_listener *l = m->listeners[i];
        out->listeners[i] = (struct metrics_listener_snapshot){
            .label = l->label, .kind = l->kind, .active = load(&l->active), .total = load(&l->total),
            .bytes_up = load(&l->bytes_up), .bytes_down = load(&l->bytes_down)};
    }
    out->n_listeners = m->n_listeners;
    uv_mutex_unlock(&m->lock);
    return 0;
}

int metrics_snapshot(struct metrics *m, struct metrics_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    out->version = MPCONV_VERSION;
    out->uptime_ms = (uv_hrtime() - m->start_ns) / NS_PER_MS;
    out->workers = atomic_load_explicit(&m->workers, RELAXED);
    for (size_t i = 0; i < METRICS_OUTCOMES; i++)
        out->outcomes[i] = load(&m->outcomes[i]);
    for (size_t side = 0; side < SIDE_N; side++)
        for (size_t i = 0; i < SUBFLOWS_N; i++)
            out->subflows[side][i] = load(&m->subflows[side][i]);
    for (size_t i = 0; i < METRICS_REASONS_MAX; i++) {
        const char *name = atomic_load_explicit(&m->reasons[i].name, memory_order_acquire);
        if (name)
            out->reasons[out->n_reasons++] =
                (struct metrics_reason_snapshot){name, load(&m->reasons[i].count)};
    }
    copy_histogram(&m->dns, &out->dns);
    copy_histogram(&m->connect, &out->connect);
    return copy_listeners(m, out);
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
    free(s->listeners);
    s->listeners = NULL;
    s->n_listeners = 0;
}

/* ---- rendering ---- */

/* Appends to a fixed buffer and counts what the whole text needs. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
    if (o->cap > 0 && o->len < o->cap - 1) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put(struct out *o, const char *s)
{
    put_bytes(o, s, strlen(s));
}

static void put_uint(struct out *o, uint64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRIu64, v);
    put_bytes(o, text, (size_t)n);
}

static size_t finish(struct out *o)
{
    if (o->cap > 0)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return o->len;
}

/* Nanoseconds or milliseconds as decimal seconds, without floating point. */
static void put_seconds_ns(struct out *o, uint64_t ns)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%" PRIu64 ".%09" PRIu64, ns / NS_PER_S, ns % NS_PER_S);
    put_bytes(o, text, (size_t)n);
}

static void put_seconds_ms(struct out *o, uint64_t ms)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
    put_bytes(o, text, (size_t)n);
}

struct totals {
    uint64_t active, total, bytes_up, bytes_down;
};

static struct totals sum_listeners(const struct metrics_snapshot *s)
{
    struct totals t = {0, 0, 0, 0};
    for (size_t i = 0; i < s->n_listeners; i++) {
        t.active += s->listeners[i].active;
        t.total += s->listeners[i].total;
        t.bytes_up += s->listeners[i].bytes_up;
        t.bytes_down += s->listeners[i].bytes_down;
    }
    return t;
}

/* -- Prometheus text exposition format 0.0.4 -- */

/* Label values escape backslash, double quote and line feed. */
static void put_label_value(struct out *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            put(o, "\\\\");
        else if (*v == '"')
            put(o, "\\\"");
        else if (*v == '\n')
            put(o, "\\n");
        else
            put_bytes(o, v, 1);
    }
}

static void put_label(struct out *o, bool first, const char *name, const char *value)
{
    put(o, first ? "{" : ",");
    put(o, name);
    put(o, "=\"");
    put_label_value(o, value);
    put(o, "\"");
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP ");
    put(o, name);
    put(o, " ");
    put(o, help);
    put(o, "\n# TYPE ");
    put(o, name);
    put(o, " ");
    put(o, type);
    put(o, "\n");
}

/* " VALUE\n" after a sample's name and labels. */
static void put_value(struct out *o, uint64_t v)
{
    put(o, " ");
    put_uint(o, v);
    put(o, "\n");
}

static void prom_process(struct out *o, const struct metrics_snapshot *s)
{
    family(o, "mpconv_info", "gauge", "Version of this mpconv process (value 1).");
    put(o, "mpconv_info");
    put_label(o, true, "version", s->version);
    put(o, "} 1\n");
    family(o, "mpconv_uptime_seconds", "gauge", "Seconds since mpconv started.");
    put(o, "mpconv_uptime_seconds ");
    put_seconds_ms(o, s->uptime_ms);
    put(o, "\n");
    family(o, "mpconv_workers", "gauge", "Event loops (threads) serving clients.");
    put(o, "mpconv_workers");
    put_value(o, s->workers);
}

static void listener_labels(struct out *o, const struct metrics_listener_snapshot *l)
{
    put_label(o, true, "listener", l->label);
    put_label(o, false, "kind", l->kind);
}

enum listener_field { FIELD_TOTAL, FIELD_ACTIVE };

static void prom_listener_counts(struct out *o, const struct metrics_snapshot *s, enum listener_field f)
{
    const char *name = f == FIELD_TOTAL ? "mpconv_listener_connections_total" : "mpconv_listener_connections_active";
    family(o, name, f == FIELD_TOTAL ? "counter" : "gauge",
           f == FIELD_TOTAL ? "Client connections accepted, per listener."
                            : "Client connections open now, per listener.");
    for (size_t i = 0; i < s->n_listeners; i++) {
        put(o, name);
        listener_labels(o, &s->listeners[i]);
        put(o, "}");
        put_value(o, f == FIELD_TOTAL ? s->listeners[i].total : s->listeners[i].active);
    }
}

static void prom_listener_bytes(struct out *o, const struct metrics_snapshot *s)
{
    static const char name[] = "mpconv_listener_bytes_total";
    family(o, name, "counter",
           "Bytes relayed for ended sessions, per listener; up = client to upstream.");
    for (size_t i = 0; i < s->n_listeners; i++)
        for (int down = 0; down < 2; down++) {
            put(o, name);
            listener_labels(o, &s->listeners[i]);
            put_label(o, false, "direction", down ? "down" : "up");
            put(o, "}");
            put_value(o, down ? s->listeners[i].bytes_down : s->listeners[i].bytes_up);
        }
}

static void prom_totals(struct out *o, const struct metrics_snapshot *s)
{
    struct totals t = sum_listeners(s);
    family(o, "mpconv_connections_total", "counter", "Client connections accepted on all listeners.");
    put(o, "mpconv_connections_total");
    put_value(o, t.total);
    family(o, "mpconv_connections_active", "gauge", "Client connections open now on all listeners.");
    put(o, "mpconv_connections_active");
    put_value(o, t.active);
    family(o, "mpconv_bytes_total", "counter", "Bytes relayed for ended sessions; up = client to upstream.");
    put(o, "mpconv_bytes_total");
    put_label(o, true, "direction", "up");
    put(o, "}");
    put_value(o, t.bytes_up);
    put(o, "mpconv_bytes_total");
    put_label(o, true, "direction", "down");
    put(o, "}");
    put_value(o, t.bytes_down);
}

static void prom_outcomes(struct out *o, const struct metrics_snapshot *s)
{
    static const char name[] = "mpconv_upstream_mptcp_total";
    family(o, name, "counter",
           "Upstream connections by MPTCP outcome: negotiated, fallback (the peer spoke TCP), "
           "off (a TCP socket: mptcp = off or no kernel MPTCP).");
    for (size_t i = 0; i < METRICS_OUTCOMES; i++) {
        put(o, name);
        put_label(o, true, "outcome", outcome_names[outcome_order[i]]);
        put(o, "}");
        put_value(o, s->outcomes[outcome_order[i]]);
    }
}

static void prom_subflows(struct out *o, const struct metrics_snapshot *s)
{
    static const char name[] = "mpconv_sessions_subflows_total";
    family(o, name, "counter",
           "Ended MPTCP sessions by subflow count (the most seen, as in the summary line); "
           "side client: MPTCP clients of ?mptcp=1 listeners.");
    for (size_t side = 0; side < SIDE_N; side++)
        for (size_t i = 0; i < SUBFLOWS_N; i++) {
            put(o, name);
            put_label(o, true, "side", side_names[side]);
            put_label(o, false, "subflows", subflow_names[i]);
            put(o, "}");
            put_value(o, s->subflows[side][i]);
        }
}

static void prom_reasons(struct out *o, const struct metrics_snapshot *s)
{
    static const char name[] = "mpconv_sessions_ended_total";
    family(o, name, "counter", "Ended sessions by the reason= of their summary line.");
    for (size_t i = 0; i < s->n_reasons; i++) {
        put(o, name);
        put_label(o, true, "reason", s->reasons[i].name);
        put(o, "}");
        put_value(o, s->reasons[i].count);
    }
}

static void prom_histogram(struct out *o, const char *name, const char *help,
                           const struct metrics_histogram_snapshot *h)
{
    family(o, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
        cumulative += h->buckets[i];
        put(o, name);
        put(o, "_bucket");
        put_label(o, true, "le", i < METRICS_BUCKETS ? bucket_labels[i] : "+Inf");
        put(o, "}");
        put_value(o, cumulative);
    }
    put(o, name);
    put(o, "_sum ");
    put_seconds_ns(o, h->sum_ns);
    put(o, "\n");
    put(o, name);
    put(o, "_count");
    put_value(o, cumulative);
}

size_t metrics_render_prometheus(const struct metrics_snapshot *s, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    prom_process(&o, s);
    prom_listener_counts(&o, s, FIELD_TOTAL);
    prom_listener_counts(&o, s, FIELD_ACTIVE);
    prom_listener_bytes(&o, s);
    prom_totals(&o, s);
    prom_outcomes(&o, s);
    prom_subflows(&o, s);
    prom_reasons(&o, s);
    prom_histogram(&o, "mpconv_dns_resolution_seconds",
                   "Time to resolve a destination name (completed lookups, found or not).", &s->dns);
    prom_histogram(&o, "mpconv_upstream_connect_seconds",
                   "Time from the first connection attempt to an established upstream connection.",
                   &s->connect);
    return finish(&o);
}

/* -- JSON -- */

/* Strings are escaped so the document is valid whatever the bytes: quote,
 * backslash, control bytes and bytes above 0x7f (as \u00XX: labels are
 * ASCII, so this only guards against surprises). */
static void put_json_string(struct out *o, const char *v)
{
    put(o, "\"");
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put_bytes(o, esc, 2);
        } else if (c < 0x20 || c > 0x7e) {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put_bytes(o, esc, 6);
        } else {
            put_bytes(o, v, 1);
        }
    }
    put(o, "\"");
}

static void put_json_key(struct out *o, bool first, const char *key)
{
    if (!first)
        put(o, ",");
    put_json_string(o, key);
    put(o, ":");
}

static void put_json_uint(struct out *o, bool first, const char *key, uint64_t v)
{
    put_json_key(o, first, key);
    put_uint(o, v);
}

/* "active", "total", "bytes_up", "bytes_down" members. */
static void json_counts(struct out *o, bool first, const struct totals *t)
{
    put_json_uint(o, first, "active", t->active);
    put_json_uint(o, false, "total", t->total);
    put_json_uint(o, false, "bytes_up", t->bytes_up);
    put_json_uint(o, false, "bytes_down", t->bytes_down);
}

static void json_listeners(struct out *o, const struct metrics_snapshot *s)
{
    put_json_key(o, false, "listeners");
    put(o, "[");
    for (size_t i = 0; i < s->n_listeners; i++) {
        const struct metrics_listener_snapshot *l = &s->listeners[i];
        struct totals t = {l->active, l->total, l->bytes_up, l->bytes_down};
        put(o, i ? ",{" : "{");
        put_json_key(o, true, "url");
        put_json_string(o, l->label);
        put_json_key(o, false, "kind");
        put_json_string(o, l->kind);
        json_counts(o, false, &t);
        put(o, "}");
    }
    put(o, "]");
}

static void json_subflows(struct out *o, const struct metrics_snapshot *s)
{
    put_json_key(o, false, "subflows");
    for (size_t side = 0; side < SIDE_N; side++) {
        put(o, side == 0 ? "{" : ",");
        put_json_key(o, true, side_names[side]);
        for (size_t i = 0; i < SUBFLOWS_N; i++) {
            put(o, i == 0 ? "{" : "");
            put_json_uint(o, i == 0, subflow_names[i], s->subflows[side][i]);
        }
        put(o, "}");
    }
    put(o, "}");
}

size_t metrics_render_json(const struct metrics_snapshot *s, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    struct totals t = sum_listeners(s);
    put(&o, "{");
    put_json_key(&o, true, "version");
    put_json_string(&o, s->version);
    put_json_key(&o, false, "uptime_seconds");
    put_seconds_ms(&o, s->uptime_ms);
    put_json_uint(&o, false, "workers", s->workers);
    json_listeners(&o, s);
    put_json_key(&o, false, "totals");
    put(&o, "{");
    json_counts(&o, true, &t);
    put(&o, "}");
    put_json_key(&o, false, "mptcp");
    for (size_t i = 0; i < METRICS_OUTCOMES; i++) {
        put(&o, i == 0 ? "{" : "");
        put_json_uint(&o, i == 0, outcome_names[outcome_order[i]], s->outcomes[outcome_order[i]]);
    }
    put(&o, "}");
    json_subflows(&o, s);
    put_json_key(&o, false, "reasons");
    put(&o, "{");
    for (size_t i = 0; i < s->n_reasons; i++)
        put_json_uint(&o, i == 0, s->reasons[i].name, s->reasons[i].count);
    put(&o, "}}\n");
    return finish(&o);
}
