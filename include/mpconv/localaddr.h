/* The host's own addresses (getifaddrs), for the destination ACL's built-in
 * deny set: a connection to any of them reaches this host, e.g. the router's
 * web interface on its WAN address. One cache per worker, re-read when older
 * than a few seconds so a new WAN address is picked up. */
#ifndef MPCONV_LOCALADDR_H
#define MPCONV_LOCALADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "mpconv/acl.h"

#define LOCALADDR_MAX_AGE_MS 2000

struct local_addrs {
    struct acl_list list;
    uint64_t read_at_ms;
    bool read_once;
};

/* The addresses as of at most LOCALADDR_MAX_AGE_MS ago. When getifaddrs
 * fails the previous list stays (a warning is logged). */
const struct acl_list *local_addrs_get(struct local_addrs *l, uint64_t now_ms);

void local_addrs_free(struct local_addrs *l);

#endif
