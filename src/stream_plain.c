/* The plain stream: libuv calls passed straight through. */
#include "mpconv/stream.h"

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    struct stream *s = h->data;
    (void)suggested;
    s->alloc_cb(s, out);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    struct stream *s = h->data;
    s->read_cb(s, nread, buf);
}

static int plain_read_start(struct stream *s)
{
    return uv_read_start(s->uv, on_alloc, on_read);
}

static void plain_read_stop(struct stream *s)
{
    uv_read_stop(s->uv);
}

static int plain_try_write(struct stream *s, const char *buf, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    return uv_try_write(s->uv, &b, 1);
}

static void on_written(uv_write_t *w, int status)
{
    struct stream_req *req = w->data;
    req->cb(req, status);
}

static int plain_write(struct stream *s, struct stream_req *req, const char *buf, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    req->uv.write.data = req;
    return uv_write(&req->uv.write, s->uv, &b, 1, on_written);
}

static void on_shutdown(uv_shutdown_t *sh, int status)
{
    struct stream_req *req = sh->data;
    req->cb(req, status);
}

static int plain_shutdown(struct stream *s, struct stream_req *req)
{
    req->uv.shutdown.data = req;
    return uv_shutdown(&req->uv.shutdown, s->uv, on_shutdown);
}

static void on_closed(uv_handle_t *h)
{
    struct stream *s = h->data;
    if (s->close_cb)
        s->close_cb(s);
}

void stream_close_handle(uv_stream_t *handle, bool reset, uv_close_cb cb)
{
    if (reset && handle->type == UV_TCP && uv_tcp_close_reset((uv_tcp_t *)handle, cb) == 0)
        return;
    uv_close((uv_handle_t *)handle, cb);
}

static void plain_close(struct stream *s, bool reset)
{
    if (!uv_is_closing((uv_handle_t *)s->uv))
        stream_close_handle(s->uv, reset, on_closed);
}

static const struct stream_ops plain_ops = {
    .name = "tcp",
    .read_start = plain_read_start,
    .read_stop = plain_read_stop,
    .try_write = plain_try_write,
    .write = plain_write,
    .shutdown = plain_shutdown,
    .close = plain_close,
};

void stream_plain_init(struct stream *s, uv_stream_t *handle)
{
    *s = (struct stream){.ops = &plain_ops, .uv = handle};
    handle->data = s;
}

bool stream_is_plain(const struct stream *s)
{
    return s->ops == &plain_ops;
}
