"""Path healing (`[mpconv] wan = ...`) on the two-path testbed (testbed.py).

lan curl --SOCKS5--> mpconv in rtr (wan = wan1, wan2) ==wan1/wan2 (tbf
RATE each)==> HTTP origin in srv (10.99.0.1) that sends N bytes and samples
MPTCP_INFO of the connection every 50 ms. Needs root, `ip netns`, tc, ss
with socket destroy (CONFIG_INET_DIAG_DESTROY) and MPTCP; skip otherwise
(under CI=true a skip fails).

Cases:
  heal_link_up        a long download through mpconv with wan = wan1, wan2:
                      once 2 subflows are up, wan2 goes admin-down and its
                      subflow is closed at both ends (ss -K; a long outage
                      would time it out the same way), wan2 comes
                      back (routes re-added): the SAME connection has 2
                      subflows again within 20 s (origin MPTCP_INFO), mpconv
                      logged the re-add, the data is intact (sha256)
  control_no_heal     the same without `wan`: the subflow does NOT come back
                      within 8 s after wan2 is routable again (so
                      heal_link_up can fail)
  readd_waits_for_route  wan2 up without routes: mpconv logs that it waits and
                      does not re-add within 1.5 s; routes added: re-added
  address_follows     wan2's address changes 10.2.2.1 -> 10.2.2.9: the
                      endpoint follows (10.2.2.9 dev wan2 subflow, none for
                      10.2.2.1), a new connection uses both links with
                      10.2.2.9; back to 10.2.2.1 afterwards
  no_cap_net_admin    mpconv without CAP_NET_ADMIN (setpriv): one WARN that
                      healing is off, endpoints untouched, still serves

Environment: MPCONV_BIN; TESTBED_RATE_MBIT (default 10) rate of each link.
"""

import os
import re
import subprocess
import time

from mpconvtest import (MiB, Lazy, Suite, check, check_eq, payload_sha, sha256_file,
                        wait_until)
from testbed import SERVICE_IP, WAN_DEV, WAN_GW, WAN_IP, WAN_METRIC, WAN_TABLE, Testbed

S = Suite("heal")
ctx = {}

RATE_MBIT = float(os.environ.get("TESTBED_RATE_MBIT", "10"))
# ~13 s over two links, ~27 s over one: long enough to outlive the outage
# and the healing, bounded by TRANSFER_TIMEOUT.
TRANSFER_N = int(32 * MiB * RATE_MBIT / 10)
TRANSFER_TIMEOUT = 120
HEAL_WAIT = 20       # s from "wan2 routable again" to 2 subflows, with healing
CONTROL_WAIT = 8     # s in which, without healing, the subflow must stay gone
NEW_WAN2_IP = "10.2.2.9"
HEAL_CONFIG = "[mpconv]\nlisten = socks5://10.10.0.1:0\nwan = wan1, wan2\n"
PLAIN_CONFIG = "[mpconv]\nlisten = socks5://10.10.0.1:0\n"


def _setup():
    tb = Testbed(rate_mbit=RATE_MBIT)
    ctx["tb"] = tb
    tb.start()  # raises Skip without root / netns / MPTCP / tc
    ctx["tmp"] = tb.workdir
    print(f"     testbed: lan={tb.lan} rtr={tb.rtr} srv={tb.srv}, 2 x {RATE_MBIT:g} Mbit/s (tbf)",
          flush=True)
    return ctx


setup = Lazy(_setup)


@S.cleanup
def _cleanup():
    if "tb" in ctx:
        ctx["tb"].close()  # also removes its workdir, ctx["tmp"]


def endpoints(tb):
    """[(id, address, flags text, dev)] of the router's endpoints."""
    out = []
    for line in tb.endpoints().splitlines():
        m = re.match(r"(\S+) id (\d+) (.*?)(?:\s*dev (\S+))?\s*$", line.strip())
        if m:
            out.append((int(m.group(2)), m.group(1), m.group(3).strip(), m.group(4)))
    return out


