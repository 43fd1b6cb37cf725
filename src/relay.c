/* The pump loop: read -> (filter) -> try_write, else queue the write and
 * stop reading until it completes. */
#include "mpconv/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpconv/log.h"

#define SPLICE_ROUNDS 16 /* per readiness callback, so one tunnel cannot starve the loop */

static void pump_read_on(struct pump *p);
static void resume_pipe(struct pump *p);

/* where: the stream whose read or write failed. */
static void pump_fail(struct pump *p, int err, const struct stream *where)
{
    struct relay *r = p->relay;
    if (r->failed)
        return;
    r->failed = true;
    pump_stop(&r->up);
    pump_stop(&r->down);
    r->events->failed(r, err, where == r->up.src);
}

static void release_buf(struct pump *p)
{
    if (p->buf && !p->writing) {
        bufpool_put(p->relay->pool, p->buf);
        p->buf = NULL;
    }
}

static void on_shutdown(struct stream_req *req, int status)
{
    struct pump *p = req->data;
    struct relay *r = p->relay;
    free(req);
    (void)status; /* a peer that already closed needs no FIN from us */
    p->shut = true;
    if (!r->failed && r->up.shut && r->down.shut)
        r->events->finished(r);
}

/* Requests are allocated when needed: an idle tunnel holds none. */
static struct stream_req *new_req(struct pump *p)
{
    struct stream_req *req = malloc(sizeof(*req));
    if (req)
        req->data = p;
    return req;
}

static void pass_on_eof(struct pump *p)
{
    struct stream_req *req = new_req(p);
    int err = req ? stream_shutdown(p->dst, req, on_shutdown) : UV_ENOMEM;
    if (err != 0) {
        free(req);
        pump_fail(p, err, p->dst);
    }
}

/* After the bytes of a message or a chunk are out: continue, end the
 * message, or pass EOF on. */
static void after_write(struct pump *p)
{
    if (p->message_ended) {
        release_buf(p);
        p->active = false;
        p->relay->events->message_end(p->relay, p);
    } else if (p->eof) {
        release_buf(p);
        pass_on_eof(p);
    } else if (p->active && p->in_pipe > 0) {
        resume_pipe(p);
    } else if (p->active) {
        pump_read_on(p);
    }
}

static void on_written(struct stream_req *req, int status)
{
    struct pump *p = req->data;
    free(req);
    p->writing = false;
    if (status < 0) {
        release_buf(p);
        pump_fail(p, status, p->dst);
        return;
    }
    p->bytes += p->pending;
    p->pending = 0;
    release_buf(p);
    if (!p->relay->failed)
        after_write(p);
}

/* Writes buf[0..len) of p->buf; returns 0 or a libuv error. */
static int forward(struct pump *p, const char *data, size_t len)
{
    int n = stream_try_write(p->dst, data, len);
    if (n == (int)len) {
        p->bytes += len;
        return 0;
    }
    if (n < 0 && n != UV_EAGAIN)
        return n;
    size_t done = n > 0 ? (size_t)n : 0;
    p->bytes += done;
    p->pending = len - done;
    struct stream_req *req = new_req(p);
    int err = req ? stream_write(p->dst, req, data + done, len - done, on_written) : UV_ENOMEM;
    if (err != 0) {
        free(req);
        return err;
    }
    p->writing = true;
    stream_read_stop(p->src);
    return 0;
}

static void on_alloc(struct stream *s, uv_buf_t *out)
{
    struct pump *p = s->data;
    if (!p->buf)
        p->buf = bufpool_get(p->relay->pool);
    *out = uv_buf_init(p->buf, p->buf ? BUFPOOL_CHUNK : 0);
}

static void on_read(struct stream *s, ssize_t nread, const uv_buf_t *b)
{
    struct pump *p = s->data;
    (void)b;
    if (nread == 0) { /* EAGAIN: give the buffer back while idle */
        release_buf(p);
        return;
    }
    if (nread < 0) {
        release_buf(p);
        stream_read_stop(s);
        if (nread == UV_EOF) {
            p->eof = true;
            if (p->relay->events->eof)
                p->relay->events->eof(p->relay, p);
            if (!p->writing)
                pass_on_eof(p);
        } else {
            pump_fail(p, (int)nread, p->src);
        }
        return;
    }
    p->relay->last_active_ms = uv_now(s->uv->loop);
    size_t len = (size_t)nread;
    if (p->filter) {
        bool done = false;
        ssize_t keep = p->filter(p, p->buf, len, &done);
        if (keep < 0) {
            pump_fail(p, UV_EPROTO, p->src);
            return;
        }
        len = (size_t)keep;
        if (done) {
            p->message_ended = true;
            stream_read_stop(s);
        }
    }
    int err = len > 0 ? forward(p, p->buf, len) : 0;
    if (err != 0) {
        pump_fail(p, err, p->dst);
        return;
    }
    if (!p->writing && p->message_ended)
        after_write(p);
}

