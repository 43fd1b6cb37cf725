/* Unit tests for doctor_evaluate (src/doctor.c): facts in, report lines and
 * exit code out. The starting point is the two-WAN router of the testbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "mpconv/doctor.h"

static struct doctor_facts *f;
static struct doctor_report report;
static struct rtnl_link links[] = {
    {1, IFF_UP | IFF_RUNNING, "lo"},
    {2, IFF_UP | IFF_RUNNING, "lan0"},
    {3, IFF_UP | IFF_RUNNING, "wan1"},
    {4, IFF_UP | IFF_RUNNING, "wan2"},
};
static struct rtnl_addr addrs[3];

static void ip4(uint8_t *out, const char *ip)
{
    assert_int_equal(inet_pton(AF_INET, ip, out), 1);
}

static void wan(size_t i, const char *name, int32_t ifindex, const char *ip, const char *gw, uint32_t table)
{
    struct doctor_wan *w = &f->wans[i];
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->ifindex = ifindex;
    w->flags = IFF_UP | IFF_RUNNING;
    w->rp_filter = 2;
    w->n_addrs = 1;
    w->addrs[0].family = AF_INET;
    w->addrs[0].prefixlen = 24;
    ip4(w->addrs[0].addr, ip);
    w->addrs[0].route = (struct rtnl_route){.family = AF_INET, .type = RTN_UNICAST, .table = table,
                                            .oif = ifindex, .has_gateway = true};
    ip4(w->addrs[0].route.gateway, gw);
}

static void endpoint(size_t i, uint8_t id, const char *ip, uint32_t flags, int32_t ifindex)
{
    f->eps[i] = (struct mptcp_endpoint){.id = id, .family = AF_INET, .flags = flags, .ifindex = ifindex};
    ip4(f->eps[i].addr, ip);
}

static int setup(void **state)
{
    (void)state;
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->kernel, sizeof(f->kernel), "6.18.44");
    f->enabled = 1;
    snprintf(f->path_manager, sizeof(f->path_manager), "kernel");
    f->blackhole_timeout = 3600;
    f->limits = (struct mptcp_limits){2, 2};
    f->n_eps = 2;
    endpoint(0, 1, "10.1.1.1", MPTCP_EP_SUBFLOW, 3);
    endpoint(1, 2, "10.2.2.1", MPTCP_EP_SUBFLOW, 4);
    addrs[0] = (struct rtnl_addr){.ifindex = 2, .family = AF_INET, .prefixlen = 24};
    ip4(addrs[0].addr, "10.10.0.1");
    addrs[1] = (struct rtnl_addr){.ifindex = 3, .family = AF_INET, .prefixlen = 24};
    ip4(addrs[1].addr, "10.1.1.1");
    addrs[2] = (struct rtnl_addr){.ifindex = 4, .family = AF_INET, .prefixlen = 24};
    ip4(addrs[2].addr, "10.2.2.1");
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        links[i].flags = IFF_UP | IFF_RUNNING;
    f->net = (struct rtnl_state){links, 4, addrs, 3};
    f->n_wans = 2;
    wan(0, "wan1", 3, "10.1.1.1", "10.1.1.2", 101);
    wan(1, "wan2", 4, "10.2.2.1", "10.2.2.2", 102);
    for (int m = 0; m < MIB_N; m++)
        f->mib_present[m] = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    doctor_report_free(&report);
    free(f);
    return 0;
}

static void evaluate(void)
{
    doctor_report_free(&report);
    doctor_evaluate(f, &report);
}

/* The line at `level` containing every fragment (NULL-terminated), or fail. */
static const char *find_line(enum doctor_level level, const char *first, ...)
{
    for (size_t i = 0; i < report.n; i++) {
        if (report.v[i].level != level)
            continue;
        bool all = true;
        va_list ap;
        va_start(ap, first);
        for (const char *frag = first; frag && all; frag = va_arg(ap, const char *))
            all = strstr(report.v[i].text, frag) != NULL;
        va_end(ap);
        if (all)
            return report.v[i].text;
    }
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    doctor_report_print(&report, mem);
    fclose(mem);
    fail_msg("no %d line with '%s' in:\n%s", level, first, out);
    return NULL;
}

