/* Resolution and Happy Eyeballs connection racing. */
#include "mpconv/dial.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpconv/errmap.h"
#include "mpconv/log.h"
#include "mpconv/metrics.h"

#define DIAL_MAX_CANDIDATES 8
#define DIAL_STAGGER_MS 250

struct attempt {
    uv_tcp_t tcp; /* first member: the handle pointer is the allocation */
    uv_connect_t req;
    struct dial *dial;
    bool is_mptcp;
    bool require_mptcp; /* [acl] require_mptcp lists the address */
    bool abandoned;
};

struct dial {
    const struct dialer *dialer;
    dial_done_cb cb;
    void *owner;
    struct mp_target target;
    enum dial_purpose purpose;
    uint64_t session_id;
    uv_getaddrinfo_t gai;
    bool resolving;
    uint64_t resolve_start_ns;
    uint64_t connect_start_ns; /* the first attempt; 0 before it */
    uv_timer_t stagger;
    uv_timer_t deadline;
    struct sockaddr_storage candidates[DIAL_MAX_CANDIDATES];
    int n_candidates;
    int next_candidate;
    struct attempt *attempts[DIAL_MAX_CANDIDATES];
    int open_handles; /* timers and attempts not yet closed */
    bool finished;    /* the callback ran, or the dial was cancelled */
    int best_error;
};

static void start_next_attempt(struct dial *d);

static void maybe_free(struct dial *d)
{
    if (d->finished && !d->resolving && d->open_handles == 0)
        free(d);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    d->open_handles--;
    maybe_free(d);
}

static void on_attempt_closed(uv_handle_t *h)
{
    struct attempt *a = (struct attempt *)h;
    struct dial *d = a->dial;
    free(a);
    d->open_handles--;
    maybe_free(d);
}

static void abandon_attempt(struct dial *d, int slot)
{
    struct attempt *a = d->attempts[slot];
    d->attempts[slot] = NULL;
    a->abandoned = true;
    uv_close((uv_handle_t *)&a->tcp, on_attempt_closed);
}

/* Errors that say more about the destination win over vaguer ones, so the
 * client's answer names the most meaningful failure. A denied address ranks
 * lowest: the answer is "denied" only when nothing else was tried. */
static int error_rank(int err)
{
    switch (err) {
    case MPCONV_ERR_MPTCP_REQUIRED:
        return 7;
    case UV_ECONNREFUSED:
        return 6;
    case UV_EHOSTUNREACH:
        return 5;
    case UV_ENETUNREACH:
        return 4;
    case UV_ETIMEDOUT:
        return 3;
    case MPCONV_ERR_ACL:
        return 1;
    case 0:
        return 0;
    default:
        return 2;
    }
}

static void record_error(struct dial *d, int err)
{
    if (error_rank(err) >= error_rank(d->best_error))
        d->best_error = err;
}

/* Stops timers and losing attempts; the owner's callback runs last. */
static void finish(struct dial *d, int status, struct attempt *winner)
{
    d->finished = true;
    uv_close((uv_handle_t *)&d->stagger, on_handle_closed);
    uv_close((uv_handle_t *)&d->deadline, on_handle_closed);
    for (int i = 0; i < d->n_candidates; i++)
        if (d->attempts[i] && d->attempts[i] != winner)
            abandon_attempt(d, i);
    if (winner) {
        metrics_upstream_connect_time(d->dialer->metrics, uv_hrtime() - d->connect_start_ns);
        d->open_handles--; /* the owner closes it from now on */
        winner->dial = NULL;
        d->cb(d->owner, 0, &winner->tcp, winner->is_mptcp);
    } else {
        d->cb(d->owner, status, NULL, false);
    }
    maybe_free(d);
}

static int slot_of(const struct dial *d, const struct attempt *a)
{
    for (int i = 0; i < d->n_candidates; i++)
        if (d->attempts[i] == a)
            return i;
    return -1;
}

static bool any_attempt_active(const struct dial *d)
{
    for (int i = 0; i < d->n_candidates; i++)
        if (d->attempts[i])
            return true;
    return false;
}

