#include "mpconv/pipepool.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int pipepool_get(struct pipepool *p, struct pipe_pair *out)
{
    if (p->n_spare > 0) {
        *out = p->spare[--p->n_spare];
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    int size = fcntl(fds[1], F_SETPIPE_SZ, PIPEPOOL_PIPE_SIZE);
    if (size < 0)
        size = fcntl(fds[1], F_GETPIPE_SZ);
    *out = (struct pipe_pair){
        .read_fd = fds[0], .write_fd = fds[1], .capacity = size > 0 ? (size_t)size : 4096};
    return 0;
}

void pipepool_put(struct pipepool *p, struct pipe_pair pipe, size_t bytes_left)
{
    if (bytes_left == 0 && p->n_spare < PIPEPOOL_KEEP_FREE) {
        p->spare[p->n_spare++] = pipe;
        return;
    }
    close(pipe.read_fd);
    close(pipe.write_fd);
}

void pipepool_drain(struct pipepool *p)
{
    while (p->n_spare > 0) {
        struct pipe_pair pipe = p->spare[--p->n_spare];
        close(pipe.read_fd);
        close(pipe.write_fd);
    }
}
