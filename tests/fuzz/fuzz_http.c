/* libFuzzer harness for src/proto_http.c.
 *
 * Input: byte 0 picks max_head (small, so the 431 path is reached), byte 1
 * holds flags and a small output capacity, byte 2 seeds the piece sizes;
 * the rest is the stream, read twice:
 *  - as a client's requests (up to MAX_MESSAGES pipelined), each head
 *    followed by its body, the way front_http reads them;
 *  - as an origin's or parent's responses.
 * Bodies are fed one-shot, in pieces and one byte at a time: all three must
 * agree. Rewritten heads must fit exactly or not at all in a small buffer,
 * parse back, and keep the message framing. A stream without a valid head
 * is fed to the chunked decoder as it is. */
#include "fuzz.h"

#include <string.h>

#include "mpconv/proto_http.h"
#include "mpconv/proto_socks5.h"

#define MAX_MESSAGES 8
#define OUT_CAP 65536 /* more than any rewrite of a fuzzer-sized head */
#define CRED_CAP 1100 /* more than the 1024-byte "user:pass" limit */

struct input {
    const char *p;
    size_t n;
    size_t max_head;
    bool head_request; /* the request was HEAD (for response bodies) */
    bool keep_alive;   /* what http_rewrite_response is asked for */
    size_t small_cap;  /* capacity for the overflow checks */
    uint8_t seed;
};

static char out[OUT_CAP];
static char small[64];

/* Feeds a body in parts: one byte each when *seed is NULL, else random sizes
 * (0 included). Returns the bytes consumed, or -1. */
static ssize_t feed_parts(struct http_body b, const char *p, size_t n, uint32_t *seed, bool *done)
{
    size_t off = 0;
    do {
        size_t piece = 1;
        if (seed) {
            uint32_t r = fuzz_next(seed);
            piece = (r & 3) == 0 ? r >> 8 & 1023 : r >> 8 & 7;
        }
        if (piece > n - off)
            piece = n - off;
        *done = false;
        ssize_t used = http_body_feed(&b, p + off, piece, done);
        if (used < 0)
            return -1;
        FUZZ_CHECK((size_t)used <= piece);
        FUZZ_CHECK((size_t)used == piece || *done); /* leftovers only after the end */
        off += (size_t)used;
    } while (off < n && !*done);
    return (ssize_t)off;
}

/* Returns the bytes of p that belong to the body, or -1 (malformed, or not
 * complete within p). */
static ssize_t check_body(const struct http_body *b, const char *p, size_t n, uint8_t seed)
{
    struct http_body whole = *b;
    bool done = false;
    ssize_t used = http_body_feed(&whole, p, n, &done);
    FUZZ_CHECK(used >= -1 && used <= (ssize_t)n);
    if (used >= 0 && (size_t)used < n)
        FUZZ_CHECK(done);
    if (b->mode == HTTP_BODY_UNTIL_EOF)
        FUZZ_CHECK(used == (ssize_t)n && !done);
    if (b->mode == HTTP_BODY_NONE)
        FUZZ_CHECK(used == 0 && done);

    bool parts_done, bytes_done;
    uint32_t state = 0x01000193u * (seed + 1u);
    ssize_t parts = feed_parts(*b, p, n, &state, &parts_done);
    ssize_t bytes = feed_parts(*b, p, n, NULL, &bytes_done);
    FUZZ_CHECK(parts == used && bytes == used);
    if (used >= 0)
        FUZZ_CHECK(parts_done == done && bytes_done == done);
    return used >= 0 && done ? used : -1;
}

/* The same result in a buffer of cap bytes: all of it or nothing. */
static void check_fits(size_t full, size_t got, size_t cap)
{
    if (full < cap) {
        FUZZ_CHECK(got == full);
        FUZZ_CHECK(memcmp(small, out, full + 1) == 0);
    } else {
        FUZZ_CHECK(got == 0);
    }
}

static bool same_framing(const struct http_body *a, const struct http_body *b)
{
    return a->mode == b->mode && a->remaining == b->remaining;
}

