/* Listener and upstream URLs:
 *   scheme://[USER:PASS@]HOST:PORT[/PATH][?key=value&key=value]
 * USER and PASS are percent-decoded; HOST may be [v6]. Pure parsing. */
#ifndef MPCONV_URL_H
#define MPCONV_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "mpconv/target.h"

#define URL_SCHEME_MAX 15
#define URL_CRED_MAX 255
#define URL_PARAM_MAX 16
#define URL_PARAM_KEY_MAX 31
#define URL_PARAM_VALUE_MAX 1023
#define URL_PATH_MAX 511

struct url_param {
    char key[URL_PARAM_KEY_MAX + 1];
    char value[URL_PARAM_VALUE_MAX + 1]; /* percent-decoded */
};

struct proxy_url {
    char scheme[URL_SCHEME_MAX + 1]; /* lower-cased */
    bool has_userinfo;
    char user[URL_CRED_MAX + 1]; /* percent-decoded, non-empty when has_userinfo */
    char pass[URL_CRED_MAX + 1]; /* percent-decoded, may be empty */
    bool has_host;               /* false for "direct" (no "://") */
    struct mp_target host;       /* port required when has_host */
    char path[URL_PATH_MAX + 1]; /* after the port, without '/', e.g. forward targets; "" if none */
    size_t n_params;
    struct url_param params[URL_PARAM_MAX];
};

/* Parses s. A bare word without "://" (e.g. "direct") yields just the scheme.
 * On failure returns -1 and writes a human-readable reason (no password in
 * it) into err. */
int url_parse(const char *s, struct proxy_url *out, char *err, size_t err_cap);

/* "host:port" or "[v6]:port" (a URL's authority without userinfo); the port
 * is required and may be 0. Returns 0, or -1 with the reason in err. */
int url_parse_host_port(const char *s, size_t len, struct mp_target *t, char *err, size_t cap);

/* Value of a query parameter, or NULL. */
const char *url_param(const struct proxy_url *u, const char *key);

/* "scheme://user@host:port" with the password replaced by "***", for logs. */
void url_format_redacted(const struct proxy_url *u, char *out, size_t cap);

#endif
