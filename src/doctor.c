/* `mpconv check`: the judgement over collected facts (see doctor.h).
 * Every line says what was found and, when it is a problem, what it means
 * for MPTCP and how to fix it. */
#include "mpconv/doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const doctor_mib_names[MIB_N] = {
    [MIB_BLACKHOLE] = "Blackhole",
    [MIB_SYN_TX_DISABLED] = "MPCapableSYNTXDisabled",
    [MIB_SYN_TX_DROP] = "MPCapableSYNTXDrop",
    [MIB_FALLBACK_SYNACK] = "MPCapableFallbackSYNACK",
    [MIB_FALLBACK_ACK] = "MPCapableFallbackACK",
    [MIB_JOIN_SYN_TX] = "MPJoinSynTx",
    [MIB_JOIN_SYNACK_RX] = "MPJoinSynAckRx",
    [MIB_JOIN_CREATE_ERR] = "MPJoinSynTxCreatSkErr",
    [MIB_JOIN_BIND_ERR] = "MPJoinSynTxBindErr",
    [MIB_JOIN_CONNECT_ERR] = "MPJoinSynTxConnectErr",
    [MIB_JOIN_REJECTED] = "MPJoinRejected",
    [MIB_JOIN_NO_TOKEN] = "MPJoinNoTokenFound",
    [MIB_JOIN_SYNACK_HMAC] = "MPJoinSynAckHMacFailure",
    [MIB_JOIN_ACK_HMAC] = "MPJoinAckHMacFailure",
};

#define RT_TABLE_DEFAULT_ID 253
#define RT_TABLE_MAIN_ID 254
#define RT_TABLE_LOCAL_ID 255

static void add(struct doctor_report *r, enum doctor_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(struct doctor_report *r, enum doctor_level level, const char *fmt, ...)
{
    struct doctor_line *grown = realloc(r->v, (r->n + 1) * sizeof(*grown));
    if (!grown)
        return;
    r->v = grown;
    struct doctor_line *l = &r->v[r->n++];
    l->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof(l->text), fmt, ap);
    va_end(ap);
    r->warns += level == DOCTOR_WARN;
    r->fails += level == DOCTOR_FAIL;
}

/* ---- small helpers ---- */

struct ip_text {
    char s[INET6_ADDRSTRLEN];
};

static struct ip_text ip_text(int family, const uint8_t *addr)
{
    struct ip_text t;
    if (!inet_ntop(family, addr, t.s, sizeof(t.s)))
        snprintf(t.s, sizeof(t.s), "?");
    return t;
}

