/* `mpconv check`: collecting the facts (see doctor.h). Everything here only
 * reads, except the optional live connection. */
#include "mpconv/doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "mpconv/netstat.h"
#include "mpconv/target.h"

#define SYSCTL_DIR "/proc/sys/net/"
#define NETSTAT_PATH "/proc/net/netstat"
#define NETSTAT_MAX (64 * 1024)
/* Route lookups need a destination: without --connect, documentation
 * addresses that only a default route covers. */
#define PROBE4 "192.0.2.1"
#define PROBE6 "2001:db8::1"
#define CONNECT_TIMEOUT_MS 5000
#define SUBFLOW_WAIT_MS 4000
#define SUBFLOW_POLL_MS 100
#define KEEPALIVE_NUDGE_S 1

/* ---- files ---- */

static int read_text(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    *len = fread(buf, 1, cap - 1, fp);
    buf[*len] = '\0';
    int rc = ferror(fp) ? -1 : 0;
    fclose(fp);
    return rc;
}

static int read_sysctl_word(const char *name, char *out, size_t cap)
{
    char path[256], buf[64];
    size_t len;
    snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
    if (read_text(path, buf, sizeof(buf), &len) != 0 || len == 0)
        return -1;
    buf[strcspn(buf, " \t\n")] = '\0';
    snprintf(out, cap, "%s", buf);
    return 0;
}

static long read_sysctl_long(const char *name, long missing)
{
    char word[64], *end;
    if (read_sysctl_word(name, word, sizeof(word)) != 0)
        return missing;
    long v = strtol(word, &end, 10);
    return end != word && *end == '\0' ? v : missing;
}

static void gather_sysctls(struct doctor_facts *f)
{
    f->enabled = (int)read_sysctl_long("mptcp/enabled", -1);
    f->blackhole_timeout = read_sysctl_long("mptcp/blackhole_timeout", -1);
    if (read_sysctl_word("mptcp/path_manager", f->path_manager, sizeof(f->path_manager)) == 0)
        return; /* 6.15+ */
    long pm_type = read_sysctl_long("mptcp/pm_type", -1); /* 5.19+ */
    if (pm_type >= 0)
        snprintf(f->path_manager, sizeof(f->path_manager), "%s", pm_type == 1 ? "userspace" : "kernel");
}

static void read_mib(uint64_t *values, bool *present)
{
    char *text = malloc(NETSTAT_MAX);
    size_t len;
    memset(present, 0, MIB_N * sizeof(*present));
    if (text && read_text(NETSTAT_PATH, text, NETSTAT_MAX, &len) == 0)
        for (int m = 0; m < MIB_N; m++)
            present[m] = netstat_get(text, len, "MPTcpExt", doctor_mib_names[m], &values[m]) == 0;
    free(text);
}

static uint64_t mib_now(enum doctor_mib m)
{
    uint64_t values[MIB_N] = {0};
    bool present[MIB_N];
    read_mib(values, present);
    return values[m];
}

/* ---- path manager and interfaces ---- */

static void gather_pm(struct doctor_facts *f)
{
    struct mptcp_pm pm;
    char *err = f->pm_err_text;
    size_t cap = sizeof(f->pm_err_text);
    f->pm_err = mptcp_pm_open(&pm, err, cap);
    if (f->pm_err)
        return;
    f->pm_err = mptcp_pm_get_limits(&pm, &f->limits, err, cap);
    if (!f->pm_err)
        f->pm_err = mptcp_pm_list(&pm, f->eps, MPTCP_ENDPOINTS_MAX, &f->n_eps, err, cap);
    mptcp_pm_close(&pm);
}

static int rp_filter(const char *dev)
{
    char name[64];
    snprintf(name, sizeof(name), "ipv4/conf/%s/rp_filter", dev);
    long all = read_sysctl_long("ipv4/conf/all/rp_filter", -1), own = read_sysctl_long(name, -1);
    return (int)(all > own ? all : own); /* the kernel uses the larger one */
}

/* The route its subflows would take: bound to the endpoint's device when it
 * has one, to the WAN when there is no endpoint yet (as one should be). */
