/* Path healing on the control loop (see pathheal.h): watch rtnetlink, look
 * at the whole state (links, addresses, endpoints, routes), let
 * heal_plan_make decide, apply its actions through the mptcp_pm client. */
#include "mpconv/pathheal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mpconv/log.h"
#include "mpconv/rtnl.h"

#define DEBOUNCE_MS 200    /* events come in bursts: one sync per burst */
#define ROUTE_RETRY_MS 1000 /* while a WAN waits for its route */
#define EVENTS_PER_WAKEUP 64
#define ERR_MAX 256

/* Destinations for "does this WAN route?" lookups when the upstream is not
 * an IP literal: documentation ranges, which only a default route covers. */
#define PROBE4 "192.0.2.1"
#define PROBE6 "2001:db8::1"

struct wan_state {
    int32_t ifindex;         /* at the last look; 0 when absent */
    bool seen_up;            /* up at the last look (sync or event) */
    bool refresh;            /* came back up; endpoints not re-added yet */
    uint64_t waiting_since;  /* ms; 0 when not waiting for a route */
    bool told_missing;
};

struct pathheal {
    const struct config *cfg;
    struct nlsock events;
    struct nlsock rtnl;
    struct mptcp_pm pm;
    uv_poll_t poll;
    uv_timer_t soon;     /* debounced sync, route retry */
    uv_timer_t periodic; /* safety-net resync */
    int open_handles;
    bool synced_once;
    bool disabled;
    struct wan_state st[CONFIG_WAN_MAX];
    struct heal_known known[HEAL_KNOWN_MAX];
    size_t n_known, known_next;
    struct mptcp_endpoint eps[MPTCP_ENDPOINTS_MAX];
    struct heal_plan plan;
    uint8_t probe4[4], probe6[16];
};

static bool has_net_admin(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return true; /* cannot tell: try, and learn from EPERM */
    return data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

static void wan_list(const struct config *cfg, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->n_wan && len < cap; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", cfg->wan[i]);
        len += n > 0 ? (size_t)n : 0;
    }
}

static void format_addr(int family, const uint8_t *addr, char *out, size_t cap)
{
    if (!inet_ntop(family, addr, out, (socklen_t)cap))
        snprintf(out, cap, "?");
}

/* ---- looking at the state ---- */

static void remember(struct pathheal *h, const struct heal_addr *a)
{
    for (size_t i = 0; i < h->n_known; i++)
        if (h->known[i].family == a->family && memcmp(h->known[i].addr, a->addr, sizeof(a->addr)) == 0)
            return;
    struct heal_known *k = &h->known[h->known_next];
    h->known_next = (h->known_next + 1) % HEAL_KNOWN_MAX;
    if (h->n_known < HEAL_KNOWN_MAX)
        h->n_known++;
    k->family = a->family;
    memcpy(k->addr, a->addr, sizeof(k->addr));
}

static bool route_ready(struct pathheal *h, const struct heal_wan *w, const struct heal_addr *a)
{
    char err[ERR_MAX];
    struct rtnl_route r;
    const uint8_t *dst = a->family == AF_INET ? h->probe4 : h->probe6;
    if (rtnl_route_get(&h->rtnl, a->family, dst, a->addr, w->ifindex, h->cfg->mark, &r, err, sizeof(err)) != 0)
        return false;
    /* Table 0 is the kernel guessing "on-link" because nothing routes via the device. */
    return r.oif == w->ifindex && r.table != 0;
}

static void collect_addrs(struct pathheal *h, const struct rtnl_state *net, struct heal_wan *w)
{
    for (size_t i = 0; i < net->n_addrs; i++) {
        const struct rtnl_addr *ra = &net->addrs[i];
        if (ra->ifindex != w->ifindex || !rtnl_addr_usable(ra))
            continue;
        if (w->n_addrs == HEAL_ADDRS_MAX) {
            log_debug("path healing: %s has more than %d addresses; the rest are ignored", w->name,
                      HEAL_ADDRS_MAX);
            return;
        }
        struct heal_addr *a = &w->addrs[w->n_addrs++];
        a->family = ra->family;
        memcpy(a->addr, ra->addr, sizeof(a->addr));
        a->route_ready = w->up && route_ready(h, w, a);
    }
}