static void test_good_setup(void **state)
{
    (void)state;
    evaluate();
    assert_int_equal(report.fails, 0);
    assert_int_equal(report.warns, 0);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_OK);
    find_line(DOCTOR_OK, "kernel: Linux 6.18.44 creates MPTCP sockets", NULL);
    find_line(DOCTOR_OK, "limits: subflows 2 (2 WANs need 1)", NULL);
    find_line(DOCTOR_OK, "endpoint 10.2.2.1 id 2 subflow dev wan2", NULL);
    find_line(DOCTOR_OK, "wan2: 10.2.2.1 has endpoint id 2 (subflow dev wan2)", NULL);
    find_line(DOCTOR_OK, "wan2: traffic from 10.2.2.1 leaves via wan2 (via 10.2.2.2, table 102)", NULL);
    find_line(DOCTOR_OK, "wan1: rp_filter = 2 (loose)", NULL);
    find_line(DOCTOR_OK, "no MPTCP blackhole seen", NULL);
    find_line(DOCTOR_OK, "counters: no MPTCP fallbacks", NULL);

    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    doctor_report_print(&report, mem);
    fclose(mem);
    assert_non_null(strstr(out, "\nok    net.mptcp.enabled = 1\n"));
    assert_non_null(strstr(out, "\nresult: no problem found that prevents MPTCP or aggregation, 0 warning(s)\n"));
    free(out);
}

static void test_mptcp_disabled(void **state)
{
    (void)state;
    f->socket_err = -ENOPROTOOPT;
    f->enabled = 0;
    evaluate();
    find_line(DOCTOR_FAIL, "ENOPROTOOPT", "net.mptcp.enabled is 0", NULL);
    find_line(DOCTOR_FAIL, "net.mptcp.enabled = 0", "sysctl -w net.mptcp.enabled=1", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_FAIL);

    f->socket_err = -EPROTONOSUPPORT;
    f->enabled = -1;
    evaluate();
    find_line(DOCTOR_FAIL, "without MPTCP (CONFIG_MPTCP)", NULL);
    find_line(DOCTOR_FAIL, "no such sysctl", NULL);
}

static void test_no_endpoints(void **state)
{
    (void)state;
    f->n_eps = 0;
    evaluate();
    find_line(DOCTOR_FAIL, "endpoints: none", NULL);
    find_line(DOCTOR_FAIL, "wan1: no MPTCP endpoint for 10.1.1.1", "ip mptcp endpoint add 10.1.1.1 dev wan1 subflow",
              NULL);
    find_line(DOCTOR_FAIL, "wan2: no MPTCP endpoint for 10.2.2.1", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_FAIL);
}

static void test_endpoint_problems(void **state)
{
    (void)state;
    endpoint(1, 2, "10.2.2.1", MPTCP_EP_SUBFLOW, 0); /* no dev */
    evaluate();
    find_line(DOCTOR_WARN, "endpoint 10.2.2.1 id 2 subflow: no dev", NULL);
    find_line(DOCTOR_WARN, "wan2: endpoint id 2 for 10.2.2.1 has no dev", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_OK);

    endpoint(1, 2, "10.2.2.1", MPTCP_EP_SIGNAL, 4);
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: endpoint id 2 for 10.2.2.1 is `signal`, not `subflow`", NULL);

    endpoint(1, 2, "10.2.2.1", MPTCP_EP_SUBFLOW, 3);
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: endpoint id 2 for 10.2.2.1 is bound to wan1, not wan2", NULL);

    /* On an interface that is down; for an address no interface has. */
    endpoint(1, 2, "10.2.2.1", MPTCP_EP_SUBFLOW, 4);
    links[3].flags = 0;
    f->n_eps = 3;
    endpoint(2, 9, "10.9.9.9", MPTCP_EP_SUBFLOW, 3);
    evaluate();
    find_line(DOCTOR_WARN, "endpoint 10.2.2.1 id 2 subflow dev wan2: wan2 is down", NULL);
    find_line(DOCTOR_WARN, "endpoint 10.9.9.9 id 9 subflow dev wan1: no interface has 10.9.9.9",
              "ip mptcp endpoint delete id 9", NULL);
}

