"""Two uplinks: bandwidth aggregation and failover through mpconv (testbed.py).

lan (curl) --SOCKS5--> mpconv in rtr (socks5://10.10.0.1:0, direct upstream
over MPTCP) ==wan1/wan2, tbf RATE each==> origin in srv on 10.99.0.1.
Needs root, `ip netns`, tc and MPTCP (skip otherwise; under CI=true a skip fails).

Cases (every transfer checks sha256 and prints its figures):
  baseline            router endpoints removed -> 1 subflow: single-link rate,
                      down and up (the denominators of the ratio checks)
  aggregation_down    GET through mpconv: rate >= 1.7x single link, origin saw
                      2 subflows (MPTCP_INFO sampled while active), both paths
                      carried data, session end mptcp=yes subflows=2
  aggregation_up      PUT body to the origin sink: same checks
  failover_wan2       wan2 admin-down mid-download: completes, sha256 right;
                      wan2 up again -> a new connection uses both links
  failover_wan1       the same with wan1, the initial subflow's link

Environment: MPCONV_BIN; TESTBED_RATE_MBIT (default 20) rate of each WAN link.
"""

import os
import subprocess
import time

from mpconvtest import (MiB, Lazy, Suite, check, check_eq, check_session, mpconv_bin,
                        payload_sha, sha256_file, write_payload_file)
from testbed import WAN_IP, Testbed, path_split

S = Suite("paths")
ctx = {}

RATE_MBIT = float(os.environ.get("TESTBED_RATE_MBIT", "20"))
MIN_RATIO = 1.7
# Sizes scale with the link rate so each transfer lasts a few seconds.
_SCALE = RATE_MBIT / 20.0
BASE_N = int(12 * MiB * _SCALE)       # ~5 s on one 20 Mbit/s link
AGG_N = int(24 * MiB * _SCALE)        # ~5 s on two
FO_N = int(16 * MiB * _SCALE)         # ~8-10 s: one link fails at 25 %, stalls 1-3 s
FO_AT = FO_N // 4
AFTER_N = int(8 * MiB * _SCALE)       # the transfer after the link is back


@Lazy
def setup():
    mpconv_bin()
    tb = Testbed(rate_mbit=RATE_MBIT)
    ctx["tb"] = tb
    tb.start()  # raises Skip without root / netns / MPTCP / tc
    ctx["tmp"] = tb.workdir
    ctx["origin"] = tb.origin("http")
    ctx["d"] = tb.daemon(["-l", "socks5://10.10.0.1:0", "--mptcp", "on"])
    ctx["proxy"] = ctx["d"].listener("socks5").hostport
    print(f"     testbed: lan={tb.lan} rtr={tb.rtr} srv={tb.srv}, "
          f"2 x {RATE_MBIT:g} Mbit/s (tbf), origin 10.99.0.1:{ctx['origin'].port}, "
          f"mpconv socks5://{ctx['proxy']}", flush=True)
    return ctx


@S.cleanup
def _cleanup():
    if "tb" in ctx:
        ctx["tb"].close()  # also removes its workdir, ctx["tmp"]


def mbit(nbytes, secs):
    return nbytes * 8 / secs / 1e6


def upload_file(n):
    p = os.path.join(ctx["tmp"], f"up-{n}.bin")
    if not os.path.exists(p):
        write_payload_file(p, n)
    return p


def _curl_args(n, upload):
    o = ctx["origin"]
    if upload:
        return ["--socks5", ctx["proxy"], "-H", "Expect:", "-T", upload_file(n),
                "-w", "\n%{size_upload} %{time_total}\n", f"http://10.99.0.1:{o.port}/sink"]
    out = os.path.join(ctx["tmp"], "down.bin")
    if os.path.exists(out):
        os.unlink(out)
    return ["--socks5", ctx["proxy"], "-o", out, "-w", "%{size_download} %{time_total}\n",
            f"http://10.99.0.1:{o.port}/bytes/{n}"]


def _finish(n, upload, stdout, mark, omark):
    """Checks the data; returns {rate, secs, end (origin record), sess (session end)}."""
    c = ctx
    lines = stdout.decode(errors="replace").strip().splitlines()
    size, secs = lines[-1].split()
    size, secs = int(size), float(secs)
    check_eq(size, n, "bytes curl transferred")
    if upload:
        check_eq(lines[0].strip(), payload_sha(n), "sha256 reported by the origin")
    else:
        out = os.path.join(c["tmp"], "down.bin")
        check_eq(os.path.getsize(out), n, "downloaded size")
        check_eq(sha256_file(out), payload_sha(n), "sha256 of the download")
    ends = c["origin"].wait_end(since=omark, timeout=15)
    check_eq(len(ends), 1, "connections at the origin")
    end = ends[0]
    if upload:
        check_eq(end["sha"], payload_sha(n), "sha256 computed by the origin")
    sess = c["d"].wait_session(since=mark, target_port=c["origin"].port, timeout=15)
    check_eq(len(sess), 1, "session end lines")
    return {"rate": mbit(n, secs), "secs": secs, "end": end, "sess": sess[0]}


