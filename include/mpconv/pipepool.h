/* Pipes for splice(2), shared by the connections of one event loop. A pump
 * holds one only while bytes are in flight through it. */
#ifndef MPCONV_PIPEPOOL_H
#define MPCONV_PIPEPOOL_H

#include <stddef.h>

#define PIPEPOOL_KEEP_FREE 32
/* Bytes one pipe is asked to hold (the default fs.pipe-max-size): a 1 MiB
 * splice costs ~30 % less CPU per byte than 128 KiB ones (docs/architecture.md). */
#define PIPEPOOL_PIPE_SIZE (1024 * 1024)

struct pipe_pair {
    int read_fd;
    int write_fd;
    size_t capacity; /* what the kernel granted: less for unprivileged users
                      * past fs.pipe-user-pages-soft or a lower pipe-max-size */
};

struct pipepool {
    struct pipe_pair spare[PIPEPOOL_KEEP_FREE];
    size_t n_spare;
};

/* 0, or -errno when no pipe can be made (e.g. out of descriptors). */
int pipepool_get(struct pipepool *p, struct pipe_pair *out);
/* Gives back an empty pipe (a pipe with bytes left in it is closed). */
void pipepool_put(struct pipepool *p, struct pipe_pair pipe, size_t bytes_left);
void pipepool_drain(struct pipepool *p);

#endif
