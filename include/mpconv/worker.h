/* A worker: one event loop in its own thread with its own listeners (the
 * workers share ports through SO_REUSEPORT), sessions, buffer and pipe pools
 * and socket factory. Nothing is shared between loops but the read-only
 * configuration generation. */
#ifndef MPCONV_WORKER_H
#define MPCONV_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "mpconv/config_gen.h"
#include "mpconv/listener.h"
#include "mpconv/session.h"

enum worker_stop { WORKER_RUN, WORKER_DRAIN, WORKER_CLOSE_NOW };

/* A new configuration for one worker: the generation (one reference) and,
 * per configured listener, a freshly opened socket, or fd -1 where the
 * worker keeps the listener it already has for that address. */
struct worker_update {
    struct config_gen *gen;
    struct listen_socket *socks; /* gen->cfg.n_listeners entries */
};

struct worker_thread {
    struct worker w; /* first: the drained hook gets &w */
    uv_loop_t loop;
    uv_async_t wake; /* the control loop asks to drain, close now, or reload */
    uv_timer_t drain_deadline;
    uv_thread_t thread;
    atomic_int stop;  /* enum worker_stop, set by the control thread */
    atomic_bool done; /* the loop has ended */
    _Atomic(struct worker_update *) update; /* waiting to be applied */
    atomic_uint gen_number;                 /* generation in use */
    uv_async_t *report; /* the control loop's: the loop ended or a reload applied */
    bool loop_ready;
    bool finishing;
};

/* Sets up the loop and serves the given sockets (taken over), in the
 * calling thread. Takes the update's generation reference. metrics: the
 * process's counters (may be NULL). */
int worker_prepare(struct worker_thread *t, struct worker_update *first, struct metrics *metrics,
                   uv_async_t *report);

/* Runs the loop in a new thread. 0 or a libuv error. */
int worker_start(struct worker_thread *t);

/* From the control thread: asks the worker to drain or to close now. */
void worker_request_stop(struct worker_thread *t, enum worker_stop level);

/* From the control thread: hands over a new configuration (u is the
 * worker's from now on). Apply one at a time: wait until gen_number shows
 * it before sending the next. */
void worker_request_update(struct worker_thread *t, struct worker_update *u);

/* Frees an update that was not applied (closes its sockets). */
void worker_update_free(struct worker_update *u);

/* After the loop ended (or when it never started): joins the thread if it
 * ran and frees what the worker holds. */
void worker_release(struct worker_thread *t, bool started);

#endif
