/* Pipes for splice(2), shared by the connections of one event loop. A pump
 * holds one only while bytes are in flight through it. */
#ifndef MPCONV_PIPEPOOL_H
#define MPCONV_PIPEPOOL_H

#include <stddef.h>

#define PIPEPOOL_KEEP_FREE 32

struct pipe_pair {
    int read_fd;
    int write_fd;
};

struct pipepool {
    struct pipe_pair spare[PIPEPOOL_KEEP_FREE];
    size_t n_spare;
    size_t capacity; /* bytes a pipe holds (F_SETPIPE_SZ), 0 until the first one */
};

/* 0, or -errno when no pipe can be made (e.g. out of descriptors). */
int pipepool_get(struct pipepool *p, struct pipe_pair *out);
/* Gives back an empty pipe (a pipe with bytes left in it is closed). */
void pipepool_put(struct pipepool *p, struct pipe_pair pipe, size_t bytes_left);
void pipepool_drain(struct pipepool *p);

#endif
