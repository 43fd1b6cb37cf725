/* Proxy auto-config (PAC) files: the JavaScript a browser fetches from
 * http://HOST:PORT/proxy.pac to learn which proxies to use. Pure. */
#ifndef MPCONV_PAC_H
#define MPCONV_PAC_H

#include <stdbool.h>
#include <stddef.h>

#include "mpconv/proto_http.h"

enum pac_kind { PAC_SOCKS5, PAC_HTTP, PAC_HTTPS };

struct pac_proxy {
    enum pac_kind kind;
    char hostport[80]; /* "192.0.2.1:1080" or "[2001:db8::1]:1080" */
};

/* Whether an origin-form request target asks for the PAC file:
 * "/proxy.pac" or "/wpad.dat", with or without a query. */
bool pac_is_request(struct http_slice target);

/* Writes the PAC file trying proxies in order (plain host names, *.local,
 * *.lan and private, loopback and link-local IP literals go DIRECT: the
 * proxy would refuse those destinations). Returns the length, 0 when cap is
 * too small. */
size_t pac_render(const struct pac_proxy *proxies, size_t n, char *out, size_t cap);

#endif
