/* The PAC file on HTTP listeners: which of this worker's listeners a client
 * that reached us at a given local address can use. */
#ifndef MPCONV_FRONT_PAC_H
#define MPCONV_FRONT_PAC_H

#include <stdbool.h>

#include "mpconv/proto_http.h"
#include "mpconv/session.h"

/* Answers GET/HEAD /proxy.pac (and /wpad.dat) when [http] pac is on and
 * returns true; false when req is not such a request. */
bool front_pac_answer(struct session *s, const struct http_head *req);

#endif
