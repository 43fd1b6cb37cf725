/* Unit tests for heal_plan_make (src/pathheal_plan.c): the decision of
 * path healing, state in, endpoint changes out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "mpconv/pathheal.h"

#define WAN1 3 /* ifindexes */
#define WAN2 4
#define LAN 2

static struct heal_plan *plan;

static int setup(void **state)
{
    (void)state;
    plan = calloc(1, sizeof(*plan));
    return plan ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(plan);
    return 0;
}

static struct heal_addr addr(const char *ip, bool route_ready)
{
    struct heal_addr a = {.family = strchr(ip, ':') ? AF_INET6 : AF_INET, .route_ready = route_ready};
    assert_int_equal(inet_pton(a.family, ip, a.addr), 1);
    return a;
}

static struct mptcp_endpoint ep(uint8_t id, const char *ip, uint32_t flags, int32_t ifindex)
{
    struct heal_addr a = addr(ip, false);
    struct mptcp_endpoint e = {.id = id, .family = a.family, .flags = flags, .ifindex = ifindex};
    memcpy(e.addr, a.addr, sizeof(e.addr));
    return e;
}

static struct heal_known known(const char *ip)
{
    struct heal_addr a = addr(ip, false);
    struct heal_known k = {.family = a.family};
    memcpy(k.addr, a.addr, sizeof(k.addr));
    return k;
}

/* Two up WANs with one address each, routes ready. */
static void two_wans(struct heal_wan *w)
{
    memset(w, 0, 2 * sizeof(*w));
    w[0] = (struct heal_wan){.name = "wan1", .ifindex = WAN1, .up = true, .n_addrs = 1};
    w[0].addrs[0] = addr("10.1.1.1", true);
    w[1] = (struct heal_wan){.name = "wan2", .ifindex = WAN2, .up = true, .n_addrs = 1};
    w[1].addrs[0] = addr("10.2.2.1", true);
}

static void assert_action(size_t i, enum heal_op op, enum heal_why why, size_t wan, uint8_t id, const char *ip,
                          uint32_t flags, int32_t ifindex)
{
    assert_true(i < plan->n);
    const struct heal_action *a = &plan->v[i];
    struct mptcp_endpoint want = ep(id, ip, flags, ifindex);
    assert_int_equal(a->op, op);
    assert_int_equal(a->why, why);
    assert_int_equal(a->wan, wan);
    assert_true(mptcp_endpoint_same_addr(&a->ep, want.family, want.addr));
    if (op == HEAL_DEL) {
        assert_int_equal(a->ep.id, id);
        return;
    }
    assert_int_equal(a->ep.id, 0); /* the kernel picks */
    assert_int_equal(a->ep.flags, flags);
    assert_int_equal(a->ep.ifindex, ifindex);
}

static void test_in_sync(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1),
                                   ep(2, "10.2.2.1", MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP, WAN2),
                                   ep(3, "192.168.1.1", MPTCP_EP_SIGNAL, LAN)};
    heal_plan_make(w, 2, eps, 3, NULL, 0, plan);
    assert_int_equal(plan->n, 0);
    assert_false(plan->waiting[0] || plan->waiting[1]);
}

static void test_new_addresses(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    w[1].addrs[1] = addr("2001:db8::2", true);
    w[1].n_addrs = 2;
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1)};
    heal_plan_make(w, 2, eps, 1, NULL, 0, plan);
    assert_int_equal(plan->n, 2);
    assert_action(0, HEAL_ADD, HEAL_NEW_ADDR, 1, 0, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN2);
    assert_action(1, HEAL_ADD, HEAL_NEW_ADDR, 1, 0, "2001:db8::2", MPTCP_EP_SUBFLOW, WAN2);
}

/* No route out of the WAN yet: wait (a subflow tried now would fail once
 * and never be retried); after the deadline, add anyway. */
static void test_waits_for_route(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    w[1].addrs[0].route_ready = false;
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1)};
    heal_plan_make(w, 2, eps, 1, NULL, 0, plan);
    assert_int_equal(plan->n, 0);
    assert_false(plan->waiting[0]);
    assert_true(plan->waiting[1]);

    w[1].overdue = true;
    heal_plan_make(w, 2, eps, 1, NULL, 0, plan);
    assert_int_equal(plan->n, 1);
    assert_action(0, HEAL_ADD, HEAL_NEW_ADDR, 1, 0, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN2);
    assert_false(plan->waiting[1]);
}

/* The WAN came back: delete and re-add, keeping backup/fullmesh. */
static void test_link_up_readds(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    w[1].refresh = true;
    uint32_t flags = MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP | MPTCP_EP_FULLMESH;
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1), ep(2, "10.2.2.1", flags, WAN2)};
    heal_plan_make(w, 2, eps, 2, NULL, 0, plan);
    assert_int_equal(plan->n, 2);
    assert_action(0, HEAL_DEL, HEAL_LINK_UP, 1, 2, "10.2.2.1", 0, 0);
    assert_action(1, HEAL_ADD, HEAL_LINK_UP, 1, 0, "10.2.2.1", flags, WAN2);

    /* Not before its route is back. */
    w[1].addrs[0].route_ready = false;
    heal_plan_make(w, 2, eps, 2, NULL, 0, plan);
    assert_int_equal(plan->n, 0);
    assert_true(plan->waiting[1]);

    /* A WAN still down is left alone, refresh or not. */
    w[1].up = false;
    heal_plan_make(w, 2, eps, 2, NULL, 0, plan);
    assert_int_equal(plan->n, 0);
    assert_false(plan->waiting[1]);
}

