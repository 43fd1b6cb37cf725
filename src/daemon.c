/* Start-up checks, the control loop: reload on SIGHUP, drain on SIGTERM. */
#include "mpconv/daemon.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mpconv/listener.h"
#include "mpconv/log.h"
#include "mpconv/metrics.h"
#include "mpconv/metrics_http.h"
#include "mpconv/pathheal.h"
#include "mpconv/session.h"
#include "mpconv/sock.h"
#include "mpconv/worker.h"

/* The control loop: signals, word from the workers (a configuration
 * applied, a loop ended), and the metrics endpoint. */
struct daemon {
    struct config_gen *gen; /* the newest generation */
    struct metrics *metrics; /* the process's counters, whatever the config */
    struct metrics_http metrics_http;
    daemon_loader load;
    void *load_ctx;
    struct worker_thread *workers;
    size_t n_workers;
    size_t n_started;
    enum worker_stop stop;
    unsigned applying;   /* generation the workers are switching to, 0 = none */
    bool reload_again;   /* SIGHUP arrived while applying */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    uv_async_t report;
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
                 strsignal(signum), d->gen->cfg.drain_timeout_ms / 1000.0);
    else
        log_info("%s again: closing all sessions now", strsignal(signum));
    for (size_t i = 0; i < d->n_started; i++)
        worker_request_stop(&d->workers[i], d->stop);
}