static void describe_wan(struct pathheal *h, const struct rtnl_state *net, size_t i, uint64_t now,
                         struct heal_wan *w)
{
    struct wan_state *st = &h->st[i];
    const struct rtnl_link *link = rtnl_link_by_name(net, h->cfg->wan[i]);
    *w = (struct heal_wan){.name = h->cfg->wan[i], .ifindex = link ? link->ifindex : 0};
    w->up = link && rtnl_link_is_up(link);
    if (!link && !st->told_missing)
        log_warn("path healing: %s: no such interface (yet); its endpoints follow when it appears", w->name);
    st->told_missing = !link;
    if (w->up && !st->seen_up && h->synced_once)
        st->refresh = true;
    st->seen_up = w->up;
    st->ifindex = w->ifindex;
    w->refresh = st->refresh;
    w->overdue = st->waiting_since && now - st->waiting_since >= HEAL_ROUTE_WAIT_MS;
    if (link)
        collect_addrs(h, net, w);
}

/* ---- acting ---- */

static void disable(struct pathheal *h, const char *what)
{
    h->disabled = true;
    uv_poll_stop(&h->poll);
    uv_timer_stop(&h->soon);
    uv_timer_stop(&h->periodic);
    log_warn("path healing off: %s: permission denied (needs CAP_NET_ADMIN); connections keep working, "
             "but lost subflows are not restored",
             what);
}

static void log_action(const struct pathheal *h, const struct heal_action *a, const struct heal_wan *wans)
{
    const char *wan = a->wan < h->cfg->n_wan ? wans[a->wan].name : NULL;
    char ep[160], addr[INET6_ADDRSTRLEN];
    mptcp_endpoint_format(&a->ep, a->op == HEAL_ADD ? wan : NULL, ep, sizeof(ep));
    format_addr(a->ep.family, a->ep.addr, addr, sizeof(addr));
    if (a->op == HEAL_DEL && a->why == HEAL_ADDR_GONE)
        log_info("path healing: %s is no longer on a WAN: removed MPTCP endpoint id %u", addr, a->ep.id);
    else if (a->op == HEAL_DEL)
        log_info("path healing: %s: %s: removed MPTCP endpoint id %u (%s) to add it again", wan,
                 heal_why_name(a->why), a->ep.id, addr);
    else if (a->why == HEAL_LINK_UP)
        log_info("path healing: %s: link up again: added MPTCP endpoint %s; existing connections get "
                 "their subflow on %s back", wan, ep, wan);
    else
        log_info("path healing: %s: %s: added MPTCP endpoint %s", wan, heal_why_name(a->why), ep);
}

/* Returns 0, or -1 when healing had to stop. */
static int apply(struct pathheal *h, const struct heal_wan *wans, bool *failed)
{
    char err[ERR_MAX], addr[INET6_ADDRSTRLEN];
    for (size_t i = 0; i < h->plan.n; i++) {
        const struct heal_action *a = &h->plan.v[i];
        int rc = a->op == HEAL_DEL ? mptcp_pm_del(&h->pm, a->ep.id, err, sizeof(err))
                                   : mptcp_pm_add(&h->pm, &a->ep, err, sizeof(err));
        if (rc == 0) {
            log_action(h, a, wans);
            continue;
        }
        format_addr(a->ep.family, a->ep.addr, addr, sizeof(addr));
        if (rc == -EPERM) {
            disable(h, a->op == HEAL_DEL ? "removing an MPTCP endpoint" : "adding an MPTCP endpoint");
            return -1;
        }
        log_warn("path healing: %s MPTCP endpoint for %s failed: %s", a->op == HEAL_DEL ? "removing" : "adding",
                 addr, err);
        if (a->wan < CONFIG_WAN_MAX)
            failed[a->wan] = true;
    }
    return 0;
}

static void on_soon(uv_timer_t *t);

