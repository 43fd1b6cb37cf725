"""`mpconv check` (the doctor) against real kernel state in network namespaces.

Most cases run in the router namespace of the two-path testbed (testbed.py:
wan1/wan2 with endpoints, limits, source routing, rp_filter 2), change one
thing, check the report line and the exit code, and put it back. Needs root,
`ip netns`, tc and MPTCP (skip otherwise; under CI=true a skip fails).

Cases:
  usage_errors          unknown option, bad --connect, bad --wan, missing -c file: exit 2
  mptcp_disabled        fresh netns with net.mptcp.enabled=0: FAIL lines, exit 1
  proper_setup          the testbed router: every line ok, exit 0; WANs from -c FILE
  no_endpoints          endpoints flushed: FAIL naming each WAN and its address, exit 1
  endpoint_without_dev  wan2's endpoint without dev: warn, exit 0
  rp_filter_strict      rp_filter=1 on all and wan2: warn for wan2 only, exit 0
  no_route_out_of_wan2  wan2's default routes gone: FAIL, exit 1
  connect_mptcp         --connect to an MPTCP origin: MPTCP, 2 subflows from both WANs
                        (the origin saw the same), exit 0
  connect_tcp_only      --connect to a TCP-only origin: FAIL "plain TCP", exit 1
"""

import os
import re
import subprocess

from mpconvtest import (Lazy, Suite, check, check_eq, mpconv_bin, netns_create, netns_delete,
                        netns_usable, Skip)
from testbed import SERVICE_IP, WAN_DEV, WAN_GW, WAN_IP, WAN_METRIC, WAN_TABLE, Testbed

S = Suite("check")
ctx = {}
WANS = ["--wan", "wan1", "--wan", "wan2"]


def _setup():
    tb = Testbed()
    ctx["tb"] = tb
    tb.start()  # raises Skip without root / netns / MPTCP / tc
    ctx["tmp"] = tb.workdir
    return tb


testbed = Lazy(_setup)


@S.cleanup
def _cleanup():
    if "tb" in ctx:
        ctx["tb"].close()  # also removes its workdir, ctx["tmp"]


class Report:
    def __init__(self, r):
        self.rc = r.returncode
        self.out = r.stdout.decode(errors="replace")
        self.err = r.stderr.decode(errors="replace")
        self.lines = [tuple(l.split(None, 1)) for l in self.out.splitlines()
                      if re.match(r"^(ok|warn|FAIL) ", l)]

    def find(self, level, *fragments):
        for lv, text in self.lines:
            if lv == level and all(f in text for f in fragments):
                return text
        raise AssertionError(f"no '{level}' line with {fragments} in:\n{self.out}{self.err}")

    def levels(self):
        return [lv for lv, _ in self.lines]


def run_check(ns, args, timeout=30):
    cmd = [mpconv_bin(), "check"] + list(args)
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    return Report(subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL))


def router_check(args=WANS):
    tb = testbed()
    return run_check(tb.rtr, args)


def add_wan2_routes(tb):
    tb.ip(tb.rtr, "route", "replace", "default", "via", WAN_GW[2], "dev", WAN_DEV[2],
          "metric", str(WAN_METRIC[2]))
    tb.ip(tb.rtr, "route", "replace", "default", "via", WAN_GW[2], "dev", WAN_DEV[2],
          "table", str(WAN_TABLE[2]))


@S.case
def usage_errors():
    for args, what in ((["--bogus"], "unrecognized option"),
                       (["--connect", "no-port"], "expected HOST:PORT"),
                       (["--wan", "a/b"], "invalid interface name 'a/b'"),
                       (["-c", "/nonexistent/mpconv.conf"], "cannot open"),
                       (["extra"], "unexpected argument")):
        r = run_check(None, args)
        check_eq(r.rc, 2, f"exit code of check {args} (stderr {r.err.strip()!r})")
        check(what in r.err, f"check {args}: stderr lacks {what!r}: {r.err!r}")
        check_eq(r.lines, [], f"check {args} printed report lines")
    r = run_check(None, ["-h"])
    check_eq(r.rc, 0, "check -h")
    check("Exit status: 0" in r.out, f"check -h does not document the exit codes: {r.out}")


@S.case
def mptcp_disabled():
    why = netns_usable()
    if why:
        raise Skip(why)
    ns = netns_create("chk")
    try:
        r = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.mptcp.enabled=0"],
                           capture_output=True, timeout=10)
        check(r.returncode == 0, f"sysctl in {ns}: {r.stderr!r}")
        rep = run_check(ns, [])
        rep.find("FAIL", "refuses MPTCP sockets in this network namespace", "net.mptcp.enabled is 0")
        rep.find("FAIL", "net.mptcp.enabled = 0", "sysctl -w net.mptcp.enabled=1")
        check_eq(rep.rc, 1, "exit code with MPTCP disabled")
        check(rep.out.rstrip().splitlines()[-1].startswith("result: "), f"no result line:\n{rep.out}")
    finally:
        netns_delete(ns)