/* A CONNECT to t through a parent, with the credentials (if any) read back. */
static void check_client_connect(const struct mp_target *t, const char *user, const char *pass)
{
    size_t n = http_client_connect(out, sizeof(out), t, user, pass);
    FUZZ_CHECK(n > 0 && out[n] == '\0');

    struct http_head re;
    int error;
    FUZZ_CHECK(http_parse_request(out, n, n, &re, &error) == HTTP_DONE && re.head_len == n);
    FUZZ_CHECK(re.method.n == 7 && memcmp(re.method.p, "CONNECT", 7) == 0);
    struct mp_target back;
    FUZZ_CHECK(http_parse_authority(re.target, &back) == 0);
    FUZZ_CHECK(back.port == t->port && strcmp(back.host, t->host) == 0);
    if (user) {
        static char u[CRED_CAP], p[CRED_CAP];
        FUZZ_CHECK(http_parse_basic_auth(&re, u, sizeof(u), p, sizeof(p)) == 0);
        FUZZ_CHECK(strcmp(u, user) == 0 && strcmp(p, pass) == 0);
    }
}

static void check_request_head(const struct http_head *h, const struct input *in)
{
    FUZZ_CHECK(h->head_len > 0 && h->n_headers <= HTTP_MAX_HEADERS);
    FUZZ_CHECK(h->minor_version == 0 || h->minor_version == 1);
    (void)http_keep_alive(h);
    (void)http_find_header(h, "Host");

    static char user[CRED_CAP], pass[CRED_CAP];
    bool auth = http_parse_basic_auth(h, user, sizeof(user), pass, sizeof(pass)) == 0;
    if (auth) {
        FUZZ_CHECK(strchr(user, ':') == NULL && strlen(user) + 1 + strlen(pass) <= 1024);
        char u[8], p[8]; /* too small buffers fail cleanly */
        if (http_parse_basic_auth(h, u, sizeof(u), p, sizeof(p)) == 0)
            FUZZ_CHECK(strcmp(u, user) == 0 && strcmp(p, pass) == 0);
    }

    struct mp_target t;
    struct http_slice path;
    if (h->method.n == 7 && memcmp(h->method.p, "CONNECT", 7) == 0) {
        if (http_parse_authority(h->target, &t) == 0) {
            FUZZ_CHECK(t.port != 0);
            check_client_connect(&t, auth ? user : NULL, auth ? pass : NULL);
        }
        return;
    }
    if (http_parse_absolute_uri(h->target, &t, &path) != 0)
        return;
    FUZZ_CHECK(t.port != 0 && path.n > 0);

    size_t n = http_rewrite_request(h, &t, path, out, sizeof(out));
    FUZZ_CHECK(n > 0 && out[n] == '\0');
    check_fits(n, http_rewrite_request(h, &t, path, small, in->small_cap), in->small_cap);

    /* The origin must see a valid head with the framing we use. */
    struct http_head re;
    int error;
    enum http_status st = http_parse_request(out, n, n, &re, &error);
    if (h->n_headers + 2 > HTTP_MAX_HEADERS && st == HTTP_ERROR && error == 431)
        return; /* Host and Connection were added */
    FUZZ_CHECK(st == HTTP_DONE && re.head_len == n);
    FUZZ_CHECK(re.minor_version == 1 && !http_keep_alive(&re));
    FUZZ_CHECK(http_find_header(&re, "Proxy-Authorization") == NULL);
    struct http_body ours, theirs;
    if (http_body_for_request(&ours, h) == 0)
        FUZZ_CHECK(http_body_for_request(&theirs, &re) == 0 && same_framing(&ours, &theirs));
}

static void check_response_head(const struct http_head *h, const struct input *in)
{
    FUZZ_CHECK(h->head_len > 0 && h->status >= 100 && h->status <= 599);
    int s5 = http_connect_status_to_socks5(h->status), code = http_connect_status_to_http(h->status);
    FUZZ_CHECK(s5 >= S5_REP_SUCCEEDED && s5 <= S5_REP_ATYP_UNSUPPORTED);
    FUZZ_CHECK(code == 200 || code == 403 || code == 502 || code == 504);
    FUZZ_CHECK(http_reason(h->status) != NULL);

    size_t n = http_rewrite_response(h, in->keep_alive, out, sizeof(out));
    FUZZ_CHECK(n > 0 && out[n] == '\0');
    check_fits(n, http_rewrite_response(h, in->keep_alive, small, in->small_cap), in->small_cap);

    struct http_head re;
    int error;
    enum http_status st = http_parse_response(out, n, n, &re, &error);
    if (h->n_headers + 1 > HTTP_MAX_HEADERS && st == HTTP_ERROR)
        return; /* Connection was added */
    FUZZ_CHECK(st == HTTP_DONE && re.head_len == n && re.status == h->status);
    FUZZ_CHECK(http_keep_alive(&re) == in->keep_alive);
    struct http_body ours, theirs;
    if (http_body_for_response(&ours, h, in->head_request) == 0)
        FUZZ_CHECK(http_body_for_response(&theirs, &re, in->head_request) == 0 && same_framing(&ours, &theirs));
}

