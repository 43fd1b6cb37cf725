/* One table from connect/resolve errors (libuv codes: negative errno and
 * UV_EAI_*) to what each front-end answers. */
#ifndef MPCONV_ERRMAP_H
#define MPCONV_ERRMAP_H

#include <stdint.h>

/* Dial failures that are not system errors. */
#define MPCONV_ERR_ACL (-100000) /* destination refused by policy */

uint8_t errmap_socks5_reply(int err);
int errmap_http_status(int err);
/* Short word for logs and the session summary ("refused", "timeout", ...). */
const char *errmap_reason(int err);

#endif
