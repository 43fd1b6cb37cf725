/* Proxy auto-config files (see pac.h). */
#include "mpconv/pac.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char pac_head[] =
    "// mpconv: proxies of this host, most capable first\n"
    "function FindProxyForURL(url, host) {\n"
    "  if (isPlainHostName(host) || dnsDomainIs(host, \".local\") || dnsDomainIs(host, \".lan\"))\n"
    "    return \"DIRECT\";\n"
    "  if (/^[0-9.]+$/.test(host) && (isInNet(host, \"10.0.0.0\", \"255.0.0.0\") ||\n"
    "      isInNet(host, \"172.16.0.0\", \"255.240.0.0\") ||\n"
    "      isInNet(host, \"192.168.0.0\", \"255.255.0.0\") ||\n"
    "      isInNet(host, \"127.0.0.0\", \"255.0.0.0\") ||\n"
    "      isInNet(host, \"169.254.0.0\", \"255.255.0.0\")))\n"
    "    return \"DIRECT\";\n"
    "  if (/^\\[?(::1|f[cd]|fe80:)/i.test(host))\n"
    "    return \"DIRECT\";\n"
    "  return \"";

static const char *const keywords[] = {[PAC_SOCKS5] = "SOCKS5", [PAC_HTTP] = "PROXY",
                                       [PAC_HTTPS] = "HTTPS"};

bool pac_is_request(struct http_slice target)
{
    struct http_slice path = http_target_path(target);
    return http_slice_is(path, "/proxy.pac") || http_slice_is(path, "/wpad.dat");
}

/* Appends to out at *len; false when it does not fit. */
static bool append(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return false;
    *len += (size_t)n;
    return true;
}

size_t pac_render(const struct pac_proxy *proxies, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0 || !append(out, cap, &len, "%s", pac_head))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!append(out, cap, &len, "%s%s %s", i ? "; " : "", keywords[proxies[i].kind],
                    proxies[i].hostport))
            return 0;
    if (!append(out, cap, &len, "%s\";\n}\n", n ? "" : "DIRECT"))
        return 0;
    return len;
}
