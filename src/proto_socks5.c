/* SOCKS5 (RFC 1928) and username/password (RFC 1929) parsing and encoding. */
#include "mpconv/proto_socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <string.h>

#define S5_CRED_MAX 255 /* RFC 1929 field limit; also the longest configured credential */

enum s5_status s5_parse_greeting(const uint8_t *buf, size_t len, struct s5_greeting *out,
                                 size_t *consumed)
{
    *consumed = 0;
    if (len >= 1 && buf[0] != S5_VERSION)
        return S5_ERROR;
    if (len < 2 || len < 2 + (size_t)buf[1])
        return S5_NEED_MORE;

    size_t nmethods = buf[1];
    out->offers_no_auth = false;
    out->offers_userpass = false;
    for (size_t i = 0; i < nmethods; i++) {
        if (buf[2 + i] == S5_METHOD_NO_AUTH)
            out->offers_no_auth = true;
        else if (buf[2 + i] == S5_METHOD_USERPASS)
            out->offers_userpass = true;
    }
    *consumed = 2 + nmethods;
    return S5_DONE;
}

/* Copies a length-prefixed RFC 1929 field; fails on an embedded NUL. */
static bool copy_field(char dst[256], uint8_t *dst_len, const uint8_t *src, uint8_t n)
{
    if (memchr(src, '\0', n))
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    *dst_len = n;
    return true;
}

enum s5_status s5_parse_userpass(const uint8_t *buf, size_t len, struct s5_userpass *out,
                                 size_t *consumed)
{
    *consumed = 0;
    if (len >= 1 && buf[0] != S5_AUTH_VERSION)
        return S5_ERROR;
    if (len >= 2 && buf[1] == 0)
        return S5_ERROR;
    if (len < 2)
        return S5_NEED_MORE;

    uint8_t ulen = buf[1];
    size_t plen_at = 2 + (size_t)ulen;
    if (len <= plen_at)
        return S5_NEED_MORE;
    uint8_t plen = buf[plen_at];
    size_t total = plen_at + 1 + plen;
    if (len < total)
        return S5_NEED_MORE;

    if (!copy_field(out->user, &out->user_len, buf + 2, ulen) ||
        !copy_field(out->pass, &out->pass_len, buf + plen_at + 1, plen))
        return S5_ERROR;
    *consumed = total;
    return S5_DONE;
}

/* Fills the target from DST.ADDR (addr_len bytes) and the DST.PORT after it. */
static bool request_target(struct mp_target *t, uint8_t atyp, const uint8_t *addr, size_t addr_len)
{
    uint16_t port = (uint16_t)(addr[addr_len] << 8 | addr[addr_len + 1]);
    if (port == 0)
        return false;
    if (atyp == S5_ATYP_DOMAIN)
        return target_set(t, (const char *)addr, addr_len, port) == 0;

    char text[INET6_ADDRSTRLEN];
    int family = atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6;
    if (!inet_ntop(family, addr, text, sizeof(text)))
        return false;
    return target_set(t, text, strlen(text), port) == 0;
}

enum s5_status s5_parse_request(const uint8_t *buf, size_t len, struct s5_request *out,
                                size_t *consumed, uint8_t *reply)
{
    *consumed = 0;
    *reply = S5_REP_SUCCEEDED;
    if (len >= 1 && buf[0] != S5_VERSION) {
        *reply = S5_REP_GENERAL_FAILURE;
        return S5_ERROR;
    }
    if (len >= 2 && buf[1] != S5_CMD_CONNECT) {
        *reply = S5_REP_CMD_UNSUPPORTED;
        return S5_ERROR;
    }
    if (len < 4)
        return S5_NEED_MORE;

    uint8_t atyp = buf[3];
    size_t addr_at = 4, addr_len;
    switch (atyp) {
    case S5_ATYP_IPV4:
        addr_len = 4;
        break;
    case S5_ATYP_IPV6:
        addr_len = 16;
        break;
    case S5_ATYP_DOMAIN:
        if (len < 5)
            return S5_NEED_MORE;
        addr_at = 5;
        addr_len = buf[4];
        if (addr_len == 0) {
            *reply = S5_REP_GENERAL_FAILURE;
            return S5_ERROR;
        }
        break;
    default:
        *reply = S5_REP_ATYP_UNSUPPORTED;
        return S5_ERROR;
    }
    size_t total = addr_at + addr_len + 2;
    if (len < total)
        return S5_NEED_MORE;

    out->cmd = buf[1];
    if (!request_target(&out->target, atyp, buf + addr_at, addr_len)) {
        *reply = S5_REP_GENERAL_FAILURE;
        return S5_ERROR;
    }
    *consumed = total;
    return S5_DONE;
}

size_t s5_encode_method(uint8_t out[2], uint8_t method)
{
    out[0] = S5_VERSION;
    out[1] = method;
    return 2;
}

size_t s5_encode_auth_status(uint8_t out[2], bool ok)
{
    out[0] = S5_AUTH_VERSION;
    out[1] = ok ? 0x00 : 0x01;
    return 2;
}

size_t s5_encode_reply(uint8_t *out, uint8_t reply, const struct sockaddr *bound)
{
    out[0] = S5_VERSION;
    out[1] = reply;
    out[2] = 0x00;
    if (bound && bound->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)bound;
        out[3] = S5_ATYP_IPV6;
        memcpy(out + 4, &sin6->sin6_addr, 16);
        memcpy(out + 20, &sin6->sin6_port, 2); /* both already in network order */
        return 22;
    }
    out[3] = S5_ATYP_IPV4;
    if (bound && bound->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)bound;
        memcpy(out + 4, &sin->sin_addr, 4);
        memcpy(out + 8, &sin->sin_port, 2);
    } else {
        memset(out + 4, 0, 6);
    }
    return 10;
}

