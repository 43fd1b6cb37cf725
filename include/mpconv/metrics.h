/* Process-wide counters for the metrics endpoint: a registry owned by the
 * process (not by the configuration, so a reload keeps the counts), updated
 * from every worker thread with relaxed atomic adds, read as a snapshot, and
 * rendered by pure functions into Prometheus text or JSON. */
#ifndef MPCONV_METRICS_H
#define MPCONV_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/sock.h"

/* Histogram upper bounds: 1 ms to 10 s, plus +Inf. */
#define METRICS_BUCKETS 13
#define METRICS_REASONS_MAX 128
#define METRICS_LABEL_MAX 2048 /* listener labels longer than this are cut */
/* Sessions by subflow count: 1, 2, 3, 4+, and unknown (the kernel did not say). */
enum metrics_subflows { SUBFLOWS_1, SUBFLOWS_2, SUBFLOWS_3, SUBFLOWS_4_PLUS, SUBFLOWS_UNKNOWN, SUBFLOWS_N };
enum metrics_side { SIDE_UPSTREAM, SIDE_CLIENT, SIDE_N };
#define METRICS_OUTCOMES 3 /* indexed by enum mptcp_state */

/* One listener's counters, found by its label (the redacted URL). Entries
 * live as long as the registry, so sessions may keep a pointer. */
struct metrics_listener {
    char *label;
    const char *kind;
    atomic_uint_fast64_t active;
    atomic_uint_fast64_t total;
    atomic_uint_fast64_t bytes_up;
    atomic_uint_fast64_t bytes_down;
};

struct metrics_histogram {
    atomic_uint_fast64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative; last = above 10 s */
    atomic_uint_fast64_t sum_ns;
};

struct metrics_reason {
    _Atomic(const char *) name; /* a string with static storage; NULL = free slot */
    atomic_uint_fast64_t count;
};

struct metrics {
    uint64_t start_ns;
    atomic_uint workers;
    uv_mutex_t lock; /* the listener list only; never taken per connection */
    struct metrics_listener **listeners;
    size_t n_listeners;
    size_t cap_listeners;
    atomic_uint_fast64_t outcomes[METRICS_OUTCOMES];
    atomic_uint_fast64_t subflows[SIDE_N][SUBFLOWS_N];
    struct metrics_reason reasons[METRICS_REASONS_MAX]; /* the last slot is "other" */
    struct metrics_histogram dns;
    struct metrics_histogram connect;
};

/* What a session's summary line says, for metrics_session_ended. */
struct metrics_session {
    const char *reason; /* static storage, as every close reason is */
    uint64_t bytes_up;
    uint64_t bytes_down;
    bool upstream_mptcp; /* MPTCP negotiated upstream */
    unsigned subflows;   /* upstream subflows, 0 = unknown */
    bool client_mptcp;   /* the client came with MPTCP (?mptcp=1 listeners) */
    unsigned client_subflows;
};

/* 0, or -1 when out of memory. Every close reason mpconv knows is
 * registered with a zero count, so the series exist from the start. */
int metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);
void metrics_set_workers(struct metrics *m, unsigned workers);

/* Listener index's label: its URL with the password redacted; "URL#2",
 * "URL#3"... for later listeners of cfg with the same redacted URL. */
void metrics_listener_label(const struct config *cfg, size_t index, char out[METRICS_LABEL_MAX]);

/* The listener's entry, created on first use; NULL when out of memory. */
struct metrics_listener *metrics_listener(struct metrics *m, const char *label, const char *kind);

/* The hot path: each is a few relaxed atomic adds. m or l may be NULL (no
 * metrics), and then nothing is counted. */
void metrics_session_opened(struct metrics_listener *l);
void metrics_session_ended(struct metrics *m, struct metrics_listener *l, const struct metrics_session *s);
void metrics_upstream_connected(struct metrics *m, enum mptcp_state state);
void metrics_dns_resolved(struct metrics *m, uint64_t ns);
void metrics_upstream_connect_time(struct metrics *m, uint64_t ns);

/* ---- snapshot and pure rendering ---- */

struct metrics_listener_snapshot {
    const char *label;
    const char *kind;
    uint64_t active, total, bytes_up, bytes_down;
};

struct metrics_histogram_snapshot {
    uint64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative */
    uint64_t sum_ns;
};

struct metrics_reason_snapshot {
    const char *name;
    uint64_t count;
};

struct metrics_snapshot {
    const char *version;
    uint64_t uptime_ms;
    unsigned workers;
    struct metrics_listener_snapshot *listeners; /* labels point into the registry */
    size_t n_listeners;
    uint64_t outcomes[METRICS_OUTCOMES];
    uint64_t subflows[SIDE_N][SUBFLOWS_N];
    struct metrics_reason_snapshot reasons[METRICS_REASONS_MAX];
    size_t n_reasons;
    struct metrics_histogram_snapshot dns;
    struct metrics_histogram_snapshot connect;
};

/* Copies the counters; 0 or -1 (out of memory). Free with metrics_snapshot_free. */
int metrics_snapshot(struct metrics *m, struct metrics_snapshot *out);
void metrics_snapshot_free(struct metrics_snapshot *s);

/* Render into buf (always NUL-terminated when cap > 0). Return the length
 * the whole text needs, without the NUL: when it is >= cap the text was cut,
 * and a buffer of that length + 1 holds it. */
size_t metrics_render_prometheus(const struct metrics_snapshot *s, char *buf, size_t cap);
size_t metrics_render_json(const struct metrics_snapshot *s, char *buf, size_t cap);

#endif
