/* Start-up checks, the event loop, and shutdown on signals. */
#include "mpconv/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/session.h"
#include "mpconv/sock.h"
#include "mpconv/tls.h"

#define DRAIN_DEADLINE_MS 10000

struct daemon {
    struct worker worker; /* first: on_drained gets the worker */
    struct listener *listeners;
    size_t n_listeners;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_timer_t drain_deadline;
};

/* Each connection needs two descriptors; the soft limit is often 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 4096)
        log_warn("open file limit is %llu: at most ~%llu concurrent connections",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 2);
}

/* "on" refuses to start without kernel MPTCP; "auto" only reports it. */
static int check_mptcp(enum mptcp_mode mode)
{
    if (mode == MPTCP_MODE_OFF) {
        log_info("MPTCP off: upstream connections use plain TCP");
        return 0;
    }
    int err = sock_probe_mptcp();
    if (err == 0) {
        log_info("MPTCP available: upstream connections use MPTCP");
        return 0;
    }
    if (mode == MPTCP_MODE_ON) {
        log_error("mptcp = on, but this kernel/namespace cannot create MPTCP sockets: %s "
                  "(check net.mptcp.enabled)",
                  strerror(-err));
        return -1;
    }
    log_warn("MPTCP unavailable (%s): upstream connections use plain TCP until it returns",
             strerror(-err));
    return 0;
}

/* Closes the daemon's own handles; uv_run returns once the sessions are
 * gone too. */
static void close_daemon_handles(struct daemon *d)
{
    for (size_t i = 0; i < d->n_listeners; i++)
        listener_close(&d->listeners[i]);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->drain_deadline, NULL);
}

static void on_drained(struct worker *w)
{
    struct daemon *d = (struct daemon *)w;
    log_info("all sessions finished");
    uv_timer_stop(&d->drain_deadline);
    if (!uv_is_closing((uv_handle_t *)&d->sigint))
        close_daemon_handles(d);
}

static void on_drain_deadline(uv_timer_t *t)
{
    struct daemon *d = t->data;
    log_info("drain deadline: closing %llu sessions",
             (unsigned long long)d->worker.active_sessions);
    worker_close_sessions(&d->worker);
}

/* First signal: stop accepting and let sessions finish, up to a deadline.
 * A second one closes them at once. */
static void on_stop_signal(uv_signal_t *sig, int signum)
{
    struct daemon *d = sig->data;
    struct worker *w = &d->worker;
    if (w->draining) {
        log_info("%s again: closing %llu sessions now", strsignal(signum),
                 (unsigned long long)w->active_sessions);
        worker_close_sessions(w);
        return;
    }
    log_info("%s: no new connections; waiting up to %d s for %llu sessions", strsignal(signum),
             DRAIN_DEADLINE_MS / 1000, (unsigned long long)w->active_sessions);
    w->draining = true;
    w->on_drained = on_drained;
    for (size_t i = 0; i < d->n_listeners; i++)
        listener_close(&d->listeners[i]);
    if (w->active_sessions == 0)
        on_drained(w);
    else
        uv_timer_start(&d->drain_deadline, on_drain_deadline, DRAIN_DEADLINE_MS, 0);
}

static int start_listeners(struct daemon *d, const struct config *cfg)
{
    d->listeners = calloc(cfg->n_listeners, sizeof(*d->listeners));
    if (!d->listeners)
        return -1;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        d->n_listeners++;
        if (listener_start(&d->listeners[i], &d->worker, &cfg->listeners[i]) != 0)
            return -1;
    }
    return 0;
}

static int worker_init(struct worker *w, uv_loop_t *loop, const struct config *cfg)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->cfg = cfg;
    if (cfg->upstream.tls &&
        !(w->upstream_tls = tls_client_ctx_new(cfg->upstream.ca_file, err, sizeof(err)))) {
        log_error("upstream: %s", err);
        return -1;
    }
    sock_factory_init(&w->sockets, cfg->mptcp, cfg->mark);
    w->dialer = (struct dialer){.loop = loop, .sockets = &w->sockets,
                                .connect_timeout_ms = cfg->connect_timeout_ms};
    return 0;
}

/* A mark that cannot be set would let mpconv's own upstream traffic be
 * redirected back into it: refuse to start instead. */
static int check_mark(uint32_t mark)
{
    int err = mark ? sock_probe_mark(mark) : 0;
    if (err != 0)
        log_error("mark = %u: cannot set SO_MARK on upstream sockets: %s (needs CAP_NET_ADMIN)",
                  mark, strerror(-err));
    return err;
}

static void log_upstream(const struct config *cfg)
{
    char url[2048];
    if (cfg->upstream.kind == UPSTREAM_DIRECT)
        return;
    url_format_redacted(&cfg->upstream.url, url, sizeof(url));
    log_info("upstream: every connection through %s", url);
}

int daemon_run(const struct config *cfg)
{
    struct daemon d;
    uv_loop_t *loop = uv_default_loop();

    log_threshold = cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    log_info("mpconv %s starting%s%s", MPCONV_VERSION, cfg->source[0] ? " with " : "",
             cfg->source);
    if (check_mptcp(cfg->mptcp) != 0 || check_mark(cfg->mark) != 0)
        return 1;
    raise_fd_limit();
    log_upstream(cfg);

    memset(&d, 0, sizeof(d));
    int status = worker_init(&d.worker, loop, cfg) == 0 && start_listeners(&d, cfg) == 0 ? 0 : 1;
    uv_signal_init(loop, &d.sigint);
    uv_signal_init(loop, &d.sigterm);
    uv_timer_init(loop, &d.drain_deadline);
    d.sigint.data = d.sigterm.data = d.drain_deadline.data = &d;
    if (status == 0) {
        uv_signal_start(&d.sigint, on_stop_signal, SIGINT);
        uv_signal_start(&d.sigterm, on_stop_signal, SIGTERM);
        uv_run(loop, UV_RUN_DEFAULT);
    } else {
        close_daemon_handles(&d);
    }
    uv_run(loop, UV_RUN_DEFAULT); /* let every close callback run */
    uv_loop_close(loop);
    free(d.listeners);
    bufpool_drain(&d.worker.pool);
    pipepool_drain(&d.worker.pipes);
    SSL_CTX_free(d.worker.upstream_tls);
    return status;
}