static void track_waiting(struct pathheal *h, const struct heal_wan *wans, uint64_t now)
{
    bool any = false;
    for (size_t i = 0; i < h->cfg->n_wan; i++) {
        struct wan_state *st = &h->st[i];
        if (!h->plan.waiting[i]) {
            if (wans[i].overdue)
                log_warn("path healing: %s: no route out of %s after %d s; added its endpoints anyway",
                         wans[i].name, wans[i].name, HEAL_ROUTE_WAIT_MS / 1000);
            st->waiting_since = 0;
            continue;
        }
        any = true;
        if (!st->waiting_since) {
            st->waiting_since = now ? now : 1;
            log_info("path healing: %s: waiting up to %d s for a route out of %s before adding its endpoints",
                     wans[i].name, HEAL_ROUTE_WAIT_MS / 1000, wans[i].name);
        }
    }
    if (any && !uv_is_active((uv_handle_t *)&h->soon))
        uv_timer_start(&h->soon, on_soon, ROUTE_RETRY_MS, 0);
}

static void sync_now(struct pathheal *h)
{
    char err[ERR_MAX];
    struct rtnl_state net;
    size_t n_eps = 0;
    if (rtnl_fetch(&h->rtnl, &net, err, sizeof(err)) != 0) {
        log_warn("path healing: reading interfaces failed: %s", err);
        return;
    }
    if (mptcp_pm_list(&h->pm, h->eps, MPTCP_ENDPOINTS_MAX, &n_eps, err, sizeof(err)) != 0) {
        log_warn("path healing: reading MPTCP endpoints failed: %s", err);
        rtnl_state_free(&net);
        return;
    }
    uint64_t now = uv_now(h->poll.loop);
    struct heal_wan wans[CONFIG_WAN_MAX];
    for (size_t i = 0; i < h->cfg->n_wan; i++)
        describe_wan(h, &net, i, now, &wans[i]);
    rtnl_state_free(&net);
    h->synced_once = true;

    heal_plan_make(wans, h->cfg->n_wan, h->eps, n_eps, h->known, h->n_known, &h->plan);
    bool failed[CONFIG_WAN_MAX] = {false};
    if (apply(h, wans, failed) != 0)
        return;
    for (size_t i = 0; i < h->cfg->n_wan; i++) {
        if (!h->plan.waiting[i] && !failed[i])
            h->st[i].refresh = false;
        for (size_t a = 0; a < wans[i].n_addrs; a++)
            remember(h, &wans[i].addrs[a]);
    }
    track_waiting(h, wans, now);
}

/* ---- events ---- */

static void schedule(struct pathheal *h)
{
    if (!h->disabled && !uv_is_active((uv_handle_t *)&h->soon))
        uv_timer_start(&h->soon, on_soon, DEBOUNCE_MS, 0);
}

static int wan_by_name(const struct pathheal *h, const char *name)
{
    for (size_t i = 0; i < h->cfg->n_wan; i++)
        if (strcmp(h->cfg->wan[i], name) == 0)
            return (int)i;
    return -1;
}

static bool wan_ifindex(const struct pathheal *h, int32_t ifindex)
{
    for (size_t i = 0; i < h->cfg->n_wan; i++)
        if (h->st[i].ifindex == ifindex)
            return true;
    return false;
}

static bool any_waiting(const struct pathheal *h)
{
    for (size_t i = 0; i < h->cfg->n_wan; i++)
        if (h->st[i].waiting_since)
            return true;
    return false;
}

/* Whether message m calls for a sync. A WAN seen down is remembered at once,
 * so that a quick down/up between two syncs still counts as "up again". */
static bool relevant(struct pathheal *h, const struct nl_msg *m)
{
    struct rtnl_link l;
    struct rtnl_addr a;
    switch (m->type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
        if (rtnl_decode_link(m, &l) != 0)
            return false;
        int i = wan_by_name(h, l.name);
        if (i < 0)
            return false;
        if (m->type == RTM_DELLINK || !rtnl_link_is_up(&l))
            h->st[i].seen_up = false;
        return true;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR:
        return rtnl_decode_addr(m, &a) == 0 && wan_ifindex(h, a.ifindex);
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        return any_waiting(h);
    default:
        return false;
    }
}

