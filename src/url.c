/* Listener and upstream URL parsing (see url.h).
 * Error messages never quote the authority part of a URL: a mistyped or
 * unescaped password can end up anywhere in it. */
#include "mpconv/url.h"
#include "mpconv/ascii.h"
#include "mpconv/errbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>



/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), stored lower-cased. */
static int parse_scheme(const char *s, size_t len, char *out, char *err, size_t cap)
{
    if (len == 0 || len > URL_SCHEME_MAX || !ascii_is_alpha(s[0]))
        return errbuf_fail(err, cap, "invalid scheme (expected SCHEME://HOST:PORT or a word like 'direct')");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!ascii_is_alpha(c) && !ascii_is_digit(c) && c != '+' && c != '-' && c != '.')
            return errbuf_fail(err, cap, "invalid scheme (expected SCHEME://HOST:PORT or a word like 'direct')");
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    return 0;
}

/* Decodes %XX escapes of s[0..len) into out (cap bytes with the NUL). */
static int percent_decode(const char *s, size_t len, char *out, size_t cap, const char *what,
                          char *err, size_t err_cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? ascii_hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? ascii_hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return errbuf_fail(err, err_cap, "invalid percent-escape in %s", what);
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= cap)
            return errbuf_fail(err, err_cap, "%s too long (max %zu bytes)", what, cap - 1);
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

static int parse_userinfo(const char *s, size_t len, struct proxy_url *out, char *err, size_t cap)
{
    const char *colon = memchr(s, ':', len);
    size_t user_len = colon ? (size_t)(colon - s) : len;

    if (user_len == 0)
        return errbuf_fail(err, cap, "empty user name before '@'");
    if (percent_decode(s, user_len, out->user, sizeof(out->user), "user name", err, cap) != 0)
        return -1;
    if (colon) {
        size_t pass_len = len - user_len - 1;
        if (percent_decode(colon + 1, pass_len, out->pass, sizeof(out->pass), "password", err, cap) != 0)
            return -1;
    }
    out->has_userinfo = true;
    return 0;
}

int url_parse_host_port(const char *s, size_t len, struct mp_target *t, char *err, size_t cap)
{
    const char *host = s, *port;
    size_t host_len;
    bool bracketed = len > 0 && s[0] == '[';

    if (bracketed) {
        const char *close = memchr(s, ']', len);
        if (!close)
            return errbuf_fail(err, cap, "missing ']' after IPv6 address");
        host = s + 1;
        host_len = (size_t)(close - host);
        port = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        port = s + host_len;
        if (colon && memchr(colon + 1, ':', len - host_len - 1))
            return errbuf_fail(err, cap, "IPv6 addresses need brackets, e.g. [::1]:1080");
    }
    size_t port_len = len - (size_t)(port - s);
    if (host_len == 0)
        return errbuf_fail(err, cap, "missing host");
    if (port_len == 0 || port[0] != ':')
        return errbuf_fail(err, cap, "missing port (expected HOST:PORT)");

    uint16_t port_number;
    if (port_parse(port + 1, port_len - 1, &port_number) != 0)
        return errbuf_fail(err, cap, "invalid port (expected 0..65535)");
    if (target_set(t, host, host_len, port_number) != 0)
        return errbuf_fail(err, cap, "invalid host (expected IPv4, [IPv6] or a host name)");
    if (bracketed && t->kind != TARGET_IPV6)
        return errbuf_fail(err, cap, "brackets are only for IPv6 addresses");
    return 0;
}