/* Pipelined messages: head, body, head, body... */
static void messages(const struct input *in, bool request)
{
    size_t off = 0;
    for (int i = 0; i < MAX_MESSAGES && off < in->n; i++) {
        struct http_head h;
        int error = 0;
        enum http_status st = request ? http_parse_request(in->p + off, in->n - off, in->max_head, &h, &error)
                                      : http_parse_response(in->p + off, in->n - off, in->max_head, &h, &error);
        if (st == HTTP_ERROR) {
            FUZZ_CHECK(request ? error == 400 || error == 431 || error == 505 : error == 502);
            break;
        }
        FUZZ_CHECK(error == 0);
        if (st == HTTP_NEED_MORE) {
            FUZZ_CHECK(in->n - off < in->max_head);
            break;
        }
        FUZZ_CHECK(h.head_len <= in->n - off && h.head_len <= in->max_head);
        if (request)
            check_request_head(&h, in);
        else
            check_response_head(&h, in);
        off += h.head_len;

        struct http_body b;
        int framing = request ? http_body_for_request(&b, &h) : http_body_for_response(&b, &h, in->head_request);
        if (framing != 0) {
            FUZZ_CHECK(framing == (request ? 400 : 502));
            break;
        }
        ssize_t used = check_body(&b, in->p + off, in->n - off, in->seed);
        if (used < 0)
            break;
        off += (size_t)used;
    }
    if (off == 0) { /* no head: give the bytes to the chunked decoder */
        struct http_body b = {.mode = HTTP_BODY_CHUNKED};
        (void)check_body(&b, in->p, in->n, in->seed);
    }
}

/* Error answers carry any detail safely: one body line, exact length. */
static void check_error_answer(const struct input *in)
{
    int status = 100 + (in->seed % 5) * 100 + in->small_cap;
    char detail[600];
    size_t n = in->n < sizeof(detail) - 1 ? in->n : sizeof(detail) - 1;
    memcpy(detail, in->p, n);
    detail[n] = '\0';

    size_t len = http_encode_error(status, in->keep_alive ? "X-Test: 1\r\n" : NULL, detail, out, sizeof(out));
    FUZZ_CHECK(len > 0 && len < sizeof(out) && out[len] == '\0');
    size_t cut = http_encode_error(status, NULL, detail, small, in->small_cap);
    FUZZ_CHECK(in->small_cap == 0 ? cut == 0 : cut < in->small_cap && small[cut] == '\0');

    struct http_head h;
    int error;
    FUZZ_CHECK(http_parse_response(out, len, len, &h, &error) == HTTP_DONE && h.status == status);
    struct http_body b;
    FUZZ_CHECK(http_body_for_response(&b, &h, false) == 0);
    if (b.mode == HTTP_BODY_LENGTH) {
        FUZZ_CHECK(h.head_len + b.remaining == len);
        FUZZ_CHECK(memchr(out + h.head_len, '\n', len - h.head_len) == out + len - 1);
        FUZZ_CHECK(memchr(out + h.head_len, '\r', len - h.head_len) == NULL);
    }

    size_t ok = http_encode_connect_ok(small, in->small_cap);
    FUZZ_CHECK(ok == 0 || (ok < in->small_cap && small[ok] == '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct input in = {
        .p = (const char *)data + 3,
        .n = size - 3,
        .max_head = 1 + (size_t)data[0] * 32,
        .head_request = data[1] & 1,
        .keep_alive = data[1] & 2,
        .small_cap = data[1] >> 2,
        .seed = data[2],
    };
    messages(&in, true);
    messages(&in, false);
    check_error_answer(&in);
    return 0;
}
