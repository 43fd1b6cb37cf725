#include "mpconv/bufpool.h"

#include <stdlib.h>

char *bufpool_get(struct bufpool *p)
{
    char *buf = p->n_spare > 0 ? p->spare[--p->n_spare] : malloc(BUFPOOL_CHUNK);
    if (buf)
        p->in_use++;
    return buf;
}

void bufpool_put(struct bufpool *p, char *buf)
{
    p->in_use--;
    if (p->n_spare < BUFPOOL_KEEP_FREE)
        p->spare[p->n_spare++] = buf;
    else
        free(buf);
}

void bufpool_drain(struct bufpool *p)
{
    while (p->n_spare > 0)
        free(p->spare[--p->n_spare]);
}