static void test_routing(void **state)
{
    (void)state;
    f->wans[1].addrs[0].route.oif = 3; /* leaves via wan1 */
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: traffic from 10.2.2.1 leaves via wan1, not wan2",
              "ip rule add from 10.2.2.1 table T", NULL);

    f->wans[1].addrs[0].route = (struct rtnl_route){.family = AF_INET, .oif = 4, .table = 0};
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: nothing routes out of wan2", NULL);

    f->wans[1].addrs[0].route_err = -ENETUNREACH;
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: no route for traffic from 10.2.2.1 (Network is unreachable)", NULL);

    f->wans[1].addrs[0].route_err = 0;
    f->wans[1].addrs[0].route = (struct rtnl_route){.family = AF_INET, .oif = 4, .table = 254};
    evaluate();
    find_line(DOCTOR_OK, "wan2: traffic from 10.2.2.1 leaves via wan2 (directly, table main)", NULL);
}

static void test_rp_filter_and_links(void **state)
{
    (void)state;
    f->wans[1].rp_filter = 1;
    evaluate();
    find_line(DOCTOR_WARN, "wan2: rp_filter = 1 (strict)", "net.ipv4.conf.wan2.rp_filter=2", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_OK);

    f->wans[1].flags = IFF_UP;
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: up, but no carrier", NULL);
    f->wans[1].flags = 0;
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: down (ip link set wan2 up)", NULL);
    f->wans[1] = (struct doctor_wan){.name = "wan3", .rp_filter = -1};
    evaluate();
    find_line(DOCTOR_FAIL, "wan3: no such interface", NULL);

    f->wans[1] = (struct doctor_wan){.name = "wan2", .ifindex = 4, .flags = IFF_UP | IFF_RUNNING, .rp_filter = 0};
    evaluate();
    find_line(DOCTOR_FAIL, "wan2: up, but no usable address", NULL);
    find_line(DOCTOR_OK, "wan2: rp_filter = 0 (off)", NULL);
}

static void test_limits_and_path_manager(void **state)
{
    (void)state;
    f->limits.subflows = 0;
    evaluate();
    find_line(DOCTOR_FAIL, "limits: subflows 0, but 2 WANs need at least 1", "ip mptcp limits set subflows 1", NULL);

    snprintf(f->path_manager, sizeof(f->path_manager), "userspace");
    evaluate();
    find_line(DOCTOR_WARN, "path manager: userspace", NULL);

    f->pm_err = -ENOENT;
    snprintf(f->pm_err_text, sizeof(f->pm_err_text), "no \"mptcp_pm\" netlink family");
    evaluate();
    find_line(DOCTOR_FAIL, "cannot read limits and endpoints: no \"mptcp_pm\" netlink family", NULL);
}

static void test_wans_not_given(void **state)
{
    (void)state;
    f->wans_from_endpoints = true;
    evaluate();
    find_line(DOCTOR_WARN, "checking the endpoints' devices: wan1, wan2", NULL);
    f->n_wans = 0;
    f->wans_from_endpoints = false;
    evaluate();
    find_line(DOCTOR_WARN, "WANs: none given", "per-WAN checks skipped", NULL);
    find_line(DOCTOR_OK, "limits: subflows 2, add_addr_accepted 2", NULL);
}

