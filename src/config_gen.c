/* Configuration generations (see config_gen.h). */
#include "mpconv/config_gen.h"

#include <stdlib.h>
#include <string.h>

#include "mpconv/errbuf.h"
#include "mpconv/tls.h"

static void free_gen(struct config_gen *g)
{
    for (size_t i = 0; g->listener_tls && i < g->cfg.n_listeners; i++)
        SSL_CTX_free(g->listener_tls[i]);
    free(g->listener_tls);
    SSL_CTX_free(g->upstream_tls);
    config_free(&g->cfg);
    free(g);
}

static int build_tls(struct config_gen *g, char *err, size_t cap)
{
    const struct config *c = &g->cfg;
    char why[512];
    if (c->upstream.tls &&
        !(g->upstream_tls = tls_client_ctx_new(c->upstream.ca_file, why, sizeof(why))))
        return errbuf_fail(err, cap, "upstream: %s", why);
    g->listener_tls = calloc(c->n_listeners ? c->n_listeners : 1, sizeof(*g->listener_tls));
    if (!g->listener_tls)
        return errbuf_fail(err, cap, "out of memory");
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct listener_cfg *l = &c->listeners[i];
        if (l->tls && !(g->listener_tls[i] = tls_server_ctx_new(l->cert_file, l->key_file, why,
                                                                sizeof(why))))
            return errbuf_fail(err, cap, "cannot listen on %s+tls://%s:%u: %s",
                               listener_kind_name(l->kind), l->url.host.host, l->url.host.port,
                               why);
    }
    return 0;
}

struct config_gen *config_gen_new(struct config *cfg, unsigned number, char *err, size_t cap)
{
    struct config_gen *g = calloc(1, sizeof(*g));
    if (!g) {
        errbuf_fail(err, cap, "out of memory");
        return NULL;
    }
    atomic_init(&g->refs, 1);
    g->number = number;
    g->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    if (build_tls(g, err, cap) != 0) {
        free_gen(g);
        return NULL;
    }
    return g;
}

struct config_gen *config_gen_ref(struct config_gen *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void config_gen_unref(struct config_gen *g)
{
    if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
        free_gen(g);
}
