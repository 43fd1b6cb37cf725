/* Error messages for the caller's buffer: parsers report "what is wrong"
 * into char err[cap] and return -1, so one line does both. */
#ifndef MPCONV_ERRBUF_H
#define MPCONV_ERRBUF_H

#include <stddef.h>

int errbuf_fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
