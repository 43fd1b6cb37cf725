/* libFuzzer harness for src/proto_socks5.c.
 *
 * The input is read twice:
 *  - as what a SOCKS5 client sends us: greeting, then the RFC 1929
 *    sub-negotiation when userpass is offered, then the request, each phase
 *    starting where the previous one's *consumed ended (front_socks5 does
 *    the same); what is left is early data;
 *  - as what a SOCKS5 parent answers us: method choice, auth status when the
 *    method is userpass, then the reply.
 * Every parse is also replayed on each prefix of its buffer, as if the bytes
 * arrived one at a time: the first prefix that is not S5_NEED_MORE must give
 * the same answer as the whole buffer. Everything parsed is encoded again
 * with the matching encoder and must parse back to the same values. */
#include "fuzz.h"

#include <netinet/in.h>
#include <string.h>

#include "mpconv/proto_socks5.h"

/* One parser of either side, with its output kept in the union. */
enum phase { GREETING, USERPASS, REQUEST, METHOD, AUTH, REPLY };

struct result {
    enum s5_status st;
    size_t consumed;
    uint8_t reply; /* REQUEST: the SOCKS reply on error */
    union {
        struct s5_greeting greeting;
        struct s5_userpass userpass;
        struct s5_request request;
        uint8_t method;
        bool auth_ok;
        uint8_t rep;
    } u;
};

static void parse(enum phase p, const uint8_t *buf, size_t len, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->consumed = (size_t)-1; /* every parser must set it */
    switch (p) {
    case GREETING:
        r->st = s5_parse_greeting(buf, len, &r->u.greeting, &r->consumed);
        break;
    case USERPASS:
        r->st = s5_parse_userpass(buf, len, &r->u.userpass, &r->consumed);
        break;
    case REQUEST:
        r->st = s5_parse_request(buf, len, &r->u.request, &r->consumed, &r->reply);
        break;
    case METHOD:
        r->st = s5_client_parse_method(buf, len, &r->u.method, &r->consumed);
        break;
    case AUTH:
        r->st = s5_client_parse_auth(buf, len, &r->u.auth_ok, &r->consumed);
        break;
    case REPLY:
        r->st = s5_client_parse_reply(buf, len, &r->u.rep, &r->consumed);
        break;
    }
    if (r->st == S5_DONE)
        FUZZ_CHECK(r->consumed > 0 && r->consumed <= len);
    else
        FUZZ_CHECK(r->consumed == 0);
}

/* Parses buf and checks that a byte-at-a-time arrival decides the same way. */
static void parse_checked(enum phase p, const uint8_t *buf, size_t len, struct result *whole)
{
    parse(p, buf, len, whole);
    struct result part;
    for (size_t k = 0; k <= len; k++) {
        parse(p, buf, k, &part);
        if (part.st == S5_NEED_MORE)
            continue;
        FUZZ_CHECK(part.st == whole->st);
        FUZZ_CHECK(part.consumed == whole->consumed);
        if (p == REQUEST)
            FUZZ_CHECK(part.reply == whole->reply);
        return;
    }
    FUZZ_CHECK(whole->st == S5_NEED_MORE);
}

static bool same_target(const struct mp_target *a, const struct mp_target *b)
{
    if (a->kind != b->kind || a->port != b->port)
        return false;
    switch (a->kind) {
    case TARGET_IPV4:
        return memcmp(&((const struct sockaddr_in *)&a->addr)->sin_addr,
                      &((const struct sockaddr_in *)&b->addr)->sin_addr, 4) == 0;
    case TARGET_IPV6:
        return memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr,
                      &((const struct sockaddr_in6 *)&b->addr)->sin6_addr, 16) == 0;
    case TARGET_NAME:
        break;
    }
    return strcmp(a->host, b->host) == 0;
}

static void check_userpass(const struct s5_userpass *up)
{
    FUZZ_CHECK(up->user_len > 0 && strlen(up->user) == up->user_len);
    FUZZ_CHECK(strlen(up->pass) == up->pass_len);
    FUZZ_CHECK(s5_credentials_equal(up->user, up->user_len, up->user, up->user_len));
    FUZZ_CHECK(!s5_credentials_equal(up->user, up->user_len, "admin", 5) || strcmp(up->user, "admin") == 0);

    uint8_t out[2 + 2 * 256];
    struct result back;
    size_t n = s5_client_userpass(out, sizeof(out), up->user, up->pass);
    FUZZ_CHECK(n == 3u + up->user_len + up->pass_len);
    FUZZ_CHECK(s5_client_userpass(out, n - 1, up->user, up->pass) == 0);
    parse(USERPASS, out, n, &back);
    FUZZ_CHECK(back.st == S5_DONE && back.consumed == n);
    FUZZ_CHECK(strcmp(back.u.userpass.user, up->user) == 0 && strcmp(back.u.userpass.pass, up->pass) == 0);

    uint8_t status[2];
    s5_encode_auth_status(status, up->user_len & 1);
    parse(AUTH, status, 2, &back);
    FUZZ_CHECK(back.st == S5_DONE && back.u.auth_ok == (up->user_len & 1));
}

