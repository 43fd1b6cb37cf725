/* A byte stream the relay and the front-ends read and write without knowing
 * what carries it: a plain libuv stream (stream_plain.c) or TLS over one
 * (tls.c). The operations mirror libuv's, with caller-owned requests. */
#ifndef MPCONV_STREAM_H
#define MPCONV_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

struct stream;
struct stream_req;

typedef void (*stream_alloc_cb)(struct stream *s, uv_buf_t *out);
/* nread > 0: data in buf; 0: nothing now (buf may be given back);
 * < 0: UV_EOF or an error. */
typedef void (*stream_read_cb)(struct stream *s, ssize_t nread, const uv_buf_t *buf);
typedef void (*stream_req_cb)(struct stream_req *req, int status);
/* The stream and its handle are closed; the owner may free the handle. */
typedef void (*stream_close_cb)(struct stream *s);

/* A write or shutdown in flight; owned by the caller until its callback. */
struct stream_req {
    union {
        uv_write_t write;
        uv_shutdown_t shutdown;
    } uv;
    struct stream *stream;
    stream_req_cb cb;
    void *data;
    char *owned; /* bytes the stream allocated for this request (TLS records) */
};

struct stream_ops {
    const char *name;
    int (*read_start)(struct stream *s);
    void (*read_stop)(struct stream *s);
    /* Bytes accepted now (maybe fewer than len), UV_EAGAIN for none, or an error. */
    int (*try_write)(struct stream *s, const char *buf, size_t len);
    int (*write)(struct stream *s, struct stream_req *req, const char *buf, size_t len);
    int (*shutdown)(struct stream *s, struct stream_req *req);
    void (*close)(struct stream *s, bool reset);
};

struct stream {
    const struct stream_ops *ops;
    uv_stream_t *uv; /* the connection underneath */
    void *data;      /* the owner's */
    stream_alloc_cb alloc_cb;
    stream_read_cb read_cb;
    stream_close_cb close_cb;
};

/* A plain stream over handle (TCP or pipe); handle->data is taken over. */
void stream_plain_init(struct stream *s, uv_stream_t *handle);

/* Closes a stream's handle: with reset, a TCP handle sends RST instead of
 * FIN. For stream implementations. */
void stream_close_handle(uv_stream_t *handle, bool reset, uv_close_cb cb);

/* A plain stream's bytes are the socket's: splice(2) may move them. */
bool stream_is_plain(const struct stream *s);

static inline int stream_read_start(struct stream *s, stream_alloc_cb alloc, stream_read_cb read)
{
    s->alloc_cb = alloc;
    s->read_cb = read;
    return s->ops->read_start(s);
}

static inline void stream_read_stop(struct stream *s)
{
    s->ops->read_stop(s);
}

static inline int stream_try_write(struct stream *s, const char *buf, size_t len)
{
    return s->ops->try_write(s, buf, len);
}

static inline int stream_write(struct stream *s, struct stream_req *req, const char *buf,
                               size_t len, stream_req_cb cb)
{
    req->stream = s;
    req->cb = cb;
    req->owned = NULL;
    return s->ops->write(s, req, buf, len);
}

static inline int stream_shutdown(struct stream *s, struct stream_req *req, stream_req_cb cb)
{
    req->stream = s;
    req->cb = cb;
    req->owned = NULL;
    return s->ops->shutdown(s, req);
}

/* Closes the stream and its handle (reset: RST instead of FIN, TCP only);
 * close_cb runs once both are gone. Pending requests complete first with
 * UV_ECANCELED. */
static inline void stream_close(struct stream *s, bool reset, stream_close_cb cb)
{
    s->close_cb = cb;
    s->ops->close(s, reset);
}

#endif
