/* A session: one client connection from accept to the summary line.
 * Front-ends (SOCKS5, HTTP) drive the handshake through front_ops; the
 * session owns the handles, the timer, the dial, the relay and the single
 * close path (count open handles, free at zero). */
#ifndef MPCONV_SESSION_H
#define MPCONV_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "mpconv/bufpool.h"
#include "mpconv/config.h"
#include "mpconv/config_gen.h"
#include "mpconv/dial.h"
#include "mpconv/proto_http.h"
#include "mpconv/relay.h"
#include "mpconv/sock.h"
#include "mpconv/stream.h"
#include "mpconv/target.h"

/* Everything one event loop serves with. */
struct worker {
    uv_loop_t *loop;
    struct config_gen *gen;   /* the configuration new sessions start with */
    const struct config *cfg; /* &gen->cfg */
    struct sock_factory sockets;
    struct local_addrs local_addrs; /* for the destination ACL */
    struct dialer dialer;
    struct bufpool pool;
    struct pipepool pipes;
    struct listener **listeners; /* open ones (the PAC file names them) */
    size_t n_listeners;
    uint64_t fd_limit; /* RLIMIT_NOFILE: warn when accepted descriptors near it */
    struct metrics *metrics; /* the process's counters; may be NULL */
    uint64_t active_sessions;
    uint64_t peak_sessions;   /* since memory was last given back */
    struct session *sessions; /* every live session, for shutdown */
    /* Called when the last session is freed while draining (may be NULL). */
    void (*on_drained)(struct worker *w);
    bool draining;
};

/* Closes every session now (reason "shutdown"); they free themselves. */
void worker_close_sessions(struct worker *w);

struct session;
struct listener;

struct front_ops {
    const char *name;
    /* The client is connected (and its TLS handshake done); NULL: read the
     * client's request (session_read_client). */
    void (*on_start)(struct session *s);
    /* New bytes arrived in the handshake buffer (s->hs, s->hs_len). */
    void (*on_data)(struct session *s);
    /* The dial finished: status 0 (s->upstream is connected) or an error. */
    void (*on_dialed)(struct session *s, int status);
    /* A framed pump finished its message (HTTP forwarding only). */
    void (*on_message_end)(struct session *s, struct pump *p);
    /* Frees front-specific memory; the session is closing. */
    void (*release)(struct session *s);
};

enum session_state {
    SESSION_HANDSHAKE, /* reading the client's request */
    SESSION_DIALING,
    SESSION_RELAYING,
    SESSION_CLOSING,
};

/* HTTP forwarding state (absolute-URI requests), kept per request. */
struct http_forward {
    struct http_body request_body;
    struct http_body response_body;
    char *response_head; /* upstream bytes until the response head is complete */
    size_t response_len;
    char *next_request; /* pipelined bytes that followed the request body */
    size_t next_len;
    bool request_done;
    bool response_done;
    bool client_keep_alive;
    bool response_keep_alive;
    bool head_request;
    char *upstream_head; /* rewritten request head, until the dial finishes */
    size_t upstream_head_len;
};

struct session {
    struct session *prev; /* in worker->sessions */
    struct session *next;
    uint64_t id;
    struct worker *worker;
    struct listener *listener;        /* holds it open until the session ends */
    struct config_gen *gen;           /* the configuration the session started with */
    const struct listener_cfg *lcfg;  /* the listener's settings in gen */
    struct metrics_listener *listener_metrics; /* outlives the listener (reloads) */
    const struct front_ops *front;
    enum session_state state;
    uv_tcp_t client_tcp;
    struct stream client_plain;
    struct stream *client;   /* client_plain, or TLS over client_tcp */
    uv_tcp_t *upstream_tcp;  /* from the dialer, once connected */
    struct stream upstream_plain;
    struct stream *upstream; /* upstream_plain, or TLS over upstream_tcp */
    uv_timer_t timer;   /* handshake deadline, then idle checks */
    struct dial *dial;
    struct hop_chain *hops; /* parent proxy steps in progress */
    char *upstream_early;   /* bytes the parent sent after its answer */
    size_t upstream_early_len;
    struct relay relay;
    bool relay_started;
    bool connected;     /* an upstream connection was made */
    bool reset_client;   /* close the client with RST (the upstream aborted) */
    bool reset_upstream; /* close the upstream with RST (the client aborted) */
    bool client_mptcp;   /* the client connected with MPTCP (MPTCP listeners) */
    bool subflows_sampled; /* subflow counts read for this upstream connection */
    bool client_denied;  /* not on the client allow-list: answered "not allowed", never dialled */
    unsigned client_subflows;
    int open_handles;
    uint64_t bytes_up;  /* totals of relays already finished (HTTP keep-alive) */
    uint64_t bytes_down;

    char *hs; /* handshake bytes received and not yet consumed */
    size_t hs_len;
    size_t hs_cap;
    int phase; /* front-specific handshake phase */

    struct mp_target *target; /* while the request is handled; freed in the tunnel */
    char *target_text;        /* "host:port" for the summary, once dialled */
    enum mptcp_state mptcp;
    unsigned subflows;
    uint64_t start_ms;
    uint64_t requests; /* HTTP requests served on this connection */
    const char *close_reason;
    char client_addr[64];
    struct http_forward *http;
};

extern const struct front_ops front_socks5;
extern const struct front_ops front_http;
extern const struct front_ops front_mixed;
extern const struct front_ops front_redirect;
extern const struct front_ops front_tproxy;
extern const struct front_ops front_forward;

/* Accepts one client from the listener's socket into a new session. */
void session_accept(struct worker *w, struct listener *l, uv_stream_t *server);

/* Handshake helpers for front-ends. */
void session_consume(struct session *s, size_t n);   /* drop n handshake bytes */
void session_read_client(struct session *s);          /* (re)start handshake reads */
/* Connects to s->target (or the parent proxy that will), unless the client
 * or the target is denied: then on_dialed gets the error at once. */
void session_dial(struct session *s);
/* Writes data (copied) to the client; then closes with reason when
 * close_after, or does nothing more. */
void session_reply(struct session *s, const void *data, size_t len, bool close_after,
                   const char *reason);
/* Sets up the relay between client and upstream and the idle timer; the
 * caller starts the pumps (HTTP forwarding frames them). */
void session_begin_relay(struct session *s);
/* Starts relaying both ways; early bytes go upstream first. */
void session_start_tunnel(struct session *s, const char *early, size_t early_len);
void session_close(struct session *s, const char *reason);
/* Sends FIN to the client, drains its input for a bounded time, then closes
 * (closing with unread input would send RST and could destroy the answer). */
void session_close_gracefully(struct session *s, const char *reason);
/* Replaces s->client's reader for the next request of a kept-alive
 * connection: closes the upstream and returns to SESSION_HANDSHAKE. */
void session_reset_for_next_request(struct session *s);

/* True when user/pass match one of the listener's users (constant time). */
bool session_check_user(const struct session *s, const char *user, size_t user_len,
                        const char *pass, size_t pass_len);
bool session_needs_auth(const struct session *s);

#endif
