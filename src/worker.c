/* A worker thread's event loop: serve, switch configurations, drain on
 * request, end when empty. */
#include "mpconv/worker.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "mpconv/log.h"
#include "mpconv/metrics.h"

static void close_listeners(struct worker_thread *t)
{
    for (size_t i = 0; i < t->w.n_listeners; i++)
        listener_close(t->w.listeners[i]);
    t->w.n_listeners = 0;
}

/* Closes the worker's own handles; the loop ends once the sessions are gone. */
static void finish(struct worker_thread *t)
{
    if (t->finishing)
        return;
    t->finishing = true;
    close_listeners(t);
    uv_close((uv_handle_t *)&t->wake, NULL);
    uv_close((uv_handle_t *)&t->drain_deadline, NULL);
}

static void on_drained(struct worker *w)
{
    finish((struct worker_thread *)w);
}

static void on_drain_deadline(uv_timer_t *timer)
{
    struct worker_thread *t = timer->data;
    log_info("drain deadline: closing %llu sessions", (unsigned long long)t->w.active_sessions);
    worker_close_sessions(&t->w);
}

void worker_update_free(struct worker_update *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->gen->cfg.n_listeners; i++)
        listen_socket_close(&u->socks[i]);
    config_gen_unref(u->gen);
    free(u->socks);
    free(u);
}

/* The worker's listener serving the same socket as cfg, taken out of the
 * current set (NULL when there is none). */
static struct listener *take_listener(struct worker_thread *t, const struct listener_cfg *cfg)
{
    for (size_t i = 0; i < t->w.n_listeners; i++) {
        struct listener *l = t->w.listeners[i];
        if (l && listener_same_socket(l->cfg, cfg)) {
            t->w.listeners[i] = NULL;
            return l;
        }
    }
    return NULL;
}

/* Settings the loop reads on every new connection. */
static void use_generation(struct worker *w, struct config_gen *gen)
{
    struct config_gen *old = w->gen;
    w->gen = gen;
    w->cfg = &gen->cfg;
    w->sockets.mode = gen->cfg.mptcp;
    w->sockets.mark = gen->cfg.mark;
    w->dialer.connect_timeout_ms = gen->cfg.connect_timeout_ms;
    w->dialer.acl = &gen->cfg.acl; /* dials started from now on */
    config_gen_unref(old);
}

/* The counters of listener i, shared by every worker and kept across
 * reloads (found by URL). */
static struct metrics_listener *listener_metrics(struct metrics *m, const struct config *cfg,
                                                 size_t i)
{
    char label[METRICS_LABEL_MAX];
    if (!m)
        return NULL;
    metrics_listener_label(cfg, i, label);
    return metrics_listener(m, label, listener_kind_name(cfg->listeners[i].kind));
}

/* Listeners with the same socket stay open (established and queued clients
 * are not touched) and take the new settings; new ones start on the
 * sockets the control thread opened; the rest close. */
static int apply_update(struct worker_thread *t, struct worker_update *u)
{
    const struct config *cfg = &u->gen->cfg;
    struct listener **next = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*next));
    if (!next)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct listener_cfg *lc = &cfg->listeners[i];
        SSL_CTX *tls = u->gen->listener_tls[i];
        struct listener *l = u->socks[i].fd >= 0 ? listener_start(&t->w, lc, tls, &u->socks[i])
                                                 : take_listener(t, lc);
        if (!l)
            continue;
        listener_update(l, lc, tls);
        l->metrics = listener_metrics(t->w.metrics, cfg, i);
        next[n++] = l;
    }
    for (size_t i = 0; i < t->w.n_listeners; i++)
        if (t->w.listeners[i])
            listener_close(t->w.listeners[i]);
    free(t->w.listeners);
    t->w.listeners = next;
    t->w.n_listeners = n;
    use_generation(&t->w, u->gen);
    u->gen = NULL;
    return 0;
}