/* [acl] require_mptcp: a connection that fell back to TCP is refused. */
static int check_required_mptcp(struct dial *d, struct attempt *a, int fd)
{
    unsigned subflows;
    if (!a->require_mptcp || sock_mptcp_state(fd, a->is_mptcp, &subflows) == MPTCP_STATE_YES)
        return 0;
    char addr[64];
    sockaddr_format((const struct sockaddr *)&d->candidates[slot_of(d, a)], addr, sizeof(addr));
    log_info("session %" PRIu64 ": %s answered without MPTCP, which require_mptcp demands: closed",
             d->session_id, addr);
    return MPCONV_ERR_MPTCP_REQUIRED;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    if (a->abandoned)
        return;
    struct dial *d = a->dial;
    int fd = -1;
    if (status == 0 && uv_fileno((uv_handle_t *)&a->tcp, &fd) == 0)
        status = check_required_mptcp(d, a, fd);
    if (status == 0) {
        if (fd >= 0)
            sock_tune_connected(fd);
        finish(d, 0, a);
        return;
    }
    record_error(d, status);
    abandon_attempt(d, slot_of(d, a));
    uv_timer_stop(&d->stagger);
    start_next_attempt(d);
}

static int open_attempt(struct dial *d, int slot)
{
    const struct sockaddr *sa = (const struct sockaddr *)&d->candidates[slot];
    const struct acl_config *acl = d->dialer->acl;
    bool require_mptcp = acl && acl_list_match(&acl->require_mptcp, sa);
    bool plain_tcp = acl && !require_mptcp && acl_list_match(&acl->tcp, sa);
    bool is_mptcp;
    int fd = sock_open_upstream(d->dialer->sockets, sa->sa_family, uv_now(d->dialer->loop),
                                plain_tcp, &is_mptcp);
    if (fd < 0)
        return uv_translate_sys_error(-fd);

    struct attempt *a = calloc(1, sizeof(*a));
    if (!a) {
        close(fd);
        return UV_ENOMEM;
    }
    a->dial = d;
    a->is_mptcp = is_mptcp;
    a->require_mptcp = require_mptcp;
    a->req.data = a;
    uv_tcp_init(d->dialer->loop, &a->tcp);
    d->attempts[slot] = a;
    d->open_handles++;
    int err = uv_tcp_open(&a->tcp, fd);
    if (err == 0)
        err = uv_tcp_connect(&a->req, &a->tcp, sa, on_connect);
    if (err != 0) {
        if (uv_fileno((uv_handle_t *)&a->tcp, &(int){0}) != 0)
            close(fd); /* uv_tcp_open failed: the handle does not own fd */
        abandon_attempt(d, slot);
    }
    return err;
}

static void on_stagger(uv_timer_t *t)
{
    start_next_attempt(t->data);
}

static void start_next_attempt(struct dial *d)
{
    if (d->connect_start_ns == 0)
        d->connect_start_ns = uv_hrtime();
    while (d->next_candidate < d->n_candidates) {
        int slot = d->next_candidate++;
        int err = open_attempt(d, slot);
        if (err == 0) {
            if (d->next_candidate < d->n_candidates)
                uv_timer_start(&d->stagger, on_stagger, DIAL_STAGGER_MS, 0);
            return;
        }
        record_error(d, err);
    }
    if (!any_attempt_active(d))
        finish(d, d->best_error ? d->best_error : UV_EHOSTUNREACH, NULL);
}

static void on_deadline(uv_timer_t *t)
{
    finish(t->data, UV_ETIMEDOUT, NULL);
}

bool dial_destination_allowed(const struct dialer *dialer, const struct mp_target *target,
                              const struct sockaddr *addr, uint64_t session_id)
{
    if (!dialer->acl)
        return true;
    const struct acl_list *own =
        dialer->local ? local_addrs_get(dialer->local, uv_now(dialer->loop)) : NULL;
    if (acl_destination_allowed(dialer->acl, own, addr))
        return true;
    char text[64];
    sockaddr_format(addr, text, sizeof(text));
    if (target->kind == TARGET_NAME)
        log_info("session %" PRIu64 ": %s (%s) denied by the destination ACL", session_id, text,
                 target->host);
    else
        log_info("session %" PRIu64 ": %s denied by the destination ACL", session_id, text);
    return false;
}

/* A resolved address with the target's port, if the ACL lets it be dialled. */
static bool take_address(struct dial *d, const struct addrinfo *ai, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    ((struct sockaddr_in *)out)->sin_port = htons(d->target.port);
    if (d->purpose == DIAL_PARENT ||
        dial_destination_allowed(d->dialer, &d->target, (const struct sockaddr *)out, d->session_id))
        return true;
    record_error(d, MPCONV_ERR_ACL);
    return false;
}