bool s5_credentials_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen > S5_CRED_MAX || blen > S5_CRED_MAX)
        return false;
    /* Zero-padded to a fixed size so the comparison time depends on neither
     * the contents nor where they differ. */
    unsigned char pa[S5_CRED_MAX] = {0}, pb[S5_CRED_MAX] = {0};
    if (alen)
        memcpy(pa, a, alen);
    if (blen)
        memcpy(pb, b, blen);
    int differ = CRYPTO_memcmp(pa, pb, sizeof(pa)) | (alen != blen);
    OPENSSL_cleanse(pa, sizeof(pa));
    OPENSSL_cleanse(pb, sizeof(pb));
    return differ == 0;
}

/* ---- client side ---- */

size_t s5_client_greeting(uint8_t *out, size_t cap, bool with_userpass)
{
    if (cap < 3)
        return 0;
    out[0] = S5_VERSION;
    out[1] = 1;
    out[2] = with_userpass ? S5_METHOD_USERPASS : S5_METHOD_NO_AUTH;
    return 3;
}

/* Two-byte answers: VER then one value. */
static enum s5_status parse_pair(const uint8_t *buf, size_t len, uint8_t version, uint8_t *value,
                                 size_t *consumed)
{
    *consumed = 0;
    if (len >= 1 && buf[0] != version)
        return S5_ERROR;
    if (len < 2)
        return S5_NEED_MORE;
    *value = buf[1];
    *consumed = 2;
    return S5_DONE;
}

enum s5_status s5_client_parse_method(const uint8_t *buf, size_t len, uint8_t *method,
                                      size_t *consumed)
{
    return parse_pair(buf, len, S5_VERSION, method, consumed);
}

size_t s5_client_userpass(uint8_t *out, size_t cap, const char *user, const char *pass)
{
    size_t ulen = strlen(user), plen = strlen(pass);
    size_t total = 3 + ulen + plen;
    if (ulen == 0 || ulen > S5_CRED_MAX || plen > S5_CRED_MAX || cap < total)
        return 0;
    out[0] = S5_AUTH_VERSION;
    out[1] = (uint8_t)ulen;
    memcpy(out + 2, user, ulen);
    out[2 + ulen] = (uint8_t)plen;
    memcpy(out + 3 + ulen, pass, plen);
    return total;
}

enum s5_status s5_client_parse_auth(const uint8_t *buf, size_t len, bool *ok, size_t *consumed)
{
    uint8_t status = 0;
    enum s5_status st = parse_pair(buf, len, S5_AUTH_VERSION, &status, consumed);
    if (st == S5_DONE)
        *ok = status == 0x00;
    return st;
}

/* ATYP and DST.ADDR for t; returns the address length (0 if it cannot be sent). */
static size_t target_address(const struct mp_target *t, uint8_t *atyp, const uint8_t **addr)
{
    switch (t->kind) {
    case TARGET_IPV4:
        *atyp = S5_ATYP_IPV4;
        *addr = (const uint8_t *)&((const struct sockaddr_in *)&t->addr)->sin_addr;
        return 4;
    case TARGET_IPV6:
        *atyp = S5_ATYP_IPV6;
        *addr = (const uint8_t *)&((const struct sockaddr_in6 *)&t->addr)->sin6_addr;
        return 16;
    case TARGET_NAME:
        break;
    }
    *atyp = S5_ATYP_DOMAIN;
    *addr = (const uint8_t *)t->host;
    return strlen(t->host);
}

size_t s5_client_connect(uint8_t *out, size_t cap, const struct mp_target *t)
{
    uint8_t atyp;
    const uint8_t *addr;
    size_t addr_len = target_address(t, &atyp, &addr);
    size_t pos = atyp == S5_ATYP_DOMAIN ? 5 : 4;
    if (addr_len == 0 || cap < pos + addr_len + 2)
        return 0;
    out[0] = S5_VERSION;
    out[1] = S5_CMD_CONNECT;
    out[2] = 0x00;
    out[3] = atyp;
    if (atyp == S5_ATYP_DOMAIN)
        out[4] = (uint8_t)addr_len;
    memcpy(out + pos, addr, addr_len);
    pos += addr_len;
    out[pos++] = (uint8_t)(t->port >> 8);
    out[pos++] = (uint8_t)t->port;
    return pos;
}

enum s5_status s5_client_parse_reply(const uint8_t *buf, size_t len, uint8_t *rep,
                                     size_t *consumed)
{
    *consumed = 0;
    if (len >= 1 && buf[0] != S5_VERSION)
        return S5_ERROR;
    if (len < 4)
        return S5_NEED_MORE;

    size_t addr_end;
    switch (buf[3]) {
    case S5_ATYP_IPV4:
        addr_end = 4 + 4;
        break;
    case S5_ATYP_IPV6:
        addr_end = 4 + 16;
        break;
    case S5_ATYP_DOMAIN:
        if (len < 5)
            return S5_NEED_MORE;
        addr_end = 5 + (size_t)buf[4];
        break;
    default:
        return S5_ERROR;
    }
    if (len < addr_end + 2)
        return S5_NEED_MORE;
    *rep = buf[1];
    *consumed = addr_end + 2;
    return S5_DONE;
}

int s5_reply_to_http_status(uint8_t rep)
{
    switch (rep) {
    case S5_REP_SUCCEEDED:
        return 200;
    case S5_REP_NOT_ALLOWED:
        return 403;
    case S5_REP_TTL_EXPIRED:
        return 504;
    default:
        return 502;
    }
}
