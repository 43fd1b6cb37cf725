/* The daemon: checks MPTCP, binds the listeners, runs the workers until
 * SIGINT/SIGTERM; SIGHUP reloads the configuration. */
#ifndef MPCONV_DAEMON_H
#define MPCONV_DAEMON_H

#include <stddef.h>

#include "mpconv/config.h"

/* Loads the configuration again from where it came from (file and command
 * line). 0, or -1 with err set and nothing to free. */
typedef int (*daemon_loader)(void *ctx, struct config *out, char *err, size_t cap);

/* Runs with cfg (taken over). Returns the process exit status. */
int daemon_run(struct config *cfg, daemon_loader load, void *load_ctx);

#endif
