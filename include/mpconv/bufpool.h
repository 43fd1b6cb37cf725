/* Fixed-size relay buffers shared by the connections of one event loop. An
 * idle connection holds none; a moving one holds at most one per direction. */
#ifndef MPCONV_BUFPOOL_H
#define MPCONV_BUFPOOL_H

#include <stddef.h>

#define BUFPOOL_CHUNK (128 * 1024) /* large reads: small ones starve MPTCP (docs/relay.md) */
#define BUFPOOL_KEEP_FREE 32       /* spare chunks kept for reuse */

struct bufpool {
    char *spare[BUFPOOL_KEEP_FREE];
    size_t n_spare;
    size_t in_use;
};

char *bufpool_get(struct bufpool *p); /* NULL when out of memory */
void bufpool_put(struct bufpool *p, char *buf);
void bufpool_drain(struct bufpool *p); /* frees the spares */

#endif
