/* `mpconv check`: is this host set up so that connections use MPTCP over
 * every WAN? doctor_gather() collects facts (sysctls, path-manager netlink,
 * rtnetlink, /proc/net/netstat, an optional live connection);
 * doctor_evaluate() is the pure judgement that turns them into report
 * lines: ok, warn, or FAIL (something prevents MPTCP or aggregation). */
#ifndef MPCONV_DOCTOR_H
#define MPCONV_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "mpconv/config.h"
#include "mpconv/mptcp_pm.h"
#include "mpconv/rtnl.h"
#include "mpconv/sock.h"
#include "mpconv/target.h"

#define DOCTOR_WAN_ADDRS 8
#define DOCTOR_SUBFLOWS_MAX 8
#define DOCTOR_TEXT_MAX 512

/* Exit codes of `mpconv check`. */
enum { DOCTOR_EXIT_OK = 0, DOCTOR_EXIT_FAIL = 1, DOCTOR_EXIT_USAGE = 2 };

/* MPTcpExt counters the report explains (names as in /proc/net/netstat). */
enum doctor_mib {
    MIB_BLACKHOLE,
    MIB_SYN_TX_DISABLED,
    MIB_SYN_TX_DROP,
    MIB_FALLBACK_SYNACK,
    MIB_FALLBACK_ACK,
    MIB_JOIN_SYN_TX,
    MIB_JOIN_SYNACK_RX,
    MIB_JOIN_CREATE_ERR,
    MIB_JOIN_BIND_ERR,
    MIB_JOIN_CONNECT_ERR,
    MIB_JOIN_REJECTED,
    MIB_JOIN_NO_TOKEN,
    MIB_JOIN_SYNACK_HMAC,
    MIB_JOIN_ACK_HMAC,
    MIB_N
};
extern const char *const doctor_mib_names[MIB_N];

struct doctor_wan_addr {
    uint8_t family;
    uint8_t prefixlen;
    uint8_t addr[16];
    int route_err;           /* 0, or -errno of the route lookup */
    struct rtnl_route route; /* when route_err is 0 */
};

struct doctor_wan {
    char name[CONFIG_IFNAME_SIZE];
    int32_t ifindex; /* 0: no such interface */
    uint32_t flags;  /* IFF_* */
    struct doctor_wan_addr addrs[DOCTOR_WAN_ADDRS];
    size_t n_addrs;
    int rp_filter; /* effective IPv4 value (max of all and the device), -1 unknown */
};

struct doctor_connect {
    bool asked;
    char target[300]; /* HOST:PORT as given */
    char addr[64];    /* the address connected to */
    int err;          /* 0, or -errno (resolving, socket, connect) */
    char err_text[TARGET_HOST_MAX + 128];
    enum mptcp_state state;
    unsigned subflows;
    unsigned waited_ms;
    bool nudged; /* keepalive set to 1 s: subflows start without sending data (6.10+) */
    size_t n_paths;
    struct sockaddr_storage paths[DOCTOR_SUBFLOWS_MAX]; /* local address of each subflow */
    bool blackhole_hit; /* the SYN went out as plain TCP because of blackhole detection */
};

struct doctor_facts {
    char kernel[65];       /* uname release */
    int socket_err;        /* socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP): 0 or -errno */
    int enabled;           /* net.mptcp.enabled; -1: no such sysctl */
    char path_manager[16]; /* "kernel", "userspace"; "" when the kernel has no choice */
    long blackhole_timeout; /* net.mptcp.blackhole_timeout (6.12+); -1: absent */
    int pm_err;            /* 0, or -errno talking to the path manager */
    char pm_err_text[160];
    struct mptcp_limits limits;
    struct mptcp_endpoint eps[MPTCP_ENDPOINTS_MAX];
    size_t n_eps;
    struct rtnl_state net; /* interfaces and addresses */
    int net_err;
    struct doctor_wan wans[CONFIG_WAN_MAX];
    size_t n_wans;
    bool wans_from_endpoints; /* none given: the endpoints' devices */
    bool mib_present[MIB_N];
    uint64_t mib[MIB_N];
    struct doctor_connect conn;
};

enum doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_line {
    enum doctor_level level;
    char text[DOCTOR_TEXT_MAX];
};

struct doctor_report {
    struct doctor_line *v;
    size_t n;
    size_t warns, fails;
};

/* The judgement: one line per check (pure; report lines are malloc'ed). */
void doctor_evaluate(const struct doctor_facts *f, struct doctor_report *r);
void doctor_report_print(const struct doctor_report *r, FILE *out);
void doctor_report_free(struct doctor_report *r);
/* DOCTOR_EXIT_FAIL when a line is FAIL, else DOCTOR_EXIT_OK. */
int doctor_exit_code(const struct doctor_report *r);

/* Collects the facts about this host (and network namespace): WANs from
 * cfg->wan (none: the endpoints' devices), routes looked up with cfg->mark,
 * a live MPTCP connection to connect ("HOST:PORT", NULL for none). */
void doctor_gather(const struct config *cfg, const char *connect, struct doctor_facts *f);
void doctor_facts_free(struct doctor_facts *f);

/* gather + evaluate + print; returns the exit code. */
int doctor_run(const struct config *cfg, const char *connect, FILE *out);

#endif
