/* The relay: two pumps, client->upstream and upstream->client, written once.
 * A pump reads into a pooled buffer and writes it on; while a write is
 * pending it stops reading its source (backpressure: at most one buffer per
 * direction). Between two plain sockets it splices instead (zero copy) and
 * falls back to the buffer only when the destination is full. EOF is passed on as a shutdown once queued data is written;
 * the relay is finished when both directions have been shut down. */
#ifndef MPCONV_RELAY_H
#define MPCONV_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "mpconv/bufpool.h"
#include "mpconv/pipepool.h"
#include "mpconv/stream.h"

struct relay;
struct pump;

/* Optional per-pump message framing (HTTP forwarding): given received bytes,
 * returns how many belong to the current message (or -1 for a protocol
 * error) and sets *done at the message's end. The pump forwards that many
 * bytes, stops reading, and reports on_message_end once they are written.
 * The filter keeps whatever follows (e.g. a pipelined request) itself. */
typedef ssize_t (*pump_filter_fn)(struct pump *p, const char *buf, size_t len, bool *done);

struct pump {
    struct relay *relay;
    struct stream *src;
    struct stream *dst;
    pump_filter_fn filter;
    char *buf;          /* pooled buffer while reading or writing, else NULL */
    size_t pending;     /* bytes of buf in the pending write */
    uint64_t bytes;     /* bytes written to dst */
    bool active;        /* started and not stopped */
    bool writing;
    bool eof;           /* src said EOF */
    bool shut;          /* dst shut down (write side closed) */
    bool message_ended; /* the filter reported the end of a message */
    bool has_pipe;      /* splice: a pipe from the pool while bytes are in it */
    struct pipe_pair pipe;
    size_t in_pipe;
    uint32_t splice_want; /* bytes the next splice(2) from src asks for */
};

struct relay_events {
    /* Both directions reached EOF and were shut down. */
    void (*finished)(struct relay *r);
    /* A read or write failed (err < 0); from_client says on which side. */
    void (*failed)(struct relay *r, int err, bool client_side);
    /* A filtered pump wrote the last byte of its message. */
    void (*message_end)(struct relay *r, struct pump *p);
    /* A source said EOF; nothing has been shut down for it yet (optional). */
    void (*eof)(struct relay *r, struct pump *p);
};

struct relay {
    struct pump up;   /* client -> upstream */
    struct pump down; /* upstream -> client */
    struct bufpool *pool;
    struct pipepool *pipes; /* NULL: always copy */
    const struct relay_events *events;
    uint64_t last_active_ms; /* for the idle timeout */
    bool failed;
};

/* The first splice(2) from a source asks for this much. */
#define RELAY_SPLICE_FIRST (16 * 1024)

/* How much the next splice(2) from a source asks for, after one that asked
 * for `asked` and got `got` bytes into a pipe of `capacity`: twice as much
 * after a full read (up to capacity), else about twice what came (whole
 * pages, at least RELAY_SPLICE_FIRST). */
size_t relay_next_splice_request(size_t asked, size_t got, size_t capacity);

/* Sets up both pumps; no I/O yet. With pipes, pumps between two plain
 * streams move bytes with splice(2) instead of copying them. */
void relay_init(struct relay *r, struct bufpool *pool, struct pipepool *pipes,
                const struct relay_events *events, struct stream *client,
                struct stream *upstream);

/* Starts a pump, first writing initial (len bytes, copied; may be 0). With
 * whole_message the pump reads nothing more and reports message_end once
 * initial is written. Takes over the source stream's data pointer.
 * Returns 0 or a libuv error. */
int pump_start(struct pump *p, const char *initial, size_t len, bool whole_message);

/* Stops reading (a pending write still completes). */
void pump_stop(struct pump *p);

/* Releases buffers; call once before the streams are closed. Requests
 * still in flight complete (cancelled) without reporting to the events. */
void relay_release(struct relay *r);

#endif
