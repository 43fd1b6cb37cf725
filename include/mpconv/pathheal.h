/* Path healing: with `[mpconv] wan = IF, ...`, keep one MPTCP `subflow`
 * endpoint (with `dev`) per address of each WAN interface in sync as links
 * and addresses come and go. The kernel never re-creates a closed subflow;
 * deleting and re-adding its endpoint does, on existing connections too, so
 * a WAN that comes back up gets its endpoints re-added.
 *
 * heal_plan_make() is the pure decision (state in, actions out); the rest
 * runs on the daemon's control loop: rtnetlink events through a uv_poll, a
 * periodic resync as a safety net, actions through the mptcp_pm client. */
#ifndef MPCONV_PATHHEAL_H
#define MPCONV_PATHHEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mpconv/config.h"
#include "mpconv/mptcp_pm.h"

#define HEAL_ADDRS_MAX 8 /* addresses managed per WAN */
#define HEAL_KNOWN_MAX 64
#define HEAL_ACTIONS_MAX (2 * CONFIG_WAN_MAX * HEAL_ADDRS_MAX + MPTCP_ENDPOINTS_MAX)
#define HEAL_RESYNC_MS 30000     /* periodic resync */
#define HEAL_ROUTE_WAIT_MS 60000 /* longest wait for a WAN's route before adding anyway */

struct heal_addr {
    uint8_t family;
    uint8_t addr[16];
    bool route_ready; /* a route lookup from it out of its WAN finds a real route */
};

/* One configured WAN as it is now. */
struct heal_wan {
    const char *name;
    int32_t ifindex; /* 0: no such interface */
    bool up;         /* IFF_UP and IFF_RUNNING */
    bool refresh;    /* came back up: delete and re-add its endpoints */
    bool overdue;    /* waited HEAL_ROUTE_WAIT_MS for a route: add anyway */
    struct heal_addr addrs[HEAL_ADDRS_MAX];
    size_t n_addrs;
};

/* An address that was on a WAN once: its endpoint is ours to remove. */
struct heal_known {
    uint8_t family;
    uint8_t addr[16];
};

enum heal_op { HEAL_DEL, HEAL_ADD };
enum heal_why {
    HEAL_NEW_ADDR,  /* a WAN address without an endpoint */
    HEAL_LINK_UP,   /* the WAN came back up: re-add */
    HEAL_FIX,       /* the endpoint lacks `dev` or `subflow`, or names another device */
    HEAL_ADDR_GONE, /* the address left every WAN */
};

struct heal_action {
    enum heal_op op;
    enum heal_why why;
    size_t wan;               /* index into the WANs; SIZE_MAX for HEAL_ADDR_GONE */
    struct mptcp_endpoint ep; /* DEL: the endpoint; ADD: the new one (id 0: the kernel picks) */
};

struct heal_plan {
    struct heal_action v[HEAL_ACTIONS_MAX];
    size_t n;
    bool waiting[CONFIG_WAN_MAX]; /* an address of this WAN waits for its route */
};

/* What to change so that every address of every up WAN has a proper
 * endpoint (subflow, dev = the WAN), refreshed WANs get theirs re-added, and
 * endpoints of known addresses that left the WANs go. Endpoints of other
 * addresses are left alone. Deletions come before the addition that
 * replaces them. */
void heal_plan_make(const struct heal_wan *wans, size_t n_wans, const struct mptcp_endpoint *eps, size_t n_eps,
                    const struct heal_known *known, size_t n_known, struct heal_plan *plan);

const char *heal_why_name(enum heal_why why);

/* ---- the daemon side ---- */

struct pathheal;

/* Starts healing on loop when cfg has WANs; NULL when it has none or
 * healing cannot run (logged once: no CAP_NET_ADMIN, no MPTCP, ...). */
struct pathheal *pathheal_start(uv_loop_t *loop, const struct config *cfg);
/* Closes its handles; it is freed when they are closed. NULL is fine. */
void pathheal_stop(struct pathheal *h);

#endif
