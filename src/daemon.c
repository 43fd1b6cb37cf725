/* Start-up checks, the event loop, and shutdown on signals. */
#include "mpconv/daemon.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/pathheal.h"
#include "mpconv/session.h"
#include "mpconv/sock.h"
#include "mpconv/tls.h"
#include "mpconv/worker.h"

/* The control loop: signals, and word from the workers that they ended. */
struct daemon {
    const struct config *cfg;
    struct worker_thread *workers;
    size_t n_workers;
    size_t n_started;
    enum worker_stop stop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_async_t worker_done;
    struct pathheal *heal; /* NULL without [mpconv] wan */
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

/* First signal: every worker stops accepting and lets its sessions finish,
 * up to [timeouts] drain. A second one closes them at once. */
static void on_stop_signal(uv_signal_t *sig, int signum)
{
    struct daemon *d = sig->data;
    d->stop = d->stop == WORKER_RUN ? WORKER_DRAIN : WORKER_CLOSE_NOW;
    if (d->stop == WORKER_DRAIN)
        log_info("%s: no new connections; waiting up to %.1f s for sessions to finish",
                 strsignal(signum), d->cfg->drain_timeout_ms / 1000.0);
    else
        log_info("%s again: closing all sessions now", strsignal(signum));
    for (size_t i = 0; i < d->n_started; i++)
        worker_request_stop(&d->workers[i], d->stop);
}

static void close_control_handles(struct daemon *d)
{
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->worker_done, NULL);
    pathheal_stop(d->heal);
    d->heal = NULL;
    /* Closing restored the default actions: a signal during the last
     * clean-up must not turn a clean exit into a kill. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
}

static void on_worker_done(uv_async_t *async)
{
    struct daemon *d = async->data;
    for (size_t i = 0; i < d->n_started; i++)
        if (!atomic_load(&d->workers[i].done))
            return;
    log_info("all sessions finished");
    close_control_handles(d);
}

static size_t worker_count(const struct config *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    unsigned n = uv_available_parallelism();
    return n > 0 ? n : 1;
}

/* Binds every worker's listeners before any thread starts, so a bad
 * address stops the start cleanly; then starts the threads. */
static int start_workers(struct daemon *d, const struct config *cfg)
{
    d->n_workers = worker_count(cfg);
    d->workers = calloc(d->n_workers, sizeof(*d->workers));
    if (!d->workers)
        return -1;
    bool shared = d->n_workers > 1;
    for (size_t i = 0; i < d->n_workers; i++)
        if (worker_prepare(&d->workers[i], cfg, i ? &d->workers[0] : NULL, shared,
                           &d->worker_done) != 0)
            return -1;
    for (; d->n_started < d->n_workers; d->n_started++)
        if (worker_start(&d->workers[d->n_started]) != 0)
            return -1;
    if (shared)
        log_info("%zu workers (one event loop each)", d->n_workers);
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
    struct daemon d = {.cfg = cfg};
    uv_loop_t *control = uv_default_loop();

    log_threshold = cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    log_info("mpconv %s starting%s%s", MPCONV_VERSION, cfg->source[0] ? " with " : "",
             cfg->source);
    if (check_mptcp(cfg->mptcp) != 0 || check_mark(cfg->mark) != 0)
        return 1;
    raise_fd_limit();
    log_upstream(cfg);

    uv_signal_init(control, &d.sigint);
    uv_signal_init(control, &d.sigterm);
    uv_async_init(control, &d.worker_done, on_worker_done);
    d.sigint.data = d.sigterm.data = d.worker_done.data = &d;
    /* Before the listeners announce themselves: a SIGTERM right after
     * "listening:" must drain, not kill. It waits until the loop runs. */
    uv_signal_start(&d.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_stop_signal, SIGTERM);
    int status = start_workers(&d, cfg) == 0 ? 0 : 1;
    if (status == 0)
        d.heal = pathheal_start(control, cfg);
    if (status != 0) {
        for (size_t i = 0; i < d.n_started; i++)
            worker_request_stop(&d.workers[i], WORKER_CLOSE_NOW);
        if (d.n_started == 0)
            close_control_handles(&d);
    }
    uv_run(control, UV_RUN_DEFAULT);
    for (size_t i = 0; i < d.n_workers; i++)
        worker_release(&d.workers[i], i < d.n_started);
    free(d.workers);
    uv_loop_close(control);
    return status;
}
