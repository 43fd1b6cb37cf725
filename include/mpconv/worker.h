/* A worker: one event loop in its own thread with its own listeners (the
 * workers share ports through SO_REUSEPORT), sessions, buffer and pipe pools,
 * socket factory and TLS contexts. Nothing is shared between loops but the
 * read-only configuration. */
#ifndef MPCONV_WORKER_H
#define MPCONV_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/listener.h"
#include "mpconv/session.h"

enum worker_stop { WORKER_RUN, WORKER_DRAIN, WORKER_CLOSE_NOW };

struct worker_thread {
    struct worker w; /* first: the drained hook gets &w */
    uv_loop_t loop;
    struct listener *listeners;
    size_t n_listeners;
    uv_async_t wake; /* the control loop asks to drain, or to close now */
    uv_timer_t drain_deadline;
    uv_thread_t thread;
    atomic_int stop;  /* enum worker_stop, set by the control thread */
    atomic_bool done; /* the loop has ended */
    uv_async_t *report_done; /* the control loop's */
    bool loop_ready;
    bool finishing;
};

/* Sets up the loop and binds the listeners, in the calling thread, so bind
 * errors stop the start. first: the worker whose addresses (and ephemeral
 * ports) the others share; NULL for the first. reuseport when several.
 * metrics: the process's counters (may be NULL). */
int worker_prepare(struct worker_thread *t, const struct config *cfg, struct metrics *metrics,
                   const struct worker_thread *first, bool reuseport, uv_async_t *report_done);

/* Runs the loop in a new thread. 0 or a libuv error. */
int worker_start(struct worker_thread *t);

/* From the control thread: asks the worker to drain or to close now. */
void worker_request_stop(struct worker_thread *t, enum worker_stop level);

/* After the loop ended (or when it never started): joins the thread if it
 * ran and frees what the worker holds. */
void worker_release(struct worker_thread *t, bool started);

#endif
