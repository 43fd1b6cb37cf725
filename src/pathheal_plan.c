/* Path healing's decision: current state in, endpoint changes out (see
 * pathheal.h). Pure: no sockets, no clock. */
#include "mpconv/pathheal.h"

#include <string.h>

static bool known_addr(const struct heal_known *known, size_t n, const struct mptcp_endpoint *ep)
{
    for (size_t i = 0; i < n; i++)
        if (mptcp_endpoint_same_addr(ep, known[i].family, known[i].addr))
            return true;
    return false;
}

static bool on_a_wan(const struct heal_wan *wans, size_t n_wans, const struct mptcp_endpoint *ep)
{
    for (size_t w = 0; w < n_wans; w++)
        for (size_t a = 0; a < wans[w].n_addrs; a++)
            if (mptcp_endpoint_same_addr(ep, wans[w].addrs[a].family, wans[w].addrs[a].addr))
                return true;
    return false;
}

/* A `subflow` endpoint bound to the WAN's device, made by an administrator or by us. */
static bool proper(const struct mptcp_endpoint *ep, const struct heal_wan *w)
{
    return ep->ifindex == w->ifindex && (ep->flags & MPTCP_EP_SUBFLOW) && !(ep->flags & MPTCP_EP_IMPLICIT);
}

static void push(struct heal_plan *plan, enum heal_op op, enum heal_why why, size_t wan,
                 const struct mptcp_endpoint *ep)
{
    if (plan->n < HEAL_ACTIONS_MAX)
        plan->v[plan->n++] = (struct heal_action){op, why, wan, *ep};
}

/* The endpoint to add for address a of WAN w, keeping what an old one had
 * (backup, fullmesh, a signal port) but always `subflow` and the WAN's dev. */
static struct mptcp_endpoint wanted(const struct heal_wan *w, const struct heal_addr *a,
                                    const struct mptcp_endpoint *old)
{
    struct mptcp_endpoint ep = {.family = a->family, .ifindex = w->ifindex, .flags = MPTCP_EP_SUBFLOW};
    memcpy(ep.addr, a->addr, sizeof(ep.addr));
    if (old) {
        ep.flags = (old->flags | MPTCP_EP_SUBFLOW) & ~MPTCP_EP_IMPLICIT;
        ep.port = (old->flags & MPTCP_EP_SIGNAL) ? old->port : 0;
    }
    return ep;
}

static void plan_wan(const struct heal_wan *w, size_t wi, const struct mptcp_endpoint *eps, size_t n_eps,
                     struct heal_plan *plan)
{
    for (size_t i = 0; i < w->n_addrs; i++) {
        const struct heal_addr *a = &w->addrs[i];
        const struct mptcp_endpoint *old = mptcp_endpoint_find(eps, n_eps, a->family, a->addr);
        bool in_sync = old && proper(old, w);
        if (in_sync && !w->refresh)
            continue;
        /* Adding before the WAN routes would make the kernel try subflows
         * that fail once and are never retried. */
        if (!a->route_ready && !w->overdue) {
            if (wi < CONFIG_WAN_MAX)
                plan->waiting[wi] = true;
            continue;
        }
        enum heal_why why = !old ? HEAL_NEW_ADDR : in_sync ? HEAL_LINK_UP : HEAL_FIX;
        if (old)
            push(plan, HEAL_DEL, why, wi, old);
        struct mptcp_endpoint ep = wanted(w, a, old);
        push(plan, HEAL_ADD, why, wi, &ep);
    }
}

void heal_plan_make(const struct heal_wan *wans, size_t n_wans, const struct mptcp_endpoint *eps, size_t n_eps,
                    const struct heal_known *known, size_t n_known, struct heal_plan *plan)
{
    plan->n = 0;
    memset(plan->waiting, 0, sizeof(plan->waiting));
    for (size_t w = 0; w < n_wans; w++)
        if (wans[w].ifindex > 0 && wans[w].up)
            plan_wan(&wans[w], w, eps, n_eps, plan);
    for (size_t i = 0; i < n_eps; i++)
        if (!on_a_wan(wans, n_wans, &eps[i]) && known_addr(known, n_known, &eps[i]))
            push(plan, HEAL_DEL, HEAL_ADDR_GONE, SIZE_MAX, &eps[i]);
}

const char *heal_why_name(enum heal_why why)
{
    switch (why) {
    case HEAL_NEW_ADDR:
        return "new address";
    case HEAL_LINK_UP:
        return "link up again";
    case HEAL_FIX:
        return "endpoint lacked subflow or this dev";
    case HEAL_ADDR_GONE:
        break;
    }
    return "address gone";
}