def restore_testbed(tb):
    """Both WANs up with their usual address, routes and endpoints (ids 1, 2)."""
    tb.ip(tb.rtr, "link", "set", WAN_DEV[2], "up")
    have = tb.ip(tb.rtr, "-4", "-o", "addr", "show", "dev", WAN_DEV[2]).stdout.decode()
    if f" {NEW_WAN2_IP}/" in have:
        tb.ip(tb.rtr, "addr", "del", f"{NEW_WAN2_IP}/24", "dev", WAN_DEV[2])
    if f" {WAN_IP[2]}/" not in have:
        tb.ip(tb.rtr, "addr", "add", f"{WAN_IP[2]}/24", "dev", WAN_DEV[2])
    tb.link_up(2)  # waits for carrier, re-adds routes, checks reachability
    tb.endpoints_clear()
    tb.endpoints_add()


def add_wan2_routes(tb):
    tb.ip(tb.rtr, "route", "replace", "default", "via", WAN_GW[2], "dev", WAN_DEV[2],
          "metric", str(WAN_METRIC[2]))
    tb.ip(tb.rtr, "route", "replace", "default", "via", WAN_GW[2], "dev", WAN_DEV[2],
          "table", str(WAN_TABLE[2]))


class Download:
    """curl in lan through mpconv's SOCKS5 listener, GET /bytes/N from the
    origin, in the background (curl keeps its side open until the end: a
    half-closed MPTCP connection would never open extra subflows)."""

    def __init__(self, tb, d, n):
        self.tb, self.n = tb, n
        self.origin = tb.origin("http")
        self.omark = self.origin.mark()
        self.out = os.path.join(ctx["tmp"], "download.bin")
        if os.path.exists(self.out):
            os.unlink(self.out)
        self.proc = tb.popen(tb.lan, ["curl", "-sS", "--noproxy", "", "--max-time",
                                      str(TRANSFER_TIMEOUT - 10), "--socks5",
                                      d.listener("socks5").hostport, "-o", self.out,
                                      f"http://{SERVICE_IP}:{self.origin.port}/bytes/{n}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.cid = wait_until(lambda: (self.origin.conns(self.omark) or [{}])[0].get("id"), 15,
                              "the download's connection at the origin")

    def counts(self):
        """Subflow counts of the connection at the origin, in order: at accept,
        then each change (MPTCP_INFO sampled every 50 ms)."""
        first = [c.get("sub_accept") or 0 for c in self.origin.conns(self.omark)
                 if c["id"] == self.cid]
        return first + [k for _, k in self.origin.samples(self.cid, self.omark)]

    def current(self):
        c = self.counts()
        return c[-1] if c else 0

    def running(self):
        return self.proc.poll() is None

    def finish(self):
        """Waits for curl; checks the bytes. Returns the seconds it took."""
        t0 = time.monotonic()
        try:
            _, err = self.proc.communicate(timeout=TRANSFER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        check(self.proc.returncode == 0, f"curl rc={self.proc.returncode}: "
              f"{err.decode(errors='replace')[-300:]}")
        check_eq(os.path.getsize(self.out), self.n, "bytes downloaded")
        check_eq(sha256_file(self.out), payload_sha(self.n), "sha256 of the download")
        return time.monotonic() - t0

    def stop(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(10)
        self.origin.close()


def break_wan2_subflow(tb, dl):
    """wan2 admin-down, its subflow destroyed at both ends (RST cannot pass a
    down link), then wan2 up with routes again. Returns when routable."""
    tb.link_down(2)
    for ns, sel in ((tb.rtr, ["src", WAN_IP[2]]), (tb.srv, ["dst", WAN_IP[2]])):
        tb.run(ns, ["ss", "-K", "-t"] + sel)
    wait_until(lambda: dl.current() == 1, 10, "the origin to see 1 subflow after ss -K")
    tb.link_up(2)   # carrier, address, routes (ip link up drops static routes), reachability


def outage_run(config):
    c = setup()
    tb = c["tb"]
    restore_testbed(tb)
    d = tb.daemon([], config=config)
    dl = Download(tb, d, TRANSFER_N)
    try:
        wait_until(lambda: dl.current() == 2 or not dl.running(), 15,
                   "2 subflows on the download before the outage")
        check(dl.running(), "the download ended before the outage (make it longer)")
        t0 = time.monotonic()
        mark = d.mark()
        break_wan2_subflow(tb, dl)
        t_up = time.monotonic()
        return tb, d, dl, mark, t_up - t0
    except BaseException:
        dl.stop()
        d.stop()
        raise


@S.case
def heal_link_up():
    tb, d, dl, mark, outage = outage_run(HEAL_CONFIG)
    try:
        t_up = time.monotonic()
        wait_until(lambda: dl.current() == 2 or not dl.running(), HEAL_WAIT,
                   f"2 subflows again on the same connection within {HEAL_WAIT} s of wan2 "
                   f"being routable (counts so far: {dl.counts()})")
        healed = time.monotonic() - t_up
        check(dl.running() or dl.current() == 2, "the download ended before healing was seen")
        samples = dl.origin.samples(dl.cid, dl.omark)   # [(t_ms, subflows)] on each change
        gone = [t for t, n in samples if n == 1][-1]
        back = [t for t, n in samples if n == 2 and t > gone][0]
        print(f"     subflow counts at the origin {dl.counts()}: 1 subflow for {(back - gone) / 1000:.1f} s "
              f"(wan2 down, ss -K, wan2 up and routed: {outage:.1f} s); 2 again at most "
              f"{healed:.1f} s after the routes were back", flush=True)
        d.wait_line(lambda l: "path healing: wan2: link up again: added MPTCP endpoint "
                    f"{WAN_IP[2]}" in l, 5, since=mark, what="the re-add log line")
        for line in d._lines_since(mark):
            if "path healing" in line:
                print(f"     mpconv: {line}", flush=True)
        secs = dl.finish()
        print(f"     download of {TRANSFER_N // MiB} MiB intact (sha256), finished {secs:.1f} s "
              "after healing", flush=True)
        eps = endpoints(tb)
        check([e for e in eps if e[1] == WAN_IP[2] and e[3] == WAN_DEV[2] and "subflow" in e[2]],
              f"no subflow endpoint for {WAN_IP[2]} dev wan2 after healing: {eps}")
    finally:
        dl.stop()
        d.stop()


@S.case
def control_no_heal():
    tb, d, dl, mark, outage = outage_run(PLAIN_CONFIG)
    try:
        deadline = time.monotonic() + CONTROL_WAIT
        while time.monotonic() < deadline and dl.running():
            check(dl.current() == 1, f"without healing the subflow came back: counts {dl.counts()}")
            time.sleep(0.1)
        check(dl.running(), "the download ended during the control window (make it longer)")
        check_eq(dl.current(), 1, "subflows without healing")
        check(not [l for l in d.log() if "path healing" in l], "path healing ran without `wan`")
        print(f"     outage {outage:.1f} s; subflow counts at the origin {dl.counts()}; still 1 "
              f"subflow {CONTROL_WAIT} s after wan2 was routable", flush=True)
    finally:
        dl.stop()
        d.stop()


@S.case
def address_follows():
    c = setup()
    tb = c["tb"]
    restore_testbed(tb)
    d = tb.daemon([], config=HEAL_CONFIG)
    try:
        mark = d.mark()
        tb.ip(tb.rtr, "addr", "del", f"{WAN_IP[2]}/24", "dev", WAN_DEV[2])
        tb.ip(tb.rtr, "addr", "add", f"{NEW_WAN2_IP}/24", "dev", WAN_DEV[2])
        add_wan2_routes(tb)   # they went with the old address

        def followed():
            eps = endpoints(tb)
            new = [e for e in eps if e[1] == NEW_WAN2_IP and e[3] == WAN_DEV[2] and "subflow" in e[2]]
            return eps if new and not [e for e in eps if e[1] == WAN_IP[2]] else None
        eps = wait_until(followed, 10, f"an endpoint for {NEW_WAN2_IP} dev wan2 and none for "
                         f"{WAN_IP[2]} (now: {endpoints(tb)})")
        print(f"     endpoints: {eps}", flush=True)
        d.wait_line(lambda l: f"{WAN_IP[2]} is no longer on a WAN: removed MPTCP endpoint" in l, 5,
                    since=mark, what="the removal log line")
        d.wait_line(lambda l: f"wan2: new address: added MPTCP endpoint {NEW_WAN2_IP}" in l, 5,
                    since=mark, what="the addition log line")
        # The new endpoint works: a new connection opens a subflow from it.
        dl = Download(tb, d, 2 * MiB)
        try:
            dl.finish()
            paths = dl.origin.wait_end(since=dl.omark)[0].get("paths") or {}
            check(dl.origin.max_subflows(dl.cid, dl.omark) == 2 and NEW_WAN2_IP in paths,
                  f"new connection: counts {dl.counts()}, paths {sorted(paths)}")
        finally:
            dl.stop()
        # And back: the endpoint follows again.
        tb.ip(tb.rtr, "addr", "del", f"{NEW_WAN2_IP}/24", "dev", WAN_DEV[2])
        tb.ip(tb.rtr, "addr", "add", f"{WAN_IP[2]}/24", "dev", WAN_DEV[2])
        add_wan2_routes(tb)
        wait_until(lambda: [e for e in endpoints(tb) if e[1] == WAN_IP[2] and e[3] == WAN_DEV[2]]
                   and not [e for e in endpoints(tb) if e[1] == NEW_WAN2_IP], 10,
                   f"the endpoint back on {WAN_IP[2]} (now: {endpoints(tb)})")
    finally:
        d.stop()
        restore_testbed(tb)


@S.case
def readd_waits_for_route():
    """wan2 up again but without routes (as before DHCP): mpconv waits; the
    routes come: it re-adds the endpoint."""
    c = setup()
    tb = c["tb"]
    restore_testbed(tb)
    d = tb.daemon([], config=HEAL_CONFIG)
    try:
        tb.link_down(2)
        mark = d.mark()
        tb.ip(tb.rtr, "link", "set", WAN_DEV[2], "up")   # no routes: `ip link set down` dropped them
        d.wait_line(lambda l: "path healing: wan2: waiting up to 60 s for a route out of wan2" in l, 10,
                    since=mark, what="the waiting line")
        readded = lambda l: "path healing: wan2: link up again: added MPTCP endpoint" in l  # noqa: E731
        time.sleep(1.5)   # a resync or two (1 s retry) without a route must not re-add
        check(not [l for l in d._lines_since(mark) if readded(l)],
              f"re-added before wan2 had a route: {d._lines_since(mark)}")
        add_wan2_routes(tb)
        line = d.wait_line(readded, 5, since=mark, what="the re-add once routed")
        print(f"     mpconv: {line}", flush=True)
    finally:
        d.stop()
        restore_testbed(tb)


@S.case
def no_cap_net_admin():
    c = setup()
    tb = c["tb"]
    restore_testbed(tb)
    tb.endpoints_clear()   # healing would add these back if it ran
    tb.endpoints_add([1])
    before = endpoints(tb)
    old = os.environ.get("MPCONV_WRAPPER")
    os.environ["MPCONV_WRAPPER"] = "setpriv --bounding-set -net_admin --"
    try:
        d = tb.daemon([], config=HEAL_CONFIG)
    finally:
        if old is None:
            del os.environ["MPCONV_WRAPPER"]
        else:
            os.environ["MPCONV_WRAPPER"] = old
    try:
        warn = d.wait_line(lambda l: " WARN path healing off" in l, 5, what="the warning")
        check("CAP_NET_ADMIN" in warn, f"warning does not name CAP_NET_ADMIN: {warn}")
        dl = Download(tb, d, 1 * MiB)
        try:
            dl.finish()
        finally:
            dl.stop()
        warns = [l for l in d.log() if "path healing" in l]
        check_eq(len(warns), 1, f"path healing log lines ({warns})")
        check_eq(endpoints(tb), before, "endpoints (untouched without CAP_NET_ADMIN)")
    finally:
        d.stop()
        restore_testbed(tb)


if __name__ == "__main__":
    S.main()