static void lookup_route(struct nlsock *s, const struct config *cfg, const struct doctor_facts *f,
                         const struct doctor_wan *w, const uint8_t *dst, struct doctor_wan_addr *a)
{
    char err[160];
    const struct mptcp_endpoint *ep = mptcp_endpoint_find(f->eps, f->n_eps, a->family, a->addr);
    int32_t oif = ep ? ep->ifindex : w->ifindex;
    a->route_err = rtnl_route_get(s, a->family, dst, a->addr, oif, cfg->mark, &a->route, err, sizeof(err));
}

static void gather_wan(struct nlsock *s, const struct config *cfg, struct doctor_facts *f, struct doctor_wan *w,
                       const uint8_t *dst4, const uint8_t *dst6)
{
    const struct rtnl_link *link = rtnl_link_by_name(&f->net, w->name);
    w->rp_filter = -1;
    if (!link)
        return;
    w->ifindex = link->ifindex;
    w->flags = link->flags;
    w->rp_filter = rp_filter(w->name);
    for (size_t i = 0; i < f->net.n_addrs && w->n_addrs < DOCTOR_WAN_ADDRS; i++) {
        const struct rtnl_addr *ra = &f->net.addrs[i];
        if (ra->ifindex != w->ifindex || !rtnl_addr_usable(ra))
            continue;
        struct doctor_wan_addr *a = &w->addrs[w->n_addrs++];
        a->family = ra->family;
        a->prefixlen = ra->prefixlen;
        memcpy(a->addr, ra->addr, sizeof(a->addr));
        lookup_route(s, cfg, f, w, a->family == AF_INET ? dst4 : dst6, a);
    }
}

static void add_wan_name(struct doctor_facts *f, const char *name)
{
    for (size_t i = 0; i < f->n_wans; i++)
        if (strcmp(f->wans[i].name, name) == 0)
            return;
    if (f->n_wans < CONFIG_WAN_MAX)
        snprintf(f->wans[f->n_wans++].name, sizeof(f->wans[0].name), "%s", name);
}

static void choose_wans(const struct config *cfg, struct doctor_facts *f)
{
    for (size_t i = 0; i < cfg->n_wan; i++)
        add_wan_name(f, cfg->wan[i]);
    if (cfg->n_wan > 0)
        return;
    for (size_t i = 0; i < f->n_eps; i++) {
        const struct rtnl_link *l = rtnl_link_by_index(&f->net, f->eps[i].ifindex);
        if (l && (f->eps[i].flags & MPTCP_EP_SUBFLOW))
            add_wan_name(f, l->name);
    }
    f->wans_from_endpoints = f->n_wans > 0;
}

static void gather_net(const struct config *cfg, struct doctor_facts *f, const struct sockaddr_storage *target)
{
    char err[160];
    struct nlsock s;
    uint8_t dst4[4], dst6[16];
    inet_pton(AF_INET, PROBE4, dst4);
    inet_pton(AF_INET6, PROBE6, dst6);
    if (target && target->ss_family == AF_INET)
        memcpy(dst4, &((const struct sockaddr_in *)target)->sin_addr, 4);
    if (target && target->ss_family == AF_INET6)
        memcpy(dst6, &((const struct sockaddr_in6 *)target)->sin6_addr, 16);

    f->net_err = nlsock_open(&s, NETLINK_ROUTE, 0, false);
    if (f->net_err)
        return;
    f->net_err = rtnl_fetch(&s, &f->net, err, sizeof(err));
    if (!f->net_err) {
        choose_wans(cfg, f);
        for (size_t i = 0; i < f->n_wans; i++)
            gather_wan(&s, cfg, f, &f->wans[i], dst4, dst6);
    }
    nlsock_close(&s);
}

/* ---- the live connection ---- */

static int resolve(struct doctor_connect *c, struct sockaddr_storage *to, socklen_t *to_len)
{
    struct mp_target t;
    if (target_parse_hostport(&t, c->target, strlen(c->target), 0) != 0) {
        snprintf(c->err_text, sizeof(c->err_text), "expected HOST:PORT or [IPv6]:PORT");
        return c->err = -EINVAL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", t.port);
    int rc = getaddrinfo(t.host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(c->err_text, sizeof(c->err_text), "cannot resolve %s: %s", t.host, gai_strerror(rc));
        return c->err = -ENOENT;
    }
    memcpy(to, res->ai_addr, res->ai_addrlen);
    *to_len = res->ai_addrlen;
    freeaddrinfo(res);
    sockaddr_format((const struct sockaddr *)to, c->addr, sizeof(c->addr));
    return 0;
}

/* A keepalive probe after 1 s makes the server acknowledge at the MPTCP
 * level, which completes the handshake so the path manager opens the extra
 * subflows, without sending the server a byte (TCP_KEEPIDLE on MPTCP: 6.10+). */
static bool nudge(int fd)
{
    int one = 1, idle = KEEPALIVE_NUDGE_S;
    return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle)) == 0;
}