static void on_events(uv_poll_t *p, int status, int events)
{
    struct pathheal *h = p->data;
    (void)events;
    if (status < 0) {
        log_warn("path healing: rtnetlink events failed (%s); only the resync every %d s remains",
                 uv_strerror(status), HEAL_RESYNC_MS / 1000);
        uv_poll_stop(p);
        return;
    }
    bool sync = false;
    for (int i = 0; i < EVENTS_PER_WAKEUP; i++) {
        ssize_t n = nlsock_recv_event(&h->events);
        if (n == 0)
            break;
        if (n < 0) {
            /* ENOBUFS: the kernel dropped events; the sync reads the whole state. */
            sync = true;
            if (n != -ENOBUFS)
                break;
            continue;
        }
        size_t off = 0;
        struct nl_msg m;
        while (nl_next_msg(h->events.buf, (size_t)n, &off, &m) == 1)
            sync |= relevant(h, &m);
    }
    if (sync)
        schedule(h);
}

static void on_soon(uv_timer_t *t)
{
    struct pathheal *h = t->data;
    if (!h->disabled)
        sync_now(h);
}

static void on_periodic(uv_timer_t *t)
{
    struct pathheal *h = t->data;
    if (!h->disabled)
        sync_now(h);
}

/* ---- start and stop ---- */

static void set_probes(struct pathheal *h, const struct config *cfg)
{
    inet_pton(AF_INET, PROBE4, h->probe4);
    inet_pton(AF_INET6, PROBE6, h->probe6);
    /* A parent proxy given as an address: ask about the route to it instead. */
    const struct mp_target *up = &cfg->upstream.url.host;
    if (cfg->upstream.kind == UPSTREAM_DIRECT)
        return;
    if (up->kind == TARGET_IPV4)
        memcpy(h->probe4, &((const struct sockaddr_in *)&up->addr)->sin_addr, 4);
    else if (up->kind == TARGET_IPV6)
        memcpy(h->probe6, &((const struct sockaddr_in6 *)&up->addr)->sin6_addr, 16);
}

static int open_sockets(struct pathheal *h, char *err, size_t cap)
{
    int rc = mptcp_pm_open(&h->pm, err, cap);
    if (rc != 0)
        return rc;
    uint32_t groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if ((rc = nlsock_open(&h->rtnl, NETLINK_ROUTE, 0, false)) != 0 ||
        (rc = nlsock_open(&h->events, NETLINK_ROUTE, groups, true)) != 0) {
        snprintf(err, cap, "rtnetlink socket: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

static void free_heal(struct pathheal *h)
{
    mptcp_pm_close(&h->pm);
    nlsock_close(&h->rtnl);
    nlsock_close(&h->events);
    free(h);
}

struct pathheal *pathheal_start(uv_loop_t *loop, const struct config *cfg)
{
    char wans[CONFIG_WAN_MAX * (CONFIG_IFNAME_SIZE + 2)], err[ERR_MAX];
    if (cfg->n_wan == 0)
        return NULL;
    wan_list(cfg, wans, sizeof(wans));
    if (!has_net_admin()) {
        log_warn("path healing off for %s: mpconv lacks CAP_NET_ADMIN, which MPTCP endpoints need; "
                 "connections keep working, but lost subflows are not restored",
                 wans);
        return NULL;
    }
    struct pathheal *h = calloc(1, sizeof(*h));
    if (!h) {
        log_warn("path healing off: out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->pm.sock.fd = h->rtnl.fd = h->events.fd = -1;
    if (open_sockets(h, err, sizeof(err)) != 0) {
        log_warn("path healing off for %s: %s", wans, err);
        free_heal(h);
        return NULL;
    }
    set_probes(h, cfg);
    uv_poll_init(loop, &h->poll, h->events.fd);
    uv_timer_init(loop, &h->soon);
    uv_timer_init(loop, &h->periodic);
    h->poll.data = h->soon.data = h->periodic.data = h;
    h->open_handles = 3;
    uv_poll_start(&h->poll, UV_READABLE, on_events);
    uv_timer_start(&h->periodic, on_periodic, HEAL_RESYNC_MS, HEAL_RESYNC_MS);
    log_info("path healing on for %s: one MPTCP subflow endpoint per WAN address, re-added when a link "
             "comes back (resync every %d s)",
             wans, HEAL_RESYNC_MS / 1000);
    sync_now(h);
    return h;
}

static void on_closed(uv_handle_t *handle)
{
    struct pathheal *h = handle->data;
    if (--h->open_handles == 0)
        free_heal(h);
}

void pathheal_stop(struct pathheal *h)
{
    if (!h)
        return;
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->soon, on_closed);
    uv_close((uv_handle_t *)&h->periodic, on_closed);
}