def transfer(n, upload=False):
    """One curl transfer lan -> mpconv -> origin, measured by curl (whole
    request, handshakes included)."""
    c = setup()
    mark, omark = c["d"].mark(), c["origin"].mark()
    r = c["tb"].curl(_curl_args(n, upload), timeout=120)
    check(r.returncode == 0, f"curl rc={r.returncode}: {r.stderr.decode(errors='replace')}")
    return _finish(n, upload, r.stdout, mark, omark)


def describe(what, t):
    e, s = t["end"], t["sess"]
    print(f"     {what}: {t['rate']:.1f} Mbit/s ({t['secs']:.2f} s); origin: proto={e['proto']} "
          f"subflows accept/max/close={e['sub_accept']}/{e['sub_max']}/{e['sub_close']}, "
          f"paths {path_split(e)}; mpconv: mptcp={s['mptcp']} subflows={s['subflows']}",
          flush=True)


def path_shares(end):
    """{wan number: share of the connection's bytes} from the origin's per-path counters."""
    tot = {}
    for ip, (a, r) in (end.get("paths") or {}).items():
        for i, wip in WAN_IP.items():
            if ip == wip:
                tot[i] = tot.get(i, 0) + a + r
    s = sum(tot.values()) or 1
    return {i: tot.get(i, 0) / s for i in (1, 2)}


def check_two_paths(t, what):
    e = t["end"]
    check_eq(e["proto"], 262, f"{what}: origin SO_PROTOCOL (262 = MPTCP)")
    check(e["sub_max"] == 2,
          f"{what}: origin saw max {e['sub_max']} subflow(s) while the connection was active, "
          f"want 2 (accept/close: {e['sub_accept']}/{e['sub_close']})")
    if e.get("paths"):  # MPTCP_FULL_INFO (6.5+): both links carried data
        sh = path_shares(e)
        check(min(sh.values()) >= 0.10,
              f"{what}: one link carried < 10 % of the data: {path_split(e)}")


# --------------------------------------------------------------------------

def _measure_single_link():
    """Single-link rates (down, up) through the same path, with the router's
    endpoints removed: MPTCP with one subflow on wan1."""
    c = setup()
    tb = c["tb"]
    tb.endpoints_clear()
    try:
        down = transfer(BASE_N)
        describe(f"single link, download {BASE_N // MiB} MiB", down)
        up = transfer(BASE_N, upload=True)
        describe(f"single link, upload {BASE_N // MiB} MiB", up)
    finally:
        tb.endpoints_add()
    for t, what in ((down, "download"), (up, "upload")):
        check_eq(t["end"]["proto"], 262, f"baseline {what}: origin SO_PROTOCOL")
        check_eq(t["end"]["sub_max"], 1, f"baseline {what}: subflows without endpoints")
        check_session(t["sess"], via="socks5", mptcp="yes")
        # The denominator must be a shaped link, or the ratio check means nothing.
        check(0.5 * RATE_MBIT <= t["rate"] <= 1.1 * RATE_MBIT,
              f"baseline {what}: {t['rate']:.1f} Mbit/s is not near the tbf rate "
              f"{RATE_MBIT:g} Mbit/s (shaping broken?)")
    return {"down": down["rate"], "up": up["rate"]}


single_link = Lazy(_measure_single_link)


@S.case
def baseline():
    single_link()


def aggregation(upload):
    what = "upload" if upload else "download"
    base = single_link()["up" if upload else "down"]
    t = transfer(AGG_N, upload=upload)
    describe(f"two links, {what} {AGG_N // MiB} MiB", t)
    ratio = t["rate"] / base
    if ratio < MIN_RATIO:
        # One more measurement before failing: a busy 2-CPU CI box can slow one
        # transfer; a real aggregation failure (one path) gives ~1.0x every time.
        print(f"     {what}: {ratio:.2f}x < {MIN_RATIO}x, measuring once more", flush=True)
        t2 = transfer(AGG_N, upload=upload)
        describe(f"two links, {what} {AGG_N // MiB} MiB (again)", t2)
        if t2["rate"] > t["rate"]:
            t, ratio = t2, t2["rate"] / base
    print(f"     {what}: {t['rate']:.1f} Mbit/s over two links / {base:.1f} Mbit/s single "
          f"link = {ratio:.2f}x (need >= {MIN_RATIO}x)", flush=True)
    check_two_paths(t, what)
    check(ratio >= MIN_RATIO,
          f"{what} aggregation {ratio:.2f}x < {MIN_RATIO}x: {t['rate']:.1f} Mbit/s over two "
          f"links vs {base:.1f} Mbit/s single link; paths {path_split(t['end'])}")
    s = t["sess"]
    check_session(s, via="socks5", mptcp="yes", **({"min_up": AGG_N} if upload
                                                    else {"min_down": AGG_N}))
    check(s["subflows"] == "2",
          f"mpconv session end reports subflows={s['subflows']}, want 2 (the origin saw "
          f"{t['end']['sub_max']} while active): {s['_line']}")