/* --- splice: socket -> pipe -> socket, no copy through user space --- */

static bool splice_unsupported; /* the kernel refused it once: copy from then on */

static bool can_splice(const struct pump *p)
{
    return p->relay->pipes && !p->filter && !splice_unsupported && stream_is_plain(p->src) &&
           stream_is_plain(p->dst);
}

static void give_back_pipe(struct pump *p)
{
    if (!p->has_pipe)
        return;
    pipepool_put(p->relay->pipes, p->pipe, p->in_pipe);
    p->has_pipe = false;
    p->in_pipe = 0;
}

/* The destination is full: move up to a buffer's worth of the pipe into a
 * buffer and let the queued write wait for the destination (backpressure as
 * when copying). The rest stays in the pipe until that write completes. */
static int drain_pipe_into_buffer(struct pump *p)
{
    if (!p->buf && !(p->buf = bufpool_get(p->relay->pool)))
        return UV_ENOMEM;
    size_t len = p->in_pipe < BUFPOOL_CHUNK ? p->in_pipe : BUFPOOL_CHUNK;
    ssize_t n = read(p->pipe.read_fd, p->buf, len);
    if (n != (ssize_t)len)
        return UV_EIO;
    p->in_pipe -= len;
    if (p->in_pipe == 0)
        give_back_pipe(p);
    int err = forward(p, p->buf, len);
    if (err == 0 && !p->writing)
        release_buf(p);
    return err;
}

/* Moves the pipe's bytes on to dst. True when the pipe is empty; false when
 * the rest waits behind a queued write, or the relay failed. */
