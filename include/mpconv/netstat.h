/* /proc/net/netstat (and /proc/net/snmp): pairs of lines, "Table: name
 * name ..." then "Table: value value ...". A pure reader over the file's
 * text, for the MPTcpExt counters `mpconv check` explains. */
#ifndef MPCONV_NETSTAT_H
#define MPCONV_NETSTAT_H

#include <stddef.h>
#include <stdint.h>

/* The value of counter name in table (e.g. "MPTcpExt", "Blackhole").
 * Returns 0, or -1 when the table or counter is absent or the value is not
 * a number (older kernels lack newer counters). */
int netstat_get(const char *text, size_t len, const char *table, const char *name, uint64_t *value);

#endif