static int connect_within(int fd, const struct sockaddr_storage *to, socklen_t to_len)
{
    if (connect(fd, (const struct sockaddr *)to, to_len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, CONNECT_TIMEOUT_MS);
    if (n == 0)
        return -ETIMEDOUT;
    if (n < 0)
        return -errno;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -err;
}

static void wait_subflows(int fd, struct doctor_connect *c, unsigned want)
{
    struct timespec pause = {0, SUBFLOW_POLL_MS * 1000000L};
    while (c->subflows < want && c->waited_ms < SUBFLOW_WAIT_MS) {
        nanosleep(&pause, NULL);
        c->waited_ms += SUBFLOW_POLL_MS;
        unsigned n = sock_mptcp_subflows(fd);
        if (n > c->subflows)
            c->subflows = n;
    }
    struct sockaddr_storage remote[DOCTOR_SUBFLOWS_MAX];
    int n = sock_mptcp_subflow_addrs(fd, c->paths, remote, DOCTOR_SUBFLOWS_MAX);
    c->n_paths = n > 0 ? (size_t)n : 0;
}

static void live_connect(const struct config *cfg, struct doctor_facts *f, const struct sockaddr_storage *to,
                         socklen_t to_len)
{
    struct doctor_connect *c = &f->conn;
    int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_MPTCP);
    if (fd < 0) {
        c->err = -errno;
        snprintf(c->err_text, sizeof(c->err_text), "cannot create an MPTCP socket: %s", strerror(errno));
        return;
    }
    c->nudged = nudge(fd);
    if (cfg->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &cfg->mark, sizeof(cfg->mark)) != 0) {
        c->err = -errno;
        snprintf(c->err_text, sizeof(c->err_text), "SO_MARK %u: %s", cfg->mark, strerror(errno));
        close(fd);
        return;
    }
    uint64_t disabled_before = mib_now(MIB_SYN_TX_DISABLED);
    c->err = connect_within(fd, to, to_len);
    if (c->err == 0) {
        c->blackhole_hit = mib_now(MIB_SYN_TX_DISABLED) > disabled_before;
        c->state = sock_mptcp_state(fd, true, &c->subflows);
        if (c->state == MPTCP_STATE_YES)
            wait_subflows(fd, c, f->n_wans > 1 ? (unsigned)f->n_wans : 1);
    } else {
        snprintf(c->err_text, sizeof(c->err_text), "%s", strerror(-c->err));
    }
    close(fd);
}

void doctor_gather(const struct config *cfg, const char *connect, struct doctor_facts *f)
{
    struct sockaddr_storage to;
    socklen_t to_len = 0;
    struct utsname u;
    memset(f, 0, sizeof(*f));
    snprintf(f->kernel, sizeof(f->kernel), "%s", uname(&u) == 0 ? u.release : "?");
    f->socket_err = sock_probe_mptcp();
    gather_sysctls(f);
    gather_pm(f);
    if (connect) {
        f->conn.asked = true;
        snprintf(f->conn.target, sizeof(f->conn.target), "%s", connect);
        if (resolve(&f->conn, &to, &to_len) != 0)
            to_len = 0;
    }
    gather_net(cfg, f, to_len ? &to : NULL);
    read_mib(f->mib, f->mib_present);
    if (to_len)
        live_connect(cfg, f, &to, to_len);
}

void doctor_facts_free(struct doctor_facts *f)
{
    rtnl_state_free(&f->net);
}

int doctor_run(const struct config *cfg, const char *connect, FILE *out)
{
    struct doctor_facts *f = calloc(1, sizeof(*f));
    if (!f) {
        fprintf(stderr, "mpconv check: out of memory\n");
        return DOCTOR_EXIT_FAIL;
    }
    struct doctor_report r;
    doctor_gather(cfg, connect, f);
    doctor_evaluate(f, &r);
    doctor_report_print(&r, out);
    int status = doctor_exit_code(&r);
    doctor_report_free(&r);
    doctor_facts_free(f);
    free(f);
    return status;
}