static bool empty_pipe(struct pump *p, int dst)
{
    while (p->in_pipe > 0) {
        ssize_t out = splice(p->pipe.read_fd, NULL, dst, NULL, p->in_pipe,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (out < 0 && errno != EAGAIN) {
            pump_fail(p, uv_translate_sys_error(errno), p->dst);
            return false;
        }
        if (out > 0) {
            p->in_pipe -= (size_t)out;
            p->bytes += (uint64_t)out;
        }
        if (p->in_pipe == 0)
            break;
        int err = drain_pipe_into_buffer(p);
        if (err != 0) {
            pump_fail(p, err, p->dst);
            return false;
        }
        if (p->writing)
            return false;
    }
    return true;
}

/* A queued write of pipe bytes completed: the rest of the pipe goes first. */
static void resume_pipe(struct pump *p)
{
    int dst;
    uv_fileno((uv_handle_t *)p->dst->uv, &dst);
    if (empty_pipe(p, dst)) {
        give_back_pipe(p);
        pump_read_on(p);
    }
}

static void splice_eof(struct pump *p)
{
    p->eof = true;
    stream_read_stop(p->src);
    give_back_pipe(p);
    if (p->relay->events->eof)
        p->relay->events->eof(p->relay, p);
    pass_on_eof(p);
}

static void stop_splicing(struct pump *p)
{
    splice_unsupported = true;
    log_warn("splice(2) is not supported here (%s): relaying by copy", strerror(errno));
    give_back_pipe(p);
    pump_read_on(p);
}

/* Why not always ask for a pipeful: MPTCP sockets have no splice_read of
 * their own, and the kernel's fallback (copy_splice_read) allocates a page
 * for every 4 KiB asked for, copies into them and frees the pages it did not
 * fill. Asking for 1 MiB to move a 64-byte answer cost more than the rest of
 * a short connection's relaying. Requests that follow what arrives keep
 * small messages cheap, and a bulk transfer is back at a pipeful a read
 * after a few full reads. */
size_t relay_next_splice_request(size_t asked, size_t got, size_t capacity)
{
    size_t next;
    if (got >= asked)
        next = asked * 2;
    else
        next = (got * 2 + 4095) & ~(size_t)4095;
    if (next < RELAY_SPLICE_FIRST)
        next = RELAY_SPLICE_FIRST;
    return next < capacity ? next : capacity;
}

static void splice_some(struct pump *p)
{
    int src, dst;
    uv_fileno((uv_handle_t *)p->src->uv, &src);
    uv_fileno((uv_handle_t *)p->dst->uv, &dst);
    for (int round = 0; round < SPLICE_ROUNDS; round++) {
        int err = p->has_pipe ? 0 : pipepool_get(p->relay->pipes, &p->pipe);
        if (err != 0) {
            pump_fail(p, uv_translate_sys_error(-err), p->src);
            return;
        }
        p->has_pipe = true;
        size_t want = p->splice_want < p->pipe.capacity ? p->splice_want : p->pipe.capacity;
        ssize_t in = splice(src, NULL, p->pipe.write_fd, NULL, want,
                            SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (in < 0 && errno == EAGAIN) {
            give_back_pipe(p); /* empty: nothing to hold while idle */
            return;
        }
        if (in < 0 && errno == EINVAL) {
            stop_splicing(p);
            return;
        }
        if (in <= 0) {
            if (in == 0)
                splice_eof(p);
            else
                pump_fail(p, uv_translate_sys_error(errno), p->src);
            return;
        }
        p->relay->last_active_ms = uv_now(p->src->uv->loop);
        p->in_pipe = (size_t)in;
        p->splice_want = (uint32_t)relay_next_splice_request(want, (size_t)in, p->pipe.capacity);
        if (!empty_pipe(p, dst))
            return;
        /* Less than asked for: the socket is most likely empty, and the
         * level-triggered poll calls again if not; skip the EAGAIN call. */
        if ((size_t)in < want) {
            give_back_pipe(p);
            return;
        }
    }
}

/* A zero-length buffer makes libuv report readiness (UV_ENOBUFS) without
 * reading: the socket's bytes stay for splice. */
static void on_alloc_nothing(struct stream *s, uv_buf_t *out)
{
    (void)s;
    *out = uv_buf_init(NULL, 0);
}

static void on_readable(struct stream *s, ssize_t nread, const uv_buf_t *b)
{
    if (nread == UV_ENOBUFS)
        splice_some(s->data);
    else
        on_read(s, nread, b);
}

static void pump_read_on(struct pump *p)
{
    int err = can_splice(p) ? stream_read_start(p->src, on_alloc_nothing, on_readable)
                            : stream_read_start(p->src, on_alloc, on_read);
    if (err != 0)
        pump_fail(p, err, p->src);
}

void relay_init(struct relay *r, struct bufpool *pool, struct pipepool *pipes,
                const struct relay_events *events, struct stream *client,
                struct stream *upstream)
{
    memset(r, 0, sizeof(*r));
    r->pool = pool;
    r->pipes = pipes;
    r->events = events;
    r->up = (struct pump){
        .relay = r, .src = client, .dst = upstream, .splice_want = RELAY_SPLICE_FIRST};
    r->down = (struct pump){
        .relay = r, .src = upstream, .dst = client, .splice_want = RELAY_SPLICE_FIRST};
    r->last_active_ms = uv_now(client->uv->loop);
}

int pump_start(struct pump *p, const char *initial, size_t len, bool whole_message)
{
    p->active = true;
    p->message_ended = whole_message;
    p->src->data = p;
    if (len == 0 && whole_message) {
        after_write(p);
        return 0;
    }
    if (len == 0) {
        pump_read_on(p);
        return 0;
    }
    if (len > BUFPOOL_CHUNK)
        return UV_E2BIG;
    if (!p->buf && !(p->buf = bufpool_get(p->relay->pool)))
        return UV_ENOMEM;
    memmove(p->buf, initial, len);
    int err = forward(p, p->buf, len);
    if (err == 0 && !p->writing)
        after_write(p);
    return err;
}

void pump_stop(struct pump *p)
{
    p->active = false;
    stream_read_stop(p->src);
}

void relay_release(struct relay *r)
{
    r->failed = true; /* callbacks of cancelled writes must not report */
    r->up.writing = r->down.writing = false; /* closing the streams cancels pending writes */
    release_buf(&r->up);
    release_buf(&r->down);
    give_back_pipe(&r->up);
    give_back_pipe(&r->down);
}