static void close_control_handles(struct daemon *d)
{
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    uv_close((uv_handle_t *)&d->report, NULL);
    metrics_http_close(&d->metrics_http);
    pathheal_stop(d->heal);
    d->heal = NULL;
    /* Closing restored the default actions: a signal during the last
     * clean-up must not turn a clean exit into a kill. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
}

static size_t worker_count(const struct config *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    unsigned n = uv_available_parallelism();
    return n > 0 ? n : 1;
}

/* Claims prev's listener on cfg's socket, if there is an unclaimed one. */
static bool claim_listener(const struct config *prev, bool *claimed,
                           const struct listener_cfg *cfg)
{
    for (size_t i = 0; prev && i < prev->n_listeners; i++)
        if (!claimed[i] && listener_same_socket(&prev->listeners[i], cfg)) {
            claimed[i] = true;
            return true;
        }
    return false;
}

static void free_updates(struct worker_update **u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        worker_update_free(u[i]);
    free(u);
}

static struct worker_update *new_update(struct config_gen *gen)
{
    struct worker_update *u = calloc(1, sizeof(*u));
    size_t n = gen->cfg.n_listeners;
    if (u && !(u->socks = calloc(n ? n : 1, sizeof(*u->socks)))) {
        free(u);
        u = NULL;
    }
    if (!u)
        return NULL;
    for (size_t i = 0; i < n; i++)
        u->socks[i].fd = -1;
    u->gen = config_gen_ref(gen);
    return u;
}

/* Opens listener i for every worker: the first binds (choosing the port when
 * it is 0), the others share its address. */
static int open_listener(struct daemon *d, struct worker_update **u, size_t i)
{
    const struct config *cfg = &u[0]->gen->cfg;
    const struct listener_cfg *lc = &cfg->listeners[i];
    bool shared = d->n_workers > 1;
    for (size_t w = 0; w < d->n_workers; w++) {
        int err = listen_socket_open(lc, cfg->mptcp, w ? &u[0]->socks[i].bound : NULL, shared,
                                     &u[w]->socks[i]);
        if (err != 0) {
            log_error("cannot listen on %s://%s:%u: %s", lc->url.scheme, lc->url.host.host,
                      lc->url.host.port, uv_strerror(err));
            return -1;
        }
    }
    return 0;
}

/* One update per worker for gen: sockets for the listeners prev does not
 * have (claimed[i]: prev's listener i stays). NULL when a socket cannot be
 * opened (logged). */
static struct worker_update **open_updates(struct daemon *d, struct config_gen *gen,
                                           const struct config *prev, bool *claimed)
{
    struct worker_update **u = calloc(d->n_workers, sizeof(*u));
    for (size_t w = 0; u && w < d->n_workers; w++)
        if (!(u[w] = new_update(gen))) {
            free_updates(u, d->n_workers);
            return NULL;
        }
    for (size_t i = 0; u && i < gen->cfg.n_listeners; i++)
        if (!claim_listener(prev, claimed, &gen->cfg.listeners[i]) &&
            open_listener(d, u, i) != 0) {
            free_updates(u, d->n_workers);
            return NULL;
        }
    for (size_t i = 0; u && i < gen->cfg.n_listeners; i++)
        if (u[0]->socks[i].fd >= 0)
            listen_socket_announce(&gen->cfg.listeners[i], &u[0]->socks[i]);
    return u;
}

/* Binds every worker's listeners before any thread starts, so a bad
 * address stops the start cleanly; then starts the threads. */
static int start_workers(struct daemon *d)
{
    d->n_workers = worker_count(&d->gen->cfg);
    d->workers = calloc(d->n_workers, sizeof(*d->workers));
    struct worker_update **u = d->workers ? open_updates(d, d->gen, NULL, NULL) : NULL;
    if (!u)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < d->n_workers && rc == 0; i++) {
        rc = worker_prepare(&d->workers[i], u[i], d->metrics, &d->report);
        u[i] = NULL; /* the worker's now, even when it failed */
    }
    free_updates(u, d->n_workers);
    metrics_set_workers(d->metrics, (unsigned)d->n_workers);
    for (; rc == 0 && d->n_started < d->n_workers; d->n_started++)
        rc = worker_start(&d->workers[d->n_started]);
    if (rc == 0 && d->n_workers > 1)
        log_info("%zu workers (one event loop each)", d->n_workers);
    return rc;
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

/* What a reload cannot change, or must check like a start would. */
static int check_reload(const struct daemon *d, const struct config *next)
{
    const struct config *cur = &d->gen->cfg;
    if (next->workers != cur->workers)
        log_warn("reload: workers = %u needs a restart; keeping %zu", next->workers,
                 d->n_workers);
    if (next->metrics.port != cur->metrics.port ||
        strcmp(next->metrics.host, cur->metrics.host) != 0)
        log_warn("reload: a new metrics address needs a restart; keeping %s:%u",
                 cur->metrics.host, cur->metrics.port);
    if (next->mptcp != cur->mptcp && check_mptcp(next->mptcp) != 0)
        return -1;
    return next->mark != cur->mark ? check_mark(next->mark) : 0;
}

static void log_closed_listeners(const struct config *cur, const bool *claimed)
{
    for (size_t i = 0; i < cur->n_listeners; i++)
        if (!claimed[i])
            log_info("reload: closing %s://%s:%u (its sessions continue)",
                     cur->listeners[i].url.scheme, cur->listeners[i].url.host.host,
                     cur->listeners[i].url.host.port);
}

/* The next generation and every worker's sockets for it; NULL (logged)
 * when something in it cannot work. */
static struct worker_update **prepare_reload(struct daemon *d, struct config *next,
                                             bool *claimed)
{
    char err[1024];
    if (check_reload(d, next) != 0) {
        config_free(next);
        return NULL;
    }
    struct config_gen *gen = config_gen_new(next, d->gen->number + 1, err, sizeof(err));
    if (!gen) {
        log_error("%s", err);
        return NULL;
    }
    struct worker_update **u = open_updates(d, gen, &d->gen->cfg, claimed);
    config_gen_unref(gen); /* the updates hold it */
    return u;
}

/* SIGHUP: load the configuration again from the same sources. Anything
 * wrong with it leaves the running one untouched. */
static void reload(struct daemon *d)
{
    char err[1024];
    struct config next;
    if (d->applying) {
        d->reload_again = true;
        return;
    }
    bool *claimed = calloc(d->gen->cfg.n_listeners + 1, sizeof(*claimed));
    if (!claimed || d->load(d->load_ctx, &next, err, sizeof(err)) != 0) {
        free(claimed);
        log_error("reload rejected, configuration %u stays: %s", d->gen->number,
                  claimed ? err : "out of memory");
        return;
    }
    struct worker_update **u = prepare_reload(d, &next, claimed);
    if (!u) {
        free(claimed);
        log_error("reload rejected, configuration %u stays", d->gen->number);
        return;
    }
    log_closed_listeners(&d->gen->cfg, claimed);
    free(claimed);
    pathheal_stop(d->heal); /* it reads the configuration it started with */
    config_gen_unref(d->gen);
    d->gen = config_gen_ref(u[0]->gen);
    d->heal = pathheal_start(uv_default_loop(), &d->gen->cfg);
    d->applying = d->gen->number;
    atomic_store_explicit(&log_threshold, d->gen->cfg.log_level, memory_order_relaxed);
    for (size_t i = 0; i < d->n_started; i++)
        worker_request_update(&d->workers[i], u[i]);
    free(u);
    log_upstream(&d->gen->cfg);
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    (void)signum;
    struct daemon *d = sig->data;
    if (d->stop == WORKER_RUN)
        reload(d);
}

static bool workers_switched(const struct daemon *d)
{
    for (size_t i = 0; i < d->n_started; i++)
        if (atomic_load(&d->workers[i].gen_number) != d->applying)
            return false;
    return true;
}

static void on_report(uv_async_t *async)
{
    struct daemon *d = async->data;
    if (d->applying && workers_switched(d)) {
        log_info("reloaded: configuration %u in use", d->applying);
        d->applying = 0;
        if (d->reload_again) {
            d->reload_again = false;
            reload(d);
        }
    }
    for (size_t i = 0; i < d->n_started; i++)
        if (!atomic_load(&d->workers[i].done))
            return;
    if (d->stop != WORKER_RUN) {
        log_info("all sessions finished");
        close_control_handles(d);
    }
}

static void start_signals(struct daemon *d, uv_loop_t *control)
{
    uv_signal_init(control, &d->sigint);
    uv_signal_init(control, &d->sigterm);
    uv_signal_init(control, &d->sighup);
    uv_async_init(control, &d->report, on_report);
    d->sigint.data = d->sigterm.data = d->sighup.data = d->report.data = d;
    uv_signal_start(&d->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&d->sighup, on_sighup, SIGHUP);
}

/* Off unless configured; bound before the workers, so a bad address stops
 * the start before any client is served. */
static int start_metrics(struct daemon *d, uv_loop_t *loop, const struct config *cfg)
{
    if (!cfg->metrics.host[0])
        return 0;
    return metrics_http_start(&d->metrics_http, loop, d->metrics, &cfg->metrics);
}

int daemon_run(struct config *cfg, daemon_loader load, void *load_ctx)
{
    char err[1024];
    struct metrics metrics;
    struct daemon d = {.load = load, .load_ctx = load_ctx, .metrics = &metrics};
    uv_loop_t *control = uv_default_loop();

    log_threshold = cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    log_info("mpconv %s starting%s%s", MPCONV_VERSION, cfg->source[0] ? " with " : "",
             cfg->source);
    if (check_mptcp(cfg->mptcp) != 0 || check_mark(cfg->mark) != 0) {
        config_free(cfg);
        return 1;
    }
    if (!(d.gen = config_gen_new(cfg, 1, err, sizeof(err)))) {
        log_error("%s", err);
        return 1;
    }
    if (metrics_init(&metrics) != 0) {
        log_error("cannot set up the metrics registry");
        config_gen_unref(d.gen);
        return 1;
    }
    raise_fd_limit();
    log_upstream(&d.gen->cfg);

    /* Before the listeners announce themselves: a SIGTERM right after
     * "listening:" must drain, not kill. It waits until the loop runs. */
    start_signals(&d, control);
    int status = start_metrics(&d, control, &d.gen->cfg) == 0 && start_workers(&d) == 0 ? 0 : 1;
    if (status == 0)
        d.heal = pathheal_start(control, &d.gen->cfg);
    if (status != 0) {
        d.stop = WORKER_CLOSE_NOW;
        for (size_t i = 0; i < d.n_started; i++)
            worker_request_stop(&d.workers[i], WORKER_CLOSE_NOW);
        if (d.n_started == 0)
            close_control_handles(&d);
    }
    uv_run(control, UV_RUN_DEFAULT);
    for (size_t i = 0; i < d.n_workers; i++)
        worker_release(&d.workers[i], i < d.n_started);
    free(d.workers);
    config_gen_unref(d.gen);
    uv_loop_close(control);
    metrics_free(&metrics);
    return status;
}