/* Orders the allowed addresses per RFC 8305 section 4: alternate families,
 * starting with the family of the resolver's first (preferred) answer. */
static void take_candidates(struct dial *d, const struct addrinfo *res)
{
    struct sockaddr_storage by_family[2][DIAL_MAX_CANDIDATES];
    int count[2] = {0, 0};
    int first_family = res ? res->ai_family : AF_INET;

    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        int k = ai->ai_family == first_family ? 0 : 1;
        if (count[k] < DIAL_MAX_CANDIDATES && take_address(d, ai, &by_family[k][count[k]]))
            count[k]++;
    }
    int n = 0;
    for (int i = 0; n < DIAL_MAX_CANDIDATES && (i < count[0] || i < count[1]); i++)
        for (int k = 0; k < 2 && n < DIAL_MAX_CANDIDATES; k++)
            if (i < count[k])
                d->candidates[n++] = by_family[k][i];
    d->n_candidates = n;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct dial *d = req->data;
    d->resolving = false;
    if (status != UV_ECANCELED)
        metrics_dns_resolved(d->dialer->metrics, uv_hrtime() - d->resolve_start_ns);
    if (d->finished) {
        uv_freeaddrinfo(res);
        maybe_free(d);
        return;
    }
    if (status != 0) {
        log_debug("resolve %s: %s", d->target.host, uv_strerror(status));
        finish(d, status, NULL);
        return;
    }
    take_candidates(d, res);
    uv_freeaddrinfo(res);
    if (d->n_candidates == 0) {
        finish(d, d->best_error ? d->best_error : UV_EAI_NODATA, NULL);
        return;
    }
    start_next_attempt(d);
}

static void on_first_attempt(uv_timer_t *t)
{
    start_next_attempt(t->data);
}

/* An IP literal is the only candidate, if the ACL allows it. */
static void take_literal(struct dial *d)
{
    const struct sockaddr *addr = (const struct sockaddr *)&d->target.addr;
    if (d->purpose == DIAL_DESTINATION &&
        !dial_destination_allowed(d->dialer, &d->target, addr, d->session_id)) {
        record_error(d, MPCONV_ERR_ACL);
        return;
    }
    memcpy(&d->candidates[0], &d->target.addr, sizeof(d->target.addr));
    d->n_candidates = 1;
}

struct dial *dial_start(const struct dialer *dialer, const struct dial_request *req,
                        dial_done_cb cb, void *owner)
{
    const struct mp_target *target = req->target;
    struct dial *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->dialer = dialer;
    d->cb = cb;
    d->owner = owner;
    d->target = *target;
    d->purpose = req->purpose;
    d->session_id = req->session_id;
    uv_timer_init(dialer->loop, &d->stagger);
    uv_timer_init(dialer->loop, &d->deadline);
    d->stagger.data = d->deadline.data = d->gai.data = d;
    d->open_handles = 2;
    uv_timer_start(&d->deadline, on_deadline, dialer->connect_timeout_ms, 0);

    if (target->kind != TARGET_NAME) {
        take_literal(d);
        /* Start from the loop, so the callback never runs inside dial_start. */
        uv_timer_start(&d->stagger, on_first_attempt, 0, 0);
        return d;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_protocol = IPPROTO_TCP};
    d->resolve_start_ns = uv_hrtime();
    int err = uv_getaddrinfo(dialer->loop, &d->gai, on_resolved, target->host, NULL, &hints);
    if (err != 0) {
        record_error(d, err);
        uv_timer_start(&d->stagger, on_first_attempt, 0, 0); /* reports the error */
        return d;
    }
    d->resolving = true;
    return d;
}

void dial_cancel(struct dial *d)
{
    if (d->resolving)
        uv_cancel((uv_req_t *)&d->gai); /* on_resolved still runs, with UV_ECANCELED */
    d->finished = true;
    uv_close((uv_handle_t *)&d->stagger, on_handle_closed);
    uv_close((uv_handle_t *)&d->deadline, on_handle_closed);
    for (int i = 0; i < d->n_candidates; i++)
        if (d->attempts[i])
            abandon_attempt(d, i);
    maybe_free(d);
}
