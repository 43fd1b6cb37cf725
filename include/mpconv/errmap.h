/* One table from connect/resolve errors (libuv codes: negative errno and
 * UV_EAI_*) to what each front-end answers. */
#ifndef MPCONV_ERRMAP_H
#define MPCONV_ERRMAP_H

#include <stddef.h>
#include <stdint.h>

/* Dial failures that are not system errors. */
#define MPCONV_ERR_ACL (-100000)           /* every address of the destination refused by the ACL */
#define MPCONV_ERR_PARENT_AUTH (-100001)   /* the parent refused our method or credentials */
#define MPCONV_ERR_PARENT_PROTO (-100002)  /* the parent's answer was malformed */
#define MPCONV_ERR_PARENT_TLS (-100003)    /* TLS to the parent failed (e.g. certificate) */
#define MPCONV_ERR_MPTCP_REQUIRED (-100004) /* [acl] require_mptcp, but the connection fell back to TCP */
#define MPCONV_ERR_CLIENT_DENIED (-100005) /* the client's address is not on the listener's allow-list */
/* The parent answered with a refusal: its SOCKS5 reply code or HTTP status. */
#define MPCONV_ERR_PARENT_SOCKS5(rep) (-200000 - (int)(rep))
#define MPCONV_ERR_PARENT_HTTP(status) (-300000 - (int)(status))

uint8_t errmap_socks5_reply(int err);
int errmap_http_status(int err);
/* Short word for logs and the session summary ("refused", "timeout", ...). */
const char *errmap_reason(int err);
/* A sentence for people (HTTP error bodies, debug logs); returns buf. */
const char *errmap_describe(int err, char *buf, size_t cap);

#endif