@S.case
def aggregation_down():
    aggregation(upload=False)


@S.case
def aggregation_up():
    aggregation(upload=True)


def failover(wan):
    c = setup()
    tb, o, d = c["tb"], c["origin"], c["d"]
    out = os.path.join(c["tmp"], "down.bin")
    srv0 = tb.nstat_mptcp(tb.srv)
    mark, omark = d.mark(), o.mark()
    p = tb.popen(tb.lan, ["curl", "-sS", "--noproxy", "", "--max-time", "90"]
                 + _curl_args(FO_N, False), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    timeline = [(0.0, 0)]   # (seconds since curl started, bytes downloaded)
    t_down = None
    down_at = 0
    try:
        deadline = t0 + 90
        while p.poll() is None:
            now = time.monotonic()
            check(now < deadline, "failover download did not finish within 90 s")
            try:
                got = os.path.getsize(out)
            except OSError:
                got = 0
            timeline.append((now - t0, got))
            if t_down is None and got >= FO_AT:
                # both subflows must be up before the link goes, or this tests nothing
                conns = o.conns(omark)
                check(conns and o.max_subflows(conns[0]["id"], omark) == 2,
                      f"2 subflows not seen at the origin before taking wan{wan} down "
                      f"(at {got / MiB:.1f} MiB): {o.records[omark:]}")
                tb.link_down(wan)
                t_down, down_at = now - t0, got
            time.sleep(0.1)
        stdout, stderr = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
        tb.link_up(wan)   # also when the case failed: later cases need both links
    check(t_down is not None, f"download finished before wan{wan} could be taken down")
    check(p.returncode == 0, f"curl rc={p.returncode}: {stderr.decode(errors='replace')}")
    t = _finish(FO_N, False, stdout, mark, omark)
    srv1 = tb.nstat_mptcp(tb.srv)
    mib = {k: srv1.get(k, 0) - srv0.get(k, 0)
           for k in ("SubflowStale", "SubflowRecover", "MPTCPRetrans")}
    # per-second throughput around the failure
    per_s = []
    for k in range(int(timeline[-1][0]) + 1):
        a = [(s, b) for s, b in timeline if s <= k][-1]
        z = [(s, b) for s, b in timeline if s <= k + 1][-1]
        if z[0] > a[0]:
            per_s.append(mbit(z[1] - a[1], z[0] - a[0]))
    # time until a 1 s window after the failure carries >= 75 % of one link again
    recover = None
    for k, (s0, b0) in enumerate(timeline):
        if s0 < t_down:
            continue
        w = [(s1, b1) for s1, b1 in timeline[k:] if s1 <= s0 + 1.0]
        if w[-1][0] - s0 >= 0.9 and mbit(w[-1][1] - b0, w[-1][0] - s0) >= 0.75 * RATE_MBIT:
            recover = s0 - t_down
            break
    last = [(s, b) for s, b in timeline if s >= timeline[-1][0] - 3]
    tail = mbit(last[-1][1] - last[0][1], last[-1][0] - last[0][0]) \
        if len(last) > 5 and last[-1][0] > last[0][0] else float("nan")
    describe(f"download {FO_N // MiB} MiB, wan{wan} down at {t_down:.1f} s "
             f"({down_at / MiB:.1f} MiB)", t)
    rec = f"{recover:.1f} s" if recover is not None else "never"
    print(f"     per-second Mbit/s: {' '.join(f'{x:.0f}' for x in per_s)}; back to >= 75 % of "
          f"one link {rec} after the failure; last 3 s {tail:.1f} Mbit/s; srv MIB {mib}",
          flush=True)
    check_eq(t["end"]["proto"], 262, "origin SO_PROTOCOL")
    check_session(t["sess"], via="socks5", mptcp="yes", min_down=FO_N)

    # The link is back: a new connection uses both links again (doc 3.5: the
    # dead subflow is not re-created on the old connection, new ones get two).
    t2 = transfer(AFTER_N)
    describe(f"after wan{wan} up, download {AFTER_N // MiB} MiB", t2)
    check_two_paths(t2, f"after wan{wan} up")
    check_session(t2["sess"], via="socks5", mptcp="yes", min_down=AFTER_N)


@S.case
def failover_wan2():
    failover(2)


@S.case
def failover_wan1():
    failover(1)


if __name__ == "__main__":
    S.main()
