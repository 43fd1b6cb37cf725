/* The daemon: checks MPTCP, binds the listeners, runs the event loop until
 * SIGINT/SIGTERM. */
#ifndef MPCONV_DAEMON_H
#define MPCONV_DAEMON_H

#include "mpconv/config.h"

/* Returns the process exit status. */
int daemon_run(const struct config *cfg);

#endif