static struct ip_text sockaddr_ip(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ip_text(AF_INET, (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr);
    return ip_text(AF_INET6, (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static const char *dev_name(const struct doctor_facts *f, int32_t ifindex)
{
    const struct rtnl_link *l = rtnl_link_by_index(&f->net, ifindex);
    return l ? l->name : NULL;
}

static void table_name(uint32_t table, char *out, size_t cap)
{
    if (table == RT_TABLE_MAIN_ID)
        snprintf(out, cap, "main");
    else if (table == RT_TABLE_DEFAULT_ID)
        snprintf(out, cap, "default");
    else if (table == RT_TABLE_LOCAL_ID)
        snprintf(out, cap, "local");
    else
        snprintf(out, cap, "%u", table);
}

/* ---- kernel and sysctls ---- */

static void check_kernel(const struct doctor_facts *f, struct doctor_report *r)
{
    int e = -f->socket_err;
    if (e == 0)
        add(r, DOCTOR_OK, "kernel: Linux %s creates MPTCP sockets", f->kernel);
    else if (e == ENOPROTOOPT)
        add(r, DOCTOR_FAIL, "kernel: Linux %s refuses MPTCP sockets in this network namespace (ENOPROTOOPT: "
            "net.mptcp.enabled is 0)", f->kernel);
    else if (e == EPROTONOSUPPORT)
        add(r, DOCTOR_FAIL, "kernel: Linux %s was built without MPTCP (CONFIG_MPTCP): every connection is "
            "plain TCP", f->kernel);
    else if (e == EINVAL)
        add(r, DOCTOR_FAIL, "kernel: Linux %s is older than 5.6 and has no MPTCP", f->kernel);
    else
        add(r, DOCTOR_FAIL, "kernel: socket(IPPROTO_MPTCP) fails on Linux %s: %s (a security policy?)",
            f->kernel, strerror(e));
}

static void check_enabled(const struct doctor_facts *f, struct doctor_report *r)
{
    if (f->enabled < 0)
        add(r, DOCTOR_FAIL, "net.mptcp.enabled: no such sysctl: this kernel has no MPTCP");
    else if (f->enabled == 0)
        add(r, DOCTOR_FAIL, "net.mptcp.enabled = 0: MPTCP is off in this network namespace, every connection "
            "is plain TCP (fix: sysctl -w net.mptcp.enabled=1)");
    else
        add(r, DOCTOR_OK, "net.mptcp.enabled = %d", f->enabled);
}

static void check_path_manager(const struct doctor_facts *f, struct doctor_report *r)
{
    if (strcmp(f->path_manager, "userspace") == 0)
        add(r, DOCTOR_WARN, "path manager: userspace: endpoints and limits do not drive connections; a "
            "daemon such as mptcpd must create the subflows (mpconv's path healing manages in-kernel "
            "endpoints only; sysctl -w net.mptcp.path_manager=kernel to use them)");
    else if (f->path_manager[0])
        add(r, DOCTOR_OK, "path manager: %s (the endpoints and limits below decide the subflows)",
            f->path_manager);
    else
        add(r, DOCTOR_OK, "path manager: in-kernel (the endpoints and limits below decide the subflows)");
}

/* ---- limits and endpoints ---- */

static void check_limits(const struct doctor_facts *f, struct doctor_report *r)
{
    const struct mptcp_limits *l = &f->limits;
    if (f->n_wans < 2) {
        add(r, DOCTOR_OK, "limits: subflows %u, add_addr_accepted %u", l->subflows, l->add_addr_accepted);
        return;
    }
    size_t need = f->n_wans - 1;
    if (l->subflows < need)
        add(r, DOCTOR_FAIL, "limits: subflows %u, but %zu WANs need at least %zu extra subflow(s) per "
            "connection (fix: ip mptcp limits set subflows %zu add_addr_accepted %u)", l->subflows,
            f->n_wans, need, need, l->add_addr_accepted);
    else
        add(r, DOCTOR_OK, "limits: subflows %u (%zu WANs need %zu), add_addr_accepted %u", l->subflows,
            f->n_wans, need, l->add_addr_accepted);
}

static void check_endpoint(const struct doctor_facts *f, const struct mptcp_endpoint *ep,
                           struct doctor_report *r)
{
    char text[200];
    const char *dev = dev_name(f, ep->ifindex);
    mptcp_endpoint_format(ep, dev, text, sizeof(text));
    const struct rtnl_link *link = rtnl_link_by_index(&f->net, ep->ifindex);
    struct ip_text ip = ip_text(ep->family, ep->addr);
    bool subflow = ep->flags & MPTCP_EP_SUBFLOW;

    if (!rtnl_find_addr(&f->net, ep->family, ep->addr))
        add(r, DOCTOR_WARN, "endpoint %s: no interface has %s any more (stale; delete it: ip mptcp "
            "endpoint delete id %u)", text, ip.s, ep->id);
    else if (ep->ifindex && !link)
        add(r, DOCTOR_WARN, "endpoint %s: interface %d no longer exists", text, (int)ep->ifindex);
    else if (link && !rtnl_link_is_up(link))
        add(r, DOCTOR_WARN, "endpoint %s: %s is down: no subflow can use it until it is up again and the "
            "endpoint is re-added (mpconv's path healing does that)", text, link->name);
    else if (subflow && !ep->ifindex)
        add(r, DOCTOR_WARN, "endpoint %s: no dev: its subflows go wherever the routing table sends %s, "
            "possibly out of another WAN (add `dev IFNAME`)", text, ip.s);
    else if (!subflow && (ep->flags & MPTCP_EP_IMPLICIT))
        add(r, DOCTOR_OK, "endpoint %s (made by the kernel for a subflow the peer opened)", text);
    else if (!subflow)
        add(r, DOCTOR_OK, "endpoint %s (announced to peers; no subflows start from it here)", text);
    else
        add(r, DOCTOR_OK, "endpoint %s", text);
}

static void check_endpoints(const struct doctor_facts *f, struct doctor_report *r)
{
    if (f->n_eps == 0) {
        add(r, DOCTOR_FAIL, "endpoints: none: every connection stays on one path (add one `subflow` "
            "endpoint per WAN: ip mptcp endpoint add ADDRESS dev IFNAME subflow)");
        return;
    }
    for (size_t i = 0; i < f->n_eps; i++)
        check_endpoint(f, &f->eps[i], r);
}

/* ---- per WAN ---- */

static bool check_wan_link(const struct doctor_wan *w, struct doctor_report *r)
{
    if (!w->ifindex) {
        add(r, DOCTOR_FAIL, "%s: no such interface", w->name);
        return false;
    }
    if (!(w->flags & IFF_UP)) {
        add(r, DOCTOR_FAIL, "%s: down (ip link set %s up)", w->name, w->name);
        return false;
    }
    if (!(w->flags & IFF_RUNNING)) {
        add(r, DOCTOR_FAIL, "%s: up, but no carrier: the link is not connected", w->name);
        return false;
    }
    if (w->n_addrs == 0) {
        add(r, DOCTOR_FAIL, "%s: up, but no usable address (global scope): no subflow can start from it",
            w->name);
        return false;
    }
    char list[DOCTOR_WAN_ADDRS * (INET6_ADDRSTRLEN + 6)] = "";
    size_t len = 0;
    for (size_t i = 0; i < w->n_addrs && len < sizeof(list); i++) {
        int n = snprintf(list + len, sizeof(list) - len, "%s%s/%u", i ? ", " : "",
                         ip_text(w->addrs[i].family, w->addrs[i].addr).s, w->addrs[i].prefixlen);
        len += n > 0 ? (size_t)n : 0;
    }
    add(r, DOCTOR_OK, "%s: up, %s", w->name, list);
    return true;
}

static void check_wan_endpoint(const struct doctor_facts *f, const struct doctor_wan *w,
                               const struct doctor_wan_addr *a, struct doctor_report *r)
{
    struct ip_text ip_buf = ip_text(a->family, a->addr);
    const char *ip = ip_buf.s;
    const struct mptcp_endpoint *ep = mptcp_endpoint_find(f->eps, f->n_eps, a->family, a->addr);
    if (!ep) {
        add(r, DOCTOR_FAIL, "%s: no MPTCP endpoint for %s: no subflow will use %s (fix: ip mptcp endpoint "
            "add %s dev %s subflow, or `wan = %s` in mpconv.conf so mpconv keeps it)",
            w->name, ip, w->name, ip, w->name, w->name);
        return;
    }
    char flags[64];
    mptcp_ep_flags_format(ep->flags, flags, sizeof(flags));
    const char *dev = dev_name(f, ep->ifindex);
    if (!(ep->flags & MPTCP_EP_SUBFLOW))
        add(r, DOCTOR_FAIL, "%s: endpoint id %u for %s is `%s`, not `subflow`: this host opens no subflow "
            "from it (ip mptcp endpoint change id %u subflow, or delete and re-add it)", w->name, ep->id,
            ip, flags, ep->id);
    else if (!ep->ifindex)
        add(r, DOCTOR_WARN, "%s: endpoint id %u for %s has no dev: its subflows follow the routing for %s "
            "(see the route line; better: delete it and add %s dev %s subflow)", w->name, ep->id, ip, ip,
            ip, w->name);
    else if (ep->ifindex != w->ifindex)
        add(r, DOCTOR_FAIL, "%s: endpoint id %u for %s is bound to %s, not %s", w->name, ep->id, ip,
            dev ? dev : "another interface", w->name);
    else
        add(r, DOCTOR_OK, "%s: %s has endpoint id %u (%s dev %s)%s", w->name, ip, ep->id, flags, w->name,
            (ep->flags & MPTCP_EP_BACKUP) ? ": backup, carries data only when the other paths fail" : "");
}

static void check_wan_route(const struct doctor_facts *f, const struct doctor_wan *w,
                            const struct doctor_wan_addr *a, struct doctor_report *r)
{
    struct ip_text ip_buf = ip_text(a->family, a->addr);
    const char *ip = ip_buf.s;
    const struct rtnl_route *rt = &a->route;
    const char *fix = a->family == AF_INET ? "ip rule add from %s table T; ip route add default via GATEWAY "
                                             "dev %s table T"
                                           : "ip -6 rule add from %s table T; ip -6 route add default via "
                                             "GATEWAY dev %s table T";
    char how[200];
    snprintf(how, sizeof(how), fix, ip, w->name);
    if (a->route_err) {
        add(r, DOCTOR_FAIL, "%s: no route for traffic from %s (%s): its subflows cannot leave (fix: %s)",
            w->name, ip, strerror(-a->route_err), how);
    } else if (rt->oif != w->ifindex) {
        const char *via = dev_name(f, rt->oif);
        add(r, DOCTOR_FAIL, "%s: traffic from %s leaves via %s, not %s (fix, source policy routing: %s)",
            w->name, ip, via ? via : "another interface", w->name, how);
    } else if (rt->table == 0) {
        add(r, DOCTOR_FAIL, "%s: nothing routes out of %s: the kernel only guesses destinations are on-link "
            "there, which fails behind a gateway (fix: %s)", w->name, w->name, how);
    } else {
        char table[16], gw[INET6_ADDRSTRLEN + 16] = "directly";
        table_name(rt->table, table, sizeof(table));
        if (rt->has_gateway)
            snprintf(gw, sizeof(gw), "via %s", ip_text(rt->family, rt->gateway).s);
        add(r, DOCTOR_OK, "%s: traffic from %s leaves via %s (%s, table %s)", w->name, ip, w->name, gw, table);
    }
}

static void check_rp_filter(const struct doctor_wan *w, struct doctor_report *r)
{
    if (w->rp_filter < 0)
        return;
    if (w->rp_filter == 1)
        add(r, DOCTOR_WARN, "%s: rp_filter = 1 (strict): packets arriving on %s from addresses the kernel "
            "would route out of another WAN are dropped, which breaks asymmetric subflows (fix: sysctl -w "
            "net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2)", w->name, w->name, w->name);
    else
        add(r, DOCTOR_OK, "%s: rp_filter = %d (%s)", w->name, w->rp_filter, w->rp_filter == 0 ? "off" : "loose");
}

static void check_wans(const struct doctor_facts *f, struct doctor_report *r)
{
    if (f->n_wans == 0) {
        add(r, DOCTOR_WARN, "WANs: none given (--wan IFNAME, or [mpconv] wan in the file given with -c) and "
            "no endpoint names a device: per-WAN checks skipped");
        return;
    }
    if (f->wans_from_endpoints) {
        char list[CONFIG_WAN_MAX * (CONFIG_IFNAME_SIZE + 2)] = "";
        for (size_t i = 0; i < f->n_wans; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", f->wans[i].name);
        add(r, DOCTOR_WARN, "WANs: none given (--wan IFNAME or [mpconv] wan); checking the endpoints' "
            "devices: %s", list);
    }
    for (size_t i = 0; i < f->n_wans; i++) {
        const struct doctor_wan *w = &f->wans[i];
        bool up = check_wan_link(w, r);
        for (size_t a = 0; a < w->n_addrs; a++) {
            check_wan_endpoint(f, w, &w->addrs[a], r);
            if (up)
                check_wan_route(f, w, &w->addrs[a], r);
        }
        if (w->ifindex)
            check_rp_filter(w, r);
    }
}

/* ---- blackhole detection and counters ---- */

static void check_blackhole(const struct doctor_facts *f, struct doctor_report *r)
{
    uint64_t events = f->mib[MIB_BLACKHOLE], disabled = f->mib[MIB_SYN_TX_DISABLED];
    if (f->blackhole_timeout < 0)
        return; /* before 6.12: no blackhole detection */
    if (f->mib_present[MIB_BLACKHOLE] && events > 0)
        add(r, DOCTOR_WARN, "MPTCP blackhole detected %llu time(s) (MPTcpExtBlackhole): MPTCP SYNs were "
            "dropped on a path while plain TCP got through, so the kernel started new connections as plain "
            "TCP for up to net.mptcp.blackhole_timeout = %ld s (doubling on repeats); %llu connection(s) "
            "started as TCP because of it (MPCapableSYNTXDisabled). Find what drops MPTCP SYNs; `sysctl -w "
            "net.mptcp.blackhole_timeout=%ld` re-enables MPTCP now, 0 turns detection off",
            (unsigned long long)events, f->blackhole_timeout, (unsigned long long)disabled,
            f->blackhole_timeout ? f->blackhole_timeout : 3600);
    else if (f->blackhole_timeout == 0)
        add(r, DOCTOR_OK, "net.mptcp.blackhole_timeout = 0: blackhole detection off (dropped MPTCP SYNs never "
            "turn MPTCP off)");
    else
        add(r, DOCTOR_OK, "net.mptcp.blackhole_timeout = %ld s; no MPTCP blackhole seen (MPTcpExtBlackhole 0)",
            f->blackhole_timeout);
}

static uint64_t mib(const struct doctor_facts *f, enum doctor_mib m)
{
    return f->mib_present[m] ? f->mib[m] : 0;
}

static void check_counters(const struct doctor_facts *f, struct doctor_report *r)
{
    size_t before = r->warns;
    unsigned long long n;
    if ((n = mib(f, MIB_SYN_TX_DROP)))
        add(r, DOCTOR_WARN, "counters: %llu MPTCP SYN(s) unanswered and retried without MPTCP "
            "(MPCapableSYNTXDrop): something on a path drops MPTCP SYNs", n);
    if ((n = mib(f, MIB_FALLBACK_SYNACK)))
        add(r, DOCTOR_WARN, "counters: %llu outgoing connection(s) fell back to TCP (MPCapableFallbackSYNACK): "
            "the server answered without MPTCP (it does not speak MPTCP, or a middlebox strips the option); "
            "normal for direct connections to ordinary servers, not for a concentrator", n);
    if ((n = mib(f, MIB_FALLBACK_ACK)))
        add(r, DOCTOR_WARN, "counters: %llu incoming connection(s) fell back to TCP (MPCapableFallbackACK): the "
            "client's handshake lost its MPTCP option on the way", n);
    if ((n = mib(f, MIB_JOIN_CREATE_ERR) + mib(f, MIB_JOIN_BIND_ERR) + mib(f, MIB_JOIN_CONNECT_ERR)))
        add(r, DOCTOR_WARN, "counters: %llu extra subflow(s) could not be opened here (MPJoinSynTx*Err): an "
            "endpoint's address or device was unusable (a WAN down, without route or address)", n);
    if (mib(f, MIB_JOIN_SYN_TX) > 0 && f->mib_present[MIB_JOIN_SYNACK_RX] && mib(f, MIB_JOIN_SYNACK_RX) == 0)
        add(r, DOCTOR_WARN, "counters: %llu subflow SYN(s) (MP_JOIN) sent, none answered (MPJoinSynAckRx 0): "
            "the server's subflows limit is 0, or a firewall drops the extra subflows",
            (unsigned long long)mib(f, MIB_JOIN_SYN_TX));
    if ((n = mib(f, MIB_JOIN_REJECTED)))
        add(r, DOCTOR_WARN, "counters: %llu subflow request(s) rejected here (MPJoinRejected): this host's "
            "subflows limit was reached", n);
    if ((n = mib(f, MIB_JOIN_NO_TOKEN)))
        add(r, DOCTOR_WARN, "counters: %llu subflow request(s) for connections this host does not know "
            "(MPJoinNoTokenFound)", n);
    if ((n = mib(f, MIB_JOIN_SYNACK_HMAC) + mib(f, MIB_JOIN_ACK_HMAC)))
        add(r, DOCTOR_WARN, "counters: %llu subflow handshake(s) failed authentication (MPJoin*HMacFailure): a "
            "middlebox alters TCP options?", n);
    if (r->warns == before && f->mib_present[MIB_FALLBACK_SYNACK])
        add(r, DOCTOR_OK, "counters: no MPTCP fallbacks or subflow failures (MPTcpExt in /proc/net/netstat)");
}

/* ---- the live connection ---- */

/* "HOST:PORT (ADDRESS:PORT)", or just the target when it is the address. */
static void connect_name(const struct doctor_connect *c, char *out, size_t cap)
{
    if (c->addr[0] && strcmp(c->addr, c->target) != 0)
        snprintf(out, cap, "%s (%s)", c->target, c->addr);
    else
        snprintf(out, cap, "%s", c->target);
}

static void check_connect(const struct doctor_facts *f, struct doctor_report *r)
{
    const struct doctor_connect *c = &f->conn;
    char name[sizeof(c->target) + sizeof(c->addr) + 4];
    if (!c->asked)
        return;
    connect_name(c, name, sizeof(name));
    if (c->err) {
        add(r, DOCTOR_FAIL, "connect %s: %s", name, c->err_text);
        return;
    }
    if (c->state != MPTCP_STATE_YES) {
        add(r, DOCTOR_FAIL, "connect %s: plain TCP, no MPTCP: %s", name,
            c->blackhole_hit ? "blackhole detection sent the SYN without MPTCP (see above)"
                             : "the server answered without MPTCP (it does not speak MPTCP, or a middlebox "
                               "strips the option)");
        return;
    }
    char paths[DOCTOR_SUBFLOWS_MAX * (INET6_ADDRSTRLEN + 2) + 16] = "";
    for (size_t i = 0; i < c->n_paths; i++)
        snprintf(paths + strlen(paths), sizeof(paths) - strlen(paths), "%s%s", i ? ", " : "; from ",
                 sockaddr_ip(&c->paths[i]).s);
    unsigned want = f->n_wans > 1 ? (unsigned)f->n_wans : 1;
    double secs = c->waited_ms / 1000.0;
    if (c->subflows >= want)
        add(r, DOCTOR_OK, "connect %s: MPTCP, %u subflow(s) after %.1f s%s", name, c->subflows, secs, paths);
    else if (!c->nudged)
        add(r, DOCTOR_WARN, "connect %s: MPTCP, %u subflow(s) after %.1f s%s; extra subflows start after the "
            "first data exchange, which this check does not send on kernels before 6.10", name, c->subflows,
            secs, paths);
    else
        add(r, DOCTOR_FAIL, "connect %s: MPTCP, but %u subflow(s) after %.1f s%s; want %u, one per WAN", name,
            c->subflows, secs, paths, want);
}

void doctor_evaluate(const struct doctor_facts *f, struct doctor_report *r)
{
    *r = (struct doctor_report){0};
    check_kernel(f, r);
    check_enabled(f, r);
    check_path_manager(f, r);
    if (f->pm_err) {
        add(r, DOCTOR_FAIL, "path manager: cannot read limits and endpoints: %s", f->pm_err_text);
    } else {
        check_limits(f, r);
        check_endpoints(f, r);
    }
    if (f->net_err)
        add(r, DOCTOR_FAIL, "interfaces: cannot read them (rtnetlink): %s", strerror(-f->net_err));
    else
        check_wans(f, r);
    check_blackhole(f, r);
    check_counters(f, r);
    check_connect(f, r);
}

void doctor_report_print(const struct doctor_report *r, FILE *out)
{
    static const char *const words[] = {[DOCTOR_OK] = "ok", [DOCTOR_WARN] = "warn", [DOCTOR_FAIL] = "FAIL"};
    for (size_t i = 0; i < r->n; i++)
        fprintf(out, "%-5s %s\n", words[r->v[i].level], r->v[i].text);
    if (r->fails)
        fprintf(out, "result: %zu problem(s) prevent MPTCP or aggregation (FAIL above), %zu warning(s)\n",
                r->fails, r->warns);
    else
        fprintf(out, "result: no problem found that prevents MPTCP or aggregation, %zu warning(s)\n", r->warns);
}

void doctor_report_free(struct doctor_report *r)
{
    free(r->v);
    *r = (struct doctor_report){0};
}

int doctor_exit_code(const struct doctor_report *r)
{
    return r->fails ? DOCTOR_EXIT_FAIL : DOCTOR_EXIT_OK;
}
