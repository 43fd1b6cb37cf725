/* Dial error -> SOCKS5 reply code / HTTP status / log word. */
#include "mpconv/errmap.h"

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "mpconv/proto_http.h"
#include "mpconv/proto_socks5.h"

struct err_row {
    int err;
    uint8_t socks5;
    int http;
    const char *reason;
};

static const struct err_row rows[] = {
    {UV_ECONNREFUSED, S5_REP_REFUSED, 502, "refused"},
    {UV_ECONNRESET, S5_REP_REFUSED, 502, "reset"},
    {UV_ENETUNREACH, S5_REP_NET_UNREACHABLE, 502, "net-unreachable"},
    {UV_ENETDOWN, S5_REP_NET_UNREACHABLE, 502, "net-unreachable"},
    {UV_EHOSTUNREACH, S5_REP_HOST_UNREACHABLE, 502, "host-unreachable"},
    {UV_EHOSTDOWN, S5_REP_HOST_UNREACHABLE, 502, "host-unreachable"},
    {UV_EADDRNOTAVAIL, S5_REP_HOST_UNREACHABLE, 502, "host-unreachable"},
    {UV_ETIMEDOUT, S5_REP_TTL_EXPIRED, 504, "timeout"},
    {UV_EAI_NONAME, S5_REP_HOST_UNREACHABLE, 502, "dns-no-name"},
    {UV_EAI_NODATA, S5_REP_HOST_UNREACHABLE, 502, "dns-no-name"},
    {UV_EAI_AGAIN, S5_REP_HOST_UNREACHABLE, 502, "dns-failure"},
    {UV_EAI_FAIL, S5_REP_HOST_UNREACHABLE, 502, "dns-failure"},
    {UV_EAI_ADDRFAMILY, S5_REP_HOST_UNREACHABLE, 502, "dns-no-name"},
    {UV_EAFNOSUPPORT, S5_REP_ATYP_UNSUPPORTED, 502, "family-unsupported"},
    {UV_EACCES, S5_REP_NOT_ALLOWED, 403, "not-allowed"},
    {UV_EPERM, S5_REP_NOT_ALLOWED, 403, "not-allowed"},
    {MPCONV_ERR_ACL, S5_REP_NOT_ALLOWED, 403, "denied"},
    {MPCONV_ERR_CLIENT_DENIED, S5_REP_NOT_ALLOWED, 403, "client-denied"},
    {MPCONV_ERR_MPTCP_REQUIRED, S5_REP_GENERAL_FAILURE, 502, "mptcp-required"},
    {MPCONV_ERR_PARENT_AUTH, S5_REP_NOT_ALLOWED, 502, "parent-auth-failed"},
    {MPCONV_ERR_PARENT_PROTO, S5_REP_GENERAL_FAILURE, 502, "parent-protocol-error"},
    {MPCONV_ERR_PARENT_TLS, S5_REP_GENERAL_FAILURE, 502, "parent-tls-failed"},
};

/* Ranges that carry the parent's own answer. */
static bool parent_socks5(int err, uint8_t *rep)
{
    if (err > MPCONV_ERR_PARENT_SOCKS5(0) || err < MPCONV_ERR_PARENT_SOCKS5(255))
        return false;
    *rep = (uint8_t)(MPCONV_ERR_PARENT_SOCKS5(0) - err);
    return true;
}

static bool parent_http(int err, int *status)
{
    if (err > MPCONV_ERR_PARENT_HTTP(0) || err < MPCONV_ERR_PARENT_HTTP(999))
        return false;
    *status = MPCONV_ERR_PARENT_HTTP(0) - err;
    return true;
}

static const struct err_row fallback_row = {0, S5_REP_GENERAL_FAILURE, 502, "error"};

static const struct err_row *find_row(int err)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].err == err)
            return &rows[i];
    return &fallback_row;
}

uint8_t errmap_socks5_reply(int err)
{
    uint8_t rep;
    int status;
    if (parent_socks5(err, &rep))
        return rep;
    if (parent_http(err, &status))
        return (uint8_t)http_connect_status_to_socks5(status);
    return find_row(err)->socks5;
}

int errmap_http_status(int err)
{
    uint8_t rep;
    int status;
    if (parent_socks5(err, &rep))
        return s5_reply_to_http_status(rep);
    if (parent_http(err, &status))
        return http_connect_status_to_http(status);
    return find_row(err)->http;
}

const char *errmap_reason(int err)
{
    uint8_t rep;
    int status;
    if (parent_socks5(err, &rep) || parent_http(err, &status))
        return "parent-refused";
    return find_row(err)->reason;
}

const char *errmap_describe(int err, char *buf, size_t cap)
{
    uint8_t rep;
    int status;
    if (parent_socks5(err, &rep))
        snprintf(buf, cap, "the parent proxy could not connect (SOCKS5 reply %u)", rep);
    else if (parent_http(err, &status))
        snprintf(buf, cap, "the parent proxy could not connect (HTTP %d)", status);
    else if (err == MPCONV_ERR_PARENT_AUTH)
        snprintf(buf, cap, "the parent proxy refused mpconv's credentials");
    else if (err == MPCONV_ERR_PARENT_PROTO)
        snprintf(buf, cap, "the parent proxy sent a malformed answer");
    else if (err == MPCONV_ERR_PARENT_TLS)
        snprintf(buf, cap, "TLS to the parent proxy failed");
    else if (err == MPCONV_ERR_ACL)
        snprintf(buf, cap, "the destination is not allowed");
    else if (err == MPCONV_ERR_CLIENT_DENIED)
        snprintf(buf, cap, "this client is not allowed to use the proxy");
    else if (err == MPCONV_ERR_MPTCP_REQUIRED)
        snprintf(buf, cap, "the destination did not accept Multipath TCP, which is required for it");
    else
        snprintf(buf, cap, "%s", uv_strerror(err));
    return buf;
}
