/* LAN listeners: bind, listen, log the bound address, accept into sessions. */
#ifndef MPCONV_LISTENER_H
#define MPCONV_LISTENER_H

#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/session.h"

struct listener {
    uv_tcp_t tcp;
    struct worker *worker;
    const struct listener_cfg *cfg;
    const struct front_ops *front;
};

/* Binds and listens; logs "listening: KIND://ADDR:PORT". 0 or a libuv error
 * (already logged). */
int listener_start(struct listener *l, struct worker *w, const struct listener_cfg *cfg);

void listener_close(struct listener *l);

#endif
