/* The hops after the connection to a parent proxy: a list of small steps
 * run in order over the upstream stream, e.g. [TLS, SOCKS5 CONNECT] or
 * [HTTP CONNECT]. A direct upstream has no hops. */
#ifndef MPCONV_HOP_H
#define MPCONV_HOP_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "mpconv/config.h"
#include "mpconv/stream.h"
#include "mpconv/target.h"

/* status 0: the tunnel to the target is open; early holds bytes the parent
 * already sent through it (len may be 0; the owner takes the malloc'ed
 * buffer). Otherwise an error for errmap (MPCONV_ERR_PARENT_*, or a socket
 * error). Never called from inside hop_chain_start. */
typedef void (*hop_done_cb)(void *owner, int status, char *early, size_t early_len);

struct hop_chain;

/* Runs the hops of up over *stream to target. When a step wraps the stream
 * (TLS), *stream is replaced, so the owner always closes the right one.
 * tls_ctx is the client context for TLS parents. NULL when out of memory. */
struct hop_chain *hop_chain_start(const struct upstream_cfg *up, SSL_CTX *tls_ctx,
                                  struct stream **stream, const struct mp_target *target,
                                  hop_done_cb cb, void *owner);

/* Abandons a chain whose callback has not run; the owner then closes
 * *stream as usual. */
void hop_chain_cancel(struct hop_chain *c);

#endif
