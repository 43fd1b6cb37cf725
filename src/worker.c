/* A worker thread's event loop: serve, drain on request, end when empty. */
#include "mpconv/worker.h"

#include <stdlib.h>
#include <string.h>

#include "mpconv/log.h"
#include "mpconv/tls.h"

static void close_listeners(struct worker_thread *t)
{
    for (size_t i = 0; i < t->n_listeners; i++)
        listener_close(&t->listeners[i]);
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

static void on_wake(uv_async_t *async)
{
    struct worker_thread *t = async->data;
    int level = atomic_load(&t->stop);
    if (level >= WORKER_DRAIN && !t->w.draining) {
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

static int init_worker(struct worker *w, uv_loop_t *loop, const struct config *cfg)
{
    char err[512];
    w->loop = loop;
    w->cfg = cfg;
    if (cfg->upstream.tls &&
        !(w->upstream_tls = tls_client_ctx_new(cfg->upstream.ca_file, err, sizeof(err)))) {
        log_error("upstream: %s", err);
        return -1;
    }
    sock_factory_init(&w->sockets, cfg->mptcp, cfg->mark);
    w->dialer = (struct dialer){.loop = loop, .sockets = &w->sockets,
                                .connect_timeout_ms = cfg->connect_timeout_ms,
                                .acl = &cfg->acl, .local = &w->local_addrs};
    return 0;
}

static int start_listeners(struct worker_thread *t, const struct config *cfg,
                           const struct worker_thread *first, bool reuseport)
{
    t->listeners = calloc(cfg->n_listeners, sizeof(*t->listeners));
    if (!t->listeners)
        return -1;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        struct listen_options opt = {.same_as = first ? &first->listeners[i].bound : NULL,
                                     .reuseport = reuseport, .announce = !first};
        t->n_listeners++;
        if (listener_start(&t->listeners[i], &t->w, &cfg->listeners[i], &opt) != 0)
            return -1;
    }
    return 0;
}

int worker_prepare(struct worker_thread *t, const struct config *cfg,
                   const struct worker_thread *first, bool reuseport, uv_async_t *report_done)
{
    memset(t, 0, sizeof(*t));
    if (uv_loop_init(&t->loop) != 0)
        return -1;
    t->loop_ready = true;
    uv_async_init(&t->loop, &t->wake, on_wake);
    uv_timer_init(&t->loop, &t->drain_deadline);
    t->wake.data = t->drain_deadline.data = t;
    t->report_done = report_done;
    atomic_init(&t->stop, WORKER_RUN);
    atomic_init(&t->done, false);
    if (init_worker(&t->w, &t->loop, cfg) != 0)
        return -1;
    return start_listeners(t, cfg, first, reuseport);
}

static void run(void *arg)
{
    struct worker_thread *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    atomic_store(&t->done, true);
    uv_async_send(t->report_done);
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

void worker_release(struct worker_thread *t, bool started)
{
    if (!t->loop_ready)
        return;
    if (started)
        uv_thread_join(&t->thread);
    finish(t); /* a worker that never ran still has its handles open */
    uv_run(&t->loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(&t->loop);
    free(t->listeners);
    bufpool_drain(&t->w.pool);
    pipepool_drain(&t->w.pipes);
    local_addrs_free(&t->w.local_addrs);
    SSL_CTX_free(t->w.upstream_tls);
}