static void check_request(const struct s5_request *req)
{
    FUZZ_CHECK(req->cmd == S5_CMD_CONNECT && req->target.port != 0);

    /* What we would send a parent for this target parses back to it. */
    uint8_t out[S5_CONNECT_MAX];
    struct result back;
    size_t n = s5_client_connect(out, sizeof(out), &req->target);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(s5_client_connect(out, n - 1, &req->target) == 0);
    parse(REQUEST, out, n, &back);
    FUZZ_CHECK(back.st == S5_DONE && back.consumed == n);
    FUZZ_CHECK(same_target(&back.u.request.target, &req->target));

    /* Our reply, bound to the target when it is an address. */
    uint8_t reply[S5_REPLY_MAX];
    const struct sockaddr *bound = req->target.kind == TARGET_NAME ? NULL : (const struct sockaddr *)&req->target.addr;
    uint8_t rep = (uint8_t)req->target.port;
    n = s5_encode_reply(reply, rep, bound);
    FUZZ_CHECK(n <= S5_REPLY_MAX);
    parse(REPLY, reply, n, &back);
    FUZZ_CHECK(back.st == S5_DONE && back.consumed == n && back.u.rep == rep);
    int status = s5_reply_to_http_status(rep);
    FUZZ_CHECK(status >= 200 && status <= 599);
}

/* Our side as a server: the phases of one client connection. */
static void server_side(const uint8_t *data, size_t size)
{
    struct result r;
    size_t off = 0;

    parse_checked(GREETING, data, size, &r);
    if (r.st != S5_DONE)
        return;
    off += r.consumed;
    bool userpass = r.u.greeting.offers_userpass;
    if (!userpass && !r.u.greeting.offers_no_auth)
        return; /* answered 0xFF and closed */

    if (userpass) {
        parse_checked(USERPASS, data + off, size - off, &r);
        if (r.st != S5_DONE)
            return;
        off += r.consumed;
        check_userpass(&r.u.userpass);
    }

    parse_checked(REQUEST, data + off, size - off, &r);
    if (r.st == S5_ERROR)
        FUZZ_CHECK(r.reply != S5_REP_SUCCEEDED);
    if (r.st != S5_DONE)
        return;
    FUZZ_CHECK(r.reply == S5_REP_SUCCEEDED);
    off += r.consumed;
    check_request(&r.u.request);
    FUZZ_CHECK(off <= size); /* the rest is early data */
}

/* Our side as a client of a SOCKS5 parent: its answers. */
static void client_side(const uint8_t *data, size_t size)
{
    struct result r;
    size_t off = 0;

    uint8_t greeting[3];
    FUZZ_CHECK(s5_client_greeting(greeting, sizeof(greeting), size & 1) == 3);
    FUZZ_CHECK(s5_client_greeting(greeting, 2, size & 1) == 0);
    parse(GREETING, greeting, 3, &r);
    FUZZ_CHECK(r.st == S5_DONE && r.u.greeting.offers_userpass == (size & 1));

    parse_checked(METHOD, data, size, &r);
    if (r.st != S5_DONE)
        return;
    off += r.consumed;
    uint8_t method = r.u.method;
    uint8_t echo[2];
    s5_encode_method(echo, method);
    FUZZ_CHECK(memcmp(echo, data, 2) == 0);
    if (method == S5_METHOD_USERPASS) {
        parse_checked(AUTH, data + off, size - off, &r);
        if (r.st != S5_DONE || !r.u.auth_ok)
            return;
        off += r.consumed;
    } else if (method != S5_METHOD_NO_AUTH) {
        return;
    }

    parse_checked(REPLY, data + off, size - off, &r);
    if (r.st == S5_DONE) {
        int status = s5_reply_to_http_status(r.u.rep);
        FUZZ_CHECK(status >= 200 && status <= 599);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    server_side(data, size);
    client_side(data, size);
    return 0;
}
