/* The metrics endpoint: a small HTTP/1.1 server on the daemon's control
 * loop. GET (or HEAD) /metrics answers Prometheus text, /status JSON; other
 * paths 404, other methods 405, malformed requests 400. Every answer closes
 * the connection. Requests are bounded in size (4 KiB) and time (5 s), and
 * at most 32 connections are open: a new one closes the oldest. */
#ifndef MPCONV_METRICS_HTTP_H
#define MPCONV_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "mpconv/metrics.h"
#include "mpconv/target.h"

struct metrics_conn;

struct metrics_http {
    uv_tcp_t tcp;
    struct metrics *metrics;
    struct metrics_conn *oldest; /* open connections, oldest first */
    struct metrics_conn *newest;
    size_t n_conns;
    bool started; /* tcp was initialised: metrics_http_close must close it */
};

/* Binds addr (port 0: the kernel picks), listens, and logs
 * "metrics endpoint: http://ADDR:PORT/metrics and /status". 0, or -1
 * (logged). Call metrics_http_close afterwards either way. */
int metrics_http_start(struct metrics_http *h, uv_loop_t *loop, struct metrics *m, const struct mp_target *addr);

/* Closes the listening socket and every connection; the handles are gone
 * once the loop has run their close callbacks. h must stay valid till then. */
void metrics_http_close(struct metrics_http *h);

#endif