/* Endpoints for a WAN address without dev, without subflow, on another
 * device or made implicitly by the kernel are replaced by proper ones. */
static void test_fixes_endpoints(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    struct mptcp_endpoint eps[] = {ep(5, "10.1.1.1", MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP, 0),
                                   ep(6, "10.2.2.1", MPTCP_EP_SIGNAL, WAN2)};
    eps[1].port = 8443;
    heal_plan_make(w, 2, eps, 2, NULL, 0, plan);
    assert_int_equal(plan->n, 4);
    assert_action(0, HEAL_DEL, HEAL_FIX, 0, 5, "10.1.1.1", 0, 0);
    assert_action(1, HEAL_ADD, HEAL_FIX, 0, 0, "10.1.1.1", MPTCP_EP_SUBFLOW | MPTCP_EP_BACKUP, WAN1);
    assert_action(2, HEAL_DEL, HEAL_FIX, 1, 6, "10.2.2.1", 0, 0);
    assert_action(3, HEAL_ADD, HEAL_FIX, 1, 0, "10.2.2.1", MPTCP_EP_SUBFLOW | MPTCP_EP_SIGNAL, WAN2);
    assert_int_equal(plan->v[3].ep.port, 8443); /* a signal endpoint keeps its port */

    struct mptcp_endpoint other[] = {ep(7, "10.1.1.1", MPTCP_EP_IMPLICIT, WAN1),
                                     ep(8, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN1)};
    other[0].port = 99; /* not a signal endpoint: the port goes */
    heal_plan_make(w, 2, other, 2, NULL, 0, plan);
    assert_int_equal(plan->n, 4);
    assert_action(1, HEAL_ADD, HEAL_FIX, 0, 0, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1);
    assert_int_equal(plan->v[1].ep.port, 0);
    assert_action(3, HEAL_ADD, HEAL_FIX, 1, 0, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN2);
}

/* An address that left its WAN: its endpoint goes, if it was a WAN address
 * (known); endpoints of other addresses stay. */
static void test_address_gone(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    w[1].addrs[0] = addr("10.2.2.7", true);
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1), ep(2, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN2),
                                   ep(3, "192.168.1.1", MPTCP_EP_SUBFLOW, LAN)};
    struct heal_known k[] = {known("10.1.1.1"), known("10.2.2.1")};
    heal_plan_make(w, 2, eps, 3, k, 2, plan);
    assert_int_equal(plan->n, 2);
    assert_action(0, HEAL_ADD, HEAL_NEW_ADDR, 1, 0, "10.2.2.7", MPTCP_EP_SUBFLOW, WAN2);
    assert_action(1, HEAL_DEL, HEAL_ADDR_GONE, SIZE_MAX, 2, "10.2.2.1", 0, 0);

    /* Not known: someone else's endpoint, left alone. */
    heal_plan_make(w, 2, eps, 3, k, 1, plan);
    assert_int_equal(plan->n, 1);
    assert_int_equal(plan->v[0].op, HEAL_ADD);
}

/* A WAN that is down keeps its endpoints (its addresses are still there);
 * one that disappeared loses them. */
static void test_down_and_absent_wans(void **state)
{
    (void)state;
    struct heal_wan w[2];
    two_wans(w);
    w[1].up = false;
    struct mptcp_endpoint eps[] = {ep(1, "10.1.1.1", MPTCP_EP_SUBFLOW, WAN1), ep(2, "10.2.2.1", MPTCP_EP_SUBFLOW, WAN2)};
    struct heal_known k[] = {known("10.2.2.1")};
    heal_plan_make(w, 2, eps, 2, k, 1, plan);
    assert_int_equal(plan->n, 0);

    w[1] = (struct heal_wan){.name = "wan2"}; /* no such interface any more */
    heal_plan_make(w, 2, eps, 2, k, 1, plan);
    assert_int_equal(plan->n, 1);
    assert_action(0, HEAL_DEL, HEAL_ADDR_GONE, SIZE_MAX, 2, "10.2.2.1", 0, 0);
}

static void test_why_names(void **state)
{
    (void)state;
    assert_string_equal(heal_why_name(HEAL_NEW_ADDR), "new address");
    assert_string_equal(heal_why_name(HEAL_LINK_UP), "link up again");
    assert_string_equal(heal_why_name(HEAL_FIX), "endpoint lacked subflow or this dev");
    assert_string_equal(heal_why_name(HEAL_ADDR_GONE), "address gone");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_sync),          cmocka_unit_test(test_new_addresses),
        cmocka_unit_test(test_waits_for_route),  cmocka_unit_test(test_link_up_readds),
        cmocka_unit_test(test_fixes_endpoints),  cmocka_unit_test(test_address_gone),
        cmocka_unit_test(test_down_and_absent_wans), cmocka_unit_test(test_why_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