/* The generation went to the worker; only the wrapping is left. */
static void free_applied(struct worker_update *u)
{
    free(u->socks);
    free(u);
}

static void take_update(struct worker_thread *t)
{
    struct worker_update *u = atomic_exchange(&t->update, NULL);
    if (!u)
        return;
    unsigned number = u->gen->number;
    if (t->w.draining || apply_update(t, u) != 0) {
        if (!t->w.draining)
            log_error("reload: out of memory; worker keeps the previous configuration");
        worker_update_free(u);
        number = t->w.gen->number;
    } else {
        free_applied(u);
    }
    atomic_store(&t->gen_number, number);
    uv_async_send(t->report);
}

static void on_wake(uv_async_t *async)
{
    struct worker_thread *t = async->data;
    int level = atomic_load(&t->stop);
    if (level == WORKER_RUN) {
        take_update(t);
        return;
    }
    if (!t->w.draining) {
        t->w.draining = true;
        t->w.on_drained = on_drained;
        close_listeners(t); /* no new connections */
        if (t->w.active_sessions == 0) {
            finish(t);
            return;
        }
        uv_timer_start(&t->drain_deadline, on_drain_deadline, t->w.cfg->drain_timeout_ms, 0);
    }
    if (level >= WORKER_CLOSE_NOW)
        worker_close_sessions(&t->w);
}

int worker_prepare(struct worker_thread *t, struct worker_update *first, struct metrics *metrics,
                   uv_async_t *report)
{
    memset(t, 0, sizeof(*t));
    if (uv_loop_init(&t->loop) != 0) {
        worker_update_free(first);
        return -1;
    }
    t->loop_ready = true;
    uv_async_init(&t->loop, &t->wake, on_wake);
    uv_timer_init(&t->loop, &t->drain_deadline);
    t->wake.data = t->drain_deadline.data = t;
    t->report = report;
    atomic_init(&t->stop, WORKER_RUN);
    atomic_init(&t->done, false);
    atomic_init(&t->update, NULL);
    atomic_init(&t->gen_number, first->gen->number);
    t->w.loop = &t->loop;
    struct rlimit nofile;
    t->w.fd_limit = getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? nofile.rlim_cur : UINT32_MAX;
    t->w.metrics = metrics;
    t->w.dialer = (struct dialer){.loop = &t->loop, .sockets = &t->w.sockets, .metrics = metrics,
                                  .local = &t->w.local_addrs};
    sock_factory_init(&t->w.sockets, first->gen->cfg.mptcp, first->gen->cfg.mark);
    size_t wanted = first->gen->cfg.n_listeners;
    if (apply_update(t, first) != 0) {
        worker_update_free(first);
        return -1;
    }
    free_applied(first);
    return t->w.n_listeners == wanted ? 0 : -1; /* a failed listener was logged */
}

static void run(void *arg)
{
    struct worker_thread *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    atomic_store(&t->done, true);
    uv_async_send(t->report);
}

int worker_start(struct worker_thread *t)
{
    return uv_thread_create(&t->thread, run, t);
}

void worker_request_stop(struct worker_thread *t, enum worker_stop level)
{
    atomic_store(&t->stop, level);
    uv_async_send(&t->wake);
}

void worker_request_update(struct worker_thread *t, struct worker_update *u)
{
    worker_update_free(atomic_exchange(&t->update, u));
    uv_async_send(&t->wake);
}

void worker_release(struct worker_thread *t, bool started)
{
    if (!t->loop_ready)
        return;
    if (started)
        uv_thread_join(&t->thread);
    finish(t); /* a worker that never ran still has its handles open */
    uv_run(&t->loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&t->loop);
    free(t->w.listeners);
    worker_update_free(atomic_exchange(&t->update, NULL));
    config_gen_unref(t->w.gen);
    bufpool_drain(&t->w.pool);
    pipepool_drain(&t->w.pipes);
    local_addrs_free(&t->w.local_addrs);
}
