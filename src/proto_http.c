/* HTTP/1.x head parsing, body framing and proxy rewriting (RFC 9110/9112). */
#include "mpconv/proto_http.h"
#include "mpconv/ascii.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mpconv/proto_socks5.h"

#define CHUNK_LINE_MAX 4096 /* longest chunk-size or trailer line */
#define BASIC_AUTH_MAX 1024 /* longest decoded "user:pass" */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* ---- bytes and slices ---- */


static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ascii_is_digit(c) ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-content and reason-phrase: HTAB, SP, VCHAR, obs-text */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_target_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool all_bytes(struct http_slice s, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < s.n; i++)
        if (!ok((unsigned char)s.p[i]))
            return false;
    return true;
}

static bool is_token(struct http_slice s)
{
    return s.n > 0 && all_bytes(s, is_tchar);
}

static struct http_slice lit(const char *s)
{
    return (struct http_slice){s, strlen(s)};
}

bool http_slice_is(struct http_slice s, const char *word)
{
    return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

struct http_slice http_target_path(struct http_slice target)
{
    const char *query = memchr(target.p, '?', target.n);
    return (struct http_slice){target.p, query ? (size_t)(query - target.p) : target.n};
}

static bool slice_eq_ci(struct http_slice a, struct http_slice b)
{
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static struct http_slice trim_ows(struct http_slice s)
{
    while (s.n > 0 && is_ows((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && is_ows((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Cuts the word before the first SP off *rest; false when there is no SP. */
static bool cut_word(struct http_slice *rest, struct http_slice *word)
{
    const char *sp = rest->n ? memchr(rest->p, ' ', rest->n) : NULL;
    if (!sp)
        return false;
    *word = (struct http_slice){rest->p, (size_t)(sp - rest->p)};
    rest->n -= word->n + 1;
    rest->p = sp + 1;
    return true;
}

/* Cuts the next element of a comma-separated list (OWS-trimmed, possibly
 * empty) off *list; false when the list is exhausted. */
static bool next_element(struct http_slice *list, struct http_slice *elem)
{
    if (list->n == 0)
        return false;
    const char *comma = memchr(list->p, ',', list->n);
    size_t n = comma ? (size_t)(comma - list->p) : list->n;
    size_t skip = comma ? n + 1 : n;
    *elem = trim_ows((struct http_slice){list->p, n});
    list->p += skip;
    list->n -= skip;
    return true;
}

static bool parse_u64(struct http_slice s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (!ascii_is_digit((unsigned char)s.p[i]))
            return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- heads ---- */

/* The line at *pos without its LF or CRLF; advances *pos past the LF, which
 * the caller has made sure exists before end. */
static struct http_slice next_line(const char *buf, size_t end, size_t *pos)
{
    const char *start = buf + *pos;
    const char *lf = memchr(start, '\n', end - *pos);
    size_t n = (size_t)(lf - start);
    *pos += n + 1;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    return (struct http_slice){start, n};
}

/* Offset just past the blank line that ends the head starting at start, or 0. */
static size_t find_head_end(const char *buf, size_t len, size_t start)
{
    size_t pos = start;
    bool start_line = true;
    while (memchr(buf + pos, '\n', len - pos)) {
        struct http_slice line = next_line(buf, len, &pos);
        if (line.n == 0 && !start_line)
            return pos;
        start_line = false;
    }
    return 0;
}

/* RFC 9112 2.2: a server ignores empty lines received before a request line. */
static size_t skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    for (;;) {
        if (i < len && buf[i] == '\n')
            i += 1;
        else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

/* Returns 0, 400 (not an HTTP-version) or 505 (not 1.0 or 1.1). */
static int parse_version(struct http_slice v, int *minor)
{
    if (v.n != 8 || memcmp(v.p, "HTTP/", 5) != 0 || !ascii_is_digit((unsigned char)v.p[5]) ||
        v.p[6] != '.' || !ascii_is_digit((unsigned char)v.p[7]))
        return 400;
    if (v.p[5] != '1' || v.p[7] > '1')
        return 505;
    *minor = v.p[7] - '0';
    return 0;
}

static int parse_request_line(struct http_slice line, struct http_head *h)
{
    struct http_slice rest = line;
    if (!cut_word(&rest, &h->method) || !cut_word(&rest, &h->target))
        return 400;
    if (!is_token(h->method) || h->target.n == 0 || !all_bytes(h->target, is_target_byte))
        return 400;
    return parse_version(rest, &h->minor_version);
}

/* status-line = HTTP-version SP 3DIGIT SP [reason]; the last SP may be missing. */
static int parse_status_line(struct http_slice line, struct http_head *h)
{
    struct http_slice rest = line, version;
    if (!cut_word(&rest, &version))
        return 400;
    int err = parse_version(version, &h->minor_version);
    if (err)
        return err;
    if (rest.n < 3 || !ascii_is_digit((unsigned char)rest.p[0]) || !ascii_is_digit((unsigned char)rest.p[1]) ||
        !ascii_is_digit((unsigned char)rest.p[2]) || (rest.n > 3 && rest.p[3] != ' '))
        return 400;
    h->status = (rest.p[0] - '0') * 100 + (rest.p[1] - '0') * 10 + (rest.p[2] - '0');
    if (h->status < 100 || h->status > 599)
        return 400;
    h->reason = rest.n > 3 ? (struct http_slice){rest.p + 4, rest.n - 4}
                           : (struct http_slice){rest.p + 3, 0};
    return all_bytes(h->reason, is_field_byte) ? 0 : 400;
}

/* An obs-fold line (leading SP/HTAB) or whitespace before the colon makes
 * the name an invalid token. */
static int add_header(struct http_head *h, struct http_slice line)
{
    const char *colon = memchr(line.p, ':', line.n);
    if (!colon)
        return 400;
    struct http_slice name = {line.p, (size_t)(colon - line.p)};
    struct http_slice value = trim_ows((struct http_slice){colon + 1, line.n - name.n - 1});
    if (!is_token(name) || !all_bytes(value, is_field_byte))
        return 400;
    if (h->n_headers == HTTP_MAX_HEADERS)
        return 431;
    h->headers[h->n_headers++] = (struct http_header){name, value};
    return 0;
}

/* Errors are reported as request answers (400/431/505). */
static enum http_status parse_head(const char *buf, size_t len, size_t max_head, bool request,
                                   struct http_head *out, int *error)
{
    size_t scan = len < max_head ? len : max_head;
    size_t start = request ? skip_empty_lines(buf, scan) : 0;
    size_t end = find_head_end(buf, scan, start);
    *error = 0;
    if (end == 0) {
        if (len < max_head)
            return HTTP_NEED_MORE;
        *error = 431;
        return HTTP_ERROR;
    }

    memset(out, 0, sizeof(*out));
    size_t pos = start;
    struct http_slice line = next_line(buf, end, &pos);
    int err = request ? parse_request_line(line, out) : parse_status_line(line, out);
    while (err == 0 && (line = next_line(buf, end, &pos)).n > 0)
        err = add_header(out, line);
    if (err) {
        *error = err;
        return HTTP_ERROR;
    }
    out->head_len = end;
    return HTTP_DONE;
}

enum http_status http_parse_request(const char *buf, size_t len, size_t max_head,
                                    struct http_head *out, int *error)
{
    return parse_head(buf, len, max_head, true, out, error);
}

enum http_status http_parse_response(const char *buf, size_t len, size_t max_head,
                                     struct http_head *out, int *error)
{
    enum http_status st = parse_head(buf, len, max_head, false, out, error);
    if (st == HTTP_ERROR)
        *error = 502;
    return st;
}

/* ---- header semantics ---- */

const struct http_header *http_find_header(const struct http_head *h, const char *name)
{
    struct http_slice want = lit(name);
    for (size_t i = 0; i < h->n_headers; i++)
        if (slice_eq_ci(h->headers[i].name, want))
            return &h->headers[i];
    return NULL;
}

static bool list_has(struct http_slice list, struct http_slice token)
{
    struct http_slice elem;
    while (next_element(&list, &elem))
        if (slice_eq_ci(elem, token))
            return true;
    return false;
}

bool http_has_token(struct http_slice value, const char *token)
{
    return list_has(value, lit(token));
}

/* Whether any header called name lists token. */
static bool headers_list(const struct http_head *h, struct http_slice name, struct http_slice token)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (slice_eq_ci(h->headers[i].name, name) && list_has(h->headers[i].value, token))
            return true;
    return false;
}

bool http_keep_alive(const struct http_head *h)
{
    struct http_slice connection = lit("Connection");
    if (headers_list(h, connection, lit("close")))
        return false;
    return h->minor_version >= 1 || headers_list(h, connection, lit("keep-alive"));
}

int http_parse_authority(struct http_slice s, struct mp_target *out)
{
    return target_parse_hostport(out, s.p, s.n, 0);
}

int http_parse_absolute_uri(struct http_slice s, struct mp_target *out, struct http_slice *path)
{
    static const char scheme[] = "http://";
    size_t skip = sizeof(scheme) - 1;
    if (s.n < skip || strncasecmp(s.p, scheme, skip) != 0)
        return -1;
    const char *auth = s.p + skip;
    size_t rest = s.n - skip, auth_len = 0;
    while (auth_len < rest && auth[auth_len] != '/' && auth[auth_len] != '?')
        auth_len++;
    if (target_parse_hostport(out, auth, auth_len, 80) != 0)
        return -1;
    *path = auth_len < rest ? (struct http_slice){auth + auth_len, rest - auth_len}
                            : (struct http_slice){"/", 1};
    return 0;
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 base64: whole quanta, '=' padding only at the end. */
static int base64_decode(struct http_slice in, unsigned char *out, size_t cap, size_t *out_len)
{
    if (in.n == 0 || in.n % 4 != 0)
        return -1;
    size_t pad = in.p[in.n - 1] != '=' ? 0 : in.p[in.n - 2] != '=' ? 1 : 2;
    size_t n = in.n / 4 * 3 - pad;
    if (n > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < in.n; i += 4) {
        uint32_t quantum = 0;
        for (size_t k = i; k < i + 4; k++) {
            int v = k >= in.n - pad ? 0 : base64_value((unsigned char)in.p[k]);
            if (v < 0)
                return -1;
            quantum = quantum << 6 | (uint32_t)v;
        }
        for (int shift = 16; shift >= 0 && o < n; shift -= 8)
            out[o++] = (unsigned char)(quantum >> shift);
    }
    *out_len = n;
    return 0;
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 base64 with padding; out holds BASE64_LEN(n) bytes. */
static size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t quantum = (uint32_t)in[i] << 16;
        if (left > 1)
            quantum |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            quantum |= in[i + 2];
        for (size_t k = 0; k < 4; k++) /* a final 1 or 2 bytes make 2 or 3 symbols */
            out[o++] = k <= left ? base64_alphabet[(quantum >> (18 - 6 * k)) & 63] : '=';
    }
    return o;
}

int http_parse_basic_auth(const struct http_head *h, char *user, size_t user_cap, char *pass,
                          size_t pass_cap)
{
    const struct http_header *auth = http_find_header(h, "Proxy-Authorization");
    if (!auth)
        return -1;
    struct http_slice v = auth->value;
    if (v.n < 6 || strncasecmp(v.p, "Basic", 5) != 0 || v.p[5] != ' ')
        return -1;
    struct http_slice encoded = trim_ows((struct http_slice){v.p + 6, v.n - 6});

    unsigned char decoded[BASIC_AUTH_MAX];
    size_t n = 0;
    int rc = -1;
    if (base64_decode(encoded, decoded, sizeof(decoded), &n) == 0 && !memchr(decoded, '\0', n)) {
        const unsigned char *colon = memchr(decoded, ':', n);
        size_t ulen = colon ? (size_t)(colon - decoded) : 0;
        size_t plen = colon ? n - ulen - 1 : 0;
        if (colon && ulen < user_cap && plen < pass_cap) {
            memcpy(user, decoded, ulen);
            user[ulen] = '\0';
            memcpy(pass, colon + 1, plen);
            pass[plen] = '\0';
            rc = 0;
        }
    }
    OPENSSL_cleanse(decoded, sizeof(decoded));
    return rc;
}

/* ---- body framing ---- */

enum te_kind { TE_NONE, TE_CHUNKED, TE_OTHER, TE_INVALID };

/* Transfer-Encoding over all its headers: chunked final (and only once), some
 * other final coding, or chunked applied twice. */
static enum te_kind transfer_coding(const struct http_head *h)
{
    struct http_slice name = lit("Transfer-Encoding"), chunked = lit("chunked"), elem;
    bool present = false, last_chunked = false;
    int n_chunked = 0;
    for (size_t i = 0; i < h->n_headers; i++) {
        if (!slice_eq_ci(h->headers[i].name, name))
            continue;
        present = true;
        struct http_slice list = h->headers[i].value;
        while (next_element(&list, &elem)) {
            if (elem.n == 0)
                continue;
            last_chunked = slice_eq_ci(elem, chunked);
            n_chunked += last_chunked;
        }
    }
    if (!present)
        return TE_NONE;
    if (n_chunked > 1)
        return TE_INVALID;
    return last_chunked ? TE_CHUNKED : TE_OTHER;
}

/* 1 and *length when present, 0 when absent, -1 when any value is invalid
 * or the values (across headers and lists like "5, 5") differ. */
static int content_length(const struct http_head *h, uint64_t *length)
{
    struct http_slice name = lit("Content-Length"), elem;
    int found = 0;
    for (size_t i = 0; i < h->n_headers; i++) {
        if (!slice_eq_ci(h->headers[i].name, name))
            continue;
        struct http_slice list = h->headers[i].value;
        if (list.n == 0)
            return -1;
        uint64_t v;
        while (next_element(&list, &elem)) {
            if (!parse_u64(elem, &v) || (found && v != *length))
                return -1;
            *length = v;
            found = 1;
        }
    }
    return found;
}

int http_body_for_request(struct http_body *b, const struct http_head *req)
{
    uint64_t length = 0;
    enum te_kind te = transfer_coding(req);
    int cl = content_length(req, &length);
    *b = (struct http_body){.mode = HTTP_BODY_NONE};
    if (cl < 0 || (te != TE_NONE && cl > 0))
        return 400;
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing. */
    if (te == TE_CHUNKED && req->minor_version >= 1) {
        b->mode = HTTP_BODY_CHUNKED;
        return 0;
    }
    if (te != TE_NONE)
        return 400;
    if (cl > 0) {
        b->mode = HTTP_BODY_LENGTH;
        b->remaining = length;
    }
    return 0;
}

int http_body_for_response(struct http_body *b, const struct http_head *resp, bool request_was_head)
{
    uint64_t length = 0;
    enum te_kind te = transfer_coding(resp);
    int cl = content_length(resp, &length);
    *b = (struct http_body){.mode = HTTP_BODY_NONE};
    if (request_was_head || resp->status < 200 || resp->status == 204 || resp->status == 304)
        return 0;
    /* Both headers would need Content-Length removed before forwarding. */
    if (cl < 0 || te == TE_INVALID || (te != TE_NONE && cl > 0))
        return 502;
    if (te == TE_CHUNKED) {
        b->mode = HTTP_BODY_CHUNKED;
    } else if (te == TE_NONE && cl > 0) {
        b->mode = HTTP_BODY_LENGTH;
        b->remaining = length;
    } else {
        b->mode = HTTP_BODY_UNTIL_EOF;
    }
    return 0;
}

/* chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1).
 * CRLF is required: a bare LF here is a known request-smuggling vector. */
enum chunk_state {
    CH_SIZE_START, /* first hex digit of chunk-size (the zero value) */
    CH_SIZE,       /* more hex digits, BWS, ';' or CR */
    CH_SIZE_BWS,   /* whitespace after the size: only ';' may follow */
    CH_EXT,        /* chunk-ext up to CR */
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START, /* CR of the final CRLF, or a trailer field */
    CH_TRAILER,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};


static bool expect(struct http_body *b, unsigned char c, unsigned char want, enum chunk_state next)
{
    b->chunk_state = next;
    return c == want;
}

/* Advances the decoder over one byte of framing (anything but chunk data). */
static bool chunk_step(struct http_body *b, unsigned char c)
{
    if (++b->line_len > CHUNK_LINE_MAX)
        return false;
    switch ((enum chunk_state)b->chunk_state) {
    case CH_SIZE_START:
    case CH_SIZE: {
        int d = ascii_hex_value(c);
        if (d >= 0) {
            if (b->remaining > UINT64_MAX >> 4)
                return false;
            b->remaining = b->remaining << 4 | (uint64_t)d;
            b->chunk_state = CH_SIZE;
            return true;
        }
        if (b->chunk_state == CH_SIZE_START)
            return false;
        if (c == '\r')
            b->chunk_state = CH_SIZE_LF;
        else if (c == ';')
            b->chunk_state = CH_EXT;
        else if (is_ows(c))
            b->chunk_state = CH_SIZE_BWS;
        else
            return false;
        return true;
    }
    case CH_SIZE_BWS:
        if (c == ';')
            b->chunk_state = CH_EXT;
        return c == ';' || is_ows(c);
    case CH_EXT:
        if (c == '\r')
            b->chunk_state = CH_SIZE_LF;
        return c == '\r' || is_field_byte(c);
    case CH_SIZE_LF:
        b->line_len = 0;
        return expect(b, c, '\n', b->remaining ? CH_DATA : CH_TRAILER_START);
    case CH_DATA_CR:
        return expect(b, c, '\r', CH_DATA_LF);
    case CH_DATA_LF:
        b->line_len = 0;
        return expect(b, c, '\n', CH_SIZE_START);
    case CH_TRAILER_START:
        if (c == '\r')
            b->chunk_state = CH_END_LF;
        else
            b->chunk_state = CH_TRAILER;
        return c == '\r' || is_field_byte(c);
    case CH_TRAILER:
        if (c == '\r')
            b->chunk_state = CH_TRAILER_LF;
        return c == '\r' || is_field_byte(c);
    case CH_TRAILER_LF:
        b->line_len = 0;
        return expect(b, c, '\n', CH_TRAILER_START);
    case CH_END_LF:
        return expect(b, c, '\n', CH_DONE);
    case CH_DATA:
    case CH_DONE:
        break;
    }
    return false;
}

static ssize_t feed_chunked(struct http_body *b, const char *buf, size_t len, bool *done)
{
    size_t i = 0;
    while (i < len && b->chunk_state != CH_DONE) {
        if (b->chunk_state == CH_DATA) {
            size_t n = len - i < b->remaining ? len - i : (size_t)b->remaining;
            b->remaining -= n;
            i += n;
            if (b->remaining == 0)
                b->chunk_state = CH_DATA_CR;
        } else if (!chunk_step(b, (unsigned char)buf[i++])) {
            return -1;
        }
    }
    *done = b->chunk_state == CH_DONE;
    return (ssize_t)i;
}

ssize_t http_body_feed(struct http_body *b, const char *buf, size_t len, bool *done)
{
    switch (b->mode) {
    case HTTP_BODY_LENGTH: {
        size_t n = len < b->remaining ? len : (size_t)b->remaining;
        b->remaining -= n;
        *done = b->remaining == 0;
        return (ssize_t)n;
    }
    case HTTP_BODY_CHUNKED:
        return feed_chunked(b, buf, len, done);
    case HTTP_BODY_UNTIL_EOF:
        *done = false;
        return (ssize_t)len;
    case HTTP_BODY_NONE:
        break;
    }
    *done = true;
    return 0;
}

/* ---- writing heads ---- */

/* Appends to a fixed buffer; any overflow makes the whole result 0. */
struct writer {
    char *p;
    size_t cap, len;
    bool overflow;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->overflow || n == 0)
        return;
    if (n >= w->cap - w->len) { /* keep room for the NUL */
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_slice(struct writer *w, struct http_slice s)
{
    put(w, s.p, s.n);
}

static size_t finish(struct writer *w)
{
    if (w->overflow || w->cap == 0)
        return 0;
    w->p[w->len] = '\0';
    return w->len;
}

static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
    "Proxy-Authenticate", "TE", "Trailer", "Upgrade",
};

static bool is_hop_by_hop(const struct http_head *h, struct http_slice name)
{
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (slice_eq_ci(name, lit(hop_by_hop[i])))
            return true;
    /* Framing headers stay even when Connection names them: dropping them
     * would let the origin frame the body differently from us. */
    if (slice_eq_ci(name, lit("Content-Length")) || slice_eq_ci(name, lit("Transfer-Encoding")))
        return false;
    return headers_list(h, lit("Connection"), name);
}

static void put_end_to_end_headers(struct writer *w, const struct http_head *h)
{
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (slice_eq_ci(f->name, lit("Host")) || is_hop_by_hop(h, f->name))
            continue;
        put_slice(w, f->name);
        put_str(w, ": ");
        put_slice(w, f->value);
        put_str(w, "\r\n");
    }
}

static void put_host(struct writer *w, const struct mp_target *t)
{
    char port[8];
    put_str(w, "Host: ");
    put_str(w, t->kind == TARGET_IPV6 ? "[" : "");
    put_str(w, t->host);
    put_str(w, t->kind == TARGET_IPV6 ? "]" : "");
    if (t->port != 80) {
        snprintf(port, sizeof(port), ":%u", (unsigned)t->port);
        put_str(w, port);
    }
    put_str(w, "\r\n");
}

size_t http_rewrite_request(const struct http_head *req, const struct mp_target *host,
                            struct http_slice path, char *out, size_t cap)
{
    struct writer w = {out, cap, 0, false};
    put_slice(&w, req->method);
    put_str(&w, " ");
    if (path.n == 0 || path.p[0] != '/')
        put_str(&w, "/"); /* "http://host?q" */
    put_slice(&w, path);
    put_str(&w, " HTTP/1.1\r\n");
    put_host(&w, host);
    put_end_to_end_headers(&w, req);
    put_str(&w, "Connection: close\r\n\r\n");
    return finish(&w);
}

size_t http_rewrite_response(const struct http_head *resp, bool keep_alive, char *out, size_t cap)
{
    struct writer w = {out, cap, 0, false};
    char status[16];
    snprintf(status, sizeof(status), "HTTP/1.1 %d ", resp->status);
    put_str(&w, status);
    put_slice(&w, resp->reason.n ? resp->reason : lit(http_reason(resp->status)));
    put_str(&w, "\r\n");
    put_end_to_end_headers(&w, resp);
    put_str(&w, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    return finish(&w);
}

size_t http_encode_error(int status, const char *extra_headers, const char *detail, char *out,
                         size_t cap)
{
    const char *reason = http_reason(status);
    char body[512];
    int body_len = detail ? snprintf(body, sizeof(body), "%d %s: %s\n", status, reason, detail)
                          : snprintf(body, sizeof(body), "%d %s\n", status, reason);
    if (body_len < 0)
        return 0;
    if ((size_t)body_len >= sizeof(body))
        body_len = sizeof(body) - 1;
    for (int i = 0; i < body_len - 1; i++)
        if (body[i] == '\r' || body[i] == '\n')
            body[i] = ' ';
    body[body_len - 1] = '\n';

    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n%s\r\n%.*s",
                     status, reason, body_len, extra_headers ? extra_headers : "", body_len, body);
    if (n < 0 || cap == 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t http_encode_connect_ok(char *out, size_t cap)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (cap < sizeof(ok))
        return 0;
    memcpy(out, ok, sizeof(ok));
    return sizeof(ok) - 1;
}

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* ---- client side: CONNECT through a parent ---- */

/* base64("user:pass") into out (BASE64_LEN(BASIC_AUTH_MAX) bytes); false
 * when Basic cannot carry it or our own server would refuse it. */
static bool encode_basic(const char *user, const char *pass, char *out, size_t *out_len)
{
    size_t ulen = strlen(user), plen = strlen(pass);
    if (strchr(user, ':') || ulen + 1 + plen > BASIC_AUTH_MAX)
        return false;
    unsigned char plain[BASIC_AUTH_MAX];
    memcpy(plain, user, ulen);
    plain[ulen] = ':';
    memcpy(plain + ulen + 1, pass, plen);
    *out_len = base64_encode(plain, ulen + 1 + plen, out);
    OPENSSL_cleanse(plain, sizeof(plain));
    return true;
}

size_t http_client_connect(char *out, size_t cap, const struct mp_target *t, const char *user,
                           const char *pass)
{
    char basic[BASE64_LEN(BASIC_AUTH_MAX)];
    size_t basic_len = 0;
    if (user && !encode_basic(user, pass ? pass : "", basic, &basic_len))
        return 0;

    char authority[TARGET_HOST_MAX + sizeof("[]:65535")];
    target_format(t, authority, sizeof(authority));
    struct writer w = {out, cap, 0, false};
    put_str(&w, "CONNECT ");
    put_str(&w, authority);
    put_str(&w, " HTTP/1.1\r\nHost: ");
    put_str(&w, authority);
    put_str(&w, "\r\n");
    if (user) {
        put_str(&w, "Proxy-Authorization: Basic ");
        put(&w, basic, basic_len);
        put_str(&w, "\r\n");
    }
    put_str(&w, "\r\n");
    OPENSSL_cleanse(basic, sizeof(basic));

    size_t n = finish(&w);
    if (n == 0)
        OPENSSL_cleanse(out, w.len); /* the credential may have fitted */
    return n;
}

/* The table in proto_http.h; 2xx and unlisted statuses are handled apart. */
struct parent_answer {
    int status;
    uint8_t socks5;
    int http;
};

static const struct parent_answer parent_answers[] = {
    {401, S5_REP_NOT_ALLOWED, 502},      {403, S5_REP_NOT_ALLOWED, 403},
    {404, S5_REP_HOST_UNREACHABLE, 502}, {407, S5_REP_NOT_ALLOWED, 502},
    {502, S5_REP_HOST_UNREACHABLE, 502}, {503, S5_REP_HOST_UNREACHABLE, 502},
    {504, S5_REP_TTL_EXPIRED, 504},
};

static struct parent_answer parent_answer(int status)
{
    if (status >= 200 && status <= 299)
        return (struct parent_answer){status, S5_REP_SUCCEEDED, 200};
    for (size_t i = 0; i < sizeof(parent_answers) / sizeof(parent_answers[0]); i++)
        if (parent_answers[i].status == status)
            return parent_answers[i];
    return (struct parent_answer){status, S5_REP_GENERAL_FAILURE, 502};
}

int http_connect_status_to_socks5(int status)
{
    return parent_answer(status).socks5;
}

int http_connect_status_to_http(int status)
{
    return parent_answer(status).http;
}
