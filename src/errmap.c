/* Dial error -> SOCKS5 reply code / HTTP status / log word. */
#include "mpconv/errmap.h"

#include <uv.h>

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
    {MPCONV_ERR_ACL, S5_REP_NOT_ALLOWED, 403, "acl"},
};

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
    return find_row(err)->socks5;
}

int errmap_http_status(int err)
{
    return find_row(err)->http;
}

const char *errmap_reason(int err)
{
    return find_row(err)->reason;
}
