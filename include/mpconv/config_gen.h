/* A configuration generation: one loaded configuration plus what is built
 * from it once for every worker (TLS contexts). SIGHUP makes a new one;
 * workers switch to it, and every session keeps the generation it started
 * with until it ends, so a reload never changes a connection midway.
 * Reference-counted across threads. */
#ifndef MPCONV_CONFIG_GEN_H
#define MPCONV_CONFIG_GEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "mpconv/config.h"

struct config_gen {
    atomic_uint refs;
    unsigned number;        /* 1 at start, +1 per reload, for logs */
    struct config cfg;
    SSL_CTX *upstream_tls;  /* client context for a TLS parent, else NULL */
    SSL_CTX **listener_tls; /* per cfg.listeners[i]: server context, or NULL */
};

/* Takes over *cfg (emptied on success) and builds the TLS contexts. NULL
 * with err set when a certificate, key or CA file is unusable. */
struct config_gen *config_gen_new(struct config *cfg, unsigned number, char *err, size_t cap);

struct config_gen *config_gen_ref(struct config_gen *g);
/* Frees the generation when the last reference goes (any thread). */
void config_gen_unref(struct config_gen *g);

#endif