@S.case
def proper_setup():
    rep = router_check()
    print("     | " + "\n     | ".join(rep.out.rstrip().splitlines()), flush=True)
    check_eq(rep.rc, 0, f"exit code on the testbed router (report:\n{rep.out})")
    check("FAIL" not in rep.levels() and "warn" not in rep.levels(), f"not all ok:\n{rep.out}")
    rep.find("ok", "creates MPTCP sockets")
    rep.find("ok", "limits: subflows 2 (2 WANs need 1)")
    for i in (1, 2):
        rep.find("ok", f"endpoint {WAN_IP[i]} id {i} subflow dev wan{i}")
        rep.find("ok", f"wan{i}: {WAN_IP[i]} has endpoint id {i} (subflow dev wan{i})")
        rep.find("ok", f"wan{i}: traffic from {WAN_IP[i]} leaves via wan{i} (via {WAN_GW[i]}, "
                       f"table {WAN_TABLE[i]})")
        rep.find("ok", f"wan{i}: rp_filter = 2 (loose)")
    check(rep.out.rstrip().endswith("no problem found that prevents MPTCP or aggregation, "
                                    "0 warning(s)"), f"result line:\n{rep.out}")

    # The WANs can come from the config file instead.
    conf = os.path.join(ctx["tmp"], "wan.conf")
    with open(conf, "w") as f:
        f.write("[mpconv]\nwan = wan1, wan2\n")
    rep = router_check(["-c", conf])
    check_eq(rep.rc, 0, f"exit code with -c (report:\n{rep.out})")
    rep.find("ok", "wan2: traffic from 10.2.2.1 leaves via wan2")
    # Without either: the endpoints' devices, with a warning.
    rep = router_check([])
    rep.find("warn", "checking the endpoints' devices: wan1, wan2")
    check_eq(rep.rc, 0, "exit code without --wan")


@S.case
def no_endpoints():
    tb = testbed()
    tb.endpoints_clear()
    try:
        rep = router_check()
    finally:
        tb.endpoints_add()
    rep.find("FAIL", "endpoints: none")
    for i in (1, 2):
        rep.find("FAIL", f"wan{i}: no MPTCP endpoint for {WAN_IP[i]}",
                 f"ip mptcp endpoint add {WAN_IP[i]} dev wan{i} subflow")
    check_eq(rep.rc, 1, "exit code without endpoints")


@S.case
def endpoint_without_dev():
    tb = testbed()
    tb.ip(tb.rtr, "mptcp", "endpoint", "delete", "id", "2")
    tb.ip(tb.rtr, "mptcp", "endpoint", "add", WAN_IP[2], "id", "2", "subflow")
    try:
        rep = router_check()
    finally:
        tb.endpoints_clear()
        tb.endpoints_add()
    rep.find("warn", f"endpoint {WAN_IP[2]} id 2 subflow: no dev")
    rep.find("warn", f"wan2: endpoint id 2 for {WAN_IP[2]} has no dev")
    # Looked up without a device, source routing still sends it out of wan2.
    rep.find("ok", f"wan2: traffic from {WAN_IP[2]} leaves via wan2 (via {WAN_GW[2]}, table 102)")
    check_eq(rep.rc, 0, f"exit code (warnings only):\n{rep.out}")


@S.case
def rp_filter_strict():
    tb = testbed()
    # The kernel uses max(all, dev): both must be 1 for wan2 to be strict.
    tb.sysctl(tb.rtr, "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.wan2.rp_filter=1")
    try:
        rep = router_check()
    finally:
        tb.sysctl(tb.rtr, "net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf.wan2.rp_filter=2")
    rep.find("warn", "wan2: rp_filter = 1 (strict)", "net.ipv4.conf.wan2.rp_filter=2")
    rep.find("ok", "wan1: rp_filter = 2 (loose)")  # wan1's own value is still 2
    check_eq(rep.rc, 0, "exit code (rp_filter is a warning)")


@S.case
def no_route_out_of_wan2():
    tb = testbed()
    tb.ip(tb.rtr, "route", "del", "default", "via", WAN_GW[2], "dev", WAN_DEV[2], "table",
          str(WAN_TABLE[2]))
    tb.ip(tb.rtr, "route", "del", "default", "via", WAN_GW[2], "dev", WAN_DEV[2], "metric",
          str(WAN_METRIC[2]))
    try:
        rep = router_check()
    finally:
        add_wan2_routes(tb)
    rep.find("FAIL", "wan2: nothing routes out of wan2", f"ip rule add from {WAN_IP[2]} table T")
    rep.find("ok", f"wan1: traffic from {WAN_IP[1]} leaves via wan1")
    check_eq(rep.rc, 1, "exit code without a route out of wan2")


@S.case
def connect_mptcp():
    tb = testbed()
    o = tb.origin("http")
    mark = o.mark()
    rep = router_check(WANS + ["--connect", f"{SERVICE_IP}:{o.port}"])
    line = rep.find("ok", f"connect {SERVICE_IP}:{o.port}: MPTCP, 2 subflow(s)")
    print(f"     {line}", flush=True)
    check(f"from {WAN_IP[1]}, {WAN_IP[2]}" in line or f"from {WAN_IP[2]}, {WAN_IP[1]}" in line,
          f"subflow addresses not both WANs: {line}")
    check_eq(rep.rc, 0, f"exit code (report:\n{rep.out})")
    end = o.wait_end(since=mark)[0]
    check_eq(end["proto"], 262, "origin SO_PROTOCOL (262 = MPTCP)")
    check_eq(end["sub_max"], 2, "subflows the origin saw")
    check_eq(end["received"], 0, "bytes the check sent to the origin")


@S.case
def connect_tcp_only():
    tb = testbed()
    o = tb.origin("http", tcp_only=True)
    mark = o.mark()
    rep = router_check(WANS + ["--connect", f"{SERVICE_IP}:{o.port}"])
    rep.find("FAIL", f"connect {SERVICE_IP}:{o.port}: plain TCP, no MPTCP",
             "the server answered without MPTCP")
    check_eq(rep.rc, 1, "exit code against a TCP-only origin")
    check_eq(o.wait_end(since=mark)[0]["proto"], 6, "origin SO_PROTOCOL (6 = TCP)")


if __name__ == "__main__":
    S.main()