static bool param_key_ok(const char *s, size_t len)
{
    if (len == 0 || len > URL_PARAM_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!ascii_is_alpha(s[i]) && !ascii_is_digit(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static int parse_param(const char *s, size_t len, struct proxy_url *out, char *err, size_t cap)
{
    const char *eq = memchr(s, '=', len);
    size_t key_len = eq ? (size_t)(eq - s) : len;

    if (len == 0)
        return errbuf_fail(err, cap, "empty query parameter");
    if (!param_key_ok(s, key_len))
        return errbuf_fail(err, cap, "invalid query parameter name (letters, digits, '_', '-', '.'; at most %d)",
                    URL_PARAM_KEY_MAX);
    if (out->n_params == URL_PARAM_MAX)
        return errbuf_fail(err, cap, "too many query parameters (max %d)", URL_PARAM_MAX);

    struct url_param *p = &out->params[out->n_params];
    memcpy(p->key, s, key_len);
    p->key[key_len] = '\0';
    if (url_param(out, p->key))
        return errbuf_fail(err, cap, "duplicate query parameter '%s'", p->key);

    char what[URL_PARAM_KEY_MAX + 16];
    snprintf(what, sizeof(what), "parameter '%s'", p->key);
    if (eq && percent_decode(eq + 1, len - key_len - 1, p->value, sizeof(p->value), what, err, cap) != 0)
        return -1;
    out->n_params++;
    return 0;
}

static int parse_query(const char *s, struct proxy_url *out, char *err, size_t cap)
{
    while (*s) {
        size_t len = strcspn(s, "&");
        if (parse_param(s, len, out, err, cap) != 0)
            return -1;
        s += len;
        if (*s == '&')
            s++;
    }
    return 0;
}

/* Everything after "scheme://": [userinfo@]host:port[/path][?query]. */
static int parse_after_scheme(const char *s, struct proxy_url *out, char *err, size_t cap)
{
    size_t authority_len = strcspn(s, "/?");
    const char *hostport = s;

    /* The last '@' ends the userinfo, so an unescaped '@' in a password works. */
    for (size_t i = authority_len; i > 0; i--) {
        if (s[i - 1] == '@') {
            if (parse_userinfo(s, i - 1, out, err, cap) != 0)
                return -1;
            hostport = s + i;
            break;
        }
    }
    if (url_parse_host_port(hostport, authority_len - (size_t)(hostport - s), &out->host, err, cap) != 0)
        return -1;
    out->has_host = true;

    const char *rest = s + authority_len;
    if (*rest == '/') {
        size_t path_len = strcspn(rest + 1, "?");
        if (path_len > URL_PATH_MAX)
            return errbuf_fail(err, cap, "path too long (max %d bytes)", URL_PATH_MAX);
        memcpy(out->path, rest + 1, path_len);
        out->path[path_len] = '\0';
        rest += 1 + path_len;
    }
    return *rest == '?' ? parse_query(rest + 1, out, err, cap) : 0;
}

int url_parse(const char *s, struct proxy_url *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    if (*s == '\0')
        return errbuf_fail(err, err_cap, "empty URL");

    const char *sep = strstr(s, "://");
    if (!sep)
        return parse_scheme(s, strlen(s), out->scheme, err, err_cap);
    if (parse_scheme(s, (size_t)(sep - s), out->scheme, err, err_cap) != 0)
        return -1;
    return parse_after_scheme(sep + 3, out, err, err_cap);
}

const char *url_param(const struct proxy_url *u, const char *key)
{
    for (size_t i = 0; i < u->n_params; i++)
        if (strcmp(u->params[i].key, key) == 0)
            return u->params[i].value;
    return NULL;
}

/* Bounded string builder: appends what fits, always NUL-terminated. */
struct out_buf {
    char *p;
    size_t cap, len;
};

static void put_bytes(struct out_buf *b, const char *s, size_t n)
{
    size_t room = b->cap - 1 - b->len;
    if (n > room)
        n = room;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(struct out_buf *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

/* Escapes all but RFC 3986 unreserved characters and those in keep, so the
 * result parses back. */
static void put_escaped(struct out_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (ascii_is_alpha((char)c) || ascii_is_digit((char)c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            strchr(keep, c)) {
            put_bytes(b, (const char *)&c, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            put_bytes(b, esc, sizeof(esc));
        }
    }
}

void url_format_redacted(const struct proxy_url *u, char *out, size_t cap)
{
    if (cap == 0)
        return;
    struct out_buf b = {out, cap, 0};
    out[0] = '\0';

    put(&b, u->scheme);
    if (!u->has_host)
        return;
    put(&b, "://");
    if (u->has_userinfo) {
        put_escaped(&b, u->user, "");
        put(&b, ":***@");
    }
    char hostport[TARGET_HOST_MAX + 16];
    target_format(&u->host, hostport, sizeof(hostport));
    put(&b, hostport);
    if (u->path[0]) {
        put(&b, "/");
        put(&b, u->path);
    }
    for (size_t i = 0; i < u->n_params; i++) {
        put(&b, i == 0 ? "?" : "&");
        put(&b, u->params[i].key);
        put(&b, "=");
        put_escaped(&b, u->params[i].value, "/:,"); /* file names and CIDR lists stay readable */
    }
}
