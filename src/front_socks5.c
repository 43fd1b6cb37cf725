/* SOCKS5 front-end: greeting -> (user/pass) -> request -> dial -> reply ->
 * tunnel. Parsing is in proto_socks5.c; this file only sequences it. */
#include <stdlib.h>

#include "mpconv/errmap.h"
#include "mpconv/proto_socks5.h"
#include "mpconv/session.h"

enum socks5_phase { PHASE_GREETING, PHASE_AUTH, PHASE_REQUEST, PHASE_WAIT_DIAL };

static void send_reply_and_close(struct session *s, uint8_t code, const char *reason)
{
    uint8_t reply[S5_REPLY_MAX];
    size_t n = s5_encode_reply(reply, code, NULL);
    session_reply(s, reply, n, true, reason);
}

/* A client that is not on the allow-list is answered 0x02 to its request
 * whatever its password, so it gets no-auth when it offers it and its
 * password is never checked: the answer must not tell a right one apart. */
static uint8_t choose_method(const struct session *s, const struct s5_greeting *g)
{
    if (s->client_denied)
        return g->offers_no_auth ? S5_METHOD_NO_AUTH
               : g->offers_userpass ? S5_METHOD_USERPASS
                                    : S5_METHOD_UNACCEPTABLE;
    if (session_needs_auth(s))
        return g->offers_userpass ? S5_METHOD_USERPASS : S5_METHOD_UNACCEPTABLE;
    return g->offers_no_auth ? S5_METHOD_NO_AUTH : S5_METHOD_UNACCEPTABLE;
}

/* Each step returns true when it consumed a complete message and the next
 * phase may look at the remaining bytes. */
static bool on_greeting(struct session *s)
{
    struct s5_greeting g;
    size_t used;
    uint8_t out[2];
    enum s5_status st = s5_parse_greeting((const uint8_t *)s->hs, s->hs_len, &g, &used);
    if (st == S5_NEED_MORE)
        return false;
    if (st == S5_ERROR) {
        session_close(s, "socks5-bad-greeting");
        return false;
    }
    session_consume(s, used);
    uint8_t method = choose_method(s, &g);
    if (method == S5_METHOD_UNACCEPTABLE) {
        session_reply(s, out, s5_encode_method(out, S5_METHOD_UNACCEPTABLE), true,
                      "socks5-no-acceptable-method");
        return false;
    }
    session_reply(s, out, s5_encode_method(out, method), false, NULL);
    s->phase = method == S5_METHOD_USERPASS ? PHASE_AUTH : PHASE_REQUEST;
    return true;
}

static bool on_auth(struct session *s)
{
    struct s5_userpass up;
    size_t used;
    uint8_t out[2];
    enum s5_status st = s5_parse_userpass((const uint8_t *)s->hs, s->hs_len, &up, &used);
    if (st == S5_NEED_MORE)
        return false;
    if (st == S5_ERROR) {
        session_reply(s, out, s5_encode_auth_status(out, false), true, "socks5-bad-auth");
        return false;
    }
    session_consume(s, used);
    bool ok = s->client_denied || session_check_user(s, up.user, up.user_len, up.pass, up.pass_len);
    session_reply(s, out, s5_encode_auth_status(out, ok), !ok, "auth-failed");
    if (!ok)
        return false;
    s->phase = PHASE_REQUEST;
    return true;
}

static void on_request(struct session *s)
{
    struct s5_request req;
    size_t used;
    uint8_t code;
    enum s5_status st = s5_parse_request((const uint8_t *)s->hs, s->hs_len, &req, &used, &code);
    if (st == S5_NEED_MORE)
        return;
    if (st == S5_ERROR) {
        send_reply_and_close(s, code, code == S5_REP_CMD_UNSUPPORTED ? "socks5-command-unsupported"
                                      : code == S5_REP_ATYP_UNSUPPORTED ? "socks5-bad-address-type"
                                                                        : "socks5-bad-request");
        return;
    }
    session_consume(s, used); /* what is left is early data for the target */
    *s->target = req.target;
    s->phase = PHASE_WAIT_DIAL;
    session_dial(s);
}

static void socks5_on_data(struct session *s)
{
    bool more = true;
    while (more && s->state == SESSION_HANDSHAKE) {
        switch (s->phase) {
        case PHASE_GREETING:
            more = on_greeting(s);
            break;
        case PHASE_AUTH:
            more = on_auth(s);
            break;
        case PHASE_REQUEST:
            on_request(s);
            more = false;
            break;
        default:
            more = false;
        }
    }
}

static void socks5_on_dialed(struct session *s, int status)
{
    uint8_t reply[S5_REPLY_MAX];
    if (status != 0) {
        send_reply_and_close(s, errmap_socks5_reply(status), errmap_reason(status));
        return;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    const struct sockaddr *bnd = NULL;
    if (uv_tcp_getsockname(s->upstream_tcp, (struct sockaddr *)&bound, &len) == 0)
        bnd = (const struct sockaddr *)&bound;
    session_reply(s, reply, s5_encode_reply(reply, S5_REP_SUCCEEDED, bnd), false, NULL);
    session_start_tunnel(s, s->hs, s->hs_len);
    free(s->hs);
    s->hs = NULL;
    s->hs_len = 0;
}

const struct front_ops front_socks5 = {
    .name = "socks5",
    .on_data = socks5_on_data,
    .on_dialed = socks5_on_dialed,
};