static void test_blackhole_and_counters(void **state)
{
    (void)state;
    f->mib[MIB_BLACKHOLE] = 2;
    f->mib[MIB_SYN_TX_DISABLED] = 5;
    f->mib[MIB_FALLBACK_SYNACK] = 3;
    f->mib[MIB_JOIN_SYN_TX] = 4;
    f->mib[MIB_JOIN_BIND_ERR] = 1;
    f->mib[MIB_JOIN_CONNECT_ERR] = 1;
    evaluate();
    find_line(DOCTOR_WARN, "MPTCP blackhole detected 2 time(s)", "5 connection(s) started as TCP",
              "net.mptcp.blackhole_timeout=3600", NULL);
    find_line(DOCTOR_WARN, "3 outgoing connection(s) fell back to TCP", NULL);
    find_line(DOCTOR_WARN, "2 extra subflow(s) could not be opened here", NULL);
    find_line(DOCTOR_WARN, "4 subflow SYN(s) (MP_JOIN) sent, none answered", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_OK);

    f->mib[MIB_BLACKHOLE] = 0;
    f->blackhole_timeout = 0;
    evaluate();
    find_line(DOCTOR_OK, "net.mptcp.blackhole_timeout = 0: blackhole detection off", NULL);
    /* Before 6.12: no line at all about it. */
    f->blackhole_timeout = -1;
    evaluate();
    for (size_t i = 0; i < report.n; i++)
        assert_null(strstr(report.v[i].text, "blackhole"));
}

static void test_connect(void **state)
{
    (void)state;
    struct doctor_connect *c = &f->conn;
    c->asked = true;
    snprintf(c->target, sizeof(c->target), "vpn.example:443");
    snprintf(c->addr, sizeof(c->addr), "192.0.2.7:443");
    c->state = MPTCP_STATE_YES;
    c->subflows = 2;
    c->waited_ms = 1100;
    c->nudged = true;
    c->n_paths = 2;
    struct sockaddr_in *a = (struct sockaddr_in *)&c->paths[0], *b = (struct sockaddr_in *)&c->paths[1];
    a->sin_family = b->sin_family = AF_INET;
    ip4((uint8_t *)&a->sin_addr, "10.1.1.1");
    ip4((uint8_t *)&b->sin_addr, "10.2.2.1");
    evaluate();
    find_line(DOCTOR_OK, "connect vpn.example:443 (192.0.2.7:443): MPTCP, 2 subflow(s) after 1.1 s; from "
                         "10.1.1.1, 10.2.2.1", NULL);
    assert_int_equal(doctor_exit_code(&report), DOCTOR_EXIT_OK);

    c->subflows = 1;
    c->n_paths = 1;
    evaluate();
    find_line(DOCTOR_FAIL, "MPTCP, but 1 subflow(s)", "want 2, one per WAN", NULL);
    c->nudged = false;
    evaluate();
    find_line(DOCTOR_WARN, "extra subflows start after the first data exchange", NULL);

    c->state = MPTCP_STATE_FALLBACK;
    evaluate();
    find_line(DOCTOR_FAIL, "plain TCP, no MPTCP", "does not speak MPTCP", NULL);
    c->blackhole_hit = true;
    evaluate();
    find_line(DOCTOR_FAIL, "blackhole detection sent the SYN without MPTCP", NULL);

    c->err = -ECONNREFUSED;
    snprintf(c->err_text, sizeof(c->err_text), "Connection refused");
    evaluate();
    find_line(DOCTOR_FAIL, "connect vpn.example:443 (192.0.2.7:443): Connection refused", NULL);
    c->addr[0] = '\0';
    c->err = -ENOENT;
    snprintf(c->err_text, sizeof(c->err_text), "cannot resolve vpn.example: Name or service not known");
    evaluate();
    find_line(DOCTOR_FAIL, "connect vpn.example:443: cannot resolve vpn.example", NULL);

    /* The same address as given is not repeated. */
    c->err = 0;
    c->state = MPTCP_STATE_YES;
    c->subflows = 2;
    snprintf(c->target, sizeof(c->target), "192.0.2.7:443");
    snprintf(c->addr, sizeof(c->addr), "192.0.2.7:443");
    evaluate();
    find_line(DOCTOR_OK, "connect 192.0.2.7:443: MPTCP, 2 subflow(s)", NULL);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_good_setup),  CASE(test_mptcp_disabled),          CASE(test_no_endpoints),
        CASE(test_endpoint_problems), CASE(test_routing),           CASE(test_rp_filter_and_links),
        CASE(test_limits_and_path_manager), CASE(test_wans_not_given), CASE(test_blackhole_and_counters),
        CASE(test_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
